"""SA-CVA inputs (``sacva.Sensitivity`` rows) from the engine's own CVA sensitivities, the results Dataset's
``sensitivity`` (netting_set, xva_measure, risk_factor) of the sensitivities contract (README "Sensitivities").

    s_k = sum_NS sum_p a_kp v_p / d_p

v_p: the engine's sensitivity of the CVA (xva_measure "CVA", a non-negative cost) to risk factor p, base
currency per the contract's unit move d_p; a_kp: the share of pillar p given to the MAR50 risk factor k; s_k:
MAR50's sensitivity (MAR50.49-50.51: the change of the aggregate regulatory CVA for a shift divided by that
shift, i.e. per unit of the risk factor), summed over every netting set (the aggregate CVA). Only the CVA
enters: regulatory CVA excludes the bank's own default (MAR50.3), so DVA/FCA/FBA and the sensitivity to the
bank's own credit name (``own_name``) are left out. There are no hedge rows (s_hedge = 0): the engine has no
notion of an eligible CVA hedge; supply hedges through the table (``capital.sa_cva.sensitivities``). ORE does
the same: SaCvaSensitivityLoader::loadRawSensi takes ``delta / shiftSize`` and adds every netting set into
the aggregate; its user guide (Docs/UserGuide/methods/capital/cva.tex, table "Risk factors and shifts") lists
the shifts used below (1bp per IR tenor of all curves of a currency, 1% relative FX, simultaneous 1% relative
shift of all volatilities of a currency, 1bp per counterparty spread tenor, 1bp on all names of an RCS bucket).

Mapping and scaling (d_p from the contract; MAR50 shifts: 1bp absolute for rates and spreads, 1% relative
for FX, equity and volatilities):
- IR delta (MAR50.54-58): DiscountCurve (name = currency) and IndexCurve (name = index; currency: the index's,
  ``index_currency``: the market's index definition, else the 'CCY-' prefix of the name) per 1bp ->
  s = v / 1e-4, every curve of a currency shifted together. A specified
  currency (``sacva_tables.SPECIFIED`` or the reporting currency) gets the tenors 1y 2y 5y 10y 30y by linear
  allocation in pillar_time: a pillar at t in [T_i, T_i+1] gives (T_i+1 - t)/(T_i+1 - T_i) of its sensitivity
  to T_i and the rest to T_i+1; before 1y all to 1y, after 30y all to 30y (the allocation keeps the sum, so a
  parallel shift is unchanged). Other currencies: one ``parallel`` factor, the sum over pillars.
- FX delta (MAR50.59-62): FXSpot 'CCY/BASE' per 1% relative -> s = v / 0.01, bucket CCY.
- Counterparty credit spread delta (MAR50.63-65): CDSSpread per 1bp -> s = v / 1e-4 at the tenors 0.5y 1y
  3y 5y 10y (the same linear allocation); HazardRate per 1bp of hazard -> spread by the credit triangle
  lambda = s / (1 - R): s = v / ((1 - R) 1e-4). Bucket and quality from the counterparty's BA-CVA sector and
  investment grade (``capital.counterparties``): sovereign 1a, local_government 1b, financial 2,
  basic_materials 3, consumer 4, technology 5, health_care 6, other 7; IG, else HY (HY and NR weigh the same).
- Reference credit spread delta (MAR50.66-69): a credit name that is not a counterparty (nor the bank): one
  factor per bucket (the sum over pillars); bucket = sector 1-7 (IG) / 8-14 (HY), other 15.
- Equity delta (MAR50.70-72): EquitySpot per 1% relative -> s = v / 0.01; bucket ``capital.sa_cva.
  equity_buckets`` (default 11, other sector: the 70% weight).
- Vega (MAR50.51, the relative 1% shift of a volatility sigma): s = sigma v / d, d = 1e-4 when the unit says
  bp, else 0.01 (one vol point). FXVol -> FX vega, SwaptionVol and HWSigma -> IR vega ``ir_vol`` of the
  currency, EquityVol -> EQ vega; sigma from ``vol_level(factor_type, name, pillar, pillar_time)`` (None: the
  row is left out and said so).
Other factor types (Recovery, FundingSpread, MeanReversion, Correlation) are no SA-CVA risk factor.
Returns (rows, notes): notes say what was left out and why.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from exposure.capital import sacva_tables as tb
from exposure.capital.sacva import Sensitivity
from exposure.errors import ResultsFileError

IR_TENOR_YEARS = (1.0, 2.0, 5.0, 10.0, 30.0)
CCS_TENOR_YEARS = (0.5, 1.0, 3.0, 5.0, 10.0)
CCS_BUCKET = {"sovereign": "1a", "local_government": "1b", "financial": "2", "basic_materials": "3",
              "consumer": "4", "technology": "5", "health_care": "6", "other": "7"}
RCS_SECTOR = {"sovereign": 1, "local_government": 2, "financial": 3, "basic_materials": 4, "consumer": 5,
              "technology": 6, "health_care": 7}
BP, PCT = 1e-4, 1e-2
COORDS = ("factor_type", "factor_name", "pillar", "pillar_time", "unit")
NOT_SACVA = ("Recovery", "FundingSpread", "MeanReversion", "Correlation")


def allocate(t: float, tenors) -> list:
    """[(tenor index, share)] of a pillar at t years on the tenors (linear in t, flat outside; shares sum to 1)."""
    if t <= tenors[0]:
        return [(0, 1.0)]
    if t >= tenors[-1]:
        return [(len(tenors) - 1, 1.0)]
    i = int(np.searchsorted(tenors, t, side="right")) - 1
    if t == tenors[i]:
        return [(i, 1.0)]
    w = (tenors[i + 1] - t) / (tenors[i + 1] - tenors[i])
    return [(i, w), (i + 1, 1.0 - w)]


def _label(years: float) -> str:
    return f"{years:g}y"


def default_index_currency(name: str) -> str | None:
    """ORE-style index names start with the currency: 'USD-SOFR', 'EUR-EURIBOR-6M'."""
    head = name.split("-")[0].upper()
    return head if len(head) == 3 and head.isalpha() else None


def _fx_ccy(ft: str, name: str, base_currency: str) -> str:
    ccy, _, base = name.partition("/")
    if base != base_currency or len(ccy) != 3:
        raise ResultsFileError(f"results variable 'sensitivity': {ft} '{name}': expected 'CCY/{base_currency}' "
                               "(the foreign currency against the reporting currency)")
    return ccy


def _checked(sens):
    for d in ("netting_set", "xva_measure", "risk_factor"):
        if d not in sens.dims:
            raise ResultsFileError(f"results variable 'sensitivity': dimension '{d}' is missing (dims {sens.dims})")
    for c in COORDS:
        if c not in sens.coords:
            raise ResultsFileError(f"results variable 'sensitivity': coordinate '{c}' along risk_factor is missing")
    v = np.asarray(sens.values, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        i = np.argwhere(~np.isfinite(v))[0]
        raise ResultsFileError(f"results variable 'sensitivity': non-finite value at netting set "
                               f"'{sens['netting_set'].values[i[0]]}', measure '{sens['xva_measure'].values[i[1]]}',"
                               f" risk factor {sens['factor_type'].values[i[2]]} {sens['factor_name'].values[i[2]]}"
                               f" {sens['pillar'].values[i[2]]}")
    return sens


def sacva_rows(sens, *, base_currency: str, counterparties, own_name: str = "", credit_terms=None,
               recovery=None, vol_level=None, equity_buckets=None, default_equity_bucket: str = "11",
               index_currency=default_index_currency) -> tuple:
    """(rows: tuple of sacva.Sensitivity, notes: tuple of str); see the module docstring.

    sens: the ``sensitivity`` DataArray; counterparties: the counterparty names (CCS; other credit names are
    RCS); credit_terms(name) -> (BA-CVA sector, investment grade); recovery: {credit name: R} (HazardRate);
    vol_level(factor_type, name, pillar, pillar_time) -> sigma or None; equity_buckets: {equity: bucket}."""
    sens = _checked(sens)
    measures = [str(m) for m in sens["xva_measure"].values]
    if "CVA" not in measures:
        return (), ("no CVA sensitivities in 'sensitivity' (measures: " + ", ".join(measures) + ")",)
    cva = np.asarray(sens.sel(xva_measure="CVA").sum("netting_set").values, dtype=np.float64)
    cps = {str(c) for c in counterparties}
    terms = credit_terms or (lambda name: ("other", False))
    recovery, equity_buckets = dict(recovery or {}), dict(equity_buckets or {})
    acc: dict = defaultdict(float)  # (risk_class, type, bucket, factor, name, quality) -> s
    notes: dict = defaultdict(list)
    f = {c: [str(x) if c != "pillar_time" else float(x) for x in sens[c].values] for c in COORDS}
    for j, v in enumerate(cva):
        ft, name, pillar, t, unit = (f[c][j] for c in COORDS)
        if v == 0.0 and ft not in NOT_SACVA:
            continue
        if ft in ("DiscountCurve", "IndexCurve"):
            ccy = name if ft == "DiscountCurve" else index_currency(name)
            if ccy is None:
                raise ResultsFileError(f"results variable 'sensitivity': IndexCurve '{name}': cannot tell its "
                                       "currency (expected an ORE-style name 'CCY-INDEX-TENOR')")
            s = v / BP
            if tb.specified(ccy, base_currency):
                for i, w in allocate(t, IR_TENOR_YEARS):
                    acc[("IR", "delta", ccy, _label(IR_TENOR_YEARS[i]), "", "")] += w * s
            else:
                acc[("IR", "delta", ccy, "parallel", "", "")] += s
        elif ft == "FXSpot":
            ccy = _fx_ccy(ft, name, base_currency)
            if ccy != base_currency:
                acc[("FX", "delta", ccy, ccy, "", "")] += v / PCT
        elif ft in ("CDSSpread", "HazardRate"):
            if name == own_name:
                notes["own credit"].append(f"{ft} {name} {pillar}")
                continue
            if ft == "HazardRate":
                if name not in recovery:
                    raise ResultsFileError(f"results variable 'sensitivity': HazardRate '{name}': no recovery "
                                           "rate to turn it into a spread sensitivity (recovery_rate)")
                v = v / (1.0 - recovery[name])
            s = v / BP
            sector, ig = terms(name)
            if name in cps:
                bucket, quality = CCS_BUCKET[sector], "IG" if ig else "HY"
                for i, w in allocate(t, CCS_TENOR_YEARS):
                    acc[("CCS", "delta", bucket, _label(CCS_TENOR_YEARS[i]), name, quality)] += w * s
            else:
                bucket = str(RCS_SECTOR[sector] + (0 if ig else 7)) if sector in RCS_SECTOR else "15"
                acc[("RCS", "delta", bucket, "", "", "")] += s
        elif ft == "EquitySpot":
            acc[("EQ", "delta", equity_buckets.get(name, default_equity_bucket), "", "", "")] += v / PCT
        elif ft in ("FXVol", "SwaptionVol", "HWSigma", "EquityVol"):
            sigma = vol_level(ft, name, pillar, t) if vol_level is not None else None
            if sigma is None or not math.isfinite(sigma):
                notes["vega without a volatility level"].append(f"{ft} {name} {pillar}".rstrip())
                continue
            s = sigma * v / (BP if "bp" in unit.lower() else PCT)
            if ft == "FXVol":
                ccy = _fx_ccy(ft, name, base_currency)
                if ccy != base_currency:
                    acc[("FX", "vega", ccy, ccy, "", "")] += s
            elif ft == "EquityVol":
                acc[("EQ", "vega", equity_buckets.get(name, default_equity_bucket), "", "", "")] += s
            else:
                acc[("IR", "vega", name, "ir_vol", "", "")] += s
        elif ft in NOT_SACVA:
            notes["no SA-CVA risk factor"].append(ft)
        else:
            notes["unknown factor type"].append(f"{ft} {name}")
    rows = tuple(Sensitivity(rc, kind, b, k, s, name=n, quality=q)
                 for (rc, kind, b, k, n, q), s in acc.items())
    text = tuple(f"{why}: {', '.join(dict.fromkeys(items))}" for why, items in notes.items())
    return rows, text


def market_vol_level(market):
    """vol_level(factor_type, name, pillar, pillar_time) from the market snapshot: the implied vol of the FX
    (name 'CCY/BASE') or equity vol curve at pillar_time, the swaption vol at the 'EXPIRYxTENOR' pillar; None
    where it cannot tell (no pillar on a curve that is not flat, HWSigma: a model parameter, not a market vol)."""

    def curve_vol(curve, t):
        w = np.asarray(curve.total_variances, dtype=np.float64)
        kt = np.asarray(curve.times, dtype=np.float64)
        if t <= 0.0:
            v = np.sqrt(w / kt)
            return float(v[0]) if np.allclose(v, v[0], rtol=1e-12) else None
        return float(np.sqrt(curve.total_variance_np(t) / t))

    def level(ft, name, pillar, t):
        if ft == "FXVol":
            c = getattr(market, "fx_vols", {}).get(name.split("/")[0])
            return None if c is None else curve_vol(c, t)
        if ft == "EquityVol":
            e = getattr(market, "equities", {}).get(name)
            return None if e is None else curve_vol(e.vol, t)
        if ft == "SwaptionVol":
            sv = getattr(market, "swaption_vols", {}).get(name)
            if sv is None or "x" not in pillar.lower():
                return None
            e, n = pillar.upper().split("X", 1)
            ex, tn = [str(x).upper() for x in sv.expiries], [str(x).upper() for x in sv.tenors]
            if e in ex and n in tn:
                return float(np.asarray(sv.vols)[ex.index(e), tn.index(n)])
        return None

    return level
