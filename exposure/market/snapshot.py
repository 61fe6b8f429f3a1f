"""The t0 market snapshot built from ``cfg.market``: curves, FX, vols, equities, credit.

Every value is checked as it is built, and a bad one raises ConfigError naming its key
(``market.curves.EUR.values``) before any compute starts. Times are ACT/365F years from ``asof``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import numpy as np

from exposure.errors import ConfigError, MarketDataError
from exposure.market.curves import DiscountCurve
from exposure.market.schedule import day_count_name
from exposure.market.snapshot_sources import bootstrapped, with_ore_market
from exposure.dates import model_time, parse_date, tenor_time

_CCY = re.compile(r"^[A-Z]{3}$")


@dataclasses.dataclass(frozen=True)
class IndexCurve:
    """A floating index: its currency, accrual tenor, day count, and forwarding curve."""

    name: str
    currency: str
    tenor: str
    day_count: str
    curve: DiscountCurve


@dataclasses.dataclass(frozen=True)
class EquitySpec:
    name: str
    currency: str
    spot: float
    dividend_yield: float
    vol: object  # BlackVolCurve


@dataclasses.dataclass(frozen=True)
class SwaptionVols:
    """Swaption vol matrix: kind 'normal' | 'lognormal', shift, expiry/tenor times (years), vols[e][t]."""

    currency: str
    kind: str
    shift: float
    expiries: tuple
    tenors: tuple
    expiry_times: np.ndarray
    tenor_times: np.ndarray
    vols: np.ndarray
    fixed_frequency: str


@dataclasses.dataclass(frozen=True)
class MarketSnapshot:
    asof: dt.date
    base_currency: str
    curves: dict  # ccy -> DiscountCurve
    indices: dict  # name -> IndexCurve
    fx_spots: dict  # ccy -> base per unit of ccy (base -> 1.0)
    fx_vols: dict  # ccy -> BlackVolCurve
    equities: dict  # name -> EquitySpec
    swaption_vols: dict  # ccy -> SwaptionVols
    credit: dict  # name -> CreditCurve
    own_name: str

    @property
    def currencies(self) -> tuple:
        """Base currency first, then the others in sorted order."""
        return (self.base_currency,) + tuple(sorted(c for c in self.curves if c != self.base_currency))

    def time(self, d: dt.date) -> float:
        return model_time(self.asof, d)

    def fx_spot(self, ccy: str) -> float:
        return 1.0 if ccy == self.base_currency else self.fx_spots[ccy]

    def forward_curve(self, index: str | None, ccy: str) -> DiscountCurve:
        """The forwarding curve of ``index`` (the currency's discount curve when it has none)."""
        if index is None or index not in self.indices:
            return self.curves[ccy]
        return self.indices[index].curve


def _times(asof, tenors, key) -> np.ndarray:
    return np.array([tenor_time(asof, t, f"{key}.tenors[{i}]") for i, t in enumerate(tenors)])


def _increasing(times: np.ndarray, key: str) -> None:
    if np.any(np.diff(times) <= 0.0):
        raise ConfigError(f"{key}.tenors", "tenors must be strictly increasing")


def build_curve(asof, cc, key: str, name: str) -> DiscountCurve:
    tenors, values = list(cc.tenors), [float(v) for v in cc.quotes]
    if len(tenors) == 0 or len(tenors) != len(values):
        raise ConfigError(f"{key}.quotes", f"{len(values)} quotes for {len(tenors)} tenors")
    times = _times(asof, tenors, key)
    _increasing(times, key)
    kind = getattr(cc.kind, "value", cc.kind)
    vals = np.asarray(values)
    if not np.all(np.isfinite(vals)):
        raise ConfigError(f"{key}.quotes", "non-finite value")
    if kind == "discount":
        if np.any(vals <= 0.0):
            raise ConfigError(f"{key}.quotes", "discount factors must be > 0")
        return DiscountCurve.from_discount_factors(times, vals, name=name)
    return DiscountCurve.from_zero_rates(times, vals, name=name)


def build_vol(asof, vc, key: str, name: str):
    from exposure.market.vols import BlackVolCurve

    values = [float(v) for v in vc.vols]
    tenors = list(vc.tenors)
    if any((not np.isfinite(v)) or v < 0.0 for v in values):
        raise ConfigError(f"{key}.vols", f"volatilities must be finite and >= 0 (got {values})")
    if not tenors:
        if len(values) != 1:
            raise ConfigError(f"{key}.vols", "a flat vol takes exactly one value (or give tenors)")
        return BlackVolCurve.flat(values[0], name=name)
    if len(tenors) != len(values):
        raise ConfigError(f"{key}.vols", f"{len(values)} vols for {len(tenors)} tenors")
    times = _times(asof, tenors, key)
    _increasing(times, key)
    try:
        return BlackVolCurve.from_implied_vols(times, values, name=name)
    except MarketDataError as exc:
        raise ConfigError(key, str(exc)) from exc


def build_credit(asof, cc, key: str, name: str, curve: DiscountCurve):
    from exposure.market.cds import bootstrap_cds
    from exposure.market.credit import CreditCurve

    rec = float(cc.recovery)
    if not 0.0 <= rec < 1.0:
        raise ConfigError(f"{key}.recovery", f"must be in [0, 1) (got {rec})")
    if cc.flat_hazard is not None:
        h = float(cc.flat_hazard)
        if not np.isfinite(h) or h < 0.0:
            raise ConfigError(f"{key}.flat_hazard", f"must be >= 0 (got {h})")
        return CreditCurve.flat(h, recovery=rec, name=name)
    tenors, spreads = list(cc.tenors), [float(s) for s in cc.spreads_bp]
    if not tenors or len(tenors) != len(spreads):
        raise ConfigError(f"{key}.spreads_bp", f"{len(spreads)} spreads for {len(tenors)} tenors (or set flat_hazard)")
    for i, s in enumerate(spreads):
        if not np.isfinite(s) or s <= 0.0:
            raise ConfigError(f"{key}.spreads_bp[{i}]", f"CDS spread must be > 0 bp (got {s})")
    _increasing(_times(asof, tenors, key), key)
    try:
        return bootstrap_cds(asof, tenors, np.asarray(spreads) * 1e-4, rec, curve, name=name)
    except MarketDataError as exc:
        raise ConfigError(key, str(exc)) from exc


def build_market(mc) -> MarketSnapshot:
    """MarketSnapshot from a ``MarketConfig`` node; raises ConfigError naming the first bad key."""
    asof = parse_date(mc.asof, "market.asof")
    base = str(mc.base_currency)
    mc = with_ore_market(mc, asof, base)
    for ccy in mc.curves:
        if not _CCY.match(str(ccy)):
            raise ConfigError(f"market.curves.{ccy}", "currency codes are three upper-case letters (ISO 4217)")
    curves = {c: build_curve(asof, cc, f"market.curves.{c}", c) for c, cc in mc.curves.items()}
    ci = getattr(mc, "curve_inputs", None)
    for name in (getattr(ci, "curves", None) or {}) if ci is not None else ():
        if name in curves:
            raise ConfigError(f"market.curve_inputs.curves.{name}",
                              f"curve '{name}' is also given as zero rates in market.curves: give one of the two")
    boot = bootstrapped(asof, ci, curves)
    curves.update({n: c for n, c in boot.curves.items() if _CCY.match(n)} if boot else {})
    if not curves:
        raise ConfigError("market.curves", "no discount curve is given (market.curves or market.curve_inputs)")
    if base not in curves:
        raise ConfigError("market.base_currency", f"unknown currency '{base}': no curve in market.curves")
    indices = _bootstrapped_indices(boot, mc.indices)
    for name, ic in mc.indices.items():
        key = f"market.indices.{name}"
        if ic.currency not in curves:
            raise ConfigError(f"{key}.currency", f"unknown currency '{ic.currency}'")
        if ic.curve is None and name in indices:
            fwd = indices[name].curve  # bootstrapped in market.curve_inputs
        else:
            fwd = curves[ic.currency] if ic.curve is None else build_curve(asof, ic.curve, f"{key}.curve", name)
        try:  # here, not at the first trade that uses the index (whose error would blame the trade)
            day_count_name(str(ic.day_count))
        except ValueError as exc:
            raise ConfigError(f"{key}.day_count", str(exc)) from None
        indices[name] = IndexCurve(name, ic.currency, str(ic.tenor), str(ic.day_count), fwd)
    fx_spots = {base: 1.0}
    for ccy, spot in mc.fx_spots.items():
        if ccy not in curves:
            raise ConfigError(f"market.fx_spots.{ccy}", f"unknown currency '{ccy}': no curve in market.curves")
        if not np.isfinite(spot) or spot <= 0.0:
            raise ConfigError(f"market.fx_spots.{ccy}", f"must be > 0 (got {spot})")
        fx_spots[ccy] = float(spot)
    for ccy in curves:
        if ccy not in fx_spots:
            raise ConfigError("market.fx_spots", f"no FX spot for currency '{ccy}' (units of {base} per {ccy})")
    fx_vols = {}
    for ccy, vc in mc.fx_vols.items():
        if ccy not in curves or ccy == base:
            raise ConfigError(f"market.fx_vols.{ccy}", f"unknown foreign currency '{ccy}'")
        fx_vols[ccy] = build_vol(asof, vc, f"market.fx_vols.{ccy}", f"{ccy}{base}")
    for ccy in curves:
        if ccy != base and ccy not in fx_vols:
            raise ConfigError("market.fx_vols", f"no FX volatility for currency '{ccy}'")
    equities = {}
    for name, ec in mc.equities.items():
        key = f"market.equities.{name}"
        if ec.currency not in curves:
            raise ConfigError(f"{key}.currency", f"unknown currency '{ec.currency}'")
        if not np.isfinite(ec.spot) or ec.spot <= 0.0:
            raise ConfigError(f"{key}.spot", f"must be > 0 (got {ec.spot})")
        vol = build_vol(asof, ec.vol, f"{key}.vol", name)
        equities[name] = EquitySpec(name, ec.currency, float(ec.spot), float(ec.dividend_yield), vol)
    swvols = {ccy: _swaption_vols(asof, ccy, sc, curves) for ccy, sc in mc.swaption_vols.items()}
    credit = {n: build_credit(asof, cc, f"market.credit.{n}", n, curves[base]) for n, cc in mc.credit.items()}
    return MarketSnapshot(asof, base, curves, indices, fx_spots, fx_vols, equities, swvols, credit, str(mc.own_name))


def _bootstrapped_indices(boot, configured) -> dict:
    """IndexCurve per index with a bootstrapped forwarding curve (conventions from market.curve_inputs)."""
    if boot is None:
        return {}
    out = {}
    for name, conv in boot.indices.items():
        out[name] = IndexCurve(name, conv.currency, conv.tenor, conv.day_count, boot.curves[boot.index_curve[name]])
    return out


def _swaption_vols(asof, ccy, sc, curves) -> SwaptionVols:
    key = f"market.swaption_vols.{ccy}"
    if ccy not in curves:
        raise ConfigError(key, f"unknown currency '{ccy}'")
    et = _times(asof, list(sc.expiries), f"{key}.expiries")
    tt = _times(asof, list(sc.tenors), f"{key}.tenors")
    vols = np.asarray([[float(v) for v in row] for row in sc.vols])
    if vols.shape != (et.size, tt.size):
        raise ConfigError(f"{key}.vols", f"shape {vols.shape} does not match {et.size} expiries x {tt.size} tenors")
    if not np.all(np.isfinite(vols)) or np.any(vols <= 0.0):
        raise ConfigError(f"{key}.vols", "swaption volatilities must be finite and > 0")
    kind = getattr(sc.kind, "value", sc.kind)
    return SwaptionVols(ccy, kind, float(sc.shift), tuple(sc.expiries), tuple(sc.tenors), et, tt, vols,
                        str(sc.fixed_frequency))
