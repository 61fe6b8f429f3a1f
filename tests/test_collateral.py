"""Variation margin: threshold, MTA, rounding, one-way CSAs, independent amounts, MPoR lag, collateral currency.

Expected balances are worked out by hand from the CSA rules (exposure.aggregation.collateral docstring), not
from the code. Values that are multiples of 1/8 keep every float operation exact, so "exactly" means equal bits.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import exposure  # noqa: F401
from exposure.aggregation import ExposureAggregator, collateral_paths, exposure_with_collateral, exposure_measures
from exposure.portfolio.netting import Csa, NettingSet


def _paths(*rows):
    """Hand-built paths: each row is one path over dates -> (K, P)."""
    return np.array(rows, dtype=np.float64).T


@pytest.fixture(scope="module")
def random_values():
    rng = np.random.default_rng(2024)
    return rng.normal(0.3, 2.0, size=(6, 2000)).cumsum(axis=0)


def test_full_collateral_zero_threshold_mta_mpor_gives_zero_exposure_exactly(random_values):
    csa = Csa()  # two-way, zero thresholds, zero MTA, no rounding, no IA; collateral in base currency
    C = np.asarray(collateral_paths(random_values, csa))
    X = np.asarray(exposure_with_collateral(random_values, C, csa))
    assert np.array_equal(X, np.zeros_like(X))
    m = exposure_measures(random_values[:, None, :], netting_sets=[NettingSet("NS", "CP", csa)])
    assert np.array_equal(m.netting["EPE"], np.zeros((1, 6)))
    assert np.array_equal(m.netting["ENE"], np.zeros((1, 6)))
    assert np.array_equal(m.netting["PFE"], np.zeros((1, 6, 3)))
    # without the CSA the same values have material exposure (the test can fail)
    assert exposure_measures(random_values[:, None, :]).netting["EPE"].min() > 0.1


def test_threshold_caps_exposure_exactly():
    H = 5.0
    V = (np.arange(-96, 97, dtype=np.float64) / 8.0).reshape(1, -1).repeat(3, axis=0)  # (K=3, P=193), dyadic
    csa = Csa(threshold_cpty=H, threshold_bank=2.0)
    X = np.asarray(exposure_with_collateral(V, collateral_paths(V, csa), csa))
    assert np.array_equal(np.maximum(X, 0.0), np.minimum(np.maximum(V, 0.0), H))
    # the counterparty's side is capped by the bank's threshold
    assert np.array_equal(np.maximum(-X, 0.0), np.minimum(np.maximum(-V, 0.0), 2.0))


def test_threshold_caps_exposure_random_values(random_values):
    H = 1.5
    csa = Csa(threshold_cpty=H)
    X = np.asarray(exposure_with_collateral(random_values, collateral_paths(random_values, csa), csa))
    np.testing.assert_allclose(np.maximum(X, 0.0), np.minimum(np.maximum(random_values, 0.0), H), rtol=0, atol=1e-13)


def test_minimum_transfer_amount_on_a_hand_built_path():
    v = _paths([0, 50, 120, 130, 80, 20, -30, -100, -90])
    C = np.asarray(collateral_paths(v, Csa(mta_cpty=50, mta_bank=50)))[:, 0]
    # 0: no shortfall; 50: call 50; 120: call 70; 130: 10 < MTA; 80: -40 < MTA; 20: return 100;
    # -30: -50 >= MTA, bank posts; -100: post 70 more; -90: 10 < MTA
    np.testing.assert_array_equal(C, [0, 50, 120, 120, 120, 20, -30, -100, -100])
    X = np.asarray(exposure_with_collateral(v, C[:, None], Csa()))[:, 0]
    np.testing.assert_array_equal(X, [0, 0, 0, 10, -40, 0, 0, 0, 10])


def test_mta_applies_to_the_delivering_party():
    v = _paths([0, 30, 10, -10])
    # the counterparty delivers only 50 or more; the bank returns / posts any amount
    C = np.asarray(collateral_paths(v, Csa(mta_cpty=50, mta_bank=0)))[:, 0]
    np.testing.assert_array_equal(C, [0, 0, 0, -10])
    C = np.asarray(collateral_paths(v, Csa(mta_cpty=0, mta_bank=50)))[:, 0]
    np.testing.assert_array_equal(C, [0, 30, 30, 30])  # returns of 20 and 40 are below the bank's MTA


def test_rounding_up_deliveries_and_down_returns_and_no_oscillation():
    v = _paths([0, 50, 120, 130, 80, 20, 20, 20])
    C = np.asarray(collateral_paths(v, Csa(rounding=25)))[:, 0]
    # deliveries 50 -> 50, 70 -> 75, 5 -> 25 (rounded up); returns 70 -> 50, 80 -> 75 (rounded down); then stable
    np.testing.assert_array_equal(C, [0, 50, 125, 150, 100, 25, 25, 25])
    w = _paths([0, -30, -30, -10])
    C = np.asarray(collateral_paths(w, Csa(rounding=25)))[:, 0]
    np.testing.assert_array_equal(C, [0, -50, -50, -25])  # the bank's delivery rounded up, its return down


@pytest.mark.parametrize("rounding", [1.0e5, 2.5e4, 5.0e4, 1.0e4, 1.0e3])
def test_multiples_of_the_rounding_move_exactly_on_many_paths(rounding):
    # By hand: a balance of n r returned in full (the value falls under the threshold) is n r, not (n +- 1) r, and
    # a delivery of exactly n r is n r. Many paths: XLA:CPU divides by a broadcast r as D * (1 / r) (inexact).
    from exposure.aggregation import collateral_jax

    n, P = 6, 256
    v = np.tile(np.array([[7.0e6 + n * rounding], [5.0e5], [7.0e6 + n * rounding]]), (1, P))
    csa = Csa(threshold_cpty=7.0e6, threshold_bank=7.0e6, rounding=rounding)
    C = np.asarray(collateral_paths(v, csa))
    np.testing.assert_array_equal(C, np.tile([[n * rounding], [0.0], [n * rounding]], (1, P)))
    terms = {k: np.full((1, 1), x) for k, x in dict(h_cpty=7.0e6, h_bank=7.0e6, mta_cpty=0.0, mta_bank=0.0,
                                                    rounding=rounding, a_recv=1.0, a_post=1.0).items()}
    C2 = np.asarray(jax.jit(collateral_jax.vm_scan)(v[:, None, :], np.zeros((1, P)), terms))[:, 0]
    np.testing.assert_array_equal(C2, C)


def test_one_way_versus_two_way():
    V = (np.arange(-40, 41, dtype=np.float64) / 4.0)[None, :].repeat(2, axis=0)
    two = Csa(margining="two_way")
    cpty = Csa(margining="cpty_posts")
    bank = Csa(margining="bank_posts")
    X2 = np.asarray(exposure_with_collateral(V, collateral_paths(V, two), two))
    Xc = np.asarray(exposure_with_collateral(V, collateral_paths(V, cpty), cpty))
    Xb = np.asarray(exposure_with_collateral(V, collateral_paths(V, bank), bank))
    assert np.array_equal(X2, np.zeros_like(V))
    assert np.array_equal(Xc, np.minimum(V, 0.0))  # only the counterparty posts: our exposure is covered
    assert np.array_equal(Xb, np.maximum(V, 0.0))  # only we post: our exposure is uncollateralised
    assert np.all(np.asarray(collateral_paths(V, cpty)) >= 0) and np.all(np.asarray(collateral_paths(V, bank)) <= 0)


def test_independent_amount_held_reduces_and_posted_increases_exposure():
    V = (np.arange(-64, 65, dtype=np.float64) / 8.0)[None, :].repeat(2, axis=0)
    H, IA = 3.0, 1.25
    base = Csa(threshold_cpty=H)
    held = Csa(threshold_cpty=H, independent_amount_held=IA)
    posted = Csa(independent_amount_posted=IA)
    X0 = np.asarray(exposure_with_collateral(V, collateral_paths(V, base), base))
    X1 = np.asarray(exposure_with_collateral(V, collateral_paths(V, held), held))
    assert np.array_equal(np.maximum(X1, 0.0), np.maximum(np.minimum(np.maximum(V, 0.0), H) - IA, 0.0))
    assert np.maximum(X1, 0).sum() < np.maximum(X0, 0).sum()
    Xp = np.asarray(exposure_with_collateral(V, collateral_paths(V, posted), posted))
    assert np.array_equal(Xp, np.full_like(V, IA))  # fully margined VM, the posted IA is at risk


def test_collateral_currency_is_held_in_units_and_revalued_at_closeout_fx():
    # base USD, collateral EUR; fx = USD per EUR. A big MTA freezes the balance after the first call.
    v = _paths([110.0, 110.0, 110.0])
    fx = _paths([1.10, 1.25, 0.80])
    csa = Csa(mta_cpty=1000.0, mta_bank=1000.0, collateral_currency="EUR", initial_balance=0.0)
    C = np.asarray(collateral_paths(v, csa, fx))[:, 0]
    np.testing.assert_array_equal(C, [0.0, 0.0, 0.0])
    csa = Csa(mta_cpty=50.0, mta_bank=50.0, collateral_currency="EUR")
    C = np.asarray(collateral_paths(v, csa, fx))[:, 0]
    np.testing.assert_allclose(C, [100.0, 100.0, 100.0], rtol=1e-15)  # 110 USD / 1.10 = 100 EUR, then < MTA
    X = np.asarray(exposure_with_collateral(v, C[:, None], csa, fx))[:, 0]
    np.testing.assert_allclose(X, [0.0, 110.0 - 125.0, 110.0 - 80.0], atol=1e-12)


def test_collateral_currency_through_the_aggregator():
    rng = np.random.default_rng(5)
    K, P = 4, 500
    vals = rng.normal(0, 10, size=(K, 1, P))
    fx = np.stack([np.ones((K, P)), np.exp(rng.normal(0, 0.1, size=(K, P)))])  # axis: USD, EUR
    csa = Csa(collateral_currency="EUR", mta_cpty=5.0, mta_bank=5.0)
    agg = ExposureAggregator([NettingSet("N", "C", csa)], P, np.arange(1, K + 1) / 4, currencies=("USD", "EUR"),
                             store_cube=True, cube_dtype="float64")
    agg.add_chunk(0, P, vals, np.ones((K, P)), fx)
    m = agg.finalize()
    C = np.asarray(collateral_paths(vals[:, 0], csa, fx[1]))
    X = np.asarray(exposure_with_collateral(vals[:, 0], C, csa, fx[1]))
    # the compiled reduction may fuse V - C fx into one multiply-add (XLA's choice): rounding of the scale, not bits
    tol = 1e-13 * np.abs(vals).max()
    np.testing.assert_allclose(m.cube["exposure"][0], X, rtol=0, atol=tol)
    np.testing.assert_allclose(m.cube["collateral"][0], C * fx[1], rtol=0, atol=tol)
    np.testing.assert_allclose(m.netting["EPE"][0], np.maximum(X, 0).mean(axis=1), rtol=1e-13)
    np.testing.assert_allclose(m.netting["ExpectedCollateral"][0], (C * fx[1]).mean(axis=1), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="collateral currency 'GBP'"):
        ExposureAggregator([NettingSet("N", "C", Csa(collateral_currency="GBP"))], P, [1.0],
                           currencies=("USD", "EUR"))


def test_margin_period_of_risk_lags_collateral_behind_the_closeout_value():
    # simulation axis: t0, t1, t1+MPoR, t2, t2+MPoR; valuation dates t1, t2; close-out dates t1+, t2+
    P = 64
    rng = np.random.default_rng(9)
    vals = (np.arange(5 * P, dtype=np.float64).reshape(5, 1, P) % 17 - 8.0) / 4.0 + 0 * rng.random()
    csa = Csa()
    agg = ExposureAggregator([NettingSet("N", "C", csa)], P, [0.5, 1.0], valuation_index=[1, 3],
                             closeout_index=[2, 4], t0_index=0, store_cube=True, cube_dtype="float64")
    agg.add_chunk(0, P, vals, np.ones((5, P)))
    m = agg.finalize(discount_factors=[1.0, 1.0])
    X = m.cube["exposure"][0]
    # zero threshold / MTA: the balance is the valuation-date value; exposure is the move over the MPoR
    np.testing.assert_array_equal(X, vals[[2, 4], 0] - vals[[1, 3], 0])
    np.testing.assert_array_equal(m.netting["EPE"][0], np.maximum(X, 0).mean(axis=1))
    assert m.netting["EPE"][0].min() > 0


def test_initial_balance_t0_target_and_mta():
    v = _paths([100.0, 130.0, 160.0])
    csa = Csa(mta_cpty=40.0, mta_bank=40.0)
    # fully margined start at the t0 value 100: 130 is 30 away (< MTA), 160 is 60 away (call)
    C = np.asarray(collateral_paths(v[1:], csa, initial_value=100.0))[:, 0]
    np.testing.assert_array_equal(C, [100.0, 160.0])
    # from a zero balance instead, the first date calls
    C = np.asarray(collateral_paths(v[1:], csa))[:, 0]
    np.testing.assert_array_equal(C, [130.0, 130.0])
    C = np.asarray(collateral_paths(v[1:], Csa(mta_cpty=40.0, initial_balance=20.0)))[:, 0]
    np.testing.assert_array_equal(C, [130.0, 130.0])  # 20 -> 130 is a call, 130 -> 160 is not
