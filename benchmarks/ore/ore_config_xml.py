"""ORE's configuration files of the side-by-side case (``benchmarks.ore.ore_inputs``): curve configuration,
conventions, today's market, pricing engines, IBOR fallbacks (off) and the netting set."""

from __future__ import annotations

from benchmarks.ore.ore_case import INDEX, NETTING_SET, SideBySide


def curveconfig_xml(spec: SideBySide) -> str:
    curves = []
    for ccy, _ in spec.rates:
        quotes = "".join(f"<Quote>ZERO/RATE/{ccy}/{ccy}-FLAT/A365/{t}</Quote>"
                         for t in ("1Y", "2Y", "5Y", "10Y", "20Y", "30Y", "50Y"))
        curves.append(f"""    <YieldCurve>
      <CurveId>{ccy}-FLAT</CurveId>
      <CurveDescription>flat continuously compounded A365 zero curve</CurveDescription>
      <Currency>{ccy}</Currency>
      <DiscountCurve/>
      <Segments>
        <Direct>
          <Type>Zero</Type>
          <Quotes>{quotes}</Quotes>
          <Conventions>{ccy}-ZERO-CONVENTIONS</Conventions>
        </Direct>
      </Segments>
      <InterpolationVariable>Discount</InterpolationVariable>
      <InterpolationMethod>LogLinear</InterpolationMethod>
      <YieldCurveDayCounter>A365</YieldCurveDayCounter>
      <Extrapolation>true</Extrapolation>
      <ExtrapolationMethod>ContinuousForward</ExtrapolationMethod>
    </YieldCurve>""")
    curves_xml = "\n".join(curves)
    swvols = "\n".join(f"""    <SwaptionVolatility>
      <CurveId>{ccy}_SW_N</CurveId>
      <CurveDescription>flat normal vol (unused: no calibration)</CurveDescription>
      <Dimension>ATM</Dimension>
      <VolatilityType>Normal</VolatilityType>
      <Extrapolation>Flat</Extrapolation>
      <DayCounter>A365</DayCounter>
      <Calendar>WeekendsOnly</Calendar>
      <BusinessDayConvention>Following</BusinessDayConvention>
      <OptionTenors>1Y,5Y,10Y</OptionTenors>
      <SwapTenors>1Y,5Y,10Y</SwapTenors>
      <ShortSwapIndexBase>{ccy}-CMS-1Y</ShortSwapIndexBase>
      <SwapIndexBase>{ccy}-CMS-30Y</SwapIndexBase>
    </SwaptionVolatility>""" for ccy, _ in spec.rates)
    return f"""<?xml version="1.0"?>
<CurveConfiguration>
  <YieldCurves>
{curves_xml}
  </YieldCurves>
  <SwaptionVolatilities>
{swvols}
  </SwaptionVolatilities>
  <FXVolatilities>
    <FXVolatility>
      <CurveId>EURUSD</CurveId>
      <CurveDescription>flat ATM vol</CurveDescription>
      <Dimension>ATM</Dimension>
      <Expiries>1Y,5Y,10Y,20Y</Expiries>
      <FXSpotID>FX/EUR/USD</FXSpotID>
    </FXVolatility>
  </FXVolatilities>
</CurveConfiguration>
"""


def conventions_xml(spec: SideBySide) -> str:
    zero = "".join(f"""  <Zero>
    <Id>{ccy}-ZERO-CONVENTIONS</Id>
    <TenorBased>true</TenorBased>
    <DayCounter>A365</DayCounter>
    <CompoundingFrequency>Annual</CompoundingFrequency>
    <Compounding>Continuous</Compounding>
    <TenorCalendar>WeekendsOnly</TenorCalendar>
    <SpotLag>0</SpotLag>
    <SpotCalendar>WeekendsOnly</SpotCalendar>
    <RollConvention>Following</RollConvention>
    <EOM>false</EOM>
  </Zero>
""" for ccy, _ in spec.rates)
    # Index conventions override ORE's built-in USD-LIBOR-3M / EUR-EURIBOR-6M (indexparser.cpp: a convention
    # with the index name wins): no settlement lag, WeekendsOnly fixing calendar, ACT/360.
    ibor = "".join(f"""  <IborIndex>
    <Id>{index}</Id>
    <FixingCalendar>WeekendsOnly</FixingCalendar>
    <DayCounter>A360</DayCounter>
    <SettlementDays>0</SettlementDays>
    <BusinessDayConvention>MF</BusinessDayConvention>
    <EndOfMonth>false</EndOfMonth>
  </IborIndex>
""" for index, _, _ in (INDEX[c] for c, _ in spec.rates))
    swaps = "".join(f"""  <Swap>
    <Id>{ccy}-SWAP-CONVENTIONS</Id>
    <FixedCalendar>WeekendsOnly</FixedCalendar>
    <FixedFrequency>Annual</FixedFrequency>
    <FixedConvention>MF</FixedConvention>
    <FixedDayCounter>30/360 (Bond Basis)</FixedDayCounter>
    <Index>{INDEX[ccy][0]}</Index>
  </Swap>
  <SwapIndex><Id>{ccy}-CMS-1Y</Id><Conventions>{ccy}-SWAP-CONVENTIONS</Conventions></SwapIndex>
  <SwapIndex><Id>{ccy}-CMS-30Y</Id><Conventions>{ccy}-SWAP-CONVENTIONS</Conventions></SwapIndex>
""" for ccy, _ in spec.rates)
    # FX spot lag 0: the quote FX/RATE/EUR/USD is today's rate (without a convention ORE assumes 2 spot days
    # and derives today's rate as spot * P_EUR(0, T+2) / P_USD(0, T+2); utilities/marketdata.cpp getFxIndexConvention)
    base = spec.base
    fx = "".join(f"""  <FX>
    <Id>{c}-{base}-FX-CONVENTIONS</Id>
    <SpotDays>0</SpotDays>
    <SourceCurrency>{c}</SourceCurrency>
    <TargetCurrency>{base}</TargetCurrency>
    <PointsFactor>10000</PointsFactor>
    <AdvanceCalendar>WeekendsOnly</AdvanceCalendar>
    <SpotRelative>true</SpotRelative>
  </FX>
""" for c, _ in spec.rates[1:])
    return f'<?xml version="1.0"?>\n<Conventions>\n{zero}{ibor}{swaps}{fx}</Conventions>\n'


def todaysmarket_xml(spec: SideBySide) -> str:
    disc = "".join(f'    <DiscountingCurve currency="{c}">Yield/{c}/{c}-FLAT</DiscountingCurve>\n' for c, _ in spec.rates)
    fwd = "".join(f'    <Index name="{INDEX[c][0]}">Yield/{c}/{c}-FLAT</Index>\n' for c, _ in spec.rates)
    swapidx = "".join(f'    <SwapIndex name="{c}-CMS-{t}"><Discounting>{INDEX[c][0]}</Discounting></SwapIndex>\n'
                      for c, _ in spec.rates for t in ("1Y", "30Y"))
    swvol = "".join(f'    <SwaptionVolatility currency="{c}">SwaptionVolatility/{c}/{c}_SW_N</SwaptionVolatility>\n'
                    for c, _ in spec.rates)
    return f"""<?xml version="1.0"?>
<TodaysMarket>
  <Configuration id="default">
    <DiscountingCurvesId>default</DiscountingCurvesId>
    <IndexForwardingCurvesId>default</IndexForwardingCurvesId>
    <FxSpotsId>default</FxSpotsId>
    <FxVolatilitiesId>default</FxVolatilitiesId>
    <SwaptionVolatilitiesId>default</SwaptionVolatilitiesId>
    <SwapIndexCurvesId>default</SwapIndexCurvesId>
  </Configuration>
  <DiscountingCurves id="default">
{disc}  </DiscountingCurves>
  <IndexForwardingCurves id="default">
{fwd}  </IndexForwardingCurves>
  <SwapIndexCurves id="default">
{swapidx}  </SwapIndexCurves>
  <SwaptionVolatilities id="default">
{swvol}  </SwaptionVolatilities>
  <FxSpots id="default">
    <FxSpot pair="EURUSD">FX/EUR/USD</FxSpot>
  </FxSpots>
  <FxVolatilities id="default">
    <FxVolatility pair="EURUSD">FXVolatility/EUR/USD/EURUSD</FxVolatility>
  </FxVolatilities>
</TodaysMarket>
"""


# ORE's LGM grid engine's integration ranges and points (ORE's example settings): the 2Y x 5Y swaption's t0 NPV is
# 5e-4 above the engine's Jamshidian price (5/30: 1.6e-4; 8/400: 3.7e-5), far inside the Monte Carlo error.
SWAPTION_GRID = (("sy", 3.0), ("ny", 10), ("sx", 3.0), ("nx", 10))


def _swaption_engine(spec: SideBySide) -> str:
    """European swaptions under ORE's LGM with the simulation's Hull-White parameters, not calibrated (so the
    pricer and the simulation are one model, as in this engine); numerical integration (``Grid``)."""
    model = "".join(f'<Parameter name="{k}">{v}</Parameter>' for k, v in (
        ("Calibration", "None"), ("CalibrationStrategy", "None"), ("Reversion", repr(spec.mean_reversion)),
        ("ReversionType", "HullWhite"), ("Volatility", repr(spec.hw_vol)), ("VolatilityType", "HullWhite"),
        ("ShiftHorizon", 0.0), ("Tolerance", 1.0)))
    grid = "".join(f'<Parameter name="{k}">{v}</Parameter>' for k, v in SWAPTION_GRID)
    return f"""  <Product type="EuropeanSwaption">
    <Model>LGM</Model>
    <ModelParameters>{model}</ModelParameters>
    <Engine>Grid</Engine>
    <EngineParameters>{grid}</EngineParameters>
  </Product>
"""


def simulation_swaptions_xml(spec: SideBySide) -> str:
    """The simulation market's swap indices and (not simulated) swaption vols: ORE's LGM swaption builder looks
    up the swaption surface's swap index bases in the simulation market too, though nothing is calibrated."""
    if not spec.n_swaptions:
        return "    <SwapIndices/>"
    idx = "".join(f"<SwapIndex><Name>{c}-CMS-{t}</Name><DiscountingIndex>{INDEX[c][0]}</DiscountingIndex></SwapIndex>"
                  for c, _ in spec.rates for t in ("1Y", "30Y"))
    keys = "".join(f"<Key>{c}</Key>" for c, _ in spec.rates)
    return f"""    <SwapIndices>{idx}</SwapIndices>
    <SwaptionVolatilities>
      <Simulate>false</Simulate>
      <ReactionToTimeDecay>ForwardVariance</ReactionToTimeDecay>
      <Keys>{keys}</Keys>
      <Expiries>1Y,5Y,10Y</Expiries>
      <Terms>1Y,5Y,10Y</Terms>
    </SwaptionVolatilities>"""


def pricingengine_xml(spec: SideBySide | None = None) -> str:
    """Swaps and FX forwards by discounting; with ``spec``, European swaptions too (``_swaption_engine``)."""
    return _pricingengine_xml().replace("</PricingEngines>", _swaption_engine(spec) + "</PricingEngines>") \
        if spec is not None else _pricingengine_xml()


def _pricingengine_xml() -> str:
    return """<?xml version="1.0"?>
<PricingEngines>
  <Product type="Swap">
    <Model>DiscountedCashflows</Model>
    <ModelParameters/>
    <Engine>DiscountingSwapEngine</Engine>
    <EngineParameters/>
  </Product>
  <Product type="FxForward">
    <Model>DiscountedCashflows</Model>
    <ModelParameters/>
    <Engine>DiscountingFxForwardEngine</Engine>
    <EngineParameters/>
  </Product>
</PricingEngines>
"""


def iborfallback_xml() -> str:
    # USD-LIBOR-3M is past its cessation date on 2026-11-20, so ORE's default fallback configuration would price
    # it as compounded SOFR plus the ISDA spread; switch fallbacks off: the index is a plain IBOR on its curve.
    return """<?xml version="1.0"?>
<IborFallbackConfig>
  <GlobalSettings>
    <EnableIborFallbacks>false</EnableIborFallbacks>
    <UseRfrCurveInTodaysMarket>false</UseRfrCurveInTodaysMarket>
    <UseRfrCurveInSimulationMarket>false</UseRfrCurveInSimulationMarket>
  </GlobalSettings>
  <Fallbacks/>
</IborFallbackConfig>
"""


def netting_xml() -> str:
    return f"""<?xml version="1.0"?>
<NettingSetDefinitions>
  <NettingSet>
    <NettingSetId>{NETTING_SET}</NettingSetId>
    <ActiveCSAFlag>false</ActiveCSAFlag>
  </NettingSet>
</NettingSetDefinitions>
"""
