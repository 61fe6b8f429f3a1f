"""ORE's data inputs of the side-by-side case (``benchmarks.ore.ore_inputs``): the trades as portfolio.xml,
the flat curves and FX quotes as market.txt, the past fixings as fixings.txt."""

from __future__ import annotations

import datetime as dt
from xml.sax.saxutils import escape

from benchmarks.ore.ore_case import COUNTERPARTY, INDEX, NETTING_SET, SideBySide


def _d(d: dt.date) -> str:
    return d.isoformat()


def _ymd(d: dt.date) -> str:
    return d.strftime("%Y%m%d")


def _swap_legs(t: dict) -> str:
    index, tenor, _ = INDEX[t["currency"]]

    def leg(kind: str, payer: bool, dc: str, tenor_: str, body: str) -> str:
        return f"""      <LegData>
        <LegType>{kind}</LegType>
        <Payer>{'true' if payer else 'false'}</Payer>
        <Currency>{t['currency']}</Currency>
        <Notionals><Notional>{t['notional']:.2f}</Notional></Notionals>
        <DayCounter>{dc}</DayCounter>
        <PaymentConvention>MF</PaymentConvention>
        <PaymentLag>0</PaymentLag>
{body}
        <ScheduleData>
          <Rules>
            <StartDate>{_d(t['start'])}</StartDate>
            <EndDate>{_d(t['maturity'])}</EndDate>
            <Tenor>{tenor_}</Tenor>
            <Calendar>WeekendsOnly</Calendar>
            <Convention>MF</Convention>
            <TermConvention>MF</TermConvention>
            <Rule>Backward</Rule>
            <EndOfMonth>false</EndOfMonth>
          </Rules>
        </ScheduleData>
      </LegData>"""

    fixed = leg("Fixed", t["payer"], "30/360 (Bond Basis)", "1Y",
                f"        <FixedLegData><Rates><Rate>{t['fixed_rate']!r}</Rate></Rates></FixedLegData>")
    flt = leg("Floating", not t["payer"], "A360", tenor,
              f"""        <FloatingLegData>
          <Index>{index}</Index>
          <Spreads><Spread>0.0</Spread></Spreads>
          <IsInArrears>false</IsInArrears>
          <FixingDays>0</FixingDays>
        </FloatingLegData>""")
    return f"{fixed}\n{flt}"


def _envelope(t: dict, kind: str) -> str:
    return f"""  <Trade id="{escape(t['id'])}">
    <TradeType>{kind}</TradeType>
    <Envelope><CounterParty>{COUNTERPARTY}</CounterParty><NettingSetId>{NETTING_SET}</NettingSetId><AdditionalFields/></Envelope>"""


def _swap_xml(t: dict) -> str:
    return f"""{_envelope(t, "Swap")}
    <SwapData>
{_swap_legs(t)}
    </SwapData>
  </Trade>"""


def _swaption_xml(t: dict) -> str:
    """European swaption: the option on the swap legs (the legs' Payer flags make it a payer or receiver; ORE
    ignores OptionType for swaptions); physical settlement, exercise on ``expiry``."""
    return f"""{_envelope(t, "Swaption")}
    <SwaptionData>
      <OptionData>
        <LongShort>{'Long' if t['long'] else 'Short'}</LongShort>
        <OptionType>Call</OptionType>
        <Style>European</Style>
        <Settlement>Physical</Settlement>
        <PayOffAtExpiry>false</PayOffAtExpiry>
        <ExerciseDates><ExerciseDate>{_d(t['expiry'])}</ExerciseDate></ExerciseDates>
      </OptionData>
{_swap_legs(t)}
    </SwaptionData>
  </Trade>"""


def _fx_xml(t: dict) -> str:
    return f"""{_envelope(t, "FxForward")}
    <FxForwardData>
      <ValueDate>{_d(t['maturity'])}</ValueDate>
      <BoughtCurrency>{t['buy_currency']}</BoughtCurrency>
      <BoughtAmount>{t['buy_amount']!r}</BoughtAmount>
      <SoldCurrency>{t['sell_currency']}</SoldCurrency>
      <SoldAmount>{t['sell_amount']!r}</SoldAmount>
      <Settlement>Physical</Settlement>
    </FxForwardData>
  </Trade>"""


def portfolio_xml(trades: list) -> str:
    xml = {"Swap": _swap_xml, "Swaption": _swaption_xml, "FxForward": _fx_xml}
    body = "\n".join(xml[t["type"]](t) for t in trades)
    return f'<?xml version="1.0"?>\n<Portfolio>\n{body}\n</Portfolio>\n'


def market_txt(spec: SideBySide) -> str:
    a = _ymd(spec.asof)
    lines = [f"# flat market for the ORE side by side, as of {spec.asof.isoformat()}"]
    for ccy, r in spec.rates:
        for tenor in ("1Y", "2Y", "5Y", "10Y", "20Y", "30Y", "50Y"):
            lines.append(f"{a} ZERO/RATE/{ccy}/{ccy}-FLAT/A365/{tenor} {r!r}")
    for ccy, _ in spec.rates:  # ORE's LGM builder wants a swaption surface even without calibration
        for e in ("1Y", "5Y", "10Y"):
            for t in ("1Y", "5Y", "10Y"):
                lines.append(f"{a} SWAPTION/RATE_NVOL/{ccy}/{e}/{t}/ATM {spec.hw_vol!r}")
    lines.append(f"{a} FX/RATE/EUR/USD {spec.fx_spot!r}")
    for tenor in ("1Y", "5Y", "10Y", "20Y"):
        lines.append(f"{a} FX_OPTION/RATE_LNVOL/EUR/USD/{tenor}/ATM {spec.fx_vol!r}")
    return "\n".join(lines) + "\n"


def fixings_txt(spec: SideBySide) -> str:
    # No past fixings are needed (every trade starts on or after the as-of date; today's fixings are implied).
    # One harmless historical fixing keeps the file non-empty.
    d = spec.asof - dt.timedelta(days=7)
    while d.weekday() >= 5:
        d -= dt.timedelta(days=1)
    return f"{_ymd(d)} USD-LIBOR-3M {spec.rate['USD']!r}\n"
