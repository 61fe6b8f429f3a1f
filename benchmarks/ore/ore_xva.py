"""CVA/DVA side by side: the inputs of ``ore_inputs`` plus flat hazard-rate default curves for the counterparty
and the bank, and ORE's xva analytic with ``cva``/``dva`` switched on.

    ore_xml = ore_inputs.write_ore_inputs(folder, spec, trades)
    add_credit(folder, spec)                      # patches market.txt, curveconfig, conventions, todaysmarket, ore.xml
    run = run_ore.run_ore_isolated(ore_xml, reports=("npv", "netcube", "xva"))

Default curves (ORE ``Type HazardRate``, quotes HAZARD_RATE/RATE/<name>/SR/USD/<tenor> all equal to h, A365,
recovery RECOVERY_RATE/RATE/<name>/SR/USD): S(t) = exp(-h t) with t = days/365, the engine's ``market=flat`` curves
(CP_A 2%, BANK 1%, recovery 40%). ORE's netting-set CVA (StaticCreditXvaCalculator, ValueAdjustmentCalculator):

    CVA = sum_j (1 - R_c) (S_c(d_{j-1}) - S_c(d_j)) EPE(d_j),   DVA likewise with the bank and ENE,

d_0 = today, d_j the simulation dates, EPE/ENE from ORE's exposure profile (unilateral). The engine's
``xva.bilateral=false, xva.discretisation=ore`` is the same formula on the same dates.

CSA with a margin period of risk (``add_csa``): ORE's close-out grid (simulation ``CloseOutLag``, ``MporMode``,
xva ``calculationType NoLag``) is the engine's ``simulation.mpor``: collateral called at t, portfolio valued at
t + MPoR. ``MporMode ActualDate`` values at the close-out date itself, as the engine does; ``StickyDate`` keeps
the valuation date t and moves only the market (cash flows inside the margin period are not paid, and a coupon
fixing inside it takes the close-out date's rate). Measured on tests/test_ore_xva.py's case (10 swaps + 2 FX
forwards, 20 x 6M dates, zero-threshold CSA, MPoR 2W, 2,000 ORE paths, same ORE seed for both modes):
StickyDate - ActualDate = +23.4 CVA (+1.9%, ~1.2 ORE standard errors) and -12.0 DVA (-1.9%). The tests
compare with ActualDate.
"""

from __future__ import annotations

from pathlib import Path

CREDIT = {"CP_A": (0.02, 0.4), "BANK": (0.01, 0.4)}  # name -> (flat hazard, recovery): conf/market/flat.yaml
TENORS = ("1Y", "2Y", "5Y", "10Y", "20Y", "30Y")
OWN_NAME = "BANK"


def _market_lines(spec, credit) -> str:
    a = spec.asof.strftime("%Y%m%d")
    lines = []
    for name, (h, rec) in credit.items():
        lines.append(f"{a} RECOVERY_RATE/RATE/{name}/SR/USD {rec!r}")
        lines += [f"{a} HAZARD_RATE/RATE/{name}/SR/USD/{t} {h!r}" for t in TENORS]
    return "\n".join(lines) + "\n"


def _default_curves_xml(credit) -> str:
    out = []
    for name in credit:
        quotes = "".join(f"<Quote>HAZARD_RATE/RATE/{name}/SR/USD/{t}</Quote>" for t in TENORS)
        out.append(f"""    <DefaultCurve>
      <CurveId>{name}_SR_USD</CurveId>
      <CurveDescription>flat hazard rate</CurveDescription>
      <Currency>USD</Currency>
      <Type>HazardRate</Type>
      <DiscountCurve/>
      <DayCounter>A365</DayCounter>
      <RecoveryRate>RECOVERY_RATE/RATE/{name}/SR/USD</RecoveryRate>
      <Quotes>{quotes}</Quotes>
      <Conventions>CDS-STANDARD-CONVENTIONS</Conventions>
    </DefaultCurve>""")
    return "  <DefaultCurves>\n" + "\n".join(out) + "\n  </DefaultCurves>\n"


CDS_CONVENTIONS = """  <CDS>
    <Id>CDS-STANDARD-CONVENTIONS</Id>
    <SettlementDays>0</SettlementDays>
    <Calendar>WeekendsOnly</Calendar>
    <Frequency>Quarterly</Frequency>
    <PaymentConvention>ModifiedFollowing</PaymentConvention>
    <Rule>TwentiethIMM</Rule>
    <DayCounter>A360</DayCounter>
    <SettlesAccrual>true</SettlesAccrual>
    <PaysAtDefaultTime>true</PaysAtDefaultTime>
  </CDS>
"""


def _patch(path: Path, old: str, new: str) -> None:
    """Replace the LAST occurrence of old (closing tags such as </Conventions> also close inner elements)."""
    text = path.read_text()
    i = text.rfind(old)
    if i < 0:
        raise ValueError(f"{path.name}: '{old.strip()[:60]}' not found (ore_inputs changed?)")
    path.write_text(text[:i] + new + text[i + len(old):])


def add_credit(folder, spec, credit: dict | None = None, own_name: str = OWN_NAME) -> None:
    """Patch the input folder written by ``ore_inputs.write_ore_inputs`` for CVA/DVA (module docstring)."""
    credit = dict(credit or CREDIT)
    inp = Path(folder).resolve() / "Input"
    with open(inp / "market.txt", "a") as fh:
        fh.write(_market_lines(spec, credit))
    _patch(inp / "curveconfig.xml", "</CurveConfiguration>", _default_curves_xml(credit) + "</CurveConfiguration>")
    _patch(inp / "conventions.xml", "</Conventions>", CDS_CONVENTIONS + "</Conventions>")
    _patch(inp / "todaysmarket.xml", "    <SwapIndexCurvesId>default</SwapIndexCurvesId>\n",
           "    <SwapIndexCurvesId>default</SwapIndexCurvesId>\n    <DefaultCurvesId>default</DefaultCurvesId>\n")
    curves = "".join(f'    <DefaultCurve name="{n}">Default/USD/{n}_SR_USD</DefaultCurve>\n' for n in credit)
    _patch(inp / "todaysmarket.xml", "</TodaysMarket>",
           f'  <DefaultCurves id="default">\n{curves}  </DefaultCurves>\n</TodaysMarket>')
    _patch(inp / "ore.xml", '<Parameter name="cva">N</Parameter>', '<Parameter name="cva">Y</Parameter>')
    _patch(inp / "ore.xml", '<Parameter name="dva">N</Parameter>',
           f'<Parameter name="dva">Y</Parameter>\n      <Parameter name="dvaName">{own_name}</Parameter>')
    _patch(inp / "ore.xml", '<Parameter name="allocationMethod">None</Parameter>',
           '<Parameter name="allocationMethod">None</Parameter>\n      <Parameter name="rawCubeOutputFile">'
           '</Parameter>')


def csa_netting_xml(netting_set: str, mpor: str) -> str:
    """A two-way CSA with zero thresholds, MTAs and independent amounts, daily calls, USD cash collateral."""
    return f"""<?xml version="1.0"?>
<NettingSetDefinitions>
  <NettingSet>
    <NettingSetId>{netting_set}</NettingSetId>
    <ActiveCSAFlag>true</ActiveCSAFlag>
    <CSADetails>
      <Bilateral>Bilateral</Bilateral>
      <CSACurrency>USD</CSACurrency>
      <Index>USD-LIBOR-3M</Index>
      <ThresholdPay>0</ThresholdPay>
      <ThresholdReceive>0</ThresholdReceive>
      <MinimumTransferAmountPay>0</MinimumTransferAmountPay>
      <MinimumTransferAmountReceive>0</MinimumTransferAmountReceive>
      <IndependentAmount>
        <IndependentAmountHeld>0</IndependentAmountHeld>
        <IndependentAmountType>FIXED</IndependentAmountType>
      </IndependentAmount>
      <MarginingFrequency>
        <CallFrequency>1D</CallFrequency>
        <PostFrequency>1D</PostFrequency>
      </MarginingFrequency>
      <MarginPeriodOfRisk>{mpor}</MarginPeriodOfRisk>
      <CollateralCompoundingSpreadReceive>0.00</CollateralCompoundingSpreadReceive>
      <CollateralCompoundingSpreadPay>0.00</CollateralCompoundingSpreadPay>
      <EligibleCollaterals>
        <Currencies><Currency>USD</Currency></Currencies>
      </EligibleCollaterals>
    </CSADetails>
  </NettingSet>
</NettingSetDefinitions>
"""


def add_csa(folder, mpor: str = "2W", mpor_mode: str = "ActualDate", netting_set: str = "NS_ORE") -> None:
    """Make the side-by-side netting set collateralised (zero threshold/MTA, margin period of risk ``mpor``) and
    value it on ORE's close-out grid: simulation ``CloseOutLag`` = mpor with ``MporMode`` (ActualDate: the
    portfolio is valued at the close-out date t + MPoR; StickyDate: at t with the market of t + MPoR), xva
    ``calculationType NoLag`` (the collateral is the one called at t, the exposure the close-out value less it:
    the engine's ``simulation.mpor``)."""
    inp = Path(folder).resolve() / "Input"
    (inp / "netting.xml").write_text(csa_netting_xml(netting_set, mpor))
    _patch(inp / "simulation.xml", "    <Seed>",
           f"    <CloseOutLag>{mpor}</CloseOutLag>\n    <MporMode>{mpor_mode}</MporMode>\n    <Seed>")
    _patch(inp / "ore.xml", '<Parameter name="calculationType">Symmetric</Parameter>',
           '<Parameter name="calculationType">NoLag</Parameter>')


def ore_figures(ore, asof) -> dict:
    """ORE's CVA and DVA recomputed from its netcube with the engine's weights, with their standard errors:
    {"CVA": (mean, se), "DVA": (mean, se)} (ORE reports no error)."""
    import numpy as np
    import pandas as pd

    from exposure.market.credit import CreditCurve
    from exposure.xva import credit_weights

    dates, v = ore.netcube()
    t = np.array([(pd.Timestamp(d).date() - asof).days / 365.0 for d in dates])
    (hc, rc), (hb, rb) = CREDIT["CP_A"], CREDIT[OWN_NAME]
    w_c = credit_weights(1 - rc, CreditCurve.flat(hc, rc), t, None, "ore")
    w_d = credit_weights(1 - rb, CreditCurve.flat(hb, rb), t, None, "ore")
    cva_p, dva_p = w_c @ np.maximum(v, 0.0), w_d @ np.maximum(-v, 0.0)
    n = v.shape[1]
    return {"CVA": (cva_p.mean(), cva_p.std(ddof=1) / np.sqrt(n)), "DVA": (dva_p.mean(), dva_p.std(ddof=1) / np.sqrt(n))}


def ore_report_value(ore, name: str, netting_set: str = "NS_ORE") -> float:
    """A netting set's figure from ORE's xva report (the row with an empty TradeId)."""
    x = ore.reports["xva"]
    row = x[(x["TradeId"].fillna("") == "") & (x["NettingSetId"] == netting_set)]
    return float(row[name].iloc[0])


def xva_table(ore, ds, asof, netting_set: str = "NS_ORE"):
    """CVA and DVA of both engines with standard errors and z = difference / combined error (a DataFrame)."""
    import numpy as np
    import pandas as pd

    mine = ore_figures(ore, asof)
    rows = []
    for name in ("CVA", "DVA"):
        e, se_e = float(ds[name].values[0]), float(ds[f"{name}_stderr"].values[0])
        o, se_o = ore_report_value(ore, name, netting_set), mine[name][1]
        rows.append({"figure": name, "engine": e, "engine_se": se_e, "ore": o, "ore_se": se_o,
                     "ore_from_netcube": mine[name][0], "z": (e - o) / np.hypot(se_e, se_o)})
    return pd.DataFrame(rows)
