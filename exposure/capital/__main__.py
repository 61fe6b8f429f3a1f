"""SA-CCR of any portfolio from the trade table:  python -m exposure.capital TRADES.csv [MARGINS.csv] [--asof D]

Prints one CSV row per netting set: NettingSet,Margined,V,C,RC,AddOn_IR,AddOn_FX,AddOn_CR,AddOn_EQ,AddOn_CO,
AddOn,Multiplier,PFE,EAD,EAD_unmargined (columns of the trade and margin tables: exposure.capital.saccr_input).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from exposure.capital.saccr import saccr
from exposure.capital.saccr_input import read_margin_table, read_trade_table
from exposure.errors import ExposureError

HEADER = ("NettingSet,Margined,V,C,RC,AddOn_IR,AddOn_FX,AddOn_CR,AddOn_EQ,AddOn_CO,AddOn,Multiplier,PFE,EAD,"
          "EAD_unmargined")


def report(trades_csv: str, margins_csv: str | None = None, asof: dt.date | None = None, alpha: float = 1.4) -> str:
    trades = read_trade_table(trades_csv, asof)
    terms = read_margin_table(margins_csv) if margins_csv else {}
    rows = [HEADER]
    for ns, r in saccr(trades, terms, alpha=alpha).items():
        vals = [r.V, r.C, r.RC] + [r.addons[a] for a in ("IR", "FX", "CR", "EQ", "CO")] + [
            r.addon, r.multiplier, r.PFE, r.EAD, r.EAD_unmargined]
        rows.append(",".join([ns, str(r.margined).lower()] + [repr(float(v)) for v in vals]))
    return "\n".join(rows) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m exposure.capital", description=__doc__.splitlines()[0])
    ap.add_argument("trades")
    ap.add_argument("margins", nargs="?")
    ap.add_argument("--asof", type=dt.date.fromisoformat, default=None, help="as-of date for ISO dates in the table")
    ap.add_argument("--alpha", type=float, default=1.4)
    a = ap.parse_args(argv)
    try:
        sys.stdout.write(report(a.trades, a.margins, a.asof, a.alpha))
    except ExposureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
