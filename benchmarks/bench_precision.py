"""float32 opt-in against float64: the same paths (normals are drawn in float64 and cast), so the difference
of every exposure figure is rounding alone.

    rel_err(measure) = max over netting sets and dates of |m32 - m64| / max(|m64|, 1e-12 * scale)

Reported for EPE, ENE and PFE of the bundled example (or any portfolio) and the warm time of each precision.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import exposure


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=10000)
    ap.add_argument("--portfolio", default="examples/portfolio/example.yaml")
    ap.add_argument("--out", default="benchmarks/out/precision")
    args = ap.parse_args(argv)
    res, times = {}, {}
    for prec in ("float64", "float32"):
        cfg = exposure.compose([f"simulation.precision={prec}", f"simulation.paths={args.paths}",
                                f"portfolio.trades={args.portfolio}", f"output.dir={args.out}/{prec}"])
        exposure.run(cfg)  # compile
        t0 = time.perf_counter()
        res[prec] = exposure.run(cfg).dataset
        times[prec] = time.perf_counter() - t0
    out = {"paths": args.paths, "portfolio": args.portfolio, "warm_s": times}
    for m in ("EPE", "ENE", "PFE"):
        a, b = res["float64"][m].values, res["float32"][m].values
        scale = np.abs(a).max()
        out[f"{m}_max_rel_err"] = float(np.max(np.abs(b - a) / np.maximum(np.abs(a), 1e-6 * scale)))
        out[f"{m}_max_abs_err_over_peak"] = float(np.max(np.abs(b - a)) / scale)
        big = np.abs(a) > 0.01 * scale  # relative error where the figure is material (> 1% of its peak)
        out[f"{m}_max_rel_err_material"] = float(np.max(np.abs(b - a)[big] / np.abs(a)[big]))
    se = res["float64"]["EE_stderr"].values
    live = se > 0
    d = np.abs(res["float32"]["EPE"].values - res["float64"]["EPE"].values)
    out["EPE_max_err_in_SE"] = float(np.max(d[live] / se[live]))
    print(out)
    return out


if __name__ == "__main__":
    main()
