"""The ORE side-by-side case: one flat-market portfolio written for ORE (XML inputs) and for this engine (YAML +
Hydra overrides), with every convention pinned so that both engines price the same cash flows.

    spec = SideBySide(n_swaps=50, n_fx=10, paths=1000)
    trades = make_trades(spec)
    ore_xml = write_ore_inputs(folder, spec, trades)         # folder/Input/*.xml, market.txt, fixings.txt
    yaml_path = to_engine_portfolio(trades, folder / "engine_portfolio.yaml")
    overrides = engine_overrides(spec, yaml_path, out_dir)   # for exposure.compose(overrides)

Market (as of 2026-11-20, USD base, EUR foreign). Each currency has ONE flat curve, continuously compounded
ACT/365F zero rate r (USD 3%, EUR 2% by default), used for discounting and as the forwarding curve of its index
(single curve). In ORE the curve is a ``Direct`` segment of ``ZERO/RATE/<CCY>/<CCY>-FLAT/A365/<tenor>`` quotes,
all equal to r, at 1Y..50Y with a zero convention ``TenorBased, A365, Continuous, SpotLag 0``; interpolation
``Discount``/``LogLinear`` with flat-forward extrapolation and ``YieldCurveDayCounter A365``. Log-linear
interpolation of exp(-r t) between pillars and from (0, 1) is exact, so P(0, t) = exp(-r t) with t = days/365 at
every date (checked by ``tests/test_ore_side_by_side.py`` to 1e-12 on ORE's own curves report). The engine gets
``market.curves.<CCY> = {tenors: [50Y], quotes: [r]}``, the same curve (log-linear, flat-forward extrapolation).
FX spot EURUSD 1.10 (USD per EUR) as TODAY's rate (ORE: an FX convention with ``SpotDays 0``, else ORE reads the
quote as the T+2 rate); a flat 10% ATM FX vol quote set and 1% normal swaption quotes (ORE's model builders want
them in the market configuration; nothing is calibrated to them). IBOR fallbacks are switched off
(``iborfallback.xml``: USD-LIBOR-3M is past its cessation date on the as-of date).

Model (both engines, no calibration). Hull-White per currency with constant mean reversion a = 0.1 and constant
vol sigma = 1% (ORE: ``LGM`` with ``ReversionType HullWhite``/``VolatilityType HullWhite``, ``ParamType
Constant``, ``Calibrate N``, ``CalibrationType None``); FX: log-normal spot with constant sigma = 10% (ORE
``CrossCcyLGM`` ``Sigma`` constant, not calibrated; the engine takes the flat market FX vol as its instantaneous
spot vol); instantaneous correlations from ``SideBySide.correlations`` (factor names in the engine's spelling
``IR:USD``, ``IR:EUR``, ``FX:EUR``; ORE spells the FX factor ``FX:EURUSD``). Measure: base-currency (USD) bank
account (ORE ``<Measure>BA</Measure>``), exact discretisation (ORE ``<Discretization>Exact``), pseudo-random
numbers (ORE ``MersenneTwister``; the paths are of course not the same numbers as the engine's). Model time is
ACT/365F in both (ORE: ``<DayCounter>A365F</DayCounter>`` in the simulation parameters, and the A365 curves,
because ORE's scenario generator uses the grid's day counter for the state and the curve's for the bond
reconstruction).

Grid. Explicit dates: asof + k * step (calendar months), rolled Following on weekends (``WeekendsOnly``). ORE gets
them as day tenors (``<Grid>94D,181D,...</Grid>``, ``Calendar WeekendsOnly``), the engine as ISO dates. ORE's
simulated curves get their pillars in days too (``SIM_TENORS``, see the comment there).

Trades (seeded). Swaps in USD (fixed annual 30/360 bond basis vs USD-LIBOR-3M, 3M, ACT/360) or EUR (fixed annual
30/360 vs EUR-EURIBOR-6M, 6M, ACT/360); start on the as-of date or forward at a multiple of the grid step, whole
year maturities 2..10Y from the as-of date, notionals 1..10mm, payer/receiver mixed, fixed rate par +- 75bp.
Schedules: rule Backward, calendar WeekendsOnly, Modified Following (also the termination date), no end of month,
payment on the accrual end without lag, fixing on the accrual start (ORE: ``FixingDays 0``) - the engine's
conventions. ORE's IBOR indices are redefined in conventions.xml with ``SettlementDays 0``, fixing calendar
WeekendsOnly, ACT/360, so that its (par) coupon forward is (P(T1)/P(T2) - 1)/tau_ACT360(T1, T2) on the coupon's own
accrual dates, exactly as the engine's. FX forwards EURUSD: buy EUR / sell USD or the reverse, EUR amount 1..10mm,
strike = forward * (1 +- 4%), settlement on a weekday 1M..3Y out that is not a grid date. ``n_swaptions``: European
swaptions (``ore_case.make_swaption``). One netting set ``NS_ORE`` (counterparty CP_A), no CSA (``ore_xva.add_csa``).
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.ore.ore_case import (ASOF, COUNTERPARTY, INDEX, NETTING_SET, SideBySide, add_months, engine_overrides,
                                     make_trades, to_engine_portfolio)
from benchmarks.ore.ore_config_xml import (conventions_xml, curveconfig_xml, iborfallback_xml, netting_xml,
                                           pricingengine_xml, simulation_swaptions_xml, todaysmarket_xml)
from benchmarks.ore.ore_market_xml import fixings_txt, market_txt, portfolio_xml

# The case's one entry point: the engine-side names (ore_case) and ORE's files (ore_market_xml, ore_config_xml, here).
__all__ = ["ASOF", "COUNTERPARTY", "INDEX", "NETTING_SET", "SideBySide", "add_months", "make_trades",
           "to_engine_portfolio", "engine_overrides", "write_ore_inputs", "ore_xml", "simulation_xml",
           "pricingengine_xml"]

# Pillars of ORE's simulated curves, in DAYS. ORE's ScenarioSimMarket places pillar k at the fixed time
# yf(asof, asof + tenor_k) while its scenario generator fills it with P(t, t + tenor_k), i.e. at yf(t, t + tenor_k)
# (OREAnalytics/orea/scenario/scenariosimmarket.cpp ``yieldCurveTimes.push_back(dc.yearFraction(asof_, asof_ +
# tenor))`` vs crossassetmodelscenariogenerator.cpp ``time_dsc_ ... dc.yearFraction(dates_[i], dates_[i] +
# ten[k])``). With month tenors the two differ by up to 3 days (3M is 90..92 days), which shifts every future
# bond price (the 3M USD rate at 2036-02-20 has 2.4% too little volatility, the 6M EUR rate at 2036-05-20 1.6% too
# much). Day tenors are the same length at every date, so the pillars are exact; between them ORE interpolates
# log-linearly (an error of ~h^2/8 a |x| < 2e-5 in ln P for h = 91 days).
SIM_TENORS = [f"{d}D" for d in (30, 61)] + [f"{91 * q}D" for q in range(1, 43)] + [
    f"{365 * y}D" for y in (12, 15, 20, 30)]


def _fx_factor(name: str, base: str) -> str:
    """Engine factor name -> ORE's (FX:EUR -> FX:EURUSD)."""
    kind, what = name.split(":")
    return f"FX:{what}{base}" if kind == "FX" else name


def _lgm_xml(ccy: str, spec: SideBySide) -> str:
    return f"""      <LGM ccy="{ccy}">
        <CalibrationType>None</CalibrationType>
        <Volatility>
          <Calibrate>N</Calibrate>
          <VolatilityType>HullWhite</VolatilityType>
          <ParamType>Constant</ParamType>
          <TimeGrid/>
          <InitialValue>{spec.hw_vol!r}</InitialValue>
        </Volatility>
        <Reversion>
          <Calibrate>N</Calibrate>
          <ReversionType>HullWhite</ReversionType>
          <ParamType>Constant</ParamType>
          <TimeGrid/>
          <InitialValue>{spec.mean_reversion!r}</InitialValue>
        </Reversion>
        <CalibrationSwaptions>
          <Expiries>1Y,2Y,5Y</Expiries>
          <Terms>5Y,5Y,5Y</Terms>
          <Strikes/>
        </CalibrationSwaptions>
        <ParameterTransformation>
          <ShiftHorizon>0.0</ShiftHorizon>
          <Scaling>1.0</Scaling>
        </ParameterTransformation>
      </LGM>"""


def simulation_xml(spec: SideBySide, paths: int, seed: int) -> str:
    base = spec.base
    ccys = [c for c, _ in spec.rates]
    grid = ",".join(f"{(d - spec.asof).days}D" for d in spec.grid_dates())
    lgm = "\n".join(_lgm_xml(c, spec) for c in ccys)
    fx = "\n".join(f"""      <CrossCcyLGM foreignCcy="{c}">
        <DomesticCcy>{base}</DomesticCcy>
        <CalibrationType>None</CalibrationType>
        <Sigma>
          <Calibrate>N</Calibrate>
          <ParamType>Constant</ParamType>
          <TimeGrid/>
          <InitialValue>{spec.fx_vol!r}</InitialValue>
        </Sigma>
        <CalibrationOptions>
          <Expiries>1Y,5Y</Expiries>
          <Strikes/>
        </CalibrationOptions>
      </CrossCcyLGM>""" for c in ccys[1:])
    corr = "\n".join(
        f'      <Correlation factor1="{_fx_factor(a, base)}" factor2="{_fx_factor(b, base)}">{rho!r}</Correlation>'
        for a, b, rho in spec.correlations)
    ccy_xml = "".join(f"<Currency>{c}</Currency>" for c in ccys)
    pairs = "".join(f"<CurrencyPair>{c}{base}</CurrencyPair>" for c in ccys[1:])
    indices = "".join(f"<Index>{INDEX[c][0]}</Index>" for c in ccys)
    return f"""<?xml version="1.0"?>
<Simulation>
  <Parameters>
    <Grid>{grid}</Grid>
    <Calendar>WeekendsOnly</Calendar>
    <DayCounter>A365F</DayCounter>
    <Sequence>MersenneTwister</Sequence>
    <Scenario>Simple</Scenario>
    <Seed>{int(seed)}</Seed>
    <Samples>{int(paths)}</Samples>
  </Parameters>
  <CrossAssetModel>
    <DomesticCcy>{base}</DomesticCcy>
    <Currencies>{ccy_xml}</Currencies>
    <Equities/>
    <BootstrapTolerance>0.0001</BootstrapTolerance>
    <Measure>BA</Measure>
    <Discretization>Exact</Discretization>
    <InterestRateModels>
{lgm}
    </InterestRateModels>
    <ForeignExchangeModels>
{fx}
    </ForeignExchangeModels>
    <InstantaneousCorrelations>
{corr}
    </InstantaneousCorrelations>
  </CrossAssetModel>
  <Market>
    <BaseCurrency>{base}</BaseCurrency>
    <Currencies>{ccy_xml}</Currencies>
    <YieldCurves>
      <Configuration>
        <Tenors>{','.join(SIM_TENORS)}</Tenors>
        <Interpolation>LogLinear</Interpolation>
        <Extrapolation>FlatFwd</Extrapolation>
      </Configuration>
    </YieldCurves>
    <Indices>{indices}</Indices>
{simulation_swaptions_xml(spec)}
    <DefaultCurves><Names/><Tenors>1Y</Tenors></DefaultCurves>
    <FxVolatilities>
      <Simulate>false</Simulate>
      <ReactionToTimeDecay>ConstantVariance</ReactionToTimeDecay>
      <CurrencyPairs>{pairs}</CurrencyPairs>
      <Expiries>1Y,5Y</Expiries>
    </FxVolatilities>
    <AggregationScenarioDataCurrencies>{ccy_xml}</AggregationScenarioDataCurrencies>
    <AggregationScenarioDataIndices>{indices}</AggregationScenarioDataIndices>
  </Market>
</Simulation>
"""


def ore_xml(spec: SideBySide, input_dir: Path, output_dir: Path, exposure: bool = True, trade_profiles: bool = False,
            net_cube: bool = True) -> str:
    base = spec.base
    sim = f"""    <Analytic type="simulation">
      <Parameter name="active">Y</Parameter>
      <Parameter name="simulationConfigFile">simulation.xml</Parameter>
      <Parameter name="pricingEnginesFile">pricingengine.xml</Parameter>
      <Parameter name="baseCurrency">{base}</Parameter>
      <Parameter name="observationModel">Disable</Parameter>
      <Parameter name="storeFlows">N</Parameter>
    </Analytic>
    <Analytic type="xva">
      <Parameter name="active">Y</Parameter>
      <Parameter name="csaFile">netting.xml</Parameter>
      <Parameter name="baseCurrency">{base}</Parameter>
      <Parameter name="exposureProfiles">Y</Parameter>
      <Parameter name="exposureProfilesByTrade">{'Y' if trade_profiles else 'N'}</Parameter>
      <Parameter name="quantile">{spec.quantile!r}</Parameter>
      <Parameter name="calculationType">Symmetric</Parameter>
      <Parameter name="allocationMethod">None</Parameter>
      <Parameter name="marginalAllocationLimit">1.0</Parameter>
      <Parameter name="exerciseNextBreak">N</Parameter>
      <Parameter name="cva">N</Parameter>
      <Parameter name="dva">N</Parameter>
      <Parameter name="fva">N</Parameter>
      <Parameter name="colva">N</Parameter>
      <Parameter name="collateralFloor">N</Parameter>
      <Parameter name="dim">N</Parameter>
      <Parameter name="mva">N</Parameter>
      <Parameter name="kva">N</Parameter>
      <Parameter name="useDoublePrecisionCubes">Y</Parameter>
      <Parameter name="netCubeOutputFile">{'netcube.csv' if net_cube else ''}</Parameter>
    </Analytic>""" if exposure else ""
    return f"""<?xml version="1.0"?>
<ORE>
  <Setup>
    <Parameter name="asofDate">{spec.asof.isoformat()}</Parameter>
    <Parameter name="inputPath">{input_dir}</Parameter>
    <Parameter name="outputPath">{output_dir}</Parameter>
    <Parameter name="logFile">log.txt</Parameter>
    <Parameter name="logMask">15</Parameter>
    <Parameter name="marketDataFile">market.txt</Parameter>
    <Parameter name="fixingDataFile">fixings.txt</Parameter>
    <Parameter name="implyTodaysFixings">Y</Parameter>
    <Parameter name="curveConfigFile">curveconfig.xml</Parameter>
    <Parameter name="conventionsFile">conventions.xml</Parameter>
    <Parameter name="marketConfigFile">todaysmarket.xml</Parameter>
    <Parameter name="pricingEnginesFile">pricingengine.xml</Parameter>
    <Parameter name="portfolioFile">portfolio.xml</Parameter>
    <Parameter name="observationModel">Disable</Parameter>
    <Parameter name="continueOnError">false</Parameter>
    <Parameter name="nThreads">{int(spec.ore_threads)}</Parameter>
    <Parameter name="iborFallbackConfig">iborfallback.xml</Parameter>
  </Setup>
  <Markets>
    <Parameter name="lgmcalibration">default</Parameter>
    <Parameter name="fxcalibration">default</Parameter>
    <Parameter name="pricing">default</Parameter>
    <Parameter name="simulation">default</Parameter>
  </Markets>
  <Analytics>
    <Analytic type="npv">
      <Parameter name="active">Y</Parameter>
      <Parameter name="baseCurrency">{base}</Parameter>
      <Parameter name="outputFileName">npv.csv</Parameter>
    </Analytic>
    <Analytic type="curves">
      <Parameter name="active">Y</Parameter>
      <Parameter name="configuration">default</Parameter>
      <Parameter name="grid">{int(12 * 12)},1M</Parameter>
      <Parameter name="outputFileName">curves.csv</Parameter>
    </Analytic>
{sim}
  </Analytics>
</ORE>
"""


def write_ore_inputs(folder, spec: SideBySide, trades: list, paths: int | None = None, seed: int | None = None,
                     exposure: bool = True, trade_profiles: bool = False, net_cube: bool = True) -> str:
    """Write ORE's complete input folder under ``folder/Input`` (outputs go to ``folder/Output``); returns the
    path of ore.xml. Absolute paths everywhere, so ORE may run from any working directory. ``net_cube``: ORE
    writes its per-path netting-set values (netcube.csv; the accuracy checks read them)."""
    folder = Path(folder).resolve()
    inp, out = folder / "Input", folder / "Output"
    inp.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "ore.xml": ore_xml(spec, inp, out, exposure=exposure, trade_profiles=trade_profiles, net_cube=net_cube),
        "portfolio.xml": portfolio_xml(trades),
        "netting.xml": netting_xml(),
        "iborfallback.xml": iborfallback_xml(),
        "simulation.xml": simulation_xml(spec, int(paths or spec.paths), int(spec.seed if seed is None else seed)),
        "todaysmarket.xml": todaysmarket_xml(spec),
        "curveconfig.xml": curveconfig_xml(spec),
        "conventions.xml": conventions_xml(spec),
        "pricingengine.xml": pricingengine_xml(spec if any(t["type"] == "Swaption" for t in trades) else None),
        "market.txt": market_txt(spec),
        "fixings.txt": fixings_txt(spec),
    }
    for name, text in files.items():
        tmp = inp / (name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, inp / name)
    return str(inp / "ore.xml")
