"""The host t0 prices (``pricing.today``) against the compiled path pricers on today's view, per product type.

    python -m benchmarks.t0_host_check [BOOK.yaml ...] [-o override ...]

For each book (default: the bundled example, bench-1k and the desk book) the run's batches are prepared at t = 0
and priced both ways: ``today_values`` (NumPy) and ``batch.values(pre0, PathView.today(model, y0))`` in one jitted
program per batch (the code the run's chunk program used for its t0 prices). Prints per trade type the number of
trades, the largest absolute difference, the largest difference relative to max(|value|, notional x 1e-12 / 1e-12)
and the seconds of each route.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

BOOKS = ("examples/portfolio/example.yaml", "examples/portfolio/bench_1k.yaml", "examples/portfolio/desk.yaml")


def _notional(spec) -> float:
    """The trade's size in its own currency: notional, quantity x strike, or the larger FX forward amount."""
    if getattr(spec, "quantity", None) is not None:
        return abs(float(spec.quantity) * float(getattr(spec, "strike", 1.0) or 1.0))
    if getattr(spec, "notional", None) is not None:
        return abs(float(spec.notional))
    if getattr(spec, "buy_amount", None) is not None:
        return max(abs(float(spec.buy_amount)), abs(float(spec.sell_amount)))
    legs = getattr(spec, "legs", ())
    return max((abs(float(getattr(leg, "notional", 0.0) or 0.0)) for leg in legs), default=1.0)


def check(book: str, overrides=()) -> dict:
    from exposure import api
    from exposure.pricing.today import today_values
    from exposure.pricing.view import PathView, PricingContext

    cfg = api.compose([f"portfolio.trades={book}", *overrides])
    s = api.setup(cfg)
    market, model, pf = s.market, s.built.model, s.portfolio
    t0 = PricingContext(market, model, np.zeros(1), pf.fixings, (market.asof,))
    batches = list(pf.batches)
    pres0 = [b.prepare(t0) for b in batches]
    y0 = np.asarray(model.initial_state(), dtype=np.float64)
    c = time.process_time()
    new = today_values(batches, pres0, model, y0)
    host_s = time.process_time() - c
    c = time.process_time()
    old = np.concatenate([np.asarray(jax.jit(lambda p, y, b=b: b.values(p, PathView.today(model, y))[0, :, 0])(p, y0))
                          for b, p in zip(batches, pres0)])
    compiled_s = time.process_time() - c
    types = [s_.type for b in batches for s_ in b.specs]
    scale = np.array([_notional(s_) for b in batches for s_ in b.specs])
    out = {}
    for t in sorted(set(types)):
        m = np.array([x == t for x in types])
        d = np.abs(new[m] - old[m])
        out[t] = (int(m.sum()), float(d.max()), float((d / np.maximum(np.abs(old[m]), scale[m])).max()))
    print(f"{book}: {len(types)} trades, host {host_s:.3f} CPU s, compiled per batch {compiled_s:.2f} CPU s")
    for t, (n, a, r) in out.items():
        print(f"  {t:24s} {n:5d} trades  max |new - old| {a:.3g}  max rel (to max(|V|, notional)) {r:.3g}")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("books", nargs="*", default=list(BOOKS))
    ap.add_argument("-o", "--override", action="append", default=[])
    args = ap.parse_args(argv)
    for book in args.books:
        check(book, args.override)


if __name__ == "__main__":
    main()
