"""Load a portfolio file (YAML or JSON) into batches of trades priced as arrays.

File layout::

    netting_sets:
      NS_A: {counterparty: CP_A, csa: {margining: two_way, threshold_cpty: 1.0e6, mta_cpty: 1.0e5}}
    trades:
      - {id: SWP1, type: Swap, netting_set: NS_A, currency: USD, notional: 1.0e7, ...}

Trade types come from the one table ``exposure.pricing.registry.TRADE_TYPES``: ``parse(raw: dict, ctx) ->
spec`` validates one trade and raises TradeError naming it; ``make_batches(specs, netting_index)`` builds the
array batches (of every type that shares it: ``make_portfolio_batches``). A trade whose netting set is not listed becomes its
own netting set (its counterparty is the trade's ``counterparty`` field, or the trade id). With
``on_error: skip`` a trade that fails to parse is listed in ``Portfolio.skipped`` instead of stopping.
"""

from __future__ import annotations

import dataclasses
import json
import os

import yaml

from exposure.errors import ConfigError, TradeError
from exposure.portfolio.fixings import Fixings
from exposure.portfolio.netting import Csa, NettingSet, parse_calendar

NETTING_SET_FIELDS = ("counterparty", "csa", "calendar")  # the fields of a netting-set entry (documented, tested)
# libyaml's safe loader when PyYAML was built with it: the same documents, ~10x faster on a large portfolio.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclasses.dataclass(frozen=True)
class ParseContext:
    """What a trade parser may check against: the t0 market (currencies, indices), the grid, fixings."""

    market: object
    grid: object
    fixings: Fixings
    source: str


@dataclasses.dataclass(frozen=True)
class Portfolio:
    trades: tuple  # specs in file order (each has .id, .type, .netting_set)
    netting_sets: tuple  # NettingSet, in index order
    batches: tuple  # TradeBatch
    fixings: Fixings
    skipped: tuple = ()  # (trade_id, reason)

    @property
    def netting_set_ids(self) -> tuple:
        return tuple(ns.id for ns in self.netting_sets)

    @property
    def trade_ids(self) -> tuple:
        return tuple(t.id for t in self.trades)


def resolve_input(path: str, key: str) -> str:
    """An input path as given, else relative to the project root (the parent of the conf/ directory)."""
    if os.path.exists(path) or os.path.isabs(path):
        if not os.path.exists(path):
            raise ConfigError(key, f"file not found: {path}")
        return path
    from exposure.config.locate import conf_dir

    alt = os.path.join(os.path.dirname(conf_dir()), path)
    if not os.path.exists(alt):
        raise ConfigError(key, f"file not found: {path} (also looked in {os.path.dirname(alt) or '.'})")
    return alt


def _read(path: str) -> dict:
    if path.lower().endswith(".csv"):
        from exposure.portfolio.trade_csv import read_trades_csv

        return {"trades": read_trades_csv(path)}
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise ConfigError("portfolio.trades", f"not UTF-8 text (binary, or UTF-16?): {exc.reason} at byte {exc.start}",
                          source=path) from None
    try:
        data = json.loads(text) if path.endswith(".json") else yaml.load(text, Loader=_YAML_LOADER)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError("portfolio.trades", f"cannot parse: {exc}", source=path) from exc
    if isinstance(data, list):
        data = {"trades": data}
    if not isinstance(data, dict) or not isinstance(data.get("trades"), list):
        raise ConfigError("trades", "expected a list of trades (top-level 'trades:' key)", source=path)
    return data


def load_portfolio(pc, market, grid) -> Portfolio:
    """Parse and validate every trade, netting set and fixing before any simulation."""
    from exposure.pricing.registry import TRADE_TYPES
    if pc.get("ore_xml"):
        from exposure.portfolio.ore_xml import read_portfolio

        path = resolve_input(str(pc.ore_xml), "portfolio.ore_xml")
        data = {"trades": [raw for _, raw in read_portfolio(path)]}
    else:
        path = resolve_input(str(pc.trades), "portfolio.trades")
        data = _read(path)
    ns_raw = dict(data.get("netting_sets") or {})
    if pc.get("netting_sets"):
        ns_raw.update(_read_netting_file(resolve_input(str(pc.netting_sets), "portfolio.netting_sets")))
    fixings = Fixings.read(resolve_input(str(pc.fixings), "portfolio.fixings")) if pc.get("fixings") else Fixings.empty()
    ctx = ParseContext(market, grid, fixings, path)
    on_error = str(pc.get("on_error", "fail"))
    if on_error not in ("fail", "skip"):
        raise ConfigError("portfolio.on_error", f"must be 'fail' or 'skip' (got '{on_error}')")

    netting: dict = {}
    unnamed: set = set()
    for nid, nd in ns_raw.items():
        key = f"netting_sets.{nid}"
        if nd is not None and not isinstance(nd, dict):
            raise ConfigError(key, f"must be a mapping of netting set fields (got {type(nd).__name__})", source=path)
        nd = dict(nd or {})
        if nd.get("csa") is not None and not isinstance(nd["csa"], dict):
            raise ConfigError(f"{key}.csa", f"must be a mapping of CSA terms (got {nd['csa']!r})", source=path)
        unknown = set(nd) - set(NETTING_SET_FIELDS)
        if unknown:
            raise ConfigError(f"{key}.{sorted(unknown)[0]}", "unknown netting set field", source=path)
        csa = Csa.parse(dict(nd["csa"]), f"{key}.csa", market.curves) if nd.get("csa") else None
        cal = parse_calendar(nd["calendar"], f"{key}.calendar") if nd.get("calendar") else None
        # an ORE netting set names no counterparty: its first trade's envelope does (below)
        cp = nd.get("counterparty")
        netting[str(nid)] = NettingSet(str(nid), str(nid if cp is None else cp), csa, cal)
        if cp is None:
            unnamed.add(str(nid))

    declared = frozenset(netting)  # empty: no netting sets given, each id named by a trade is one (no CSA)
    specs, skipped, seen = [], [], set()
    for i, raw in enumerate(data["trades"]):
        tid = str(raw.get("id", f"#{i}")) if isinstance(raw, dict) else getattr(raw, "trade_id", f"#{i}")
        try:
            if isinstance(raw, TradeError):  # an ORE trade the converter could not map
                raise raw
            if not isinstance(raw, dict) or "id" not in raw or "type" not in raw:
                raise TradeError(tid, "every trade needs 'id' and 'type'", source=path)
            if tid in seen:
                raise TradeError(tid, "duplicate trade id", source=path)
            if raw["type"] not in TRADE_TYPES:
                raise TradeError(tid, f"unknown trade type '{raw['type']}' (known: {', '.join(sorted(TRADE_TYPES))})", source=path)
            spec = TRADE_TYPES[raw["type"]].parse(raw, ctx)
            if declared and spec.netting_set is not None and spec.netting_set not in declared:
                # a mistyped id would otherwise become a netting set of its own, with no CSA and no credit
                raise TradeError(tid, f"netting_set: '{spec.netting_set}' is not declared (declared: "
                                      f"{', '.join(sorted(declared))})", source=path)
        except TradeError as exc:
            if on_error == "skip":
                skipped.append((tid, exc.problem))
                continue
            raise
        seen.add(tid)
        ns = spec.netting_set or tid
        if ns not in netting:
            netting[ns] = NettingSet(ns, str(raw.get("counterparty", ns)), None)
        elif ns in unnamed and raw.get("counterparty") is not None:
            netting[ns] = dataclasses.replace(netting[ns], counterparty=str(raw["counterparty"]))
            unnamed.discard(ns)
        specs.append(spec)
    if not specs:
        raise ConfigError("trades", "the portfolio has no valid trade", source=path)

    ns_list = tuple(netting[n] for n in netting if any((s.netting_set or s.id) == n for s in specs))
    ns_index = {n.id: i for i, n in enumerate(ns_list)}
    return Portfolio(tuple(specs), ns_list, tuple(make_portfolio_batches(specs, ns_index)), fixings, tuple(skipped))


def make_portfolio_batches(specs, ns_index: dict) -> list:
    """The batches of ``specs``: the types that share a ``make_batches`` (every linear type: swaps, FRAs, FX
    forwards, cross-currency and equity forwards) are batched together, so that the compiled pricing program
    traces one linear batch, not one per type. Types are taken by name, not registration order (a group sits
    at its first type name): netting sums add batches in this order, and the last bits of a result must not
    depend on which product module a process happened to import first."""
    from exposure.pricing.registry import TRADE_TYPES

    groups: dict = {}  # make_batches -> (specs, netting indices), in type-name order
    for type_name in sorted(TRADE_TYPES):
        group = [s for s in specs if s.type == type_name]
        if group:
            g = groups.setdefault(TRADE_TYPES[type_name].make_batches, ([], []))
            g[0].extend(group)
            g[1].extend(ns_index[s.netting_set or s.id] for s in group)
    return [b for make, (group, idx) in groups.items() for b in make(group, idx)]


def _read_netting_file(path: str) -> dict:
    if not os.path.exists(path):
        raise ConfigError("portfolio.netting_sets", f"file not found: {path}")
    if path.lower().endswith(".xml"):  # ORE's netting.xml
        from exposure.portfolio.ore_netting import read_netting

        return read_netting(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_YAML_LOADER)
    except UnicodeDecodeError as exc:
        raise ConfigError("portfolio.netting_sets", f"not UTF-8 text: {exc.reason} at byte {exc.start}",
                          source=path) from None
    except yaml.YAMLError as exc:
        raise ConfigError("portfolio.netting_sets", f"cannot parse: {exc}", source=path) from None
    if not isinstance(data, dict):
        raise ConfigError("netting_sets", "expected a mapping of netting set ids", source=path)
    return data.get("netting_sets", data)
