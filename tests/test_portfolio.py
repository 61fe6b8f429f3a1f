"""Portfolio files with linear trades: loading, batching, trade errors named by id, on_error: skip, the example
and benchmark portfolios and their generator."""

from __future__ import annotations

import datetime as dt
import importlib.util
import pathlib

import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

import exposure  # noqa: F401  (x64)
from exposure.config.schema import MarketConfig, ModelConfig
from exposure.errors import TradeError
from exposure.market.snapshot import build_market
from exposure.models.build import build_model
from exposure.portfolio import load_portfolio
from exposure.pricing.linear import LinearBatch
from exposure.pricing.linear_today import present_values
from exposure.pricing.view import PathView, PricingContext
from exposure.simulation.grid import TimeGrid

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "portfolio"
LINEAR = {"Swap", "Fra", "CrossCurrencySwap", "FxForward", "EquityForward"}


def _generator():
    spec = importlib.util.spec_from_file_location("portfolio_generate", EXAMPLES / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def mm():
    mc = OmegaConf.merge(OmegaConf.structured(MarketConfig), OmegaConf.load(ROOT / "conf" / "market" / "example.yaml"))
    market = build_market(mc)
    md = OmegaConf.merge(OmegaConf.structured(ModelConfig), OmegaConf.load(ROOT / "conf" / "model" / "example.yaml"))
    return market, build_model(market, md, calibrate=False).model


@pytest.fixture(scope="module")
def grid(mm):
    return TimeGrid.build(mm[0].asof, "6M,1Y,2Y,5Y")


def load(tmp_path, mm, grid, trades, netting_sets=None, **pc):
    path = tmp_path / "trades.yaml"
    path.write_text(yaml.safe_dump({"netting_sets": netting_sets or {}, "trades": trades}))
    return load_portfolio(OmegaConf.create({"trades": str(path), **pc}), mm[0], grid)


GOOD = [
    dict(id="S1", type="Swap", netting_set="NS1", currency="USD", notional=1e7, maturity="5Y", fixed_rate=0.036,
         float_index="USD-LIBOR-3M"),
    dict(id="S2", type="Swap", netting_set="NS2", currency="EUR", notional=1e7, maturity="3Y", fixed_rate=0.024,
         float_index="EUR-EURIBOR-6M"),
    dict(id="S3", type="Swap", netting_set="NS1", currency="USD", notional=2e7, maturity="2Y", fixed_rate=0.035,
         float_index="USD-SOFR", payer=False),
    dict(id="F1", type="FxForward", netting_set="NS2", buy_currency="EUR", buy_amount=1e6, sell_currency="USD",
         sell_amount=1.1e6, maturity="1Y"),
    dict(id="R1", type="Fra", counterparty="CP_E", float_index="USD-LIBOR-3M", notional=1e7, start="3M",
         fixed_rate=0.04),
]

BAD = [
    (dict(id="B1", type="Swap", currency="USD", notional=1e7, maturity="5Y", fixed_rate=0.03, float_index="USD-LIBOR-6M"),
     "unknown index 'USD-LIBOR-6M'"),
    (dict(id="B2", type="Swap", currency="JPY", notional=1e7, maturity="5Y", fixed_rate=0.03), "unknown currency 'JPY'"),
    (dict(id="B3", type="Swap", currency="USD", notional=1e7, start="2Y", maturity="1Y", fixed_rate=0.03),
     "is not after the start date"),
    (dict(id="B4", type="Swap", currency="USD", notional=-1e7, maturity="5Y", fixed_rate=0.03), "notional: must be > 0"),
    (dict(id="B5", type="Swap", currency="USD", notional=1e7, start="2026-03-16", maturity="2029-03-16", fixed_rate=0.03,
          float_index="USD-LIBOR-3M"), "missing past fixing of USD-LIBOR-3M on 2026-09-16"),
    (dict(id="B6", type="Swap", currency="USD", notional=1e7, maturity="5Y", fixed_rate=0.03, float_index="EUR-EURIBOR-6M"),
     "is in EUR, not in the leg's currency USD"),
    (dict(id="B7", type="Swap", currency="USD", notional=1e7, maturity="5Y"), "fixed_rate: missing required field"),
    (dict(id="B8", type="Swap", currency="USD", notional=1e7, maturity="5Y", fixed_rate=0.03, fixd_rate=0.03),
     "fixd_rate: unknown field"),
    (dict(id="B9", type="Swap", currency="USD", notional=1e7, maturity="5Q", fixed_rate=0.03),
     "neither an ISO date"),
    (dict(id="B10", type="Swap", currency="USD", notional=[1e7, 5e6], maturity="5Y", fixed_rate=0.03),
     "2 notionals for 5 periods"),
    (dict(id="B11", type="Swap", currency="USD", notional=1e7, amortisation={"amount": 3e6}, maturity="5Y",
          fixed_rate=0.03), "amortises the notional to"),
    (dict(id="B12", type="FxForward", buy_currency="EUR", buy_amount=1e6, sell_currency="EUR", sell_amount=1e6,
          maturity="1Y"), "same as buy_currency"),
    (dict(id="B13", type="FxForward", buy_currency="EUR", buy_amount=0.0, sell_currency="USD", sell_amount=1e6,
          maturity="1Y"), "buy_amount: must be > 0"),
    (dict(id="B14", type="EquityForward", name="NKY", quantity=10, strike=100, maturity="1Y"), "unknown equity 'NKY'"),
    (dict(id="B15", type="CrossCurrencySwap", maturity="5Y", pay_leg=dict(currency="USD", notional=1e7),
          receive_leg=dict(currency="USD", notional=1e7, fixed_rate=0.03)), "needs two currencies"),
    (dict(id="B16", type="Fra", float_index="USD-LIBOR-3M", notional=1e7, start="3M", end="1M", fixed_rate=0.04),
     "is not after the start date"),
    (dict(id="B17", type="Swap", currency="USD", notional=1e7, maturity="5Y", fixed_rate=0.03, payer="yes"),
     "payer: expected true or false"),
    (dict(id="B18", type="Swap", currency="USD", notional=1e7, maturity="5Y", fixed_rate=0.03, fixed_day_count="ACT/366"),
     "unknown day count"),
    (dict(id="B19", type="Swap", currency="USD", notional=1e7, start="2026-10-01", maturity="2028-10-01", fixed_rate=0.03,
          float_index="USD-SOFR"), "missing past fixing of USD-SOFR on 2026-10-01"),
]


@pytest.mark.parametrize("raw,problem", BAD, ids=[b[0]["id"] for b in BAD])
def test_bad_trade_is_named_with_its_problem(tmp_path, mm, grid, raw, problem):
    with pytest.raises(TradeError) as err:
        load(tmp_path, mm, grid, GOOD + [raw])
    assert err.value.trade_id == raw["id"]
    assert problem in err.value.problem, err.value.problem
    assert raw["id"] in str(err.value)


def test_on_error_skip_lists_bad_trades_and_keeps_good_ones(tmp_path, mm, grid):
    p = load(tmp_path, mm, grid, GOOD + [b[0] for b in BAD], on_error="skip")
    assert p.trade_ids == tuple(t["id"] for t in GOOD)
    assert [s[0] for s in p.skipped] == [b[0]["id"] for b in BAD]
    for (tid, reason), (_, problem) in zip(p.skipped, BAD):
        assert problem in reason


def test_linear_trades_share_one_batch_and_net_as_batches_per_type_and_currency(tmp_path, mm, grid):
    """Every linear trade in one LinearBatch (one traced evaluation), trades of a (type, currencies) side by side
    in first-appearance order; its netting values and per-trade values equal those of the (type, currencies)
    batches built one by one, and its per-trade values summed per netting set by hand."""
    market, model = mm
    p = load(tmp_path, mm, grid, GOOD, netting_sets={"NS1": {"counterparty": "CP_A"}, "NS2": {"counterparty": "CP_B"}})
    (b,) = p.batches
    assert isinstance(b, LinearBatch) and b.types == ("Fra", "FxForward", "Swap")
    assert b.ids == ("R1", "F1", "S1", "S3", "S2")  # by type name, then (type, currencies) groups, file order
    assert p.netting_set_ids == ("NS1", "NS2", "R1")  # R1 has no netting set: its own
    own = {t["id"]: t.get("netting_set", t["id"]) for t in GOOD}
    assert [p.netting_set_ids[n] for n in b.netting_set] == [own[t] for t in b.ids]
    times = np.concatenate([[0.0], grid.times])
    ctx = PricingContext(market, model, times, None, (market.asof,) + tuple(grid.dates))
    rng = np.random.default_rng(3)
    K, P = times.size, 16
    x = jnp.asarray(rng.standard_normal((3, K, P)) * 0.01)
    fx = jnp.asarray(np.concatenate([np.ones((1, K, P)), np.asarray(model.fx_spot)[:, None, None]
                                     * np.exp(0.05 * rng.standard_normal((2, K, P)))]))
    eq = jnp.asarray(np.asarray(model.equity_spot)[:, None, None] * np.ones((2, K, P)))
    view = PathView(jnp.asarray(times), x, fx, eq, jnp.ones((K, P)), tuple(model.currencies), tuple(model.equity_names))
    total = np.asarray(b.netting_values(b.prepare(ctx), view, 3))
    v = np.asarray(b.values(b.prepare(ctx), view))
    # the batches of the earlier grouping, one per (type, currencies), priced one by one
    groups: dict = {}
    for i, spec in enumerate(b.specs):
        groups.setdefault(spec.batch_key, []).append(i)
    assert len(groups) == 4
    sep_total, sep_v = np.zeros((K, 3, P)), np.zeros_like(v)
    for idx in groups.values():
        one = LinearBatch([b.specs[i] for i in idx], b.netting_set[idx])
        sep_total += np.asarray(one.netting_values(one.prepare(ctx), view, 3))
        sep_v[:, idx] = np.asarray(one.values(one.prepare(ctx), view))
    scale = np.abs(sep_v).max()
    np.testing.assert_allclose(v, sep_v, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(total, sep_total, rtol=0, atol=1e-12 * scale)
    by_trade = np.zeros((K, 3, P))
    for i, n in enumerate(b.netting_set):
        by_trade[:, n] += v[:, i]
    np.testing.assert_allclose(total, by_trade, rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize("limit, ids", [(0, [("R1", "S1", "S3"), ("F1",), ("S2",)]),
                                         (1, [("R1", "S1", "S3"), ("F1", "S2")])])
def test_linear_currency_groups_share_a_batch_within_the_padding_limit(tmp_path, mm, grid, monkeypatch, limit, ids):
    """Groups by currency set, smallest first, share a batch while its (trade, currency) pairs without flows stay
    within PAD_LIMIT: USD (3 trades), EUR (1), EUR/USD (1); EUR joining EUR/USD carries 1 such pair (S2 in USD)."""
    import exposure.pricing.linear_batching as linear_batching

    monkeypatch.setattr(linear_batching, "PAD_LIMIT", limit)
    p = load(tmp_path, mm, grid, GOOD, netting_sets={"NS1": {"counterparty": "CP_A"}, "NS2": {"counterparty": "CP_B"}})
    assert [b.ids for b in p.batches] == ids
    own = {t["id"]: t.get("netting_set", t["id"]) for t in GOOD}
    assert all(p.netting_set_ids[n] == own[t] for b in p.batches for t, n in zip(b.ids, b.netting_set))


def test_example_portfolio_loads_and_prices(mm, grid):
    market, model = mm
    pc = OmegaConf.create({"trades": str(EXAMPLES / "example.yaml"), "fixings": str(EXAMPLES / "fixings.csv"),
                           "on_error": "skip"})
    p = load_portfolio(pc, market, grid)
    raw = yaml.safe_load((EXAMPLES / "example.yaml").read_text())
    linear = [t["id"] for t in raw["trades"] if t["type"] in LINEAR]
    assert set(linear) <= set(p.trade_ids)
    assert all(tid not in linear for tid, _ in p.skipped)  # only options may be skipped (no options module)
    assert {t["type"] for t in raw["trades"]} == LINEAR | {"FxOption", "Swaption"}
    assert len(raw["netting_sets"]) == 4 and sum("csa" in n for n in raw["netting_sets"].values()) == 2
    assert all(n["counterparty"] in market.credit for n in raw["netting_sets"].values())
    specs = [s for b in p.batches if isinstance(b, LinearBatch) for s in b.specs]
    v = present_values(LinearBatch(specs, np.zeros(len(specs), dtype=int)), market, model)  # one compilation
    assert np.all(np.isfinite(v)) and np.all(np.abs(v) < 5e7)
    # without the fixings file the seasoned swap is reported
    with pytest.raises(TradeError, match="SWP_USD_SEASONED.*missing past fixing of USD-LIBOR-3M on 2026-09-14"):
        load_portfolio(OmegaConf.create({"trades": str(EXAMPLES / "example.yaml")}), market, grid)


def test_generator_is_seeded(mm, grid):
    gen = _generator()
    a = gen.generate_portfolio(60, 20, 10, 10, n_netting_sets=8, seed=3, with_csa_fraction=0.5, n_xccy=5, n_fras=5,
                               n_equity_forwards=5)
    b = gen.generate_portfolio(60, 20, 10, 10, n_netting_sets=8, seed=3, with_csa_fraction=0.5, n_xccy=5, n_fras=5,
                               n_equity_forwards=5)
    assert a == b
    assert a != gen.generate_portfolio(60, 20, 10, 10, n_netting_sets=8, seed=4, with_csa_fraction=0.5)
    types = [t["type"] for t in a["trades"]]
    assert [types.count(k) for k in ("Swap", "FxForward", "FxOption", "Swaption", "CrossCurrencySwap", "Fra",
                                     "EquityForward")] == [60, 20, 10, 10, 5, 5, 5]
    assert sum("csa" in n for n in a["netting_sets"].values()) == 4
    assert yaml.safe_load(yaml.safe_dump(a)) == a


def _months(tenor: str) -> float:
    n, unit = int(tenor[:-1]), tenor[-1]
    return {"D": 12.0 / 365.0, "M": 1.0, "Y": 12.0}[unit] * n


def test_committed_bench_1k_has_its_documented_composition(tmp_path, mm, grid):
    """bench_1k.yaml read as data (not regenerated): the composition its header, generate.py and
    benchmarks document (600 swaps, 200 FX forwards, 100 FX options, 100 swaptions; 50 netting sets of
    CP_A..CP_E, 40% with a CSA), unique ids, every referenced netting set listed, documented ranges
    (FX option strikes within 15% of the market's spot, FX forwards up to 2Y with strikes near the forward,
    swaps 2Y..30Y, swaptions 1Y..10Y into 2Y..10Y), and every trade parsing on the example market."""
    market = mm[0]
    bench = yaml.safe_load((EXAMPLES / "bench_1k.yaml").read_text())
    trades, sets = bench["trades"], bench["netting_sets"]
    types = [t["type"] for t in trades]
    assert {k: types.count(k) for k in set(types)} == {"Swap": 600, "FxForward": 200, "FxOption": 100, "Swaption": 100}
    ids = [t["id"] for t in trades]
    assert len(set(ids)) == len(ids) == 1000
    assert len(sets) == 50 and sum("csa" in n for n in sets.values()) == 20
    assert {n["counterparty"] for n in sets.values()} == {"CP_A", "CP_B", "CP_C", "CP_D", "CP_E"}
    assert {t["netting_set"] for t in trades} <= set(sets)
    for t in trades:
        what = f"{t['id']}: {t}"
        amounts = [t[k] for k in ("notional", "buy_amount", "sell_amount") if k in t]
        assert amounts and all(5e5 <= a <= 1e9 for a in amounts), what  # plausible sizes around 1e7
        if t["type"] == "Swap":
            assert t["currency"] in ("USD", "EUR", "GBP") and 24 <= _months(t["tenor"]) <= 360, what
            assert 0.0 < t["fixed_rate"] < 0.08, what
        elif t["type"] == "Swaption":
            expiry, end = _months(t["expiry"]), _months(t["maturity"])
            assert t["currency"] in ("USD", "EUR") and 12 <= expiry <= 120 and 24 <= end - expiry <= 120, what
            assert 0.0 < t["fixed_rate"] < 0.08, what
        elif t["type"] == "FxOption":
            spot = market.fx_spot(t["foreign_currency"]) / market.fx_spot(t["domestic_currency"])
            assert abs(t["strike"] / spot - 1.0) <= 0.15 + 1e-4, what  # strikes rounded to 4 decimals
            assert 1 <= _months(t["expiry"]) <= 36, what
        else:
            value_ratio = (t["sell_amount"] * market.fx_spot(t["sell_currency"])
                           / (t["buy_amount"] * market.fx_spot(t["buy_currency"])))
            assert _months(t["maturity"]) <= 24 and abs(value_ratio - 1.0) < 0.15, what
    p = load_portfolio(OmegaConf.create({"trades": str(EXAMPLES / "bench_1k.yaml")}), market, grid)
    assert len(p.trades) == 1000 and not p.skipped
    assert set(p.netting_set_ids) == {t["netting_set"] for t in trades}


def test_generated_linear_trades_all_parse(tmp_path, mm, grid):
    gen = _generator()
    data = gen.generate_portfolio(150, 50, 0, 0, n_netting_sets=10, seed=9, with_csa_fraction=0.3, n_xccy=20,
                                  n_fras=20, n_equity_forwards=20)
    p = load(tmp_path, mm, grid, data["trades"], data["netting_sets"])
    assert len(p.trades) == 260 and not p.skipped
    market, model = mm
    ccys = {tuple(sorted({c for s in b.specs for c in s.currencies})) for b in p.batches}
    assert ccys == {("EUR", "GBP", "USD")} and p.batches[0].types == tuple(sorted(LINEAR))  # one linear batch
    assert {s.currencies for s in p.trades if s.type == "Swap"} == {("USD",), ("EUR",), ("GBP",)}
    specs = [s for b in p.batches for s in b.specs]
    v = present_values(LinearBatch(specs, np.zeros(len(specs), dtype=int)), market, model)
    assert np.all(np.isfinite(v))
    assert dt.date.fromisoformat("2026-11-20") == market.asof
