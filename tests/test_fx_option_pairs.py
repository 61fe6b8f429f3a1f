"""FX options on several currency pairs in one batch (``opt_fx.FxOptionBatch``: a trade's pair is data) against the
Garman-Kohlhagen closed form on hand-made paths.

With zero Hull-White vols the bonds are deterministic, P_c(t, T) = P_c(0, T) / P_c(0, t) from today's curves, and
with flat market FX vols the model's (its local vols are the market's) ln F(t, T) has variance s^2 (T - t):
s = s_E for EUR/USD, s^2 = s_G^2 + s_E^2 - 2 rho s_G s_E for GBP/EUR with USD base (rho the FX:EUR-FX:GBP
correlation). On a path with FX spots X_c (USD per unit of c) the option is then worth, in USD,

    V = sign N X_d [ S P_f N(w d1) - K P_d N(w d2) ] w,   S = X_f / X_d,   d1 = ln(S P_f / (K P_d)) / sd + sd / 2

(scipy's normal CDF), 0 from its expiry on. The netting values (``add_netting_values``, the chunk program's) are
the reference's netting sums."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from scipy import stats

from exposure.market.vols import BlackVolCurve
from exposure.models.hull_white import HullWhiteParams
from exposure.portfolio.fixings import Fixings
from exposure.portfolio.loader import ParseContext
from exposure.pricing import options as O
from exposure.pricing.view import PathView, PricingContext, netting_sum
from tests.test_option_pricing import MARKET, make_model

S_E, S_G = 0.08, 0.09


def _setup():
    market = dataclasses.replace(MARKET, fx_vols={"EUR": BlackVolCurve.flat(S_E), "GBP": BlackVolCurve.flat(S_G)})
    zero = tuple(HullWhiteParams.create(a, [0.0]) for a in (0.05, 0.03, 0.04))
    model = make_model(market, hw=zero)
    pc = ParseContext(market, None, Fixings.empty(), "pairs.yaml")
    rows = [("EUR", "USD", 1.05, "1Y", True, True), ("GBP", "EUR", 1.15, "2Y", False, True),
            ("EUR", "USD", 1.12, "3Y", False, False), ("GBP", "EUR", 1.20, "6M", True, False),
            ("EUR", "USD", 0.98, "18M", True, True), ("GBP", "EUR", 1.10, "30M", True, True),
            ("USD", "EUR", 0.93, "2Y", True, True)]
    specs = [O.parse_fx_option({"id": f"X{i}", "type": "FxOption", "foreign_currency": f, "domestic_currency": d,
                                "notional": 1e6 * (1 + i), "strike": k, "expiry": e, "call": c, "long": lg}, pc)
             for i, (f, d, k, e, c, lg) in enumerate(rows)]
    return market, model, specs


def _garman_kohlhagen(market, model, spec, times, fx):
    """(K, P) USD values of one option on the paths' FX spots fx (n_ccy, K, P) (module docstring)."""
    cur = model.currencies
    f, d = spec.foreign_currency, spec.domestic_currency
    T = spec.expiry_time
    tt = np.minimum(times, T)
    bond = lambda c: np.exp(market.curves[c].log_discount_np(T) - market.curves[c].log_discount_np(tt))  # noqa: E731
    if f != "USD" and d != "USD":
        s2 = S_G**2 + S_E**2 - 2.0 * model.correlation[3, 4] * S_G * S_E
    else:
        s2 = S_E**2
    sd = np.sqrt(s2 * np.maximum(T - times, 0.0))[:, None]
    xf, xd = fx[cur.index(f)], fx[cur.index(d)]
    fwd, disc = xf * bond(f)[:, None], spec.strike * xd * bond(d)[:, None]
    live = (times < T - 1e-10)[:, None]
    ss = np.where(live, sd, 1.0)
    d1 = np.log(fwd / disc) / ss + 0.5 * ss
    w = 1.0 if spec.call else -1.0
    v = w * (fwd * stats.norm.cdf(w * d1) - disc * stats.norm.cdf(w * (d1 - ss)))
    return np.where(live, v, 0.0) * spec.notional * (1.0 if spec.long else -1.0)


def test_two_pairs_in_one_batch_match_garman_kohlhagen_on_paths():
    market, model, specs = _setup()
    ns = [0, 1, 1, 0, 2, 1, 0]
    (b,) = O.fx_option_batches(specs, ns)
    assert b.pairs == (("EUR", "USD"), ("GBP", "EUR"), ("USD", "EUR")) and b.ids == ("X0", "X2", "X4", "X1", "X3",
                                                                                      "X5", "X6")
    rng = np.random.default_rng(3)
    times = np.array([0.0, 0.3, 0.55, 1.0, 1.4, 2.1, 2.6, 3.5])
    K, P = times.size, 32
    fx = np.ones((3, K, P))
    fx[1] = market.fx_spots["EUR"] * np.exp(rng.normal(0.0, 0.1, (K, P)))
    fx[2] = market.fx_spots["GBP"] * np.exp(rng.normal(0.0, 0.1, (K, P)))
    view = PathView(times, np.zeros((3, K, P)), fx, np.full((1, K, P), 5800.0), np.ones((K, P)), model.currencies,
                    model.equity_names)
    pre = b.prepare(PricingContext(market, model, times, None, ()))
    v = np.asarray(jax.jit(b.values)(pre, view))
    by_id = {s.id: s for s in specs}
    ref = np.stack([_garman_kohlhagen(market, model, by_id[i], times, fx) for i in b.ids], axis=1)
    gross = np.abs(ref).max()
    assert np.all(np.abs(v - ref) <= 1e-10 * gross)
    assert np.count_nonzero(ref) > 0 and np.count_nonzero(ref == 0.0) > 0  # live and expired cells both checked
    nv = np.asarray(jax.jit(lambda p, w: b.add_netting_values(p, w, 3))(pre, view))
    ref_ns = np.asarray(netting_sum(ref, b.netting_set, 3))
    assert np.all(np.abs(nv - ref_ns) <= 1e-10 * gross)
    spots = np.array([1.0, market.fx_spots["EUR"], market.fx_spots["GBP"]])[:, None, None]
    ref0 = np.array([_garman_kohlhagen(market, model, by_id[i], np.zeros(1), spots)[0, 0] for i in b.ids])
    assert np.all(np.abs(O.price_today(b, market, model) - ref0) <= 1e-10 * gross)  # t0: the same program


def test_two_pair_twin_matches_prepare_and_its_sigma_differences():
    """The AD twin of a two-pair batch (``risk.twin_options.FxOptionPresTwin``) gives prepare's lnAf, lnAd, sd at
    x0 (1e-13), and its jvp along GBP's Hull-White sigma the central difference of prepare at sigma +- h (h = 1e-6
    against sigma = 0.009: O((h / sigma)^2) ~ 1e-8 of the largest tangent; 9e-8 measured at h = 1e-5). GBP's sigma
    moves the GBP/EUR columns only (their bonds and variances); the other pairs' tangents are 0, as the differences'."""
    from exposure.risk.twin_options import FxOptionPresTwin

    market, _, specs = _setup()
    hw = (HullWhiteParams.create(0.05, [0.01]), HullWhiteParams.create(0.03, [0.008]),
          HullWhiteParams.create(0.04, [0.009]))
    model = make_model(market, hw=hw)
    (b,) = O.fx_option_batches(specs, [0] * len(specs))
    times = np.array([0.0, 0.3, 0.55, 1.0, 1.4, 2.1, 2.6, 3.5])
    ctx = PricingContext(market, model, times, None, ())
    pre = b.prepare(ctx)
    tw = FxOptionPresTwin(b, ctx)
    x0 = tw.x0()
    leaves = tw.leaves(x0)
    for name in ("lnAf", "lnAd", "sd"):
        np.testing.assert_allclose(np.asarray(leaves[name]), np.asarray(pre[name]), rtol=0, atol=1e-13)
    g = b.ccys.index("GBP")
    dx = jax.tree_util.tree_map(np.zeros_like, x0)
    dx["sigma"] = tuple(np.ones_like(s) if j == g else np.zeros_like(s) for j, s in enumerate(x0["sigma"]))
    _, tan = jax.jvp(tw.leaves, (x0,), (dx,))
    h = 1e-6

    def moved(e):
        m = dataclasses.replace(model, hw=(hw[0], hw[1], HullWhiteParams.create(0.04, [0.009 + e])))
        return b.prepare(PricingContext(market, m, times, None, ()))

    up, down = moved(h), moved(-h)
    gbp_cols = [i for i, trade in enumerate(b.order) if b.pairs[b.pair[trade]][0] == "GBP"]
    for name in ("lnAf", "lnAd", "sd"):
        fd = (np.asarray(up[name]) - np.asarray(down[name])) / (2 * h)
        t = np.asarray(tan[name])
        np.testing.assert_allclose(t, fd, rtol=0, atol=1e-7 * max(np.abs(fd).max(), 1e-300))
    assert np.abs(np.asarray(tan["sd"])[:, gbp_cols]).max() > 0.0  # the move does reach the GBP/EUR columns
