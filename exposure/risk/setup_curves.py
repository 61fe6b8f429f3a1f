"""Curve pillars and FX spots moved in the built market, without building the market again.

    zero-rate pillar i of a curve (mode add, size s):   ln P_i -> ln P_i - e s t_i
    discount-factor pillar i (mode df):                 P_i -> P_i exp(-e s t_i), the same move of ln P_i
    FX spot (mode rel, size s):                         X -> X (1 + e s)

A curve of ``market.curves`` or an index's own curve (``market.indices.<name>.curve``) is log-linear in its
pillars ln P_i (``market.curves``), so the moved curve is the built one with one pillar's ln P moved: every
object that holds it (the discount curve, the indices forwarding on it, the model built on the market) sees the
same curve that ``build_market`` would give at the bumped config, to rounding. Nothing else of a market built
from ``cfg.market`` reads a zero curve or an FX spot except the credit curves (the CDS bootstrap reads the base
discount curve: bootstrapped again here unless the caller takes the weights' tangent by AD) and the par-instrument
curves of ``market.curve_inputs`` (a zero pillar of a market with curve inputs or an ORE market file is not
covered: the market is built again; its FX spots are, no bootstrap reads them). ``moved_market`` returns None
for every factor it does not cover; the caller then builds the market.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from exposure.market.curves import DiscountCurve

CURVES, INDICES, FX = ("market", "curves"), ("market", "indices"), ("market", "fx_spots")


def covered(cfg, factor) -> bool:
    """True for a zero/discount pillar of market.curves or of an index's own curve, and for an FX spot, in a
    market without curve inputs (par instruments or an ORE market file may be built off these curves); an FX
    spot in any market (no bootstrap reads one)."""
    p = factor.path
    if p[:2] == FX:
        return len(p) == 3
    ci = getattr(cfg.market, "curve_inputs", None)
    if ci is not None and (getattr(ci, "curves", None) or getattr(ci, "ore_market", None)):
        return False
    if p[:2] == CURVES:
        return len(p) == 5 and p[3] == "quotes"
    if p[:2] == INDICES:
        return len(p) == 6 and p[3:5] == ("curve", "quotes")
    return False


def pillar_direction(curve: DiscountCurve, factor) -> np.ndarray:
    """d ln P_i / de (n,) of the curve's pillars: -size t_i at the factor's pillar, 0 elsewhere."""
    times = np.asarray(curve.times, np.float64)
    i = int(factor.path[-1])
    if not 0 <= i < times.size:
        raise ValueError(f"{factor.label()}: pillar {i} of a curve with {times.size} pillars")
    d = np.zeros_like(times)
    d[i] = -factor.size * times[i]
    return d


def moved_curve(curve: DiscountCurve, d: np.ndarray, e: float) -> DiscountCurve:
    return DiscountCurve(np.asarray(curve.times, np.float64), np.asarray(curve.log_dfs, np.float64) + e * d,
                         name=curve.name)


def moved_curve_of(market, factor):
    """The built curve object a covered curve-pillar factor moves (None for an FX spot)."""
    p = factor.path
    if p[:2] == CURVES:
        return market.curves[p[2]]
    if p[:2] == INDICES:
        return market.indices[p[2]].curve
    return None


def moved_market(cfg, market, factor, e: float, keep_credit: bool = False):
    """The built ``market`` with the factor moved by e units (module docstring), or None where the factor is not
    covered. The credit curves are bootstrapped again on a moved base curve unless ``keep_credit``."""
    from exposure.market.snapshot import build_credit

    if not covered(cfg, factor):
        return None
    p = factor.path
    if p[:2] == FX:
        ccy = p[2]
        spots = dict(market.fx_spots)
        spots[ccy] = float(spots[ccy]) * (1.0 + e * factor.size)
        return dataclasses.replace(market, fx_spots=spots)
    old = moved_curve_of(market, factor)
    new = moved_curve(old, pillar_direction(old, factor), e)
    curves = {c: (new if cv is old else cv) for c, cv in market.curves.items()}
    indices = {n: (dataclasses.replace(ic, curve=new) if ic.curve is old else ic) for n, ic in market.indices.items()}
    credit = market.credit
    if not keep_credit and curves[market.base_currency] is not market.curves[market.base_currency]:
        node = cfg.market.credit
        credit = {n: build_credit(market.asof, node[n], f"market.credit.{n}", n, new) for n in market.credit}
    return dataclasses.replace(market, curves=curves, indices=indices, credit=credit)
