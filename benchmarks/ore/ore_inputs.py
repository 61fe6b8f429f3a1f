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
strike = forward * (1 +- 4%), settlement on a weekday 1M..3Y out that is not a grid date. One netting set
``NS_ORE`` (counterparty CP_A), no CSA.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import math
import os
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

ASOF = dt.date(2026, 11, 20)
NETTING_SET = "NS_ORE"
COUNTERPARTY = "CP_A"
INDEX = {"USD": ("USD-LIBOR-3M", "3M", 3), "EUR": ("EUR-EURIBOR-6M", "6M", 6)}
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


@dataclasses.dataclass(frozen=True)
class SideBySide:
    """Everything both engines must agree on. ``correlations``: ((a, b, rho), ...) in the engine's factor names."""

    asof: dt.date = ASOF
    rates: tuple = (("USD", 0.03), ("EUR", 0.02))  # base currency first
    fx_spot: float = 1.10  # USD per EUR
    fx_vol: float = 0.10
    mean_reversion: float = 0.1
    hw_vol: float = 0.01
    correlations: tuple = ()
    n_swaps: int = 50
    n_fx: int = 10
    trade_seed: int = 2026
    grid_points: int = 40
    grid_step_months: int = 3
    paths: int = 1000
    seed: int = 42
    quantile: float = 0.95
    ore_threads: int = 1
    max_maturity_years: int = 10
    swap_currencies: tuple = ("USD", "EUR")
    grid: tuple = ()  # explicit grid dates (datetime.date); empty: grid_points x grid_step_months

    @property
    def base(self) -> str:
        return self.rates[0][0]

    @property
    def rate(self) -> dict:
        return dict(self.rates)

    def grid_dates(self) -> list:
        if self.grid:
            return sorted(self.grid)
        return grid_dates(self.asof, self.grid_points, self.grid_step_months)


# ---- dates -----------------------------------------------------------------------------------------------


def add_months(d: dt.date, months: int) -> dt.date:
    """d + months calendar months, the day clipped to the month's end (QuantLib's unadjusted Period arithmetic)."""
    y, m = divmod(d.month - 1 + months, 12)
    y += d.year
    m += 1
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def following(d: dt.date) -> dt.date:
    """Roll a Saturday/Sunday forward to Monday (WeekendsOnly calendar, Following)."""
    while d.weekday() >= 5:
        d += dt.timedelta(days=1)
    return d


def modified_following(d: dt.date) -> dt.date:
    f = following(d)
    if f.month != d.month:
        f = d
        while f.weekday() >= 5:
            f -= dt.timedelta(days=1)
    return f


def grid_dates(asof: dt.date, n: int, step_months: int) -> list:
    return [following(add_months(asof, step_months * k)) for k in range(1, n + 1)]


def year_fraction_30360(d1: dt.date, d2: dt.date) -> float:
    dd1 = 30 if d1.day == 31 else d1.day
    dd2 = 30 if (d2.day == 31 and dd1 == 30) else d2.day
    return (360 * (d2.year - d1.year) + 30 * (d2.month - d1.month) + (dd2 - dd1)) / 360.0


# ---- trades ----------------------------------------------------------------------------------------------


def _par_rate(spec: SideBySide, ccy: str, start: dt.date, end: dt.date) -> float:
    """Par fixed rate on the flat curve: (P(s) - P(e)) / sum tau_30/360 P(T_i) (single curve, annual fixed)."""
    r = spec.rate[ccy]

    def P(d):
        return math.exp(-r * (d - spec.asof).days / 365.0)

    years = round((end - start).days / 365.25)
    dates = [modified_following(add_months(end, -12 * (years - k))) for k in range(years + 1)]
    dates[0] = modified_following(start)
    annuity = sum(year_fraction_30360(a, b) * P(b) for a, b in zip(dates[:-1], dates[1:]))
    return (P(dates[0]) - P(dates[-1])) / annuity


def make_trades(spec: SideBySide) -> list:
    """Seeded trade list (plain dicts, engine-neutral): swaps first, then FX forwards."""
    rng = np.random.default_rng(spec.trade_seed)
    trades = []
    grid = set(grid_dates(spec.asof, spec.grid_points, spec.grid_step_months)) | set(spec.grid_dates())
    for i in range(spec.n_swaps):
        u = rng.random()
        ccy = spec.swap_currencies[min(int(u * len(spec.swap_currencies)), len(spec.swap_currencies) - 1)]
        fwd_steps = int(rng.choice([0, 0, 0, 1, 2, 4]))  # forward start in grid steps (fixings stay on the grid)
        start = add_months(spec.asof, spec.grid_step_months * fwd_steps)
        years = int(rng.integers(2, spec.max_maturity_years + 1))
        end = add_months(spec.asof, 12 * years)
        if end <= add_months(start, 12):
            end = add_months(start, 24)
        notional = float(rng.integers(10, 101)) * 1e5
        par = _par_rate(spec, ccy, start, end)
        rate = round(par + float(rng.uniform(-0.0075, 0.0075)), 6)
        index, tenor, _ = INDEX[ccy]
        trades.append({
            "id": f"SWP_{i + 1:03d}", "type": "Swap", "currency": ccy, "notional": notional,
            "start": start, "maturity": end, "fixed_rate": rate, "payer": bool(rng.random() < 0.5),
            "fixed_tenor": "1Y", "fixed_day_count": "30/360", "float_index": index, "float_tenor": tenor,
            "float_day_count": "ACT/360",
        })
    s, r_usd, r_eur = spec.fx_spot, spec.rate["USD"], spec.rate["EUR"]
    for i in range(spec.n_fx):
        days = int(rng.integers(30, 3 * 365))
        mat = following(spec.asof + dt.timedelta(days=days))
        while mat in grid:
            mat = following(mat + dt.timedelta(days=1))
        T = (mat - spec.asof).days / 365.0
        fwd = s * math.exp((r_usd - r_eur) * T)
        eur = float(rng.integers(10, 101)) * 1e5
        usd = round(eur * fwd * (1.0 + float(rng.uniform(-0.04, 0.04))), 2)
        buy_eur = bool(rng.random() < 0.5)
        trades.append({
            "id": f"FXF_{i + 1:03d}", "type": "FxForward", "maturity": mat,
            "buy_currency": "EUR" if buy_eur else "USD", "buy_amount": eur if buy_eur else usd,
            "sell_currency": "USD" if buy_eur else "EUR", "sell_amount": usd if buy_eur else eur,
        })
    return trades


# ---- the engine's side -----------------------------------------------------------------------------------


def to_engine_portfolio(trades: list, path) -> str:
    """Write ``trades`` in the engine's portfolio YAML (exposure/portfolio/loader.py, pricing/linear_parse.py)."""
    import yaml

    out = []
    for t in trades:
        d = {"id": t["id"], "type": t["type"], "netting_set": NETTING_SET}
        if t["type"] == "Swap":
            d.update({
                "currency": t["currency"], "notional": t["notional"], "start": t["start"].isoformat(),
                "maturity": t["maturity"].isoformat(), "fixed_rate": t["fixed_rate"], "payer": t["payer"],
                "fixed_tenor": t["fixed_tenor"], "fixed_day_count": t["fixed_day_count"],
                # no float_index: the leg forwards off the currency's discount curve (single curve), which is what
                # ORE's index on the same flat curve does; Hydra cannot add typed market.indices entries by override
                "float_tenor": t["float_tenor"],
                "float_day_count": t["float_day_count"], "convention": "modified_following",
            })
        else:
            d.update({k: t[k] for k in ("buy_currency", "buy_amount", "sell_currency", "sell_amount")})
            d["maturity"] = t["maturity"].isoformat()
        out.append(d)
    doc = {"netting_sets": {NETTING_SET: {"counterparty": COUNTERPARTY}}, "trades": out}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fh.write("# ORE side-by-side portfolio (benchmarks/ore/ore_inputs.py); the same trades as ORE's portfolio.xml\n")
        yaml.safe_dump(doc, fh, sort_keys=False, width=200)
    return str(path)


def engine_overrides(spec: SideBySide, portfolio_path, out_dir, paths: int | None = None, seed: int | None = None,
                     chunk_size: int | None = None, store_cube: bool = True) -> list:
    """Hydra overrides: conf market=flat model=flat narrowed to USD/EUR with the spec's values, the portfolio and
    grid of the side by side."""
    paths = int(paths or spec.paths)
    ov = ["market=flat", "model=flat", "portfolio=example",
          "~market.curves.GBP", "~market.fx_spots.GBP", "~market.fx_vols.GBP", "~market.equities.SPX", "~model.ir.GBP",
          f"market.asof='{spec.asof.isoformat()}'", f"market.base_currency={spec.base}",
          f"market.fx_spots.EUR={spec.fx_spot!r}", f"market.fx_vols.EUR.vols=[{spec.fx_vol!r}]",
          "model.vol_calibration=market"]  # ORE's CrossCcyLGM here: constant sigma = fx_vol, not calibrated
    for ccy, r in spec.rates:
        ov += [f"market.curves.{ccy}.tenors=[50Y]", f"market.curves.{ccy}.quotes=[{r!r}]",
               f"market.curves.{ccy}.kind=zero",
               f"model.ir.{ccy}.mean_reversion={spec.mean_reversion!r}", f"model.ir.{ccy}.volatility=[{spec.hw_vol!r}]",
               f"model.ir.{ccy}.volatility_times=[]", f"model.ir.{ccy}.calibrate=none"]
    corr = ",".join(f"{{a: '{a}', b: '{b}', rho: {rho!r}}}" for a, b, rho in spec.correlations)
    ov.append(f"model.correlations=[{corr}]")
    grid = ",".join(d.isoformat() for d in spec.grid_dates())
    ov += [f"portfolio.trades={portfolio_path}", "portfolio.fixings=null", "portfolio.netting_sets=null",
           f"simulation.grid='{grid}'", "simulation.mpor=null", f"simulation.paths={paths}",
           f"simulation.seed={int(seed if seed is not None else spec.seed)}",
           f"simulation.chunk_size={int(chunk_size or min(paths, 5000))}", "simulation.antithetic=false",
           "simulation.precision=float64", f"output.dir={out_dir}", f"output.quantiles=[{spec.quantile!r}]",
           f"output.store_cube={'true' if store_cube else 'false'}", "output.csv=false"]
    return ov


# ---- ORE's side ------------------------------------------------------------------------------------------


def _d(d: dt.date) -> str:
    return d.isoformat()


def _ymd(d: dt.date) -> str:
    return d.strftime("%Y%m%d")


def _fx_factor(name: str, base: str) -> str:
    """Engine factor name -> ORE's (FX:EUR -> FX:EURUSD)."""
    kind, what = name.split(":")
    return f"FX:{what}{base}" if kind == "FX" else name


def _swap_xml(t: dict) -> str:
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
    return f"""  <Trade id="{escape(t['id'])}">
    <TradeType>Swap</TradeType>
    <Envelope><CounterParty>{COUNTERPARTY}</CounterParty><NettingSetId>{NETTING_SET}</NettingSetId><AdditionalFields/></Envelope>
    <SwapData>
{fixed}
{flt}
    </SwapData>
  </Trade>"""


def _fx_xml(t: dict) -> str:
    return f"""  <Trade id="{escape(t['id'])}">
    <TradeType>FxForward</TradeType>
    <Envelope><CounterParty>{COUNTERPARTY}</CounterParty><NettingSetId>{NETTING_SET}</NettingSetId><AdditionalFields/></Envelope>
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
    body = "\n".join(_swap_xml(t) if t["type"] == "Swap" else _fx_xml(t) for t in trades)
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


def pricingengine_xml() -> str:
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
    <SwapIndices/>
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
                     exposure: bool = True, trade_profiles: bool = False) -> str:
    """Write ORE's complete input folder under ``folder/Input`` (outputs go to ``folder/Output``); returns the
    path of ore.xml. Absolute paths everywhere, so ORE may run from any working directory."""
    folder = Path(folder).resolve()
    inp, out = folder / "Input", folder / "Output"
    inp.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "ore.xml": ore_xml(spec, inp, out, exposure=exposure, trade_profiles=trade_profiles),
        "portfolio.xml": portfolio_xml(trades),
        "netting.xml": netting_xml(),
        "iborfallback.xml": iborfallback_xml(),
        "simulation.xml": simulation_xml(spec, int(paths or spec.paths), int(spec.seed if seed is None else seed)),
        "todaysmarket.xml": todaysmarket_xml(spec),
        "curveconfig.xml": curveconfig_xml(spec),
        "conventions.xml": conventions_xml(spec),
        "pricingengine.xml": pricingengine_xml(),
        "market.txt": market_txt(spec),
        "fixings.txt": fixings_txt(spec),
    }
    for name, text in files.items():
        tmp = inp / (name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, inp / name)
    return str(inp / "ore.xml")
