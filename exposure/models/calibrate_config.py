"""Calibrate one currency's Hull-White vol from the config's swaption strip and the market's vol matrix.

    sigma_vol(e, t) = bilinear interpolation of the quoted matrix in (expiry, tenor), flat beyond its edges.

Coterminal: expiries E_i (``calibration_expiries``) into the final maturity M, tenors M - E_i.
Diagonal: (``calibration_expiries``[i], ``calibration_tenors``[i]) pairs. The swaptions are ATM on the
currency's discount curve (single-curve calibration instruments; see ``calibration`` for conventions).
Calendar tenors become whole numbers of fixed periods in model time (10Y - 1Y = 9 annual periods, not
the 9.008 years ACT/365F between the dates) because the instruments are defined in model time.
"""

from __future__ import annotations

import numpy as np

from exposure.errors import ConfigError
from exposure.models.calibration import SwaptionQuote, calibrate_hull_white
from exposure.dates import tenor_time


def interpolate_vol(sv, expiry: float, tenor: float) -> float:
    """Bilinear in (expiry, tenor) on the quoted matrix, flat extrapolation."""
    e = np.clip(expiry, sv.expiry_times[0], sv.expiry_times[-1])
    t = np.clip(tenor, sv.tenor_times[0], sv.tenor_times[-1])
    by_expiry = np.array([np.interp(t, sv.tenor_times, row) for row in sv.vols])
    return float(np.interp(e, sv.expiry_times, by_expiry))


def calibration_quotes(market, ccy: str, ic, strip: str) -> list[SwaptionQuote]:
    key = f"model.ir.{ccy}"
    sv = market.swaption_vols[ccy]
    exps = [tenor_time(market.asof, x, f"{key}.calibration_expiries[{i}]") for i, x in enumerate(ic.calibration_expiries)]
    if not exps:
        raise ConfigError(f"{key}.calibration_expiries", "no calibration expiries given")
    freq = {"1Y": 1, "6M": 2, "3M": 4}.get(str(sv.fixed_frequency).upper())
    if freq is None:
        raise ConfigError(f"market.swaption_vols.{ccy}.fixed_frequency", f"'{sv.fixed_frequency}' is not one of 1Y, 6M, 3M")
    if strip == "coterminal":
        mat = tenor_time(market.asof, ic.calibration_maturity, f"{key}.calibration_maturity")
        if max(exps) >= mat:
            raise ConfigError(f"{key}.calibration_expiries", f"expiries must be before the final maturity {ic.calibration_maturity}")
        tenors = [mat - e for e in exps]
    else:
        if len(ic.calibration_tenors) != len(exps):
            raise ConfigError(f"{key}.calibration_tenors", f"{len(ic.calibration_tenors)} tenors for {len(exps)} expiries")
        tenors = [tenor_time(market.asof, x, f"{key}.calibration_tenors[{i}]") for i, x in enumerate(ic.calibration_tenors)]
    tenors = [max(1, round(t * freq)) / freq for t in tenors]
    return [
        SwaptionQuote(e, t, interpolate_vol(sv, e, t), vol_type=sv.kind, shift=sv.shift, fixed_frequency=freq,
                      name=f"{ccy} {x}x{t:.2f}Y")
        for e, t, x in zip(exps, tenors, ic.calibration_expiries)
    ]


def calibrate_currency(market, ccy: str, ic, strip: str):
    """(HullWhiteParams, report rows as dicts) for one currency."""
    quotes = calibration_quotes(market, ccy, ic, strip)
    params, report = calibrate_hull_white(market.curves[ccy], quotes, float(ic.mean_reversion))
    return params, report
