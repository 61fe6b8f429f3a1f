"""The host t0 prices (``exposure.pricing.today``: NumPy closed forms from each batch's t0 prepared data) equal
the path pricers on today's one-path view (``batch.values(pre0, PathView.today(model))``, the code the run's
chunk program priced t0 with before), for every trade type and its edge cases: fixings already set, options
expiring today, cash and physical swaptions, payment and fixing lags, flows paid today. Independent references
(QuantLib, ORE) for the path pricers at t0 are in test_option_pricing, test_linear_pricing and test_ore_xml;
here one more for FX options (Garman-Kohlhagen from the market's spot, curves and vol)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from exposure import api
from exposure.pricing.today import TodayState, today_values
from exposure.pricing.view import PathView, PricingContext

NS = "NS_CP_A"
USD3M = {"float_index": "USD-LIBOR-3M"}
TRADES = [
    # linear: a seasoned swap (fixing from the fixings file), an OIS, an FRA, a cross-currency swap, FX and
    # equity forwards, an FX forward paid today (worth 0 at t0)
    {"id": "SWP_SEASONED", "type": "Swap", "currency": "USD", "notional": 3.0e7, "start": "2025-03-14",
     "maturity": "2030-03-14", "fixed_rate": 0.041, "payer": True, **USD3M},
    {"id": "OIS_GBP", "type": "Swap", "currency": "GBP", "notional": 2.0e7, "maturity": "4Y", "fixed_rate": 0.04,
     "payer": False, "float_index": "GBP-SONIA"},
    {"id": "FRA_USD", "type": "Fra", "notional": 1.0e8, "start": "6M", "fixed_rate": 0.0395, "long": True, **USD3M},
    {"id": "XCCY", "type": "CrossCurrencySwap", "maturity": "5Y",
     "pay_leg": {"currency": "EUR", "notional": 2.3e7, "float_index": "EUR-EURIBOR-6M"},
     "receive_leg": {"currency": "USD", "notional": 2.5e7, "spread": 0.0012, **USD3M},
     "initial_exchange": True, "final_exchange": True},
    {"id": "FXF", "type": "FxForward", "buy_currency": "GBP", "buy_amount": 8.0e6, "sell_currency": "USD",
     "sell_amount": 1.0152e7, "maturity": "3M"},
    {"id": "FXF_TODAY", "type": "FxForward", "buy_currency": "EUR", "buy_amount": 1.0e6, "sell_currency": "USD",
     "sell_amount": 1.09e6, "maturity": "0D"},
    {"id": "EQF", "type": "EquityForward", "name": "SX5E", "quantity": 1500, "strike": 5000.0, "maturity": "2Y",
     "long": False},
    # FX options: a EUR/USD put (short), a GBP/EUR cross call, an option expiring today (0: cash settled)
    {"id": "FXO_PUT", "type": "FxOption", "foreign_currency": "EUR", "domestic_currency": "USD", "notional": 1.0e7,
     "strike": 1.05, "expiry": "1Y", "call": False, "long": False},
    {"id": "FXO_CROSS", "type": "FxOption", "foreign_currency": "GBP", "domestic_currency": "EUR",
     "notional": 5.0e6, "strike": 1.15, "expiry": "18M", "call": True},
    {"id": "FXO_TODAY", "type": "FxOption", "foreign_currency": "EUR", "domestic_currency": "USD", "notional": 1.0e7,
     "strike": 1.0, "expiry": "0D", "call": True},
    # equity options, one expiring today (cash settled: 0 at t0)
    {"id": "EQO_CALL", "type": "EquityOption", "name": "SPX", "quantity": 1000, "strike": 6000.0, "expiry": "1Y",
     "call": True},
    {"id": "EQO_PUT_TODAY", "type": "EquityOption", "name": "SPX", "quantity": 1000, "strike": 9000.0,
     "expiry": "0D", "call": False, "long": False},
    # swaptions: physical payer, cash receiver (short), physical expiring today (max(V_swap, 0)), payment lag
    {"id": "SWO_PHYS", "type": "Swaption", "currency": "USD", "notional": 2.0e7, "expiry": "2Y", "maturity": "7Y",
     "fixed_rate": 0.037, "payer": True, "float_tenor": "3M", "settlement": "physical", **USD3M},
    {"id": "SWO_CASH", "type": "Swaption", "currency": "EUR", "notional": 1.5e7, "expiry": "1Y", "maturity": "11Y",
     "fixed_rate": 0.028, "payer": False, "float_index": "EUR-EURIBOR-6M", "float_tenor": "6M",
     "settlement": "cash", "long": False},
    {"id": "SWO_TODAY", "type": "Swaption", "currency": "USD", "notional": 1.0e7, "expiry": "0D", "maturity": "5Y",
     "fixed_rate": 0.03, "payer": True, "settlement": "physical", **USD3M},
    {"id": "SWO_LAG", "type": "Swaption", "currency": "USD", "notional": 1.0e7, "expiry": "1Y", "maturity": "6Y",
     "fixed_rate": 0.038, "payer": False, "payment_lag": 2, **USD3M},
    # caps/floors: seasoned (its current caplet fixed from the file), a floor with a fixing lag, a payment lag
    {"id": "CAP_SEASONED", "type": "CapFloor", "index": "USD-LIBOR-3M", "notional": 1.0e7, "start": "2026-09-14",
     "maturity": "2028-09-14", "strike": 0.039, "cap": True},
    {"id": "FLOOR_LAG", "type": "CapFloor", "index": "EUR-EURIBOR-6M", "notional": 1.5e7, "start": "6M",
     "maturity": "5Y", "strike": 0.03, "cap": False, "fixing_days": 2, "long": False},
    {"id": "CAP_PAYLAG", "type": "CapFloor", "index": "USD-LIBOR-3M", "notional": 4.0e6, "start": "1Y",
     "maturity": "3Y", "strike": 0.036, "cap": True, "payment_lag": 2},
]


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    path = tmp_path_factory.mktemp("today") / "book.yaml"
    path.write_text(yaml.safe_dump({"netting_sets": {NS: {"counterparty": "CP_A"}},
                                    "trades": [dict(t, netting_set=NS) for t in TRADES]}))
    s = api.setup(api.compose([f"portfolio.trades={path}", "portfolio.on_error=fail"]))
    market, model, pf = s.market, s.built.model, s.portfolio
    t0 = PricingContext(market, model, np.zeros(1), pf.fixings, (market.asof,))
    batches = list(pf.batches)
    return market, model, batches, [b.prepare(t0) for b in batches]


def _sizes(batches):
    return np.array([float(getattr(sp, "notional", None) or getattr(sp, "quantity", 0.0) * getattr(sp, "strike", 1.0)
                           or max(getattr(sp, "buy_amount", 0.0), getattr(sp, "sell_amount", 0.0)) or 1.0e7)
                     for b in batches for sp in b.specs])


def test_host_t0_prices_equal_the_path_pricers(book):
    market, model, batches, pres0 = book
    host = today_values(batches, pres0, model)
    today = PathView.today(model)
    path = np.concatenate([np.asarray(b.values(p, today))[0, :, 0] for b, p in zip(batches, pres0)])
    ids = [i for b in batches for i in b.ids]
    assert sorted(ids) == sorted(t["id"] for t in TRADES)
    assert np.all(np.isfinite(host))
    err = np.abs(host - path) / _sizes(batches)
    worst = ids[int(np.argmax(err))]
    assert err.max() <= 1e-13, f"{worst}: host {host[ids.index(worst)]!r}, path pricer {path[ids.index(worst)]!r}"
    v = dict(zip(ids, host))
    # paid today (cash settled options too) / a physical swaption expiring today: its swap's value if positive
    assert v["FXF_TODAY"] == v["FXO_TODAY"] == v["EQO_PUT_TODAY"] == 0.0 and v["SWO_TODAY"] > 1e5
    assert sum(abs(x) > 1e3 for x in v.values()) == len(v) - 3  # the rest carry value: the check is not vacuous


def test_fx_option_t0_is_garman_kohlhagen(book):
    """The EUR/USD put against Garman-Kohlhagen written out here from the market: spot, both discount curves
    and the EUR vol curve's total variance at the expiry (base USD)."""
    market, model, batches, pres0 = book
    b = next(b for b in batches if "FXO_PUT" in b.ids)
    i = b.ids.index("FXO_PUT")
    sp = b.specs[i]
    T = sp.expiry_time
    S = market.fx_spot("EUR")
    pf, pd = (math.exp(float(market.curves[c].log_discount(T))) for c in ("EUR", "USD"))
    sd = math.sqrt(float(market.fx_vols["EUR"].variance_between_np(np.zeros(1), np.array([T]))[0]))
    F, K = S * pf / pd, sp.strike
    d1 = math.log(F / K) / sd + 0.5 * sd
    N = lambda z: 0.5 * math.erfc(-z / math.sqrt(2.0))  # noqa: E731
    put = pd * (K * N(-(d1 - sd)) - F * N(-d1))
    ref = -sp.notional * put  # short
    got = b.today_values(pres0[batches.index(b)], TodayState.of(model))[i]
    assert got == pytest.approx(ref, rel=1e-12)


def test_a_batch_without_a_host_formula_is_priced_by_its_path_code(book):
    """A batch class with no ``today_values`` (a product added without one) gets its t0 prices from its own path
    code in a small compiled program: the same numbers."""
    from exposure.pricing.opt_equity import EquityOptionBatch

    market, model, batches, pres0 = book
    b = next(b for b in batches if isinstance(b, EquityOptionBatch))
    plain = type("PlainEquityOptionBatch", (EquityOptionBatch,), {"today_values": None})(b.specs, b.netting_set)
    pre = pres0[batches.index(b)]
    got = today_values([plain], [pre], model)
    np.testing.assert_allclose(got, today_values([b], [pre], model), rtol=1e-13, atol=1e-13 * 6.0e6)
