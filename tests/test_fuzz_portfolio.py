"""Property-based fuzzing of the portfolio parser: any YAML-shaped book, however malformed, is either loaded or
refused with an ExposureError (a ConfigError/TradeError naming the key or trade), never another exception."""

from __future__ import annotations

import tempfile
from types import SimpleNamespace

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exposure.errors import ExposureError

FIELDS = ["id", "type", "netting_set", "currency", "notional", "maturity", "fixed_rate", "payer", "float_index",
          "buy_currency", "buy_amount", "sell_currency", "sell_amount", "foreign_currency", "domestic_currency",
          "strike", "expiry", "call", "long", "counterparty", "start", "spread", "underlying", "quantity"]
TYPES = ["Swap", "FxForward", "FxOption", "EquityOption", "Swaption", "Cap", "Floor", "Bogus", "", None, 3]
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from(["USD", "EUR", "XYZ", "1Y", "5Y", "-1Y", "2025-01-01", "banana", "", "USD-LIBOR-3M",
                                    "NS_A", "a,b\nc"]),
                   st.lists(st.integers(0, 5), max_size=3))
TRADE = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=10).flatmap(
    lambda d: st.sampled_from(TYPES).map(lambda t: {**d, "type": t}))
NS = st.dictionaries(st.sampled_from(["NS_A", "NS/1", "X"]),
                     st.one_of(st.none(), st.dictionaries(st.sampled_from(["counterparty", "csa", "bogus"]),
                                                          VALUES, max_size=2)), max_size=2)


@pytest.fixture(scope="module")
def market_grid():
    from exposure import api
    from exposure.market.snapshot import build_market
    from exposure.simulation.grid import TimeGrid

    cfg = api.compose([])
    market = build_market(cfg.market)
    return market, TimeGrid.build(market.asof, "6M,1Y,2Y,5Y", None)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trades=st.lists(TRADE, min_size=0, max_size=3), netting=NS)
def test_any_book_loads_or_gives_a_named_error(market_grid, trades, netting):
    from exposure.portfolio import load_portfolio

    market, grid = market_grid
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump({"netting_sets": netting, "trades": trades}, fh)
    pc = SimpleNamespace(trades=fh.name, netting_sets=None, fixings=None, on_error="fail", ore_xml=None,
                         get=lambda k, d=None: getattr(pc, k, d))
    try:
        load_portfolio(pc, market, grid)
    except ExposureError as exc:
        assert str(exc)


LINE = st.one_of(st.text(max_size=40), st.sampled_from(["date,index,value", "2024-01-02,USD-LIBOR-3M,0.05",
                                                        "20240102 USD-LIBOR-3M 0.05", "id,type,notional",
                                                        "T1,Swap,1e7", "2024-13-40,X,nan", "# comment", ""]))


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(LINE, max_size=6), raw=st.binary(max_size=40), use_raw=st.booleans())
def test_fixings_and_trade_csv_files_parse_or_give_a_named_error(lines, raw, use_raw):
    from exposure.portfolio.fixings import Fixings
    from exposure.portfolio.trade_csv import read_trades_csv

    with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as fh:
        fh.write(raw if use_raw else "\n".join(lines).encode("utf-8", "surrogatepass"))
    for read in (Fixings.read, read_trades_csv):
        try:
            read(fh.name)
        except ExposureError as exc:
            assert str(exc)
