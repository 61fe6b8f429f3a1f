"""Load every ORE example portfolio with the engine's importer and count what loads and what is skipped, and why.

    python -m benchmarks.ore.load_examples [--examples DIR | --git-dir PATH] [--market FILE] [--fixings FILE]
                                           [--asof 2016-02-05] [--base EUR] [--per-file] [--json OUT]

Input: the ``Examples`` folder of an ORE checkout (``--examples``), or a bare git mirror of ORE read at HEAD
(``--git-dir``, default /work/.mirror/OpenSourceRisk+Engine/repo when it exists); every ``Examples/**/portfolio*.xml``
and ``Examples/**/netting*.xml``. The market is ORE's ``Examples/Input/market_20160205.txt`` (with its fixings file)
read by ``market.curve_inputs.ore_market`` as of 2016-02-05, EUR base, unless given.

Each portfolio goes through ``exposure.portfolio.loader.load_portfolio`` with ``on_error=skip`` (the converter of
``exposure.portfolio.ore_xml`` and the product parsers): a trade loads or is skipped with its reason. A file whose
every trade is skipped, or that is not a readable portfolio, does not load. Prints per file (``--per-file``) loaded
and skipped counts, then the totals and the skip reasons grouped (the reason text with trade-specific parts, such
as dates, numbers and names in quotes, blanked out).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_GIT = "/work/.mirror/OpenSourceRisk+Engine/repo"
PORTFOLIO = re.compile(r"^Examples/.*/portfolio[^/]*\.xml$")
NETTING = re.compile(r"^Examples/.*/netting[^/]*\.xml$")


def _git_files(git_dir: str, pattern) -> list[str]:
    out = subprocess.run(["git", "-C", git_dir, "ls-tree", "-r", "HEAD", "--name-only"], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    return sorted(p for p in out if pattern.match(p))


def _git_show(git_dir: str, path: str) -> bytes:
    return subprocess.run(["git", "-C", git_dir, "show", f"HEAD:{path}"], capture_output=True, check=True).stdout


class Source:
    """The example files, from a folder or a bare git mirror; ``path(rel)`` a readable local file."""

    def __init__(self, examples: str | None, git_dir: str | None, tmp: str):
        self.examples, self.git_dir, self.tmp = examples, git_dir, tmp
        if examples is None and git_dir is None:
            raise SystemExit("give --examples DIR (an ORE Examples folder) or --git-dir (a mirror of ORE)")

    def files(self, pattern) -> list[str]:
        if self.git_dir:
            return _git_files(self.git_dir, pattern)
        root = Path(self.examples).resolve()
        rels = ["Examples/" + str(p.relative_to(root)).replace(os.sep, "/") for p in root.rglob("*.xml")]
        return sorted(r for r in rels if pattern.match(r))

    def path(self, rel: str) -> str:
        if not self.git_dir:
            return str(Path(self.examples).resolve() / rel[len("Examples/"):])
        local = Path(self.tmp) / rel
        if not local.exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(_git_show(self.git_dir, rel))
        return str(local)


def reason_key(text: str) -> str:
    """A skip reason with its trade-specific parts blanked (dates, numbers, element values of schedules and
    coupons) and the market's lists of known names dropped; trade types, leg types and names are kept."""
    t = re.sub(r" \((market|known|supported)[^)]*\)", "", text)
    t = re.sub(r"\d{4}-\d{2}-\d{2}", "DATE", t)
    t = re.sub(r"<(Dates|Floors|Caps|Gearings|Spreads)> [^:;]+", r"<\1> …", t)
    return re.sub(r"(?<![\w/-])\d+(\.\d+)?(e[-+]?\d+)?(?![\w/-])", "N", t)


def build_market(src: Source, market_file: str | None, asof: str, base: str):
    from omegaconf import OmegaConf

    from exposure.config.schema import MarketConfig
    from exposure.market.snapshot import build_market as build

    mf = market_file or src.path("Examples/Input/market_20160205.txt")
    cfg = OmegaConf.merge(OmegaConf.structured(MarketConfig), {"asof": asof, "base_currency": base,
                                                               "curve_inputs": {"ore_market": mf}})
    return build(cfg)


def load_file(path: str, market, grid, fixings: str | None) -> dict:
    """{'loaded': n, 'skipped': [(id, reason)], 'error': None or the reason the file does not load}."""
    from omegaconf import OmegaConf

    from exposure.errors import ConfigError, ExposureError
    from exposure.portfolio import loader
    from exposure.portfolio.ore_xml import read_portfolio

    pc = OmegaConf.create({"trades": "unused.yaml", "ore_xml": path, "netting_sets": None, "fixings": fixings,
                           "on_error": "skip"})
    try:
        p = loader.load_portfolio(pc, market, grid)
        return {"loaded": len(p.trades), "skipped": list(p.skipped), "error": None}
    except ConfigError as exc:
        if "no valid trade" not in str(exc):
            return {"loaded": 0, "skipped": [], "error": str(exc)}
    except ExposureError as exc:
        return {"loaded": 0, "skipped": [], "error": str(exc)}
    # every trade skipped: the same per-trade reasons, trade by trade (the loader stops at the empty book)
    from exposure.errors import TradeError
    from exposure.portfolio.fixings import Fixings
    from exposure.pricing.registry import TRADE_TYPES

    ctx = loader.ParseContext(market, grid, Fixings.read(fixings) if fixings else Fixings.empty(), path)
    skipped, seen = [], set()
    for tid, raw in read_portfolio(path):
        try:
            if isinstance(raw, TradeError):
                raise raw
            if tid in seen:
                raise TradeError(tid, "duplicate trade id")
            if raw["type"] not in TRADE_TYPES:
                raise TradeError(tid, f"unknown trade type '{raw['type']}'")
            TRADE_TYPES[raw["type"]].parse(raw, ctx)
            seen.add(tid)
        except TradeError as exc:
            skipped.append((tid, exc.problem))
    return {"loaded": 0, "skipped": skipped, "error": None}


def run(src: Source, market_file: str | None, fixings_file: str | None, asof: str, base: str) -> dict:
    import datetime as dt

    from exposure.portfolio.ore_netting import read_netting
    from exposure.simulation.grid import TimeGrid

    market = build_market(src, market_file, asof, base)
    grid = TimeGrid.build(dt.date.fromisoformat(asof), "1Y")
    fixings = fixings_file or src.path("Examples/Input/fixings_20160205.txt")
    files = {}
    for rel in src.files(PORTFOLIO):
        files[rel] = load_file(src.path(rel), market, grid, fixings)
    netting = {}
    for rel in src.files(NETTING):
        try:
            sets = read_netting(src.path(rel))
            netting[rel] = {"sets": len(sets), "csas": sum(1 for v in sets.values() if (v or {}).get("csa")),
                            "error": None}
        except Exception as exc:  # noqa: BLE001 - a file that does not load is counted with its reason
            netting[rel] = {"sets": 0, "csas": 0, "error": str(exc)}
    return {"files": files, "netting": netting}


def summary(res: dict, per_file: bool) -> str:
    files, netting = res["files"], res["netting"]
    lines = []
    if per_file:
        for rel, r in files.items():
            state = "LOADS" if r["loaded"] and not r["skipped"] else ("partly" if r["loaded"] else "none")
            lines.append(f"{rel}: loaded {r['loaded']}, skipped {len(r['skipped'])} [{state}]"
                         + (f" error: {r['error']}" if r["error"] else ""))
            for tid, why in r["skipped"]:
                lines.append(f"    {tid}: {why}")
    n_trades = sum(r["loaded"] + len(r["skipped"]) for r in files.values())
    loaded = sum(r["loaded"] for r in files.values())
    complete = [rel for rel, r in files.items() if r["loaded"] and not r["skipped"]]
    none = [rel for rel, r in files.items() if not r["loaded"]]
    errors = [rel for rel, r in files.items() if r["error"]]
    n_sets = sum(r["sets"] for r in netting.values())
    lines += [f"portfolio files: {len(files)}; trades: {n_trades}; loaded: {loaded}; skipped: {n_trades - loaded}",
              f"files loading completely: {len(complete)}; partly: {len(files) - len(complete) - len(none)}; "
              f"not at all: {len(none)} (unreadable: {len(errors)})",
              f"netting files: {len(netting)}; loading: {sum(1 for r in netting.values() if not r['error'])}; "
              f"netting sets: {n_sets} ({sum(r['csas'] for r in netting.values())} with a CSA)",
              "skip reasons (count: reason):"]
    reasons = collections.Counter(reason_key(why) for r in files.values() for _, why in r["skipped"])
    lines += [f"  {n:5d}: {why}" for why, n in reasons.most_common()]
    if errors:
        lines.append("unreadable files:")
        lines += [f"  {rel}: {files[rel]['error']}" for rel in errors]
    lines.append("files loading completely:")
    lines += [f"  {rel}" for rel in complete]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", help="an ORE Examples folder")
    ap.add_argument("--git-dir", default=None, help=f"a bare git mirror of ORE (default {DEFAULT_GIT} if present)")
    ap.add_argument("--market", help="ORE market.txt (default Examples/Input/market_20160205.txt)")
    ap.add_argument("--fixings", help="ORE fixings.txt (default Examples/Input/fixings_20160205.txt)")
    ap.add_argument("--asof", default="2016-02-05")
    ap.add_argument("--base", default="EUR")
    ap.add_argument("--per-file", action="store_true", help="every file and skipped trade")
    ap.add_argument("--json", help="write the per-file results as JSON here")
    a = ap.parse_args(argv)
    git_dir = a.git_dir or (DEFAULT_GIT if a.examples is None and os.path.isdir(DEFAULT_GIT) else None)
    with tempfile.TemporaryDirectory() as tmp:
        res = run(Source(a.examples, git_dir, tmp), a.market, a.fixings, a.asof, a.base)
    print(summary(res, a.per_file))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
