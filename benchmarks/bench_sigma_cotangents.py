"""The calibrated Hull-White sigma's cotangent of one run (``setup_reverse.ReverseSetup._sigma_cotangents``): exact
dtheta/dsigma_k (``sigma_direction``, the current form) against the central differences of two ``build_model`` calls
per piece it replaced (the base form, kept here), both with the run's compiled model jvp per piece; process CPU and
wall seconds, alternated in one process (base first), best of --repeats and the first call's CPU (the set-up
itself called the new form once: the model jvp and the bootstraps' dv/dp are compiled before either is timed).

    python -m benchmarks.bench_sigma_cotangents [--portfolio bench-1k|mini] [--dates 100] [--repeats 3]

Workload: bench_sensitivities' (market=example, model=example with the USD co-terminal calibration, 256 paths,
grid '<dates>x1M', risk.measures=[CVA]), G random with n_out = the netting sets. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def differences(rev, G, rel_step: float = 1e-5) -> dict:
    """The base form (82f6276): dtheta/dsigma_k by central differences of two model builds per piece."""
    import jax
    import numpy as np

    from exposure.models.build import build_model
    from exposure.models.hull_white import HullWhiteParams
    from exposure.risk.reverse import contract

    params = {c: HullWhiteParams(ift.a, ift.vol_times, np.asarray(ift.sigma)) for c, (ift, _, _) in rev.ctx.ift.items()}
    keys = [k for k in ("Phi", "mu", "L", "y0", "log_num", "bridge") if k in G]
    out = {}
    for c, (ift, _, _) in rev.ctx.ift.items():
        g = np.zeros((rev.n_out, ift.sigma.size))
        for k in range(ift.sigma.size):
            h = rel_step * max(abs(float(ift.sigma[k])), 1e-4)
            th = []
            for e in (h, -h):
                sig = np.array(ift.sigma, np.float64)
                sig[k] += e
                p = dict(params, **{c: HullWhiteParams(ift.a, ift.vol_times, sig)})
                th.append(rev.ctx.tangent.theta_of(build_model(rev.s.market, rev.cfg.model, calibrated=p).model))
            dS = rev.ctx.tangent(jax.tree_util.tree_map(lambda u, d: (np.asarray(u) - np.asarray(d)) / (2 * h), *th))
            g[:, k] = contract({k_: G[k_] for k_ in keys}, {k_: dS[k_] for k_ in keys})
        out[c] = rev.add_twins_sigma(c, g)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--portfolio", default="bench-1k")
    ap.add_argument("--dates", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    import jax
    import numpy as np
    from omegaconf import OmegaConf

    import exposure
    from benchmarks.bench_e2e import compose, resolve_portfolio
    from exposure.risk.setup_market import market_tangents
    from exposure.risk.setup_reverse import ReverseSetup
    from exposure.risk.state import path_state
    from exposure.setup import setup

    cfg = compose(resolve_portfolio(a.portfolio), 256, a.dates, 256, "float64", tempfile.mkdtemp(), csv=False)
    cfg = OmegaConf.merge(cfg, {"risk": {"method": "ad", "measures": ["CVA"]}})
    s = setup(cfg)
    S, static = path_state(cfg, s, ("CVA",))
    G = jax.tree_util.tree_map(lambda x: np.random.default_rng(3).standard_normal((static.n_ns,) + np.shape(x)), S)
    rev = ReverseSetup(cfg, s, S, static, G, market_tangents(cfg, s, ("CVA",), static.val_times), 0.1)
    out = {"code": exposure.__file__, "portfolio": a.portfolio, "dates": a.dates, "n_out": rev.n_out,
           "pieces": {c: int(ift.sigma.size) for c, (ift, _, _) in rev.ctx.ift.items()}}
    times = {"base": [], "new": []}
    for _ in range(a.repeats):
        for name, fn in (("base", lambda: differences(rev, G)), ("new", lambda: rev._sigma_cotangents_jvp(G))):
            t, w = time.process_time(), time.perf_counter()
            r = fn()
            times[name].append((time.process_time() - t, time.perf_counter() - w))
            out[name + "_result"] = r
    out.pop("base_result"), out.pop("new_result")
    twins, rev.twins = rev.twins, {}  # compare the model part (the twins' sigma part is common and dominates)
    base, new = differences(rev, G), rev._sigma_cotangents_jvp(G)
    rev.twins = twins
    out["model_part_max_rel_diff"] = max(float(np.abs(new[c] - base[c]).max() / np.abs(base[c]).max()) for c in base)
    for name, ts in times.items():
        out[name + "_cpu_s"] = round(min(t for t, _ in ts), 3)
        out[name + "_wall_s"] = round(min(w for _, w in ts), 3)
        out[name + "_first_cpu_s"] = round(ts[0][0], 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
