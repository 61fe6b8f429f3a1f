"""The jnp collateral step of the sensitivities (exposure.aggregation.collateral_jax) against the NumPy one the
run uses (ExposureAggregator.collateralise): the same values bit for bit on every CSA feature, and derivatives
that agree with central differences where no kink is crossed (and the deliberate rounding/MTA conventions)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import exposure  # noqa: F401  (float64)
from exposure.aggregation import ExposureAggregator
from exposure.aggregation.collateral_jax import CollateralLayout, collateralise, vm_scan
from exposure.aggregation.collateral import csa_arrays
from exposure.portfolio.netting import Csa, NettingSet

NETTING = [
    NettingSet("A", "CA", Csa(threshold_cpty=1.0, threshold_bank=0.5, mta_cpty=0.3, mta_bank=0.2, rounding=0.1)),
    NettingSet("B", "CB"),
    NettingSet("C", "CC", Csa(margining="cpty_posts", mta_cpty=0.25, independent_amount_held=0.7,
                              collateral_currency="EUR")),
    NettingSet("D", "CD", Csa(margining="bank_posts", threshold_bank=0.4, initial_balance=-0.3,
                              independent_amount_posted=0.2)),
    NettingSet("E", "CE", Csa()),
]


def _inputs(K=9, P=300, seed=7):
    rng = np.random.default_rng(seed)
    vals = rng.normal(0.2, 1.5, size=(K, len(NETTING), P)).cumsum(axis=0)
    fx = np.exp(rng.normal(0.0, 0.05, size=(2, K, P)).cumsum(axis=1))
    fx[0] = 1.0
    return vals, fx


@pytest.mark.parametrize("mpor", [False, True])
def test_jax_collateral_equals_numpy_bit_for_bit(mpor):
    vals, fx = _inputs()
    K = vals.shape[0]
    vi = np.array([0, 1, 3, 5, 7]) if mpor else np.arange(K)
    ci = np.array([0, 2, 4, 6, 8]) if mpor else None
    agg = ExposureAggregator(NETTING, vals.shape[2], np.arange(vi.size, dtype=float), valuation_index=vi,
                             closeout_index=ci, t0_index=0, currencies=("USD", "EUR"), base_currency="USD",
                             quantiles=[])
    X, _, _, F = agg.collateralise(vals, fx)
    layout = CollateralLayout(NETTING, ("USD", "EUR"), "USD", vi, ci, 0)
    Xj, Fj = jax.jit(lambda v, f: collateralise(layout, v, f))(vals, fx)
    Xj, Fj = np.asarray(Xj), np.asarray(Fj)
    base = [0, 1, 3, 4]  # base-currency collateral: the same operations, the same bits
    assert np.array_equal(Xj[:, base], X[:, base])
    assert np.array_equal(Fj[:, base], F[:, base])
    # EUR collateral: V - C X_c may be contracted to one fused multiply-add inside the larger XLA program
    # (one rounding instead of two), so agreement is to the last bit or two
    scale = np.abs(vals).max()
    assert np.abs(Xj - X).max() <= 8 * np.finfo(float).eps * scale
    assert np.abs(Fj - F).max() <= 8 * np.finfo(float).eps * scale
    assert np.abs(X - vals[vi]).max() > 0.5  # the CSAs do something (the comparison can fail)


def test_threshold_pathwise_derivative_equals_central_difference_between_kinks():
    """d sum X / d (shift of V) per path equals the difference quotient when no MTA/threshold is crossed."""
    csa = Csa(threshold_cpty=0.5, threshold_bank=0.5)
    layout = CollateralLayout([NettingSet("A", "C", csa)], ("USD",), "USD", np.arange(4), None, 0)
    rng = np.random.default_rng(3)
    v = rng.normal(0.0, 2.0, size=(4, 1, 50)).cumsum(axis=0)
    fx = np.ones((1, 4, 50))

    def total(s):
        X, _ = collateralise(layout, jnp.asarray(v) * s, jnp.asarray(fx))
        return jnp.sum(jnp.maximum(X, 0.0))

    g = float(jax.grad(total)(1.0))
    h = 1e-6
    fd = (float(total(1.0 + h)) - float(total(1.0 - h))) / (2 * h)
    assert g == pytest.approx(fd, rel=1e-6, abs=1e-8)
    assert abs(g) > 1e-3


def test_rounding_straight_through_and_mta_smoothing_keep_values():
    terms = {k: a[:, None] for k, a in csa_arrays([Csa(mta_cpty=0.3, mta_bank=0.3, rounding=0.25)]).items()}
    rng = np.random.default_rng(5)
    v = jnp.asarray(rng.normal(0.0, 1.0, size=(6, 1, 40)).cumsum(axis=0))
    c0 = jnp.zeros((1, 40))
    base = vm_scan(v, c0, terms)
    smooth = vm_scan(v, c0, terms, smooth=0.2)
    assert np.array_equal(np.asarray(base), np.asarray(smooth))  # smoothing changes the derivative only
    # rounded balance: multiples of 0.25, while its straight-through derivative in a common shift is not 0
    assert np.allclose(np.asarray(base) / 0.25, np.round(np.asarray(base) / 0.25))
    g = jax.grad(lambda s: jnp.sum(vm_scan(v + s, c0, terms)))(0.0)
    assert float(g) > 0.0
