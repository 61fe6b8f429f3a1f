"""examples/portfolio/README.md stays true to the parsers.

* Every trade type the loader knows has a table under a heading of its name whose field column equals the set
  of fields its parser accepts. That set is read from the parser itself: ``Fields.__init__`` (which rejects any
  field outside its ``known`` argument) is wrapped so that each construction records ``known`` while the README's
  examples are parsed; a nested leg table (``#### <Type> legs: `pay_leg`, ...``) is compared with the ``known``
  of the ``Fields.sub`` mapping read under each named key.
* The common-field, CSA, netting-set and ``portfolio.*`` config tables match COMMON_FIELDS, ``Csa``, the
  loader's netting-set reader and ``PortfolioConfig``.
* Every YAML block loads with the real loader on the bundled example market (and the README's fixings CSV),
  every trade type has an example, and a field whose required/default cell starts with "required" makes an
  example fail when it is deleted from it, one starting with "default" or "optional" still parses ("one of",
  "conditional" and other cells are not checked).
* The command lines of the ``sh`` block compose with Hydra.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import shlex

import pytest
import yaml
from omegaconf import OmegaConf

import exposure  # noqa: F401  (x64)
from exposure.config.schema import MarketConfig, PortfolioConfig
from exposure.errors import ConfigError, TradeError
from exposure.market.snapshot import build_market
from exposure.portfolio import fixings as fixings_mod
from exposure.portfolio import loader
from exposure.portfolio.loader import NETTING_SET_FIELDS
from exposure.portfolio.netting import Csa
from exposure.pricing import fields as fields_mod
from exposure.simulation.grid import TimeGrid

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "examples" / "portfolio" / "README.md"
TEXT = README.read_text()

from exposure.pricing.registry import TRADE_TYPES as _TYPES  # noqa: E402

TRADE_TYPES = sorted(_TYPES)


# ---- reading the README --------------------------------------------------------------------------------
def _sections(text: str) -> list[tuple[str, list[str]]]:
    """(heading text, body lines) per markdown heading, code fences skipped when looking for headings."""
    out, fence = [("", [])], False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence and re.match(r"^#{1,6} ", line):
            out.append((line.lstrip("#").strip(), []))
            continue
        out[-1][1].append(line)
    return out


def _first_table(lines: list[str]) -> list[list[str]]:
    """Rows (cells) of the first table in ``lines``, header and separator dropped."""
    rows, started = [], False
    for line in lines:
        if line.startswith("|"):
            started = True
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
        elif started:
            break
    assert len(rows) >= 2 and set(rows[1][0]) <= set("-: "), f"malformed table: {rows[:2]}"
    return rows[2:]


def _name(cell: str) -> str | None:
    m = re.fullmatch(r"`([^`]+)`", cell)
    return m.group(1) if m else None


TABLES = {}  # heading -> {field: required/default cell}, for the tables whose first column names fields
for _heading, _lines in _sections(TEXT):
    if any(line.startswith("|") for line in _lines):
        _rows = _first_table(_lines)
        _names = [_name(r[0]) for r in _rows]
        if any(_names):
            assert all(_names), f"'{_heading}': every first-column cell must be one `field` name: {_rows}"
            TABLES[_heading] = {n: r[1] for n, r in zip(_names, _rows)}

LEG_TABLES = {}  # (type, leg key) -> table
for _heading, _table in TABLES.items():
    _m = re.fullmatch(r"(\w+) legs: (.+)", _heading)
    if _m:
        for _key in re.findall(r"`([^`]+)`", _m.group(2)):
            LEG_TABLES[(_m.group(1), _key)] = _table

BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", TEXT, flags=re.M | re.S)
YAML_BLOCKS = [b for lang, b in BLOCKS if lang == "yaml"]
CSV_BLOCKS = [b for lang, b in BLOCKS if lang == "csv" and b.startswith("index,")]  # fixings
TRADE_CSV_BLOCKS = [b for lang, b in BLOCKS if lang == "csv" and b.startswith("id,")]
SH_BLOCKS = [b for lang, b in BLOCKS if lang == "sh"]


# ---- the market and the parsed examples ----------------------------------------------------------------
@pytest.fixture(scope="module")
def env(tmp_path_factory):
    mc = OmegaConf.merge(OmegaConf.structured(MarketConfig), OmegaConf.load(ROOT / "conf" / "market" / "example.yaml"))
    market = build_market(mc)
    grid = TimeGrid.build(market.asof, "6M,1Y,2Y,5Y")
    assert len(CSV_BLOCKS) == 1, "the README has one fixings csv block"
    fix = tmp_path_factory.mktemp("docs") / "fixings.csv"
    fix.write_text(CSV_BLOCKS[0])
    return market, grid, str(fix)


def _load(path, env, **pc):
    market, grid, fix = env
    return loader.load_portfolio(OmegaConf.create({"trades": str(path), "fixings": fix, **pc}), market, grid)


@pytest.fixture(scope="module")
def parsed(env, tmp_path_factory):
    """Every YAML block loaded by the real loader, with the ``known`` of every Fields(...) recorded.

    Returns (portfolios, raw trades by id, {(trade id, prefix): known})."""
    orig = fields_mod.Fields.__init__
    seen = {}

    def spy(self, raw, ctx, known, *args, **kwargs):
        prefix = args[0] if args else kwargs.get("prefix", "")
        tid = kwargs.get("trade_id") or str(raw.get("id", "?"))
        seen.setdefault((tid, prefix), set()).update(map(str, known))
        return orig(self, raw, ctx, known, *args, **kwargs)

    tmp = tmp_path_factory.mktemp("blocks")
    portfolios, raws = [], {}
    mp = pytest.MonkeyPatch()
    mp.setattr(fields_mod.Fields, "__init__", spy)
    try:
        for i, block in enumerate(YAML_BLOCKS):
            path = tmp / f"block{i}.yaml"
            path.write_text(block)
            try:
                portfolios.append(_load(path, env))
            except (TradeError, ConfigError) as exc:
                pytest.fail(f"README yaml block {i} does not load: {exc}\n{block}")
            data = yaml.safe_load(block)
            for t in data if isinstance(data, list) else data["trades"]:
                assert t["id"] not in raws, f"trade id {t['id']} is used by two README examples"
                raws[t["id"]] = t
    finally:
        mp.undo()
    return portfolios, raws, seen


def _parser_fields(parsed, type_name, prefix=""):
    _, raws, seen = parsed
    ids = [tid for tid, t in raws.items() if t["type"] == type_name]
    assert ids, f"no README example of {type_name}"
    out = set()
    for tid in ids:
        where = f" under '{prefix[:-1]}'" if prefix else ""
        assert (tid, prefix) in seen, (f"{type_name} ({tid}) read no Fields(...) mapping{where}: its parser no "
                                       "longer declares its fields through Fields(known)")
        out |= seen[(tid, prefix)]
    return out


# ---- tables against the code ---------------------------------------------------------------------------
@pytest.mark.parametrize("type_name", TRADE_TYPES)
def test_trade_type_table_lists_exactly_the_fields_its_parser_accepts(parsed, type_name):
    assert type_name in TABLES, f"README has no '### {type_name}' table"
    documented = set(TABLES[type_name])
    accepted = _parser_fields(parsed, type_name)
    assert documented == accepted, (f"{type_name}: undocumented {sorted(accepted - documented)}, "
                                    f"documented but not accepted {sorted(documented - accepted)}")


def test_leg_tables_list_exactly_the_leg_fields(parsed):
    _, raws, seen = parsed
    types = {t["type"] for t in raws.values()}
    # every nested mapping read with Fields.sub is documented (and nothing else)
    nested = {(raws[tid]["type"], prefix[:-1]) for tid, prefix in seen if prefix and tid in raws}
    assert nested == {k for k in LEG_TABLES if k[0] in types}
    for (type_name, key), table in LEG_TABLES.items():
        assert set(table) == _parser_fields(parsed, type_name, f"{key}."), f"{type_name}.{key}"
        assert key in TABLES[type_name], f"{type_name} table lacks its leg field '{key}'"


def test_every_registered_type_has_a_table_and_an_example(parsed):
    _, raws, _ = parsed
    assert set(TRADE_TYPES) <= set(TABLES)
    assert {t["type"] for t in raws.values()} == set(TRADE_TYPES)


def test_common_fields_table():
    assert set(TABLES["Common fields"]) == set(fields_mod.COMMON_FIELDS)


def test_csa_table():
    assert set(TABLES["CSA fields"]) == {f.name for f in dataclasses.fields(Csa)}
    for f in dataclasses.fields(Csa):  # a documented default is the dataclass default
        cell = TABLES["CSA fields"][f.name]
        if f.default == 0.0 and not isinstance(f.default, bool):
            assert cell.startswith("default 0"), (f.name, cell)
        elif isinstance(f.default, str):
            assert cell == f"default `{f.default}`", (f.name, cell)


def test_netting_set_table(env, tmp_path):
    documented = set(TABLES["Netting set fields"])
    assert documented == set(NETTING_SET_FIELDS)
    trade = {"id": "T", "type": "FxForward", "netting_set": "NS", "buy_currency": "EUR", "buy_amount": 1e6,
             "sell_currency": "USD", "sell_amount": 1.1e6, "maturity": "1Y"}
    values = {"counterparty": "CP_A", "csa": {"margining": "two_way"}, "calendar": "TARGET,UK"}
    assert documented <= set(values), f"no test value for {sorted(documented - set(values))}"
    path = tmp_path / "ns.yaml"
    path.write_text(yaml.safe_dump({"netting_sets": {"NS": {k: values[k] for k in documented}}, "trades": [trade]}))
    p = _load(path, env)
    assert p.netting_sets[0].counterparty == "CP_A" and p.netting_sets[0].csa == Csa()
    assert p.netting_sets[0].calendar == "TARGET,UK"
    path.write_text(yaml.safe_dump({"netting_sets": {"NS": {"undocumented_field": 1}}, "trades": [trade]}))
    with pytest.raises(ConfigError, match="undocumented_field"):
        _load(path, env)


def test_config_keys_table():
    table = next(t for t in TABLES.values() if "portfolio.trades" in t)
    documented = {k.removeprefix("portfolio.") for k in table}
    assert documented == {f.name for f in dataclasses.fields(PortfolioConfig)}


# ---- examples ------------------------------------------------------------------------------------------
def test_yaml_examples_load(parsed):
    portfolios, raws, _ = parsed
    assert len(portfolios) == len(YAML_BLOCKS) >= len(TRADE_TYPES)
    assert all(not p.skipped for p in portfolios)
    assert sum(len(p.trades) for p in portfolios) == len(raws)


def test_trade_csv_example_loads_as_the_yaml_examples(parsed, env, tmp_path):
    _, raws, _ = parsed
    assert len(TRADE_CSV_BLOCKS) == 1
    path = tmp_path / "book.csv"
    path.write_text(TRADE_CSV_BLOCKS[0])
    p = _load(path, env)
    assert not p.skipped and len(p.trades) == 3
    from exposure.pricing.linear_parse import parse_trade

    market = env[0]
    for spec in p.trades:
        if spec.id in raws:  # the same trade written in YAML above gives the same spec (calendar aside)
            raw = dict(raws[spec.id])
            raw.update({"calendar": "US"} if spec.id == "SWP_A" else {})
            raw["counterparty"] = spec.counterparty
            assert parse_trade(raw, market) == spec, spec.id


def test_fixings_example_parses(env):
    f = fixings_mod.Fixings.read(env[2])
    assert f.values and all(isinstance(v, float) for v in f.values.values())


def _required_kind(cell: str) -> str | None:
    if cell.startswith("required"):
        return "required"
    if cell.startswith(("default", "optional")):
        return "optional"
    return None


@pytest.mark.parametrize("type_name", TRADE_TYPES)
def test_required_and_defaulted_fields_behave_as_documented(parsed, env, type_name):
    """Deleting a field documented 'required' from an example fails; one with a default still parses."""
    market, grid, fix = env
    _, raws, _ = parsed
    ctx = loader.ParseContext(market, grid, fixings_mod.Fixings.read(fix), str(README))
    parse = _TYPES[type_name].parse
    checked = 0
    for raw in (t for t in raws.values() if t["type"] == type_name):
        tables = [((), TABLES[type_name])] + [((key,), tab) for (tn, key), tab in LEG_TABLES.items() if tn == type_name]
        for where, table in tables:
            target = raw
            for k in where:
                target = target.get(k) or {}
            for field, cell in table.items():
                kind = _required_kind(cell)
                if kind is None or field not in target:
                    continue
                trimmed = yaml.safe_load(yaml.safe_dump(raw))
                node = trimmed
                for k in where:
                    node = node[k]
                del node[field]
                label = ".".join(where + (field,))
                if kind == "required":
                    with pytest.raises(TradeError):
                        parse(trimmed, ctx)
                        pytest.fail(f"{raw['id']}: '{label}' is documented as required but the trade parses without it")
                else:
                    try:
                        parse(trimmed, ctx)
                    except TradeError as exc:
                        pytest.fail(f"{raw['id']}: '{label}' is documented with a default but fails without: {exc}")
                checked += 1
    assert checked, f"no documented field of {type_name} was exercised"


def test_documented_commands_compose():
    lines = [line for b in SH_BLOCKS for line in b.splitlines() if line.strip()]
    assert lines
    for line in lines:
        argv = shlex.split(line)
        assert argv[:3] == ["python", "-m", "exposure"] and argv[3] in ("run", "validate", "simulate", "show"), line
        cfg = exposure.compose(argv[4:])
        for ov in argv[4:]:
            key, value = ov.split("=", 1)
            got = OmegaConf.select(cfg, key)
            assert (got is None) if value == "null" else (str(got) == value), (line, key, got)
