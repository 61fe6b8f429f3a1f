"""CDS contracts (premium periods from conventions), their legs, and the bootstrap of piecewise-flat hazards.

A CDS (per unit notional, running spread s, protection bought) is worth  V = Prot - s * Annuity:
    Prot    = (1-R) sum_i [S(a_i) - S(b_i)] P(0, tau_i)
    Annuity = sum_i S(pay_i) alpha_i P(0, pay_i) + sum_i [S(a_i) - S(b_i)] alpha_i(tau_i) P(0, tau_i)
              - rebate P(0, t_rebate)
with S the survival of a ``credit.CreditCurve``, [a_i, b_i] the protection part of premium period i, alpha_i
its ACT/360 accrual, alpha_i(tau) the accrual up to the default date, and tau_i the *mid-point date* of
[a_i, b_i] (integer days, rounded down). This is QuantLib's MidPointCdsEngine term for term, and
``cds_contract`` builds the dates as QuantLib's SpreadCdsHelper does (protection from as-of + settlement_days;
the accrual rebate of the first coupon under CDS/CDS2015 rules), so the bootstrap matches QuantLib's
PiecewiseFlatHazardRate. ``engine="integral"`` instead integrates the default leg and accrual-on-default
exactly over the piecewise-constant hazard and forward rate, with accrual growing linearly in time within a
period. Times are years ACT/365F from the as-of date; legs and spreads per unit notional (decimal spreads);
contract arrays (m,) over the premium periods not yet paid.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from exposure._pytree import pytree_dataclass, static_field
from exposure.errors import MarketDataError
from exposure.market.credit import CreditCurve, _check_recovery, _cum_hazard, _segment
from exposure.market.curves import DiscountCurve
from exposure.dates import add_months as _add_months
from exposure.dates import parse_tenor
from exposure.dates import shift as _shift
from exposure.market.schedule import (RULES, WEEKENDS_ONLY, Calendar, _canonical, add_tenor, make_schedule,
                                      previous_twentieth, year_fraction)

_MAX_HAZARD = 50.0  # per year: S drops by e^-12 in a quarter, well past any quoted name


def cds_maturity(trade_date: _dt.date, tenor: str, rule: str = "cds2015") -> _dt.date:
    """Standard CDS maturity (QuantLib's cdsMaturity): previous 20th IMM date + tenor + 3M, where under
    CDS2015 the roll is semi-annual (a trade after 20 Jun/Dec and before the next 20 Sep/Mar anchors on
    the 20 Mar/Sep before it)."""
    r = _canonical(rule, ("cds", "cds2015"), "CDS maturity rule")
    n, unit = parse_tenor(tenor)
    if unit not in "MY" or (unit == "M" and n % 3):
        raise ValueError(f"bad CDS tenor '{tenor}': must be a multiple of 3 months")
    anchor = previous_twentieth(trade_date)
    if r == "cds2015" and anchor.month in (6, 12):
        if n == 0:
            raise ValueError(f"CDS2015 tenor '{tenor}' has no maturity for trade date {trade_date}")
        anchor = _add_months(anchor, -3)
    return _add_months(_shift(anchor, n, unit), 3)


@pytree_dataclass
class CdsContract:
    """Premium periods of one CDS, times in years ACT/365F from as-of, arrays (m,) over the periods not
    yet paid: pay_time, accrual (coupon per unit spread), prot_start/prot_end (protected part [a_i, b_i]),
    accrual_start/accrual_end, default_time (mid-point tau_i, or pay_time if paid at period end),
    accrued_at_default (alpha_i(tau_i)); rebate/rebate_time: accrual rebate per unit spread and its date.
    """

    pay_time: np.ndarray
    accrual: np.ndarray
    prot_start: np.ndarray
    prot_end: np.ndarray
    accrual_start: np.ndarray
    accrual_end: np.ndarray
    default_time: np.ndarray
    accrued_at_default: np.ndarray
    rebate: np.ndarray
    rebate_time: np.ndarray
    pillar_date: _dt.date = static_field()
    pillar_time: float = static_field()
    pays_at_default: bool = static_field(default=True)
    settles_accrual: bool = static_field(default=True)


def cds_contract(asof: _dt.date, tenor_or_date, *, rule: str = "cds2015", settlement_days: int = 0,
                 frequency: str = "3M", convention: str = "following", calendar: Calendar = WEEKENDS_ONLY,
                 day_count: str = "ACT/360", include_last_day: bool = False, settles_accrual: bool = True,
                 pays_at_default_time: bool = True, rebates_accrual: bool = True,
                 cash_settlement_days: int = 3, n_periods: int | None = None) -> CdsContract:
    """The CDS that QuantLib's SpreadCdsHelper(tenor, settlement_days, calendar, frequency, convention,
    rule, day_count, ..., lastPeriodDayCounter=Actual360(include_last_day)) prices, as period arrays.

    Protection starts at as-of + settlement_days (calendar days). Maturity: ``cds_maturity(asof, tenor)``
    under the cds/cds2015 rules, protection start + tenor otherwise, or ``tenor_or_date`` itself when it
    is a date. The pillar is the adjusted last schedule date (QuantLib's Pillar::LastRelevantDate).
    ``n_periods`` pads the arrays with empty periods (no accrual, no protection) to that length, so
    that CDS of different maturities share one shape (one compilation, or a vmap over a book).
    """
    rule = _canonical(rule, RULES, "date generation rule")
    cds_rule = rule in ("cds", "cds2015")
    protection = asof + _dt.timedelta(days=settlement_days)
    start = protection if cds_rule else calendar.adjust(protection, convention)
    if isinstance(tenor_or_date, _dt.date):
        end = tenor_or_date
    else:
        end = cds_maturity(asof, tenor_or_date, rule) if cds_rule else add_tenor(protection, tenor_or_date)
    sched = make_schedule(start, end, frequency, convention, rule, calendar, termination_convention="unadjusted")
    dates = sched.dates
    n = len(dates) - 1
    # QuantLib's FixedRateLeg: only the last of several coupons uses the last-period day count, which
    # with include_last_day counts the end date too (Actual360(true), the ISDA standard CDS convention).
    extra_day = [_dt.timedelta(days=0)] * (n - 1) + [_dt.timedelta(days=int(include_last_day and n > 1))]

    def accrued(i, d):  # FixedRateCoupon::accruedAmount(d) per unit notional and spread
        if d <= dates[i] or d > pays[i]:
            return 0.0
        return year_fraction(dates[i], min(d, dates[i + 1]) + extra_day[i], day_count)

    pays = [calendar.adjust(d, convention) for d in dates[1:]]
    trade = protection if cds_rule else protection - _dt.timedelta(days=1)
    rebate_date = calendar.advance(trade, f"{cash_settlement_days}D", convention)
    rebate = 0.0
    if rebates_accrual and trade >= dates[0]:
        ref = trade + _dt.timedelta(days=1)
        i = next((k for k in range(n) if ref <= pays[k]), None)
        if i is not None:
            rebate = (accrued(i, dates[i + 1]) if i == n - 1 else 0.0) if ref == pays[i] else accrued(i, ref)
    rows = []
    for i in range(n):
        if pays[i] <= asof:  # already paid (QuantLib's hasOccurred at the discount curve's reference date)
            continue
        a = protection if i == 0 else dates[i]
        b = dates[i + 1]
        eff = asof if a <= asof <= b else a
        days = (b - eff).days
        tau = eff + _dt.timedelta(days=int(days / 2))  # C++ integer division truncates
        amount = accrued(i, dates[i + 1])
        if not pays_at_default_time:
            tau, aod = pays[i], amount
        else:
            aod = accrued(i, tau)
        rows.append([pays[i], amount, eff, b, dates[i], dates[i + 1], tau, aod if settles_accrual else 0.0])

    def yf(d):
        return year_fraction(asof, d, "ACT/365F")

    if not rows:
        raise ValueError(f"CDS to {end} has no premium payment after the as-of date {asof}")
    if n_periods is not None:
        if n_periods < len(rows):
            raise ValueError(f"n_periods={n_periods} is below the {len(rows)} periods of the {tenor_or_date} CDS")
        last = rows[-1]
        rows += [[last[0], 0.0, last[3], last[3], last[4], last[5], last[6], 0.0]] * (n_periods - len(rows))
    cols = list(zip(*rows))
    arr = [np.array([yf(d) for d in cols[k]]) if k in (0, 2, 3, 4, 5, 6) else np.array(cols[k], float)
           for k in range(8)]
    rebate_time = yf(rebate_date)
    pillar = calendar.adjust(dates[-1], convention)
    return CdsContract(*arr, np.asarray(rebate if rebate_time > 0.0 else 0.0), np.asarray(rebate_time),
                       pillar_date=pillar, pillar_time=yf(pillar), pays_at_default=pays_at_default_time,
                       settles_accrual=settles_accrual)


def _phi(xp, x, k0):
    """phi_k0(x) = int_0^1 v^(k0) e^(-x v) dv for k0 in {0, 1}, with a series near 0 (no cancellation)."""
    small = xp.abs(x) < 0.05
    xs = xp.where(small, x, 0.0)
    series = sum((-xs) ** k / (math.factorial(k) * (k + k0 + 1)) for k in range(9))
    xl = xp.where(small, 1.0, x)
    em = -xp.expm1(-xl)
    exact = em / xl if k0 == 0 else (em - xl * xp.exp(-xl)) / (xl * xl)
    return xp.where(small, series, exact)


def _legs(xp, times, hazards, recovery, c: CdsContract, log_df, disc_knots, engine: str):
    """(protection leg, annuity net of the rebate) per unit notional; xp is numpy or jax.numpy."""
    if engine not in ("midpoint", "integral"):
        raise ValueError(f"unknown CDS engine '{engine}' (expected 'midpoint' or 'integral')")
    exact = engine == "integral" and c.pays_at_default
    zero = xp.zeros(1, hazards.dtype)
    # Cells between consecutive knots of hazard, discount and period bounds carry constant h and f.
    grid = xp.sort(xp.concatenate([zero, times, disc_knots, c.prot_start, c.prot_end])) if exact else zero[:0]
    m = c.pay_time.shape[0]
    # One discount and one survival evaluation for every time the legs need (one compiled interpolation).
    lnp = log_df(xp.concatenate([c.pay_time, xp.reshape(c.rebate_time, (1,)), c.default_time, grid]))
    cum = _cum_hazard(xp, times, hazards, xp.concatenate([c.pay_time, c.prot_start, c.prot_end, grid]))
    annuity = xp.sum(xp.exp(lnp[:m] - cum[:m]) * c.accrual) - c.rebate * xp.exp(lnp[m])
    p_def = xp.exp(-cum[m:2 * m]) - xp.exp(-cum[2 * m:3 * m])
    if not exact:
        d_def = xp.exp(lnp[m + 1:2 * m + 1])
        return (1.0 - recovery) * xp.sum(p_def * d_def), annuity + xp.sum(p_def * c.accrued_at_default * d_def)
    # Over a cell [g, g + d]:  int h S P du = S(g) P(g) h d phi0((h+f) d),  and with the accrual weight
    # (u - accrual_start) the integral adds S(g) P(g) h d [(g - accrual_start) phi0 + d phi1].
    ln_grid, cum_grid = lnp[2 * m + 1:], cum[3 * m:]
    g0, g1 = grid[:-1], grid[1:]
    d = g1 - g0
    wide = d > 0.0
    fwd = xp.where(wide, -(ln_grid[1:] - ln_grid[:-1]) / xp.where(wide, d, 1.0), 0.0)
    h = hazards[_segment(xp, times, 0.5 * (g0 + g1))]
    x = (h + fwd) * d
    base = xp.exp(ln_grid[:-1] - cum_grid[:-1]) * h * d
    inside = (g0[None, :] >= c.prot_start[:, None]) & (g1[None, :] <= c.prot_end[:, None]) & wide[None, :]
    p0, p1 = _phi(xp, x, 0), _phi(xp, x, 1)
    protection = (1.0 - recovery) * xp.sum(xp.where(inside, base * p0, 0.0))
    rate = c.accrual / (c.accrual_end - c.accrual_start) * float(c.settles_accrual)
    aod = base * ((g0[None, :] - c.accrual_start[:, None]) * p0 + d * p1)
    return protection, annuity + xp.sum(xp.where(inside, aod * rate[:, None], 0.0))


def cds_legs(curve: CreditCurve, contract: CdsContract, discount: DiscountCurve, engine: str = "midpoint"):
    """(Prot, Annuity) per unit notional in jnp (see module docstring); buyer's NPV = Prot - s Annuity."""
    # Names and pillar dates are static metadata; dropping them lets inputs of one shape share a compilation.
    anonymous = dataclasses.replace(contract, pillar_date=None, pillar_time=0.0)
    return _cds_legs(dataclasses.replace(curve, name=""), anonymous, dataclasses.replace(discount, name=""), engine)


def cds_par_spread(curve: CreditCurve, contract: CdsContract, discount: DiscountCurve, engine: str = "midpoint"):
    """Par running spread s* = Prot / Annuity (decimal, 0.01 = 100bp)."""
    prot, annuity = cds_legs(curve, contract, discount, engine)
    return prot / annuity


@functools.partial(jax.jit, static_argnames="engine")
def _cds_legs(curve: CreditCurve, contract: CdsContract, discount: DiscountCurve, engine: str):
    return _legs(jnp, curve.times, curve.hazards, curve.recovery, contract, discount.log_discount,
                 discount.times, engine)


def bootstrap_cds(asof: _dt.date, tenors_or_dates, par_spreads, recovery: float, discount: DiscountCurve, *,
                  name: str = "", engine: str = "midpoint", **contract_kw) -> CreditCurve:
    """Piecewise-flat hazards h_1..h_n, solved pillar by pillar (brentq on [0, 50]) so that CDS k reprices
    par_spreads[k] (decimal) to 1e-12; the pillars are the CDS pillar dates. ``contract_kw`` go to
    ``cds_contract`` (rule, settlement_days, convention, calendar, include_last_day, ...)."""
    items = list(tenors_or_dates)
    s = np.atleast_1d(np.asarray(par_spreads, dtype=np.float64))
    if s.shape != (len(items),) or not items:
        raise MarketDataError(f"credit curve '{name}': {s.size} spreads for {len(items)} CDS pillars")
    _check_recovery(recovery, name)
    label = [str(x) for x in items]
    for k in range(len(items)):
        if not np.isfinite(s[k]) or s[k] < 0.0:
            raise MarketDataError(f"credit curve '{name}': pillar {label[k]}: par spread {s[k]} must be >= 0")
    if engine not in ("midpoint", "integral"):
        raise ValueError(f"unknown CDS engine '{engine}' (expected 'midpoint' or 'integral')")
    contracts = []
    for k, x in enumerate(items):
        try:
            contracts.append(cds_contract(asof, x, **contract_kw))
        except ValueError as e:
            raise MarketDataError(f"credit curve '{name}': pillar {label[k]}: {e}") from e
    times = np.array([c.pillar_time for c in contracts])
    for k in range(len(items)):
        if times[k] <= (times[k - 1] if k else 0.0):
            raise MarketDataError(f"credit curve '{name}': pillar {label[k]} ({contracts[k].pillar_date}) is not "
                                  f"after the previous pillar / as-of date; pillars must be increasing")
    knots = np.asarray(discount.times)
    # Every discount time the bootstrap needs is known up front: one JAX call, then exact look-ups.
    need = [np.zeros(1), times, knots] + [getattr(c, f) for c in contracts for f in (
        "pay_time", "default_time", "prot_start", "prot_end")] + [np.atleast_1d(c.rebate_time) for c in contracts]
    table_t = np.unique(np.concatenate(need))
    table_y = discount.log_discount_np(table_t)

    def log_df(t):
        return table_y[np.searchsorted(table_t, t)]

    from scipy.optimize import brentq  # here: a stored market (exposure.whatif) unpickles without scipy.optimize

    hazards = np.zeros(len(items))
    for k, c in enumerate(contracts):
        def error(h):
            hazards[k:] = h  # later pillars do not affect CDS k; setting them keeps the curve flat
            prot, annuity = _legs(np, times, hazards, recovery, c, log_df, knots, engine)
            return prot / annuity - s[k]

        lo, hi = error(0.0), error(_MAX_HAZARD)
        if lo > 0.0 or hi < 0.0:
            side = "below what a zero hazard gives" if lo > 0.0 else f"above what hazard {_MAX_HAZARD} gives"
            raise MarketDataError(f"credit curve '{name}': pillar {label[k]}: par spread {s[k]} has no root, "
                                  f"it is {side} after the earlier pillars")
        h = 0.0 if lo == 0.0 else brentq(error, 0.0, _MAX_HAZARD, xtol=1e-16, rtol=1e-15, maxiter=200)
        if abs(error(h)) > 1e-12:
            raise MarketDataError(f"credit curve '{name}': pillar {label[k]}: bootstrap did not converge")
        hazards[k:] = h
    return CreditCurve(jax.device_put(times), jax.device_put(hazards), jax.device_put(float(recovery)), name=name)
