"""exposure.pricing.normal_cdf against scipy.special (Cephes): values to a few ulp over the whole range, the
derivative against the density, the saturated step arguments of the pricers, NaN propagation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

import exposure  # noqa: F401  (float64)
from exposure.pricing.normal_cdf import erfc, ndtr


def test_erfc_matches_scipy_to_a_few_ulp():
    u = np.concatenate([np.linspace(-8.0, 26.0, 70_001), np.random.default_rng(3).uniform(-1.0, 1.0, 10_000)])
    got, ref = np.asarray(jax.jit(erfc)(u)), special.erfc(u)
    # e^{-u^2} of both rounds u^2: a relative error of ~u^2 ulp, the condition number of erfc itself (normal
    # numbers only: below 2e-308, u > 26.5, scipy flushes to 0)
    ulp = np.abs(got - ref) / np.spacing(ref)
    assert np.all(np.isfinite(got))
    assert np.max(ulp / (1.0 + u * u)) < 12.0
    assert np.max(ulp[np.abs(u) < 1.0]) <= 12.0
    x = np.linspace(-36.0, 36.0, 20_001)  # ndtr: relative in the lower tail, absolute in the upper
    n_got, n_ref = np.asarray(jax.jit(ndtr)(x)), special.ndtr(x)
    assert np.max(np.abs(n_got - n_ref) / np.maximum(n_ref, 1e-300) / (1.0 + 0.5 * x * x)) < 12 * 2.3e-16


def test_saturation_nan_and_derivative():
    big = jnp.array([-1e200, -40.0, 27.5, 40.0, 1e200, jnp.inf, -jnp.inf])
    assert np.array_equal(np.asarray(erfc(big)), [2.0, 2.0, 0.0, 0.0, 0.0, 0.0, 2.0])
    assert np.all(np.asarray(jax.vmap(jax.grad(erfc))(big)) == 0.0)
    assert np.isnan(np.asarray(erfc(jnp.array(np.nan))))
    u = jnp.linspace(-6.0, 6.0, 241)
    d = jax.vmap(jax.grad(erfc))(u)
    np.testing.assert_allclose(np.asarray(d), -2.0 / np.sqrt(np.pi) * np.exp(-np.asarray(u) ** 2), rtol=1e-15,
                               atol=0.0)
    # reverse mode (the AD twins transpose the swaption kernel) and a second derivative
    g = jax.grad(lambda v: jnp.sum(erfc(3.0 * v)))(u)
    np.testing.assert_allclose(np.asarray(g), np.asarray(3.0 * jax.vmap(jax.grad(erfc))(3.0 * u)), rtol=1e-15)
    h = jax.vmap(jax.grad(jax.grad(erfc)))(u)
    np.testing.assert_allclose(np.asarray(h), np.asarray(-2.0 * u * d), rtol=1e-13, atol=1e-300)
