"""A mean reversion's option batches in the AD set-up: the central differences of their ``prepare`` (two NumPy
prepares at the moved models, ``state.batch_difference``: the base) against the exact forward-mode tangent
(``risk.setup_pres_options.option_model_tangent``: the new path of ``setup_vols_reverse.pres_part``), in one process
back to back, per (MeanReversion factor, option batch).

    python -m benchmarks.bench_model_tangents [--portfolio bench-1k] [--dates 100] [--repeats 2]

Workload: bench_sensitivities' set-up (market=example, model=example with the USD co-terminal calibration, grid
'<dates>x1M', risk.measures=[CVA]); no paths. Prints one JSON line per (factor, batch): seconds (best of repeats) of
each path, and the largest |tangent - central difference| over the batch's float leaves relative to the leaf's
largest |tangent| (the central difference's O(h^2) truncation; a swaption's cdf coefficients at its expiry, +-1e200
alpha, dominate their leaf); batches without a tangent (swaptions with a payment
lag) say so.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--portfolio", default="bench-1k")
    ap.add_argument("--dates", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args(argv)
    import numpy as np
    from omegaconf import OmegaConf

    from benchmarks.bench_e2e import compose, resolve_portfolio
    from exposure.pricing.linear import LinearBatch
    from exposure.pricing.view import PricingContext
    from exposure.risk import setup_tangent
    from exposure.risk import setup_vols as sv
    from exposure.risk.settings import RiskSettings
    from exposure.risk.setup_pres_options import option_model_tangent
    from exposure.risk.stage import factor_list
    from exposure.risk.state import batch_difference, path_state
    from exposure.setup import setup

    cfg = compose(resolve_portfolio(a.portfolio), 256, a.dates, 256, "float64", tempfile.mkdtemp(), csv=False)
    cfg = OmegaConf.merge(cfg, {"risk": {"method": "ad", "measures": ["CVA"]}})
    s = setup(cfg)
    S, static = path_state(cfg, s, ("CVA",))
    tctx = setup_tangent.context(cfg, s, S, static)
    vctx = sv.vol_context(cfg, s, static, tctx.tangent.theta)
    model, market, g, h = s.built.model, s.market, s.grid, RiskSettings().setup_step
    ctx = PricingContext(market, model, static.times, s.portfolio.fixings, (market.asof,) + tuple(g.dates),
                         g.reporting_mask())

    def best(fn):
        out, ts = None, []
        for _ in range(a.repeats):
            t = time.perf_counter()
            out = fn()
            ts.append(time.perf_counter() - t)
        return out, min(ts)

    for f in factor_list(cfg, s, RiskSettings()):
        if f.factor_type != "MeanReversion":
            continue
        th, _, moved = sv.theta_direction(tctx, vctx, model, market, f)
        models = tuple(sv.moved_model(model, th, e) for e in (h, -h))
        for i, b in enumerate(s.portfolio.batches):
            at, n, ints = vctx.layout[i]
            if isinstance(b, LinearBatch) or not n or not (sv.reads(b) or set()) & moved:
                continue
            ref, t_ref = best(lambda: batch_difference(b, ints, (market, market), models, s, static, f, h))
            new, t_new = best(lambda: option_model_tangent(b, ctx, th))
            rec = {"factor": f.label(), "batch": f"{type(b).__name__}[{i}]", "trades": len(b.specs),
                   "central_differences_s": round(t_ref, 4)}
            if new is None:
                rec["tangent"] = "none (central differences kept)"
            else:
                rec["tangent_s"] = round(t_new, 4)
                # leaves whose tangent is exactly 0 (a swaption's strike-leg weight, -w N target): the central
                # difference's rounding there, apart
                moving = [(d, r) for d, r in zip(new, ref) if np.any(d)]
                rec["max_rel_diff"] = max(float(np.abs(d - r).max() / np.abs(d).max()) for d, r in moving)
                rec["max_abs_ref_where_zero"] = max((float(np.abs(r).max(initial=0.0)) for d, r in zip(new, ref)
                                                     if not np.any(d)), default=0.0)
            print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
