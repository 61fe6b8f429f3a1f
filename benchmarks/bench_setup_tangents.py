"""Set-up tangents alone (no paths): wall time of ``exposure.risk.stage.tangent`` for every k-th risk factor of a
book, the first call (compilation) reported apart.

    python -m benchmarks.bench_setup_tangents [--portfolio mini] [--every 3] [--dates 24]
                                              [--factor-types DiscountCurve,IndexCurve,FXSpot]

Workload: bench_sensitivities' (market=example, model=example with the USD co-terminal calibration, grid
'<dates>x1M', risk.measures=[CVA]). Prints one JSON line: factors in the book, factors timed, first-call seconds,
seconds per further factor. Run it from two checkouts back to back to compare set-up layers.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--portfolio", default="mini")
    ap.add_argument("--every", type=int, default=3)
    ap.add_argument("--dates", type=int, default=24)
    ap.add_argument("--factor-types", default="", help="comma-separated factor types (default: all)")
    a = ap.parse_args(argv)
    from omegaconf import OmegaConf

    import exposure
    from benchmarks.bench_e2e import compose, resolve_portfolio
    from exposure.risk.settings import RiskSettings
    from exposure.risk.stage import factor_list, tangent
    from exposure.risk.state import path_state
    from exposure.setup import setup

    cfg = compose(resolve_portfolio(a.portfolio), 256, a.dates, 256, "float64", tempfile.mkdtemp(), csv=False)
    cfg = OmegaConf.merge(cfg, {"risk": {"method": "ad", "measures": ["CVA"]}})
    s = setup(cfg)
    S, static = path_state(cfg, s, ("CVA",))
    types = tuple(t for t in a.factor_types.split(",") if t)
    factors = factor_list(cfg, s, RiskSettings(measures=("CVA",), factor_types=types))
    sample = factors[:: a.every]
    t = time.perf_counter()
    tangent(cfg, sample[0], S, static, s, 0.1)
    first = time.perf_counter() - t
    t = time.perf_counter()
    for f in sample[1:]:
        tangent(cfg, f, S, static, s, 0.1)
    rest = time.perf_counter() - t
    print(json.dumps({"code": exposure.__file__, "n_factors": len(factors), "timed": len(sample),
                      "first_s": round(first, 2), "per_factor_s": round(rest / max(len(sample) - 1, 1), 3)}))


if __name__ == "__main__":
    main()
