"""A physical floor for bench-1k: the work the workload needs, set against this machine's measured rates.

    floor_s = max(flops / GEMM rate, bytes / memory bandwidth),    reported: measured_s / floor_s

Machine rates (measured here, best of ``--trials``; the floor takes the best of NumPy and JAX):
  GEMM rate    C = A @ B, A and B (n, n) in the workload's precision: 2 n^3 / s (GFLOP/s)
  bandwidth    copy of an array of ``--bw-mib`` MiB (2 x size bytes moved: read + write) and a sum over it
               (1 x size read); GB/s = 1e9 bytes/s

Work counted (per path; K = ``dates`` valuation dates after t0 (the t0 column is deterministic and counted
once, i.e. not at all); d = model states (8 on the example model); "live" counts come from the batches' own
``prepare`` on the workload's grid, so a trade contributes only on the dates it is alive; an FMA is 2 flops):

  simulation        per path and step: d normals, Phi y + L z as two dense d x d products: 4 d^2 flops
  path view         per path and date: exp of the n_ccy - 1 FX states, the n_eq equity states and the
                    numeraire: (n_ccy + n_eq) exp
  linear trades     per batch, date and batch currency with alive flows (moment expansion, order N):
                    powers xi^1..xi^N: N; the GEMM (P x (N+1)) @ ((N+1) x n_ns_b): 2 (N+1) n_ns_b;
                    exp(-B_mid x): 1 exp + 1; times the FX rate and into the netting sets: 2 n_ns_b flops;
                    each live current coupon (one per floating leg in its fixed phase): 1 exp + 6 flops.
                    N is the order the paths need: the smallest multiple of 4 whose truncation bound holds
                    for the largest |xi| on a probe chunk of simulated paths (``linear.state_abs_max``); the order
                    the pipeline evaluates (41 when the series is traced inside the pipeline's jit) is
                    recorded next to it (``linear_order_pipeline``)
  FX options        per live (date, trade): log-forward and log-strike: 6; Black: d1: 4, 2 exp, 2 erfc,
                    payoff: 6; weight and netting: 2 -> 18 flops + 2 exp + 2 erfc; plus 2 log per date and
                    batch (the FX log-states)
  swaptions         per live Jamshidian term (a coupon leg per (date, trade, coupon), one strike leg per (date,
                    trade)): g: 2, the cdf argument: 4, the bond: 2, 1 exp, 1 erfc, weight and netting: 4
                    -> 12 flops + 1 exp + 1 erfc; physical settlement, per
                    live exercised-swap flow: 1 exp + 5 flops, per running coupon: 1 exp + 7 flops, the
                    exercise decision at expiry likewise; per (date, trade): sign x FX and netting: 3 flops
  aggregation       per netting set, date and path: 1 / N, max, ENE, EPE sums, the standard-error sums: 10;
                    with a CSA the collateral recursion: 10 more; exact quantiles by selection
                    (numpy.partition, introselect, ~2 comparisons per path per quantile level): 2 n_q
  transcendentals   counted as flop equivalents: exp / log 10, erfc 20, a normal draw 20 (a vectorised
                    polynomial with range reduction; counter-based bits + transform); deliberately low so the
                    floor stays a floor. The raw counts are in the record for re-weighting.

  bytes             the netting-set value cube K n_ns P, written once and read once for the exact quantiles
                    (every path of a (netting set, date) is needed at once): 2 K n_ns P w; the simulated
                    states K d P, written once and read once: 2 K d P w (w = 8 bytes in float64, 4 in
                    float32). Per-date deterministic arrays (moments, coefficients) are read once per chunk
                    and are negligible.

    python -m benchmarks.floor                            # bench-1k, 10k paths x 100 dates
    python -m benchmarks.floor --measured-s 42.0          # also measured / floor
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("XPOSURE_JAX_CACHE", "0")

import numpy as np  # noqa: E402

EXP, LOG, ERFC, NORMAL = 10.0, 10.0, 20.0, 20.0  # flop equivalents (module docstring)


# ------------------------------------------------------------------------------------------ machine rates
def _best(fn, trials: int) -> float:
    best = float("inf")
    for _ in range(trials):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure_machine(gemm_n: int = 2048, bw_mib: int = 512, trials: int = 3, precision: str = "float64") -> dict:
    import jax
    import jax.numpy as jnp

    dt = np.dtype(precision)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((gemm_n, gemm_n)).astype(dt)
    B = rng.standard_normal((gemm_n, gemm_n)).astype(dt)
    A @ B  # warm-up (BLAS threads)
    t_np = _best(lambda: A @ B, trials)
    Aj, Bj = jnp.asarray(A), jnp.asarray(B)
    mm = jax.jit(jnp.matmul)
    mm(Aj, Bj).block_until_ready()
    t_jx = _best(lambda: mm(Aj, Bj).block_until_ready(), trials)
    flops = 2.0 * gemm_n**3
    del A, B, Aj, Bj

    n = bw_mib * 2**20 // dt.itemsize
    a = np.ones(n, dtype=dt)
    b = np.empty_like(a)
    np.copyto(b, a)
    t_copy = _best(lambda: np.copyto(b, a), trials)
    t_sum = _best(lambda: a.sum(), trials)
    aj = jnp.asarray(a)
    del a, b
    cp = jax.jit(lambda x: x * 1.0 + 0.0)
    sm = jax.jit(jnp.sum)
    cp(aj).block_until_ready()
    sm(aj).block_until_ready()
    t_jcp = _best(lambda: cp(aj).block_until_ready(), trials)
    t_jsm = _best(lambda: sm(aj).block_until_ready(), trials)
    nbytes = float(n * dt.itemsize)
    out = {
        "gemm_n": gemm_n, "gemm_precision": precision,
        "gemm_gflops_numpy": flops / t_np / 1e9, "gemm_gflops_jax": flops / t_jx / 1e9,
        "bw_mib": bw_mib,
        "bandwidth_copy_gbs_numpy": 2 * nbytes / t_copy / 1e9, "bandwidth_read_gbs_numpy": nbytes / t_sum / 1e9,
        "bandwidth_copy_gbs_jax": 2 * nbytes / t_jcp / 1e9, "bandwidth_read_gbs_jax": nbytes / t_jsm / 1e9,
    }
    out["gemm_gflops"] = max(out["gemm_gflops_numpy"], out["gemm_gflops_jax"])
    out["bandwidth_gbs"] = max(v for k, v in out.items() if k.startswith("bandwidth_"))
    return out


# ------------------------------------------------------------------------------------------ work counting
class Work:
    """Per-component counts: arithmetic flops, exp, log, erfc, normal draws, bytes."""

    FIELDS = ("flops", "exp", "log", "erfc", "normals", "bytes")

    def __init__(self):
        self.parts: dict = {}

    def add(self, part: str, **kw) -> None:
        row = self.parts.setdefault(part, dict.fromkeys(self.FIELDS, 0.0))
        for k, v in kw.items():
            row[k] += float(v)

    @staticmethod
    def equivalent(row: dict) -> float:
        return row["flops"] + EXP * row["exp"] + LOG * row["log"] + ERFC * row["erfc"] + NORMAL * row["normals"]

    def totals(self) -> dict:
        tot = dict.fromkeys(self.FIELDS, 0.0)
        for row in self.parts.values():
            for k in self.FIELDS:
                tot[k] += row[k]
        tot["flop_equivalents"] = self.equivalent(tot)
        return tot

    def table(self) -> dict:
        return {p: {**row, "flop_equivalents": self.equivalent(row)} for p, row in self.parts.items()}


def count_workload(trades: str, paths: int, dates: int, precision: str = "float64", probe_paths: int = 1000) -> dict:
    """Counts for ``paths`` paths of the portfolio on the '<dates>x1M' grid (module docstring)."""
    from benchmarks.bench_e2e import compose
    from exposure.api import path_generator, setup
    from exposure.pricing.linear import LinearBatch, _round_order, series_order, state_abs_max
    from exposure.pricing.opt_fx import FxOptionBatch
    from exposure.pricing.opt_swaption import SwaptionBatch
    from exposure.pricing.view import PathView, PricingContext

    w = 4 if precision == "float32" else 8
    probe = min(paths, probe_paths)
    cfg = compose(trades, probe, dates, probe, precision, "/tmp/xposure-floor-unused", csv=False)
    s = setup(cfg, calibrate=True)
    model, grid, pf, market = s.built.model, s.grid, s.portfolio, s.market
    times = np.concatenate([[0.0], grid.times])
    K = times.size  # t0 + dates
    ctx = PricingContext(market, model, times, pf.fixings, (market.asof,) + tuple(grid.dates))
    gen = path_generator(cfg, s)
    _, _, states = next(gen.chunks())
    view = PathView.from_states(model, states, times, ctx.numeraire_log_det())
    d, n_ccy, n_eq = len(model.state_names), model.n_ccy, len(model.equity_names)
    n_ns = len(pf.netting_sets)
    P = float(paths)
    rows = slice(1, None)  # per-path work on the dates after t0
    W = Work()
    W.add("simulation", normals=P * dates * d, flops=P * dates * 4 * d * d)
    W.add("path view", exp=P * dates * (n_ccy + n_eq))
    orders, orders_pipeline, unknown = [], [], []
    for b in pf.batches:
        pre = b.prepare(ctx)
        if isinstance(b, LinearBatch):
            if not pre.ccy_idx:
                continue
            n_b = pre.mom_ns.shape[-1]
            xm = state_abs_max(view.x)[list(pre.ccy_idx)]
            r = float(np.max(xm * np.asarray(pre.inv_scale).T, initial=0.0))
            full = pre.mom_ns.shape[2] - 1
            N = min(full, _round_order(series_order(max(r, 1e-3) * b.series_range)))
            orders.append(N)
            orders_pipeline.append(full)
            alive = np.any(np.asarray(pre.mom_ns)[rows] != 0.0, axis=(2, 3))  # (K-1, n_b currencies)
            n_live = float(alive.sum())
            W.add("linear: moment GEMM", flops=P * n_live * (N + 2 * (N + 1) * n_b + 1 + 2 * n_b), exp=P * n_live)
            n_cpn = float(np.asarray(pre.cc_n)[rows].sum())
            W.add("linear: current coupons", flops=P * n_cpn * 6, exp=P * n_cpn)
            n_eq_terms = float(np.count_nonzero(np.asarray(pre.eq_ns)[rows]))
            if n_eq_terms:
                W.add("linear: equity terms", flops=P * n_eq_terms * 2)
        elif isinstance(b, FxOptionBatch):
            live = float(np.count_nonzero(np.asarray(pre["wgt"])[rows]))
            W.add("FX options (Garman-Kohlhagen)", flops=P * live * 18, exp=P * live * 2, erfc=P * live * 2,
                  log=P * dates * 2)
        elif isinstance(b, SwaptionBatch):
            opt = pre["opt"]
            live = float(np.count_nonzero((np.asarray(opt["wgt"]) != 0.0) & (np.asarray(opt["k"]) >= 1)))
            W.add("swaptions: Jamshidian terms", flops=P * live * 12, exp=P * live, erfc=P * live)
            n_tr = len(b.ids)
            W.add("swaptions: scaling, netting", flops=P * dates * n_tr * 3)
            if "flows" in pre:
                for key, fl in (("flows", 5), ("run", 7), ("ex_flows", 5), ("ex_run", 7)):
                    e = pre[key]
                    amt = np.asarray(e["amt"] if "amt" in e else e["w"])
                    n_e = float(np.count_nonzero(amt))
                    W.add("swaptions: exercised swaps", flops=P * n_e * fl, exp=P * n_e)
        else:
            unknown.append(type(b).__name__)
    n_csa = sum(1 for ns in pf.netting_sets if ns.csa is not None)
    n_q = len(list(cfg.output.quantiles))
    W.add("aggregation: sums, collateral", flops=P * dates * (10 * n_ns + 10 * n_csa))
    W.add("aggregation: quantile selection", flops=P * dates * n_ns * 2 * n_q)
    W.add("bytes: netting-set cube", bytes=2.0 * dates * n_ns * P * w)
    W.add("bytes: states", bytes=2.0 * dates * d * P * w)
    return {
        "sizes": {"trades": len(pf.trades), "paths": int(paths), "dates": int(dates),
                  "factors": len(model.factor_names), "states": d, "netting_sets": n_ns,
                  "netting_sets_with_csa": n_csa, "quantiles": n_q},
        "linear_order_needed": max(orders) if orders else None,
        "linear_orders_needed": orders, "linear_order_pipeline": max(orders_pipeline) if orders_pipeline else None,
        "order_probe_paths": probe, "uncounted_batches": unknown,
        "components": W.table(), "totals": W.totals(),
    }


def floor_record(trades: str, paths: int, dates: int, precision: str, gemm_n: int, bw_mib: int, trials: int,
                 measured_s: float | None = None, measured_pipeline_s: float | None = None) -> dict:
    machine = measure_machine(gemm_n, bw_mib, trials, precision)
    work = count_workload(trades, paths, dates, precision)
    tot = work["totals"]
    t_flops = tot["flop_equivalents"] / (machine["gemm_gflops"] * 1e9)
    t_bytes = tot["bytes"] / (machine["bandwidth_gbs"] * 1e9)
    floor_s = max(t_flops, t_bytes)
    sz = work["sizes"]
    rec = {
        "workload": "floor",
        "tuple": f"{sz['trades']} trades x {paths} paths x {dates} dates (+t0) x {sz['factors']} factors",
        "sizes": sz, "precision": precision, "machine": machine, "work": work,
        "flop_equivalents": tot["flop_equivalents"], "bytes": tot["bytes"],
        "compute_floor_s": t_flops, "memory_floor_s": t_bytes, "floor_s": floor_s,
        "bound": "compute" if t_flops >= t_bytes else "memory",
        "flop_equivalent_weights": {"exp": EXP, "log": LOG, "erfc": ERFC, "normal": NORMAL},
    }
    if measured_s:
        rec["measured_s"] = measured_s
        rec["measured_over_floor"] = measured_s / floor_s
    if measured_pipeline_s:
        rec["measured_pipeline_s"] = measured_pipeline_s
        rec["pipeline_over_floor"] = measured_pipeline_s / floor_s
    return rec


def main(argv=None) -> dict:
    from benchmarks.bench_e2e import disable_persistent_cache, resolve_portfolio

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portfolio", default="bench-1k")
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--dates", type=int, default=100)
    ap.add_argument("--precision", default="float64", choices=("float64", "float32"))
    ap.add_argument("--gemm-n", type=int, default=2048)
    ap.add_argument("--bw-mib", type=int, default=512)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--measured-s", type=float, default=None, help="measured end-to-end warm seconds")
    ap.add_argument("--measured-pipeline-s", type=float, default=None, help="measured pipeline-only warm seconds")
    args = ap.parse_args(argv)
    disable_persistent_cache()
    rec = floor_record(resolve_portfolio(args.portfolio), args.paths, args.dates, args.precision, args.gemm_n,
                       args.bw_mib, args.trials, args.measured_s, args.measured_pipeline_s)
    rec["portfolio"] = args.portfolio
    from benchmarks.common import hardware

    rec["hardware"] = hardware()
    m = rec["machine"]
    print(f"GEMM {m['gemm_gflops']:.1f} GFLOP/s, bandwidth {m['bandwidth_gbs']:.1f} GB/s; "
          f"{rec['flop_equivalents']:.3g} flop-eq, {rec['bytes']:.3g} bytes -> floor {rec['floor_s']:.3g} s "
          f"({rec['bound']} bound)" + (f"; measured / floor = {rec['measured_over_floor']:.1f}"
                                        if "measured_over_floor" in rec else ""))
    for part, row in rec["work"]["components"].items():
        print(f"  {part:<36} {row['flop_equivalents']:12.3g} flop-eq {row['bytes']:12.3g} B")
    return rec


if __name__ == "__main__":
    main()
