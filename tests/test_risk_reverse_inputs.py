"""Par-quote curves in reverse (exposure.risk.setup_reverse_inputs), and one curve given as zero rates or par quotes.

  * identity: for a cotangent G of the set-up arrays S (random, n_out = 3 rows, each leaf scaled by the largest
    tangent it takes; the order-only leaves ``setup_pres.ORDER_ONLY`` get G = 0, as the path program's cotangent
    of them is identically 0), the reverse form's d/dq equals <G, dS/dq> of the per-factor tangent
    (``stage.tangent``: the market moved in place along dY/dq by the bootstrap's IFT, every batch's prepare by
    central differences, the weights by differences of a rebuilt credit curve) for par quotes of every
    bootstrapped curve (OIS discount, IBOR forwarding) and the FX spots of the par-quote market, to 1e-9 of the
    largest |<G_o, dS/dq>|: the two differ by the O(step^2) curvature of the central differences only;
  * chain rule: the same market given as zero rates (market B: every bootstrapped curve at its own pillars,
    ``<days>D`` tenors, zero rate -ln P / t) gives the same S, and on the same G the par-quote sensitivities of
    market A equal the zero-pillar ones of market B mapped through the bootstrap's Jacobian,
    dM/dq_k = sum_{c,i} dM/dz_{c,i} dz_{c,i}/dq_k  (dz_i/dq_k = -(dY_i/dq_k) / t_i, factor units 1bp both), to
    1e-8 of the largest (the two reverse forms share no code path for the quote: A pulls back g_Y once, B
    takes each pillar);
  * the reverse form on the real g_S of a 256-path run against central bump-and-revalue of the full pipeline on
    the same seed, the quote bumped in market A (tests/risk_reference.py's tolerance: 4 SE of the per-path
    difference + |D(2h) - D(h)| + rounding; slow). Market B's own run draws other paths (eigh's column signs of
    L differ between the two builds), so its zero-pillar sensitivities meet the bump through the chain rule above
    (same G, 1e-8) rather than by a second run.
  * FX spots of the par-quote market, now moved in place, equal the previous per-factor path (market built
    again at the bumped spot, every prepare differenced) to 1e-9 (measured: identical).
Breaking the code once: the folded amounts gA dropped from g_Y (``InputReverse``) fails both fast tests at up to
0.46 of scale; the option twins' curve move dropped, at 0.73 (USD-LIBOR-3M swap 3Y).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from exposure.risk import RiskSettings
from exposure.risk.reverse import contract
from exposure.risk.setup_inputs import INPUTS, input_ift
from exposure.risk.setup_market import market_tangents
from exposure.risk.setup_pres import ORDER_ONLY
from exposure.risk.setup_pres_tangents import PresTangents
from exposure.risk.setup_reverse import ReverseSetup, reverse_covered
from exposure.risk.stage import factor_list, tangent
from tests.risk_reference import book_state

OVERRIDES = ["market=instruments", "portfolio.trades=tests/data/risk_inputs.yaml", "portfolio.fixings=null",
             "simulation.grid='3M,6M,1Y,2Y,3Y,5Y,7Y'", "simulation.paths=64"]
# par quotes inside the book's 7Y of every bootstrapped curve, and the FX spots
PICK = ["USD/ois:3M", "USD/ois:1Y", "USD/ois:5Y", "USD-LIBOR-3M/fra:3Mx3M", "USD-LIBOR-3M/swap:3Y",
        "USD-LIBOR-3M/swap:5Y", "EUR/ois:2Y", "EUR/ois:5Y", "EUR-EURIBOR-6M/swap:2Y", "EUR-EURIBOR-6M/swap:5Y",
        "EUR/USD/", "GBP/USD/"]


def zero_rate_config(cfg, s):
    """Market A's config with its bootstrapped curves as zero rates (market B): curve_inputs dropped, each curve
    at its own pillars (``<days>D``: the same model times exactly), continuously compounded z = -ln P / t."""
    from omegaconf import OmegaConf, open_dict

    ift = input_ift(cfg, s.market)
    patch = {"curve_inputs": None, "curves": {}, "indices": {}}
    for n in ift.names:
        t = ift.times[n]
        days = np.rint(t * 365.0).astype(int)
        assert np.array_equal(days / 365.0, t)
        lnp = next(cv for cv in list(s.market.curves.values()) + [ic.curve for ic in s.market.indices.values()]
                   if cv.name == n and np.array_equal(cv.times, t)).log_dfs
        node = {"tenors": [f"{d}D" for d in days], "quotes": [float(z) for z in -np.asarray(lnp) / t], "kind": "zero"}
        if n in s.market.curves:
            patch["curves"][n] = node
        else:
            patch["indices"][n] = {"curve": node}
    out = OmegaConf.merge(cfg, {})
    with open_dict(out.market.curves), open_dict(out.market.indices):
        return OmegaConf.merge(out, {"market": patch})


def _signs_of(S, S_b, G) -> tuple:
    """((S_b, S_b with its eigh columns signed as S's), G for S_b): eigh's column signs are arbitrary, so B's L
    columns (the covariance factor's and the bridge's) that point against A's are flipped in the comparison, and G
    is flipped on them (the contraction <G, dL/dq> then matches A's)."""
    aligned, G_b = dict(S_b), dict(G)
    for path in (("L",), ("bridge", "L")):
        if path[0] not in S:
            continue
        a, b = (S[path[0]] if len(path) == 1 else S[path[0]][path[1]]), (
            S_b[path[0]] if len(path) == 1 else S_b[path[0]][path[1]])
        sign = np.where(np.sum(np.asarray(a) * np.asarray(b), axis=-2, keepdims=True) < 0.0, -1.0, 1.0)
        g = G[path[0]] if len(path) == 1 else G[path[0]][path[1]]
        if len(path) == 1:
            aligned["L"], G_b["L"] = np.asarray(b) * sign, np.asarray(g) * sign
        else:
            aligned["bridge"] = dict(S_b["bridge"], L=np.asarray(b) * sign)
            G_b["bridge"] = dict(G["bridge"], L=np.asarray(g) * sign)
    return (S_b, aligned), G_b


def _label(f) -> str:
    return f"{f.name}/{f.pillar}"


@pytest.fixture(scope="module")
def base():
    cfg, s, S, static = book_state(OVERRIDES)
    market = market_tangents(cfg, s, tuple(S["w"]), static.val_times)
    fs = {_label(f): f for f in factor_list(cfg, s, RiskSettings())
          if f.path[:3] == INPUTS or f.factor_type == "FXSpot"}
    factors = [fs[k] for k in PICK]
    step = RiskSettings().setup_step
    tangents = [tangent(cfg, f, S, static, s, step, market) for f in factors]  # the reference, per factor
    rng = np.random.default_rng(11)
    size = jax.tree_util.tree_map(lambda *d: max(np.abs(np.asarray(x)).max(initial=0.0) for x in d), *tangents)
    G = jax.tree_util.tree_map(lambda a, m: rng.standard_normal((3,) + np.shape(a)) / (m if m > 0 else 1.0), S, size)
    names = [n for _, _, paths in PresTangents(s, static).base for n in paths]
    G["pres"] = [np.zeros_like(g) if n in ORDER_ONLY else g for g, n in zip(G["pres"], names)]
    rev = ReverseSetup(cfg, s, S, static, G, market, step)
    return cfg, s, S, static, G, market, factors, tangents, rev


def test_par_quotes_in_reverse_equal_the_per_factor_tangents(base):
    cfg, s, S, static, G, market, factors, tangents, rev = base
    assert all(reverse_covered(cfg, s, market, f) for f in factors)
    got = np.array([rev.sensitivity(f) for f in factors])
    ref = np.array([contract(G, dS) for dS in tangents])
    scale = np.abs(ref).max()
    err = np.abs(got - ref).max(axis=1)
    for f, e, r in zip(factors, err, ref):
        print(f"{f.label():40s} {e / scale:.1e} of scale, |ref| {np.abs(r).max():.3e}")
    assert np.all(np.abs(ref).max(axis=1) > 1e-3 * scale)  # every picked factor moves the book
    assert err.max() <= 1e-9 * scale, factors[int(np.argmax(err))].label()


def test_par_quotes_are_the_zero_pillars_through_the_bootstrap(base):
    cfg, s, S, static, G, market, factors, _, rev = base
    from exposure.risk.state import path_state
    from exposure.setup import setup

    cfg_b = zero_rate_config(cfg, s)
    s_b = setup(cfg_b)
    S_b, static_b = path_state(cfg_b, s_b)
    assert not getattr(cfg_b.market, "curve_inputs", None)
    S_b, G_b = _signs_of(S, S_b, G)
    for a, b in zip(jax.tree_util.tree_leaves(S), jax.tree_util.tree_leaves(S_b[1])):  # the same set-up
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-9 * max(np.abs(np.asarray(a)).max(initial=0.0), 1e-300))
    S_b = S_b[0]
    rev_b = ReverseSetup(cfg_b, s_b, S_b, static_b, G_b, market_tangents(cfg_b, s_b, tuple(S_b["w"]),
                                                                            static_b.val_times), rev.step)
    ift = input_ift(cfg, s.market)
    zero = {}  # curve name -> (n_out, n_pillars) dM/dz per 1bp of zero rate
    for f in factor_list(cfg_b, s_b, RiskSettings()):
        if f.factor_type in ("DiscountCurve", "IndexCurve") and f.name in ift.names:
            zero.setdefault(f.name, np.zeros((rev.n_out, ift.sizes[f.name])))[:, f.path[-1]] = rev_b.sensitivity(f)
    quotes = [f for f in factors if f.path[:3] == INPUTS]
    got = np.array([rev.sensitivity(f) for f in quotes])
    mapped = np.array([sum(zero[n] @ (-d / ift.times[n] / 1e-4) for n, d in  # dz/dq per 1bp of z
                           ift.direction(f.path[3], f.path[5], f.size).items()) for f in quotes])
    scale = np.abs(mapped).max()
    err = np.abs(got - mapped).max(axis=1)
    for f, e in zip(quotes, err):
        print(f"{f.label():40s} {e / scale:.1e} of scale")
    assert err.max() <= 1e-8 * scale, quotes[int(np.argmax(err))].label()


# -- in the AD run, against central bump-and-revalue of the full pipeline (same seed) -----------------------------
from tests.risk_reference import ad_base, bump_tolerance, full_difference  # noqa: E402

P, H = 256, 1.0  # paths; bump of 1bp of the quote


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    ov = [o for o in OVERRIDES if not o.startswith("simulation.paths")] + [f"simulation.paths={P}",
                                                                            "simulation.chunk_size=128"]
    b = ad_base(ov, P, tmp_path_factory.mktemp("base"), tmp_path_factory.mktemp("bumps"))
    b["rev"] = ReverseSetup(b["cfg"], b["s"], b["S"], b["static"], b["G"], b["market"], RiskSettings().setup_step)
    return b


@pytest.mark.slow
@pytest.mark.parametrize("label", ["USD/ois:2Y", "USD-LIBOR-3M/swap:5Y"])
def test_par_quote_in_reverse_against_bump_and_revalue(run, label):
    b = run
    f = next(f for f in factor_list(b["cfg"], b["s"], RiskSettings()) if _label(f) == label)
    ad = b["rev"].sensitivity(f).reshape(len(b["measures"]), -1)
    dS = tangent(b["cfg"], f, b["S"], b["static"], b["s"], RiskSettings().setup_step, b["market"])
    D, _ = full_difference(b, f, H, "rq_")
    tol = bump_tolerance(b, f, dS, H, D)
    print(f.label(), "reverse", ad.round(3).tolist(), "bump", D.round(3).tolist(), "tol", tol.round(3).tolist())
    assert np.abs(ad).max() > 0.0
    assert np.all(np.abs(ad - D) <= tol), (f.label(), b["measures"], ad, D, tol)


def test_fx_spot_of_a_par_quote_market_moved_in_place_equals_the_market_rebuild(base, monkeypatch):
    """FX spots of a par-quote market are moved in place (``setup_curves.covered``: no bootstrap reads a spot):
    their per-factor tangent, and so the reverse form checked above, equals the previous path's, the market built
    again at the bumped spot and every batch's prepare differenced (``covered`` off), within 1e-9 of scale."""
    from exposure.risk import setup_curves, state

    cfg, s, S, static, G, market, factors, tangents, _ = base
    fx = [(f, dS) for f, dS in zip(factors, tangents) if f.factor_type == "FXSpot"]
    real, rebuild, built = setup_curves.covered, state.rebuilt_market, []
    monkeypatch.setattr(setup_curves, "covered", lambda c, f: False if f.factor_type == "FXSpot" else real(c, f))
    monkeypatch.setattr(state, "rebuilt_market", lambda *a: built.append(a[2]) or rebuild(*a))
    step = RiskSettings().setup_step
    for f, dS in fx:
        rebuilt = contract(G, tangent(cfg, f, S, static, s, step, market))
        assert built[-2:] == [f, f]  # the market was built again at +-step
        ref = contract(G, dS)
        print(f.label(), np.abs(rebuilt - ref).max() / np.abs(ref).max())
        np.testing.assert_allclose(ref, rebuilt, rtol=0, atol=1e-9 * np.abs(ref).max(), err_msg=f.label())
