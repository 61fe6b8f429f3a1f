"""The linear twins' cotangents alone (``twin_linear_ns.twin_cotangents``, the AD set-up's g_x of every linear
batch): bench_sensitivities' set-up, a random G["pres"] in the reverse pass's compact layout (one measure, every
netting set), timed over a few calls in one process (CPU seconds, XLA and BLAS threads included).

    python -m benchmarks.bench_linear_cotangents [--portfolio bench-1k] [--dates 100] [--calls 3] [--save FILE.npz]

Run it from two checkouts back to back (PYTHONPATH=<checkout>); ``--save`` writes every g_x leaf to compare them.
Prints one JSON line.
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
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--save", default="")
    a = ap.parse_args(argv)
    import jax
    import numpy as np
    from omegaconf import OmegaConf

    import exposure
    from benchmarks.bench_e2e import compose, resolve_portfolio
    from exposure.risk.compact import ROWS, ZERO
    from exposure.risk.reverse_ns import Plan
    from exposure.risk.setup_pres import LinearPresTwin
    from exposure.risk.setup_pres_tangents import PresTangents
    from exposure.risk.state import path_state
    from exposure.risk.twin_linear_ns import twin_cotangents
    from exposure.setup import setup

    cfg = compose(resolve_portfolio(a.portfolio), 256, a.dates, 256, "float64", tempfile.mkdtemp(), csv=False)
    cfg = OmegaConf.merge(cfg, {"risk": {"method": "ad", "measures": ["CVA"]}})
    s = setup(cfg)
    S, static = path_state(cfg, s, ("CVA",))
    plan, rng = Plan(S, static), np.random.default_rng(5)
    pres = [None if kind == ZERO else rng.standard_normal((1,) + ((len(ns),) if kind == ROWS else ()) + shape)
            for kind, ns, shape in plan.layout]

    class Rev:  # what ``twin_cotangents`` reads of a ``ReverseSetup``
        _G_pres = plan.compact(pres, 1, static.n_ns)
        n_out = _G_pres.n_out
        pt = PresTangents(s, static)
        twins = {i: tw for i, tw in pt._linear().items() if isinstance(tw, LinearPresTwin)}
        offsets = np.cumsum([0] + [len(f) for f, _, _ in pt.base])

    out = {"code": exposure.__file__, "n_ns": static.n_ns, "twins": {i: tw.n_tr for i, tw in Rev.twins.items()},
           "cpu_s": [], "wall_s": []}
    for _ in range(a.calls):
        t, c = time.perf_counter(), time.process_time()
        g = twin_cotangents(Rev, Rev.twins)
        out["cpu_s"].append(round(time.process_time() - c, 3))
        out["wall_s"].append(round(time.perf_counter() - t, 3))
    if a.save:
        flat = {f"{i}{jax.tree_util.keystr(p)}": np.asarray(x) for i, gi in g.items()
                for p, x in jax.tree_util.tree_flatten_with_path(gi)[0]}
        np.savez(a.save, **flat)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
