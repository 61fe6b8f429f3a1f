"""The trade types the engine prices: one explicit table, type name -> (parse, make_batches).

    parse(raw: dict, ctx) -> spec            validates one trade, raises TradeError naming it
    make_batches(specs, netting_index)       -> list of TradeBatch (trades priced as arrays)

Types that share one ``make_batches`` are batched together (every linear type: ``linear_batching.make_batches``).

A new product is a parser, a batch class and one line here; the portfolio loaders (YAML, CSV, ORE XML) read
this table and nothing else. Batches are built in type-name order (``sorted(TRADE_TYPES)``), so netting sums
never depend on the order in which modules were imported.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

from exposure.pricing import linear_parse, options


@dataclasses.dataclass(frozen=True)
class TradeType:
    parse: object
    make_batches: object


TRADE_TYPES = MappingProxyType({
    **{name: TradeType(parse, linear_parse.make_batches) for name, parse in linear_parse.PARSERS.items()},
    "FxOption": TradeType(options.parse_fx_option, options.fx_option_batches),
    "Swaption": TradeType(options.parse_swaption, options.swaption_batches),
    "CapFloor": TradeType(options.parse_cap_floor, options.cap_floor_batches),
    "EquityOption": TradeType(options.parse_equity_option, options.equity_option_batches),
})
