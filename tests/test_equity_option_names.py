"""Equity options on several underlyings in one batch (``opt_equity.EquityOptionBatch``: a trade's underlying and
currency are data) against the Black-Scholes closed form on hand-made paths.

SPX (USD, the base) and SX5E (EUR). With zero Hull-White vols the bonds are deterministic, P_c(t, T) =
P_c(0, T) / P_c(0, t) from today's curves, and with flat market equity vols s_e the model's ln F(t, T) has
variance s_e^2 (T - t). On a path with equity spot S (in c) and FX spot X_c (USD per unit of c) the option is worth,
in USD,

    V = sign Q X_c w [ S e^{-q (T-t)} N(w d1) - K P_c(t,T) N(w d2) ],  d1 = ln(S e^{-q (T-t)} / (K P_c)) / sd + sd / 2

(scipy's normal CDF), 0 from its expiry on."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from scipy import stats

from exposure.market.snapshot import EquitySpec
from exposure.market.vols import BlackVolCurve
from exposure.models.cross_asset import CrossAssetModel
from exposure.models.hull_white import HullWhiteParams
from exposure.portfolio.fixings import Fixings
from exposure.portfolio.loader import ParseContext
from exposure.pricing import options as O
from exposure.pricing.view import PathView, PricingContext
from tests.test_option_pricing import MARKET, _pw

VOL = {"SPX": 0.18, "SX5E": 0.21}
SPOT = {"SPX": 5800.0, "SX5E": 4900.0}
DIV = {"SPX": 0.014, "SX5E": 0.028}


def _market_model(hw=None):
    eqs = {n: EquitySpec(n, c, SPOT[n], DIV[n], BlackVolCurve.flat(VOL[n], n)) for n, c in (("SPX", "USD"),
                                                                                             ("SX5E", "EUR"))}
    market = dataclasses.replace(MARKET, equities=eqs)
    hw = hw or tuple(HullWhiteParams.create(a, [0.0]) for a in (0.05, 0.03, 0.04))
    R = np.eye(7)  # IR:USD IR:EUR IR:GBP FX:EUR FX:GBP EQ:SPX EQ:SX5E
    for i, j, r in [(0, 1, 0.5), (1, 3, -0.3), (0, 5, 0.1), (3, 5, 0.25), (1, 6, -0.2), (3, 6, 0.3), (5, 6, 0.6)]:
        R[i, j] = R[j, i] = r
    ccys = ("USD", "EUR", "GBP")
    model = CrossAssetModel(ccys, tuple(hw), tuple(market.curves[c] for c in ccys),
                            np.array([market.fx_spots["EUR"], market.fx_spots["GBP"]]),
                            (_pw(market.fx_vols["EUR"]), _pw(market.fx_vols["GBP"])), ("SPX", "SX5E"), (0, 1),
                            np.array([SPOT["SPX"], SPOT["SX5E"]]), np.array([DIV["SPX"], DIV["SX5E"]]),
                            tuple(_pw(eqs[n].vol) for n in ("SPX", "SX5E")), R)
    pc = ParseContext(market, None, Fixings.empty(), "names.yaml")
    rows = [("SPX", 6000.0, "1Y", True, True), ("SX5E", 5000.0, "2Y", False, True), ("SPX", 5200.0, "3Y", False, False),
            ("SX5E", 4500.0, "6M", True, False), ("SPX", 5800.0, "18M", True, True), ("SX5E", 5100.0, "30M", True, True)]
    specs = [O.parse_equity_option({"id": f"E{i}", "type": "EquityOption", "name": n, "quantity": 10.0 * (1 + i),
                                    "strike": k, "expiry": e, "call": c, "long": lg}, pc)
             for i, (n, k, e, c, lg) in enumerate(rows)]
    return market, model, specs


def _black_scholes(market, spec, times, fx, eq):
    """(K, P) USD values of one option on the paths' FX spots fx (n_ccy, K, P) and equity spots eq (K, P)."""
    c, T = spec.currency, spec.expiry_time
    tt = np.minimum(times, T)
    bond = np.exp(market.curves[c].log_discount_np(T) - market.curves[c].log_discount_np(tt))[:, None]
    live = (times < T - 1e-10)[:, None]
    sd = np.where(live, VOL[spec.name] * np.sqrt(np.maximum(T - times, 0.0))[:, None], 1.0)
    fwd, disc = eq * np.exp(-DIV[spec.name] * (T - tt))[:, None], spec.strike * bond
    d1 = np.log(fwd / disc) / sd + 0.5 * sd
    w = 1.0 if spec.call else -1.0
    v = w * (fwd * stats.norm.cdf(w * d1) - disc * stats.norm.cdf(w * (d1 - sd)))
    xc = fx[("USD", "EUR", "GBP").index(c)]
    return np.where(live, v * xc, 0.0) * spec.quantity * (1.0 if spec.long else -1.0)


def test_two_underlyings_in_one_batch_match_black_scholes_on_paths():
    market, model, specs = _market_model()
    (b,) = O.equity_option_batches(specs, [0, 1, 1, 0, 2, 1])
    assert b.names == ("SPX", "SX5E") and b.ccys == ("USD", "EUR") and b.ids == ("E0", "E2", "E4", "E1", "E3", "E5")
    rng = np.random.default_rng(5)
    times = np.array([0.0, 0.3, 0.55, 1.0, 1.4, 2.1, 2.6, 3.5])
    K, P = times.size, 32
    fx = np.ones((3, K, P))
    fx[1] = market.fx_spots["EUR"] * np.exp(rng.normal(0.0, 0.1, (K, P)))
    eq = np.stack([SPOT[n] * np.exp(rng.normal(0.0, 0.2, (K, P))) for n in ("SPX", "SX5E")])
    view = PathView(times, np.zeros((3, K, P)), fx, eq, np.ones((K, P)), model.currencies, model.equity_names)
    pre = b.prepare(PricingContext(market, model, times, None, ()))
    v = np.asarray(jax.jit(b.values)(pre, view))
    by_id = {s.id: s for s in specs}
    ref = np.stack([_black_scholes(market, by_id[i], times, fx, eq[model.equity_names.index(by_id[i].name)])
                    for i in b.ids], axis=1)
    gross = np.abs(ref).max()
    assert np.all(np.abs(v - ref) <= 1e-10 * gross)
    assert np.count_nonzero(ref) > 0 and np.count_nonzero(ref == 0.0) > 0  # live and expired cells both checked
    spots = np.array([1.0, market.fx_spots["EUR"], market.fx_spots["GBP"]])[:, None, None]
    ref0 = np.array([_black_scholes(market, by_id[i], np.zeros(1), spots, np.full((1, 1), SPOT[by_id[i].name]))[0, 0]
                     for i in b.ids])
    assert np.all(np.abs(O.price_today(b, market, model) - ref0) <= 1e-10 * gross)  # t0, the path program
    from exposure.pricing.today import TodayState  # t0 on the host (``today_options.equity_today``)

    t0 = b.today_values(b.prepare(PricingContext(market, model, np.zeros(1), None, ())), TodayState.of(model))
    assert np.all(np.abs(t0 - ref0) <= 1e-10 * gross)


def test_two_underlying_twin_matches_prepare_and_its_differences():
    """The AD twin of a two-underlying batch (``risk.twin_options.EquityOptionPresTwin``) gives prepare's lnA, sd at
    x0 (1e-13), and its jvp along EUR's Hull-White sigma and along SX5E's equity vol pieces the central differences
    of prepare (h = 1e-6: O((h / sigma)^2) ~ 1e-8 of the largest tangent). Both move the SX5E columns only."""
    from exposure.risk.twin_options import EquityOptionPresTwin

    hw = (HullWhiteParams.create(0.05, [0.01]), HullWhiteParams.create(0.03, [0.008]),
          HullWhiteParams.create(0.04, [0.009]))
    market, model, specs = _market_model(hw)
    (b,) = O.equity_option_batches(specs, [0] * len(specs))
    times = np.array([0.0, 0.3, 0.55, 1.0, 1.4, 2.1, 2.6, 3.5])
    pre = b.prepare(PricingContext(market, model, times, None, ()))
    tw = EquityOptionPresTwin(b, PricingContext(market, model, times, None, ()))
    x0 = tw.x0()
    leaves = tw.leaves(x0)
    for name in ("lnA", "sd"):
        np.testing.assert_allclose(np.asarray(leaves[name]), np.asarray(pre[name]), rtol=0, atol=1e-13)
    sx5e = np.flatnonzero(b.und == b.names.index("SX5E"))
    h = 1e-6
    moves = {  # x's direction, the model at +- e
        "sigma": (lambda dx: {**dx, "sigma": (dx["sigma"][0], np.ones_like(dx["sigma"][1]))},
                  lambda e: dataclasses.replace(model, hw=(hw[0], HullWhiteParams.create(0.03, [0.008 + e]), hw[2]))),
        "eqvol": (lambda dx: {**dx, "eqvol": (dx["eqvol"][0], np.ones_like(dx["eqvol"][1]))},
                  lambda e: dataclasses.replace(model, equity_vol=(model.equity_vol[0], dataclasses.replace(
                      model.equity_vol[1], values=np.asarray(model.equity_vol[1].values) + e)))),
    }
    for what, (direction, moved) in moves.items():
        dx = direction(jax.tree_util.tree_map(np.zeros_like, x0))
        _, tan = jax.jvp(tw.leaves, (x0,), (dx,))
        up, down = (b.prepare(PricingContext(market, moved(e), times, None, ())) for e in (h, -h))
        for name in ("lnA", "sd"):
            fd = (np.asarray(up[name]) - np.asarray(down[name])) / (2 * h)
            np.testing.assert_allclose(np.asarray(tan[name]), fd, rtol=0, atol=1e-7 * max(np.abs(fd).max(), 1e-300),
                                       err_msg=f"{what}: {name}")
        assert np.abs(np.asarray(tan["sd"])[:, sx5e]).max() > 0.0, what  # the move reaches the SX5E columns
        others = np.setdiff1d(np.arange(len(specs)), sx5e)
        assert not np.any(np.asarray(tan["sd"])[:, others]), what  # and no other
