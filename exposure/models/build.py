"""Assemble the cross-asset model from the market snapshot and ``cfg.model``.

    R[i, j] = rho(factor_i, factor_j) from the config's pairs (unlisted pairs 0, unit diagonal),
    required symmetric positive semi-definite (smallest eigenvalue >= -1e-10).

Hull-White vols are taken as configured or calibrated to swaptions (``calibrate: coterminal|diagonal``).
FX and equity vols are piecewise constant on the market's vol pillars: with ``vol_calibration:
bootstrap`` (the default) bootstrapped so that the model's variance of each log forward, rates
included, equals the market's total variance at every pillar (``forward_variance``); with ``market``
the market's forward Black vols are used as the spot vols as they are.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from exposure.errors import ConfigError
from exposure.market.snapshot import MarketSnapshot
from exposure.models.cross_asset import CrossAssetModel, PiecewiseVol
from exposure.models.hull_white import HullWhiteParams
from exposure.dates import tenor_time


@dataclasses.dataclass(frozen=True)
class BuiltModel:
    model: CrossAssetModel
    calibration: dict  # ccy or FX_<ccy> / EQ_<name> -> report with ``to_frame()``; empty when not calibrated


def correlation_matrix(names: tuple, entries) -> np.ndarray:
    """Validated correlation matrix over ``names`` from (a, b, rho) entries."""
    index = {n: i for i, n in enumerate(names)}
    R = np.eye(len(names))
    seen: dict = {}
    for k, e in enumerate(entries):
        key = f"model.correlations[{k}]"
        a, b, rho = str(e.a), str(e.b), float(e.rho)
        for side, f in (("a", a), ("b", b)):
            if f not in index:
                raise ConfigError(f"{key}.{side}", f"unknown factor '{f}' (known: {', '.join(names)})")
        if a == b:
            raise ConfigError(key, f"a factor's correlation with itself is 1; remove the entry for '{a}'")
        if not np.isfinite(rho) or abs(rho) > 1.0:
            raise ConfigError(f"{key}.rho", f"must be in [-1, 1] (got {rho})")
        pair = frozenset((a, b))
        if pair in seen and seen[pair] != rho:
            raise ConfigError(key, f"correlation of {a} and {b} given twice with different values")
        seen[pair] = rho
        R[index[a], index[b]] = R[index[b], index[a]] = rho
    w = np.linalg.eigvalsh(R)
    if w.min() < -1e-10:
        raise ConfigError(
            "model.correlations",
            f"correlation matrix is not positive semi-definite (smallest eigenvalue {w.min():.6g})",
        )
    return R


def _vol_piecewise(curve) -> PiecewiseVol:
    times, values = curve.local_vol_piecewise()
    return PiecewiseVol(np.asarray(times, dtype=float), np.asarray(values, dtype=float))


def hull_white_params(market: MarketSnapshot, ccy: str, ic) -> HullWhiteParams:
    key = f"model.ir.{ccy}"
    times = [tenor_time(market.asof, t, f"{key}.volatility_times[{i}]") for i, t in enumerate(ic.volatility_times)]
    return HullWhiteParams.create(float(ic.mean_reversion), list(ic.volatility), times, where=key)


def build_model(market: MarketSnapshot, mc, calibrate: bool = True, calibrated: dict | None = None) -> BuiltModel:
    """CrossAssetModel for ``market`` and a ``ModelConfig`` node; calibrates when configured. ``calibrated``
    {ccy: HullWhiteParams} gives a calibrated currency's parameters instead of solving for them (the
    sensitivities' first-order moves, ``risk.setup_model``; no report for that currency)."""
    ccys = market.currencies
    for ccy in mc.ir:
        if ccy not in market.curves:
            raise ConfigError(f"model.ir.{ccy}", f"unknown currency '{ccy}': no curve in market.curves")
    hw, reports = [], {}
    for ccy in ccys:
        if ccy not in mc.ir:
            raise ConfigError("model.ir", f"no Hull-White parameters for currency '{ccy}'")
        ic = mc.ir[ccy]
        params = hull_white_params(market, ccy, ic)
        strip = getattr(ic.calibrate, "value", ic.calibrate)
        if strip != "none":
            if ccy not in market.swaption_vols:
                raise ConfigError(f"model.ir.{ccy}.calibrate", f"no swaption vols for '{ccy}' in market.swaption_vols")
            if calibrated is not None and ccy in calibrated:
                params = calibrated[ccy]
            elif calibrate:
                from exposure.models.calibrate_config import calibrate_currency

                params, reports[ccy] = calibrate_currency(market, ccy, ic, strip)
        hw.append(params)
    credit, credit_reports = credit_intensities(market, getattr(mc, "credit", None) or {})
    reports.update(credit_reports)
    names = tuple(f"IR:{c}" for c in ccys) + tuple(f"FX:{c}" for c in ccys[1:]) + tuple(
        f"EQ:{e}" for e in market.equities
    ) + tuple(f"CR:{c.name}" for c in credit)
    R = correlation_matrix(names, mc.correlations)
    eq_names = tuple(market.equities)
    model = CrossAssetModel(
        currencies=ccys,
        hw=tuple(hw),
        curves=tuple(market.curves[c] for c in ccys),
        fx_spot=np.array([market.fx_spots[c] for c in ccys[1:]]),
        fx_vol=tuple(_vol_piecewise(market.fx_vols[c]) for c in ccys[1:]),
        equity_names=eq_names,
        equity_ccy=tuple(ccys.index(market.equities[e].currency) for e in eq_names),
        equity_spot=np.array([market.equities[e].spot for e in eq_names]),
        equity_div=np.array([market.equities[e].dividend_yield for e in eq_names]),
        equity_vol=tuple(_vol_piecewise(market.equities[e].vol) for e in eq_names),
        correlation=R,
        credit=credit,
    )
    mode = getattr(mc, "vol_calibration", "bootstrap")
    mode = str(getattr(mode, "value", mode))
    if mode == "bootstrap":
        from exposure.models.forward_variance import calibrated_model

        model, vol_reports = calibrated_model(model, market)
        reports.update(vol_reports)
    elif mode != "market":
        raise ConfigError("model.vol_calibration", f"must be bootstrap or market (got '{mode}')")
    for c in credit:
        reports[f"CR_{c.name}"] = c.report(_REPORT_TIMES)
    return BuiltModel(model, reports)


_REPORT_TIMES = np.array([0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0])


def credit_intensities(market: MarketSnapshot, entries) -> tuple:
    """(CreditIntensity per ``model.credit`` entry fitted to market.credit[name], {"CR_<name>_options": report}
    for the names calibrated to CDS options, ``credit_calibration``)."""
    from exposure.models.credit_intensity import CreditIntensity, credit_intensity

    out, reports = [], {}
    for name in entries:
        key = f"model.credit.{name}"
        if name not in market.credit:
            raise ConfigError(key, f"no credit curve '{name}' in market.credit to fit the intensity to "
                                   f"(known: {', '.join(market.credit) or 'none'})")
        e, curve = entries[name], market.credit[name]
        vols = [float(v) for v in (getattr(e, "option_vols", None) or [])]
        if vols:
            hw, report = _calibrated_intensity(market, key, e, curve, vols)
            out.append(CreditIntensity(str(name), hw, curve))
            reports[f"CR_{name}_options"] = report
            continue
        times = [tenor_time(market.asof, t, f"{key}.volatility_times[{i}]")
                 for i, t in enumerate(getattr(e, "volatility_times", []) or [])]
        out.append(credit_intensity(str(name), curve, float(e.mean_reversion), list(e.volatility), times, where=key))
    return tuple(out), reports


@dataclasses.dataclass(frozen=True)
class _OptionReport:
    rows: tuple

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(list(self.rows))


def _calibrated_intensity(market, key: str, e, curve, vols):
    from exposure.models.credit_calibration import calibrate_vols

    expiries, terms = list(getattr(e, "option_expiries", []) or []), list(getattr(e, "option_terms", []) or [])
    if not (len(expiries) == len(terms) == len(vols)):
        raise ConfigError(f"{key}.option_vols", f"{len(vols)} vols for {len(expiries)} expiries and {len(terms)} terms")
    if not all(np.isfinite(vols)) or min(vols) <= 0:
        raise ConfigError(f"{key}.option_vols", f"must be finite and > 0 (got {vols})")
    T = [tenor_time(market.asof, x, f"{key}.option_expiries[{i}]") for i, x in enumerate(expiries)]
    L = [tenor_time(market.asof, x, f"{key}.option_terms[{i}]") for i, x in enumerate(terms)]
    base = market.curves[market.base_currency]
    hw, rows = calibrate_vols(curve, base.log_discount_np, float(e.mean_reversion), T, L, vols,
                              float(curve.recovery), key)
    return hw, _OptionReport(tuple(rows))
