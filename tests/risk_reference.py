"""Shared reference machinery of the sensitivity tests: the AD run of a config and central bump-and-revalue of the
full pipeline on the same seed (tests/test_risk_ad.py's method; imported by the tests that compare with it).

    D(h)  = (M(+h) - M(-h)) / 2h         two FULL pipeline runs on the bumped config (market rebuilt, model
                                          recalibrated, paths re-simulated on the same seed)
    tol   = 4 SE + |D(2h) - D(h)| + 1e-9 (|D(h)| + |M|)

SE the Monte Carlo standard error of the per-path difference AD_p - D_p(h), |D(2h) - D(h)| the O(h^2) truncation
(and the O(h) drift of kink crossings), the last term float64 rounding (see tests/test_risk_ad.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from omegaconf import OmegaConf

from exposure.api import compose
from exposure.pipeline import run_pipeline
from exposure.pricing.linear import differentiable_loops
from exposure.risk.factors import bumped
from exposure.risk.reverse import BASIS, path_amounts, reverse_pass
from exposure.risk.setup_market import market_tangents
from exposure.risk.state import aligned, path_state
from exposure.setup import setup


# every product type in two netting sets (tests/data/risk_portfolio.yaml), event dates between reporting dates
BOOK_OVERRIDES = ["portfolio.trades=tests/data/risk_portfolio.yaml", "portfolio.fixings=null",
                  "simulation.grid='3M,6M,1Y,18M,2Y,3Y,4Y,5Y,7Y'", "simulation.paths=64"]


def book_state(overrides=BOOK_OVERRIDES) -> tuple:
    """(cfg, s, S, static) of the config: its set-up and the path state S of the AD run."""
    cfg = compose(list(overrides))
    s = setup(cfg)
    S, static = path_state(cfg, s)
    return cfg, s, S, static


def mean_reversion_moves(batch_types=None):
    """(f, th, b, at, n, ints, ctx, model, market, s, static, names) per (mean-reversion factor, batch it moves) on
    the test book: the set-up of ``setup_vols_reverse.pres_part``'s tangent tests (``book_state``, the tangent and
    vol contexts, a PricingContext on the run's dates, the batches' leaf names). batch_types: keep only those."""
    from exposure.pricing.view import PricingContext
    from exposure.risk import RiskSettings, setup_tangent
    from exposure.risk import setup_vols as sv
    from exposure.risk.stage import factor_list

    cfg, s, S, static = book_state()
    tctx = setup_tangent.context(cfg, s, S, static)
    vctx = sv.vol_context(cfg, s, static, tctx.tangent.theta)
    model, market, g = s.built.model, s.market, s.grid
    ctx = PricingContext(market, model, static.times, s.portfolio.fixings, (market.asof,) + tuple(g.dates),
                         g.reporting_mask())
    names = sv.pres_names(static)
    for f in factor_list(cfg, s, RiskSettings()):
        if f.factor_type != "MeanReversion":
            continue
        th, _, moved = sv.theta_direction(tctx, vctx, model, market, f)
        for i, b in enumerate(s.portfolio.batches):
            at, n, ints = vctx.layout[i]
            if (batch_types is None or isinstance(b, batch_types)) and n and sv.reads(b) & moved:
                yield f, th, b, at, n, ints, ctx, model, market, s, static, names


def ad_base(overrides: list, paths: int, out_dir, bumps_dir) -> dict:
    """The run (dataset), its path state S, the reverse pass G and per-path programs: fwd(S) (n_meas, n_ns, P)
    the per-path sums, jvp(S, dS) their tangent; market the weights' tangents (as risk=ad)."""
    cfg = compose(list(overrides) + [f"output.dir={out_dir}"])
    s = setup(cfg)
    ds = run_pipeline(cfg, s).dataset
    S, static = path_state(cfg, s)
    measures = tuple(S["w"])
    G, values = reverse_pass(S, static, paths, int(cfg.simulation.seed), False, measures)

    def per_path(S_):  # (n_meas, n_ns, P) per-path sum_k w y, the same paths in one block
        _, y = path_amounts(S_, static, 0, paths, int(cfg.simulation.seed), False, 0.0)
        return jnp.stack([jnp.sum(S_["w"][m].T[:, :, None] * y[BASIS[m]], axis=0) for m in measures])

    with differentiable_loops():
        fwd = jax.jit(per_path)
        jvp = jax.jit(lambda a, t: jax.jvp(per_path, (a,), (t,))[1])
        fwd(S), jvp(S, S)  # traced inside the context
    market = market_tangents(cfg, s, measures, static.val_times)
    return dict(cfg=cfg, s=s, ds=ds, S=S, static=static, measures=measures, G=G, values=values, fwd=fwd, jvp=jvp,
                out=bumps_dir, market=market, paths=paths)


def per_path_at(base, f, e, align=True):
    """fwd at the set-up of the config bumped by e units of factor f (per path)."""
    c = bumped(base["cfg"], f, e)
    Sb, _ = path_state(c, setup(c))
    if align:
        Sb = dict(Sb, L=aligned(Sb["L"], base["S"]["L"]))
    return np.asarray(base["fwd"](Sb))


def full_difference(base, f, h: float, tag: str = "") -> tuple:
    """(D(h) (n_meas, n_ns), {e: the measures (n_meas, n_ns)} at e = +-h): the full pipeline on the config bumped
    by +-h units of factor f (same seed), and its central difference."""
    full = {}
    for e in (h, -h):
        c = bumped(base["cfg"], f, e)
        c = OmegaConf.merge(c, {"output": {"dir": str(base["out"] / f"{tag}{f.factor_type}_{f.name}_{f.pillar}_{e}")}})
        ds = run_pipeline(c, setup(c)).dataset
        full[e] = np.stack([ds[m].values for m in base["measures"]])
    return (full[h] - full[-h]) / (2 * h), full


def bump_tolerance(base, f, dS, h: float, D: np.ndarray) -> np.ndarray:
    """tol (n_meas, n_ns) of |AD - D(h)| (module docstring); dS the factor's set-up tangent (per-path AD)."""
    ad_p = np.asarray(base["jvp"](base["S"], dS))
    pp = {e: per_path_at(base, f, e) for e in (h, -h, 2 * h, -2 * h)}
    D_p = (pp[h] - pp[-h]) / (2 * h)
    D2 = ((pp[2 * h] - pp[-2 * h]) / (4 * h)).mean(axis=-1)
    se = (ad_p - D_p).std(axis=-1, ddof=1) / np.sqrt(base["paths"])
    return 4 * se + np.abs(D2 - D) + 1e-9 * (np.abs(D) + np.abs(base["values"]))
