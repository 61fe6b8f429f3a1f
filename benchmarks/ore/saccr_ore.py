"""ORE's SA-CCR analytic (open-source-risk-engine 1.8.17, ``<Analytic type="saccr">``) on the side-by-side
portfolio, run in a child process (ORE's bindings carry their own QuantLib), and the engine's SA-CCR on the same
trades. Used by tests/test_capital_ore.py; ``python -m benchmarks.ore.saccr_ore OUT`` prints both.

ORE's reports: ``sacva`` (SA-CVA from the net sensitivities file written here),
``bacva`` (per counterparty / netting set: EAD, EffMaturity, DiscountFactor, sCVA, capital),
``saccr`` (per netting set / asset class / hedging set: AddOn, NPV, RC, Multiplier, PFE, EAD)
and ``saccr_detail`` (per trade: d, delta, MF, M, S, E, bucket). ORE needs ``simmVersion`` for its
bucket mapper and a collateral-balances file (empty here: no collateral, no CSA).
"""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd

from benchmarks.ore import ore_inputs as oi

SPEC = oi.SideBySide(n_swaps=10, n_fx=2, grid_points=20, grid_step_months=6, paths=100, seed=11, trade_seed=7)

_SACCR = """    <Analytic type="saccr">
      <Parameter name="active">Y</Parameter>
      <Parameter name="csaFile">netting.xml</Parameter>
      <Parameter name="collateralBalancesFile">collateralbalances.xml</Parameter>
      <Parameter name="simmVersion">2.6</Parameter>
    </Analytic>
    <Analytic type="sacva">
      <Parameter name="active">Y</Parameter>
      <Parameter name="baseCurrency">USD</Parameter>
      <Parameter name="counterpartyFile">counterparty.xml</Parameter>
      <Parameter name="saCvaNetSensitivitiesFile">sacva_sensitivity.csv</Parameter>
    </Analytic>
    <Analytic type="bacva">
      <Parameter name="active">Y</Parameter>
      <Parameter name="csaFile">netting.xml</Parameter>
      <Parameter name="collateralBalancesFile">collateralbalances.xml</Parameter>
      <Parameter name="counterpartyFile">counterparty.xml</Parameter>
      <Parameter name="simmVersion">2.6</Parameter>
    </Analytic>
  </Analytics>"""
# SA-CVA net sensitivities (ORE's file: NettingSet,RiskType,CvaType,MarginType,RiskFactor,Bucket,Value), CVA only:
# (ORE risk type, margin type, ORE risk factor, bucket, CVA sensitivity, the engine's risk factor label)
SA_CVA_ROWS = (("InterestRate", "Delta", "1Y", "USD", 1000.0, "1y"),
               ("InterestRate", "Delta", "5Y", "USD", 2000.0, "5y"),
               ("InterestRate", "Delta", "Inflation", "USD", 300.0, "inflation"),
               ("InterestRate", "Delta", "10Y", "EUR", -800.0, "10y"),
               ("InterestRate", "Vega", "IRVolatility", "USD", 50.0, "ir_vol"),
               ("ForeignExchange", "Delta", "FXSpot", "EUR", 300.0, "EUR"))
BA_CVA_RW = 0.05  # the counterparty: financial, investment grade (MAR50.16)
# Counterparty credit spread delta (SA-CVA, MAR50.63-65) rows: (name, tenor, MAR50 bucket, quality, sector RW,
# CVA sensitivity). ORE takes the CCS RW from each counterparty's BaCvaRiskWeight, so these are set to the MAR50
# values (financials IG 5%, HY 12%; basic materials IG 3%); the name correlation 50% (unrelated names, MAR50).
CCS_NAMES = (("CP_A", "2", "IG", 0.05), ("CP_B", "2", "HY", 0.12), ("CP_C", "3", "IG", 0.03))
CCS_ROWS = (("CP_A", "1Y", 500.0), ("CP_A", "5Y", 1500.0), ("CP_B", "5Y", 700.0), ("CP_C", "3Y", -900.0))
_CP = ("<Counterparty><CounterpartyId>{}</CounterpartyId><CreditQuality>{}</CreditQuality>"
       "<BaCvaRiskWeight>{}</BaCvaRiskWeight><SaCcrRiskWeight>1.0</SaCcrRiskWeight></Counterparty>")
_COUNTERPARTY = ('<?xml version="1.0"?>\n<CounterpartyInformation><Counterparties>'
                 + "".join(_CP.format(n, q, rw) for n, _, q, rw in CCS_NAMES) + "</Counterparties><Correlations>"
                 + "".join(f'<Correlation cpty1="{a}" cpty2="{b}">0.5</Correlation>'
                           for i, (a, *_) in enumerate(CCS_NAMES) for (b, *_) in CCS_NAMES[i + 1:])
                 + "</Correlations></CounterpartyInformation>\n")
assert CCS_NAMES[0][0] == oi.COUNTERPARTY and CCS_NAMES[0][3] == BA_CVA_RW

_RUN = """import sys, ORE
p = ORE.Parameters(); p.fromFile(sys.argv[1])
app = ORE.OREApp(p, False); app.run()
names = set(app.getReportNames())
if not {"saccr", "saccr_detail", "bacva", "sacva"} <= names:
    sys.exit("ORE produced no saccr report: " + repr(app.getErrors()))
"""


def write_inputs(folder, spec=SPEC):
    trades = oi.make_trades(spec)
    xml = Path(oi.write_ore_inputs(Path(folder) / "ore", spec, trades, exposure=False))
    text = xml.read_text().replace("  </Analytics>", _SACCR)
    text = text.replace('    <Parameter name="iborFallbackConfig">',
                        '    <Parameter name="counterpartyFile">counterparty.xml</Parameter>\n'
                        '    <Parameter name="iborFallbackConfig">')
    xml.write_text(text)
    (xml.parent / "counterparty.xml").write_text(_COUNTERPARTY)
    sens = ["NettingSet,RiskType,CvaType,MarginType,RiskFactor,Bucket,Value"]
    sens += [f"{oi.NETTING_SET},{rt},CvaAggregate,{mt},{rf},{b},{v!r}" for rt, mt, rf, b, v, _ in SA_CVA_ROWS]
    bucket = {n: b for n, b, _, _ in CCS_NAMES}
    sens += [f"{oi.NETTING_SET},CreditCounterparty,CvaAggregate,Delta,{n}/{t},{bucket[n]},{v!r}"
             for n, t, v in CCS_ROWS]
    (xml.parent / "sacva_sensitivity.csv").write_text("\n".join(sens) + "\n")
    (xml.parent / "collateralbalances.xml").write_text('<?xml version="1.0"?>\n<CollateralBalances/>\n')
    return trades, xml


def run_ore_saccr(folder, spec=SPEC):
    """(trades, saccr, saccr_detail indexed by trade id, bacva, sacva) DataFrames from ORE in a child process."""
    trades, xml = write_inputs(folder, spec)
    proc = subprocess.run([sys.executable, "-c", _RUN, str(xml)], capture_output=True, text=True, timeout=600)
    if proc.returncode:
        raise RuntimeError(f"ORE failed: {proc.stderr[-2000:]}")
    out = xml.parent.parent / "Output"
    summary = pd.read_csv(out / "saccr.csv").rename(columns={"#NettingSet": "NettingSet"})
    detail = pd.read_csv(out / "saccr_detail.csv").rename(columns={"#TradeId": "TradeId"}).set_index("TradeId")
    bacva = pd.read_csv(out / "bacva.csv").rename(columns={"#Counterparty": "Counterparty"})
    sacva = pd.read_csv(out / "sacva.csv", keep_default_na=False).rename(columns={"#NettingSetId": "NettingSetId"})
    return trades, summary, detail, bacva, sacva


def engine_saccr_trades(trades, folder, npv: dict, spec=SPEC):
    """The engine's SA-CCR trade list for the same trades (market and portfolio parsed, nothing simulated)."""
    import exposure
    from exposure.capital.saccr_engine import map_portfolio
    from exposure.market.snapshot import build_market
    from exposure.portfolio import load_portfolio
    from exposure.simulation.grid import TimeGrid

    y = oi.to_engine_portfolio(trades, Path(folder) / "engine.yaml")
    cfg = exposure.compose(oi.engine_overrides(spec, y, str(Path(folder) / "engine_out")))
    market = build_market(cfg.market)
    grid = TimeGrid.build(market.asof, cfg.simulation.grid, cfg.simulation.mpor)
    return map_portfolio(load_portfolio(cfg.portfolio, market, grid), market, npv), market


def _act_act_isda(d1, d2) -> float:
    """ACT/ACT (ISDA) year fraction d1 -> d2 (d1 <= d2): days in each calendar year over that year's length."""
    days = lambda y: 366 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 365  # noqa: E731
    if d1.year == d2.year:
        return (d2 - d1).days / days(d1.year)
    return ((dt.date(d1.year + 1, 1, 1) - d1).days / days(d1.year) + (d2 - dt.date(d2.year, 1, 1)).days / days(d2.year)
            + (d2.year - d1.year - 1))


def ore_bacva_maturity(trades, spec=SPEC) -> float:
    """The BA-CVA effective maturity by ORE 1.8.17's definition (BaCvaCalculator::calculateEffectiveMaturity, read
    in its source; re-implemented here, not copied), on the side-by-side trades:

        M = sum_i w_i t_i / sum_i w_i    (t: ACT/ACT ISDA from the as-of date, w in base currency)

    Swap: one term per future cash flow RECEIVED (w = its forecast amount, undiscounted; single-currency swaps
    exchange no notional, so w is a coupon: the floating leg N (P(t_s)/P(t_e) - 1) on the flat curve, the fixed
    leg N c (30/360, annual)); FX forward: one term, w = |sold amount| (ORE's notional of a physically settled
    forward), t = its maturity. Pay dates unadjusted here (ORE adjusts them: ~2e-4 on M).
    """
    asof, r, spot = spec.asof, spec.rate, spec.fx_spot
    fx = lambda ccy: spot if ccy == "EUR" else 1.0  # noqa: E731 - USD base, spot in USD per EUR
    num = den = 0.0
    for t in trades:
        if t["type"] == "FxForward":
            w = fx(t["sell_currency"]) * abs(t["sell_amount"])
            num, den = num + w * _act_act_isda(asof, t["maturity"]), den + w
            continue
        months = int(t["float_tenor"][:-1]) if t["payer"] else 12  # the payer receives float, the receiver fixed
        prev, k = t["start"], 1
        while (pay := oi.add_months(t["start"], months * k)) <= t["maturity"]:
            if t["payer"]:
                amount = t["notional"] * math.expm1(r[t["currency"]] * (pay - prev).days / 365.0)
            else:
                amount = t["notional"] * t["fixed_rate"]
            if pay > asof:
                w = fx(t["currency"]) * amount
                num, den = num + w * _act_act_isda(asof, pay), den + w
            prev, k = pay, k + 1
    return num / den


if __name__ == "__main__":  # pragma: no cover
    from exposure.capital.saccr import saccr_netting_set

    tr, summ, det, ba, sa = run_ore_saccr(sys.argv[1])
    print(sa.to_string())
    print(ba.to_string())
    print(summ.to_string())
    ours, _ = engine_saccr_trades(tr, sys.argv[1], det["NPV"].to_dict())
    r = saccr_netting_set(oi.NETTING_SET, ours)
    print(r.addons, r.RC, r.multiplier, r.EAD)
