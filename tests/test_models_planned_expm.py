"""Matrix exponentials with a fixed scaling-and-squaring plan (exposure.models.planned_expm) against scipy's expm
and its Frechet derivative (scipy.linalg.expm_frechet) and jax's expm, on matrices whose norms reach every Pade
degree and squarings; the plan of a matrix past expm's squaring limit is None."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg as sl

from exposure.models.planned_expm import expm_plan, planned_expm

# 1-norms on both sides of every degree threshold and a few squarings
NORMS = (1e-3, 0.1, 0.5, 1.5, 4.0, 12.0, 90.0)


def _batch(seed=3, n=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((len(NORMS), n, n))
    X *= (np.asarray(NORMS) / np.max(np.sum(np.abs(X), axis=-2), axis=-1))[:, None, None]
    return X, rng.standard_normal(X.shape)


def test_plan_covers_every_degree_and_squarings():
    X, _ = _batch()
    plan = expm_plan(X)
    assert {i for i, _ in plan} == {0, 1, 2, 3, 4}
    assert max(s for _, s in plan) >= 4
    assert expm_plan(X * 1e6) is None  # 2^20 x 5.37: past expm's 16 squarings (expm gives NaN there)


def test_planned_expm_and_its_jvp_equal_scipy():
    X, E = _batch()
    plan = expm_plan(X)
    val, tan = jax.jit(lambda x, e: jax.jvp(lambda y: planned_expm(y, plan), (x,), (e,)))(jnp.asarray(X),
                                                                                          jnp.asarray(E))
    for k in range(X.shape[0]):
        ref, dref = sl.expm_frechet(X[k], E[k])
        scale = np.max(np.abs(ref))
        np.testing.assert_allclose(val[k], ref, rtol=0, atol=1e-13 * scale)
        np.testing.assert_allclose(tan[k], dref, rtol=0, atol=1e-12 * max(np.max(np.abs(dref)), scale))


def test_planned_expm_equals_jax_expm_to_rounding():
    X, E = _batch(seed=5)
    plan = expm_plan(X)
    f = jax.jit(lambda x, e: jax.jvp(jax.scipy.linalg.expm, (x,), (e,)))
    g = jax.jit(lambda x, e: jax.jvp(lambda y: planned_expm(y, plan), (x,), (e,)))
    for a, b in zip(f(jnp.asarray(X), jnp.asarray(E)), g(jnp.asarray(X), jnp.asarray(E))):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=0, atol=1e-14 * float(jnp.max(jnp.abs(a))))
