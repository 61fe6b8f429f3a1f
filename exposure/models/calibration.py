"""Hull-White piecewise-constant volatility calibrated to a strip of European swaptions (fixed a).

    sigma(u) = sigma_k on [T_{k-1}, T_k),  T_k = expiry of swaption k (sorted), the last sigma held on,

so swaption k depends on sigma_0..sigma_k only (its price involves Var x(T_k) alone) and a sequential
bootstrap is exact: sigma_k is the brentq root of model_k(sigma_k) = market_k with the earlier pieces fixed.
The model price is increasing in sigma_k, from its zero-vol value (the earlier pieces' variance) upwards, so
a root exists iff the market price lies above that value; otherwise ``CalibrationError`` names the swaption.

Market prices (unit notional): payer = A [(F - K) N(d) + s sqrt(T) n(d)], d = (F - K)/(s sqrt(T)) for a
normal (Bachelier) vol s in absolute rate units (85bp = 0.0085); payer = A [(F + h) N(d1) - (K + h) N(d2)]
for a (shifted, shift h) Black vol; receivers with w = -1 (see the formulas). Annuity A = sum_i tau_i P(0,T_i) and
F = float-leg PV / A from the t0 curve(s). Schedules are in model time: fixed payments at
T0 + i/f (f = fixed_frequency per year) with tau_i = 1/f exactly, i.e. no calendars, day counts or spot lag;
these calibration instruments only have to pin down the vol term structure, and using the same year
fractions in the market formula and the model makes the fit exact. ATM strike = F unless a strike is given.
Times in years; vols and strikes as decimals.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jax
import numpy as np
from scipy.optimize import brentq

from exposure.errors import CalibrationError, ConfigError
from exposure.market.vols import bachelier_price_np, black_price_np
from exposure.market.curves import DiscountCurve
from exposure.models.hull_white import HullWhiteParams
from exposure.models.hw_options import pad_cashflows, swap_coupon_bond, swaption_price_t0_np

_VOL_TYPES = ("normal", "lognormal")


@dataclass(frozen=True)
class SwaptionQuote:
    """One European swaption quote: expiry T0 and tenor in years, vol as a decimal of ``vol_type``."""

    expiry: float
    tenor: float
    vol: float
    vol_type: str = "normal"
    shift: float = 0.0  # lognormal shift h (Black on F + h, K + h); ignored for normal vols
    strike: float | None = None  # None: ATM = forward swap rate
    fixed_frequency: int = 1  # fixed-leg payments per year (1 annual, 2 semiannual)
    is_payer: bool = True
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or f"{self.expiry:g}Yx{self.tenor:g}Y"


@dataclass(frozen=True)
class CalibrationRow:
    """One swaption of the report; prices per unit notional, errors = model - market."""

    instrument: str
    expiry: float
    tenor: float
    strike: float
    market_vol: float
    market_price: float
    model_price: float
    abs_error: float
    rel_error: float
    model_vol: float  # the model price converted back to a vol of the quote's type
    sigma: float  # the HW vol piece [previous expiry, this expiry) this swaption fixed


@dataclass(frozen=True)
class CalibrationReport:
    """Per-instrument fit; ``to_frame()`` gives a pandas DataFrame with one row per swaption."""

    rows: tuple[CalibrationRow, ...]
    mean_reversion: float

    @property
    def max_abs_error(self) -> float:
        return max(abs(r.abs_error) for r in self.rows)

    @property
    def max_rel_error(self) -> float:
        return max(abs(r.rel_error) for r in self.rows)

    def to_frame(self):
        import pandas as pd  # lazy: pandas is only needed by callers who want the table

        return pd.DataFrame([dataclasses.asdict(r) for r in self.rows])


def coterminal_strip(final_maturity: float, vols, expiries=None, **quote_fields) -> list[SwaptionQuote]:
    """Expiries 1..N-1 (or ``expiries``) into ``final_maturity``; other SwaptionQuote fields by keyword."""
    exps = np.arange(1.0, float(final_maturity)) if expiries is None else np.asarray(expiries, dtype=float)
    vols = np.asarray(vols, dtype=float)
    if vols.ndim and vols.shape != exps.shape:
        raise ConfigError("calibration.swaptions", f"{vols.size} vols for co-terminal expiries {exps.tolist()}")
    vols = np.broadcast_to(vols, exps.shape)
    end = float(final_maturity)
    return [SwaptionQuote(float(e), end - float(e), float(v), **quote_fields) for e, v in zip(exps, vols)]


def diagonal_strip(expiries, tenors, vols, **quote_fields) -> list[SwaptionQuote]:
    """Given (expiry, tenor) pairs; other SwaptionQuote fields by keyword."""
    e, t, v = np.broadcast_arrays(*(np.asarray(z, dtype=float) for z in (expiries, tenors, vols)))
    return [SwaptionQuote(float(a), float(b), float(c), **quote_fields) for a, b, c in zip(e, t, v)]


def _market_formula(q: SwaptionQuote, forward, strike, vol, annuity):
    """The quote's market price: Bachelier A [w (F-K) N(w d) + s n(d)] for normal vols, else shifted Black
    A w [(F+h) N(w d1) - (K+h) N(w d2)], s = vol sqrt(T), w = +1 payer / -1 receiver."""
    var = vol * vol * q.expiry
    if q.vol_type == "normal":
        return float(bachelier_price_np(forward, strike, var, annuity, q.is_payer))
    return float(black_price_np(forward + q.shift, strike + q.shift, var, annuity, q.is_payer))


def implied_vol(q: SwaptionQuote, price, forward, strike, annuity) -> float:
    """Vol of the quote's type that reproduces ``price``; NaN when the price is below intrinsic."""
    lo_price = _market_formula(q, forward, strike, 0.0, annuity)
    if price < lo_price:
        return float("nan")
    hi = 0.05 if q.vol_type == "normal" else 1.0
    while _market_formula(q, forward, strike, hi, annuity) < price:
        hi *= 2.0
        if hi > 1e3:
            return float("nan")
    return brentq(lambda s: _market_formula(q, forward, strike, s, annuity) - price, 0.0, hi, xtol=1e-18, rtol=1e-15)


def _check_quote(i: int, q: SwaptionQuote) -> None:
    key = f"calibration.swaptions[{i}] ({q.label})"
    if q.vol_type not in _VOL_TYPES:
        raise ConfigError(key, f"vol_type must be one of {_VOL_TYPES} (got {q.vol_type!r})")
    if not (np.isfinite(q.expiry) and q.expiry > 0.0 and np.isfinite(q.tenor) and q.tenor > 0.0):
        raise ConfigError(key, f"expiry and tenor must be > 0 (got {q.expiry}, {q.tenor})")
    n = q.tenor * q.fixed_frequency
    if q.fixed_frequency < 1 or abs(n - round(n)) > 1e-9:
        raise ConfigError(key, f"tenor {q.tenor} is not a whole number of {q.fixed_frequency}/year fixed periods")
    if not (np.isfinite(q.vol) and q.vol > 0.0):
        raise ConfigError(key, f"vol must be finite and > 0 (got {q.vol})")


def _discounts(curve: DiscountCurve, times):
    """P(0,t) lookup at the given ``times`` (NumPy: set-up code compiles nothing)."""
    uniq = np.unique(times)
    vals = np.exp(curve.log_discount_np(uniq))
    return lambda t: vals[np.searchsorted(uniq, t)]


def _instrument(q: SwaptionQuote, disc, fwd_disc, float_frequency):
    """Forward, annuity, strike and the Jamshidian coupon bond (times, amounts, target) of one swaption.

    disc / fwd_disc: P(0,t) lookups of the discount / forecasting curve; float_frequency None: single curve.
    """
    pay, tau, grid = _schedule(q, float_frequency)
    annuity = float(np.sum(tau * disc(pay)))
    if grid is None:
        float_pv = float(disc(q.expiry) - disc(pay[-1]))
        starts = ends = basis = None
    else:
        starts, ends = grid[:-1], grid[1:]
        basis = fwd_disc(starts) / fwd_disc(ends) * disc(ends) / disc(starts)  # = basis_factor(...)
        # Float coupon j is worth b_j P(0,s_j) - P(0,e_j) today (deterministic basis, see swap_coupon_bond).
        float_pv = float(np.sum(basis * disc(starts) - disc(ends)))
    forward = float_pv / annuity
    strike = forward if q.strike is None else float(q.strike)
    times, amounts, target = swap_coupon_bond(q.expiry, pay, tau, strike, starts, ends, basis)
    return forward, annuity, strike, times, amounts, target


def _schedule(q: SwaptionQuote, float_frequency):
    """Fixed pay times T0 + i/f with tau = 1/f, and the float reset grid T0 + j/ff (None: single curve)."""
    n = int(round(q.tenor * q.fixed_frequency))
    pay = q.expiry + np.arange(1, n + 1) / q.fixed_frequency
    tau = np.full(n, 1.0 / q.fixed_frequency)
    if float_frequency is None:
        return pay, tau, None
    m = int(round(q.tenor * float_frequency))
    return pay, tau, q.expiry + np.arange(m + 1) / float_frequency


def _prepare(quotes, curve, forward_curve, float_frequency):
    """Per swaption: (forward, annuity, strike, times, amounts, target) and the market price."""
    # Float resets per year of each swaption; None on a single curve (float leg = P(0,T0) - P(0,T_n)).
    ffs = [None if forward_curve is None else (float_frequency or q.fixed_frequency) for q in quotes]
    sched = [_schedule(q, ff) for q, ff in zip(quotes, ffs)]
    all_t = np.concatenate([np.r_[q.expiry, s[0], [] if s[2] is None else s[2]] for q, s in zip(quotes, sched)])
    disc = _discounts(curve, all_t)
    fwd_disc = None if forward_curve is None else _discounts(forward_curve, all_t)
    inst = [_instrument(q, disc, fwd_disc, ff) for q, ff in zip(quotes, ffs)]
    market = []
    for q, (fwd, ann, k, *_rest) in zip(quotes, inst):
        if q.vol_type == "lognormal" and (fwd + q.shift <= 0.0 or k + q.shift <= 0.0):
            raise ConfigError(
                f"calibration.swaptions ({q.label})",
                f"lognormal vol needs F + shift > 0 and K + shift > 0 (F = {fwd:.6g}, K = {k:.6g})",
            )
        market.append(_market_formula(q, fwd, k, q.vol, ann))
    return inst, market


def _bootstrap_piece(q: SwaptionQuote, market: float, model_price, piece_start: float, max_vol: float) -> float:
    """Root sigma_k of model_price(sigma_k) = market on [0, max_vol]; the price is increasing in sigma_k."""
    lo = model_price(0.0) - market
    if lo > 0.0:
        raise CalibrationError(
            f"swaption {q.label}: market price {market:.10g} (vol {q.vol:g} {q.vol_type}) is below the model "
            f"price {market + lo:.10g} with zero HW vol on [{piece_start:g}, {q.expiry:g}) given the earlier "
            "expiries' vols: no sigma reprices it"
        )
    if lo == 0.0:
        return 0.0
    hi = min(0.02, max_vol)
    while model_price(hi) < market:
        if hi >= max_vol:
            raise CalibrationError(
                f"swaption {q.label}: market price {market:.10g} needs an HW vol above max_vol={max_vol:g}"
            )
        hi = min(2.0 * hi, max_vol)
    # xtol far below a vol's ulp-scale so the repricing error is float64 noise, not solver tolerance.
    return brentq(lambda s: model_price(s) - market, 0.0, hi, xtol=1e-18, rtol=1e-15)


def calibrate_hull_white(
    curve: DiscountCurve,
    quotes,
    mean_reversion: float,
    forward_curve: DiscountCurve | None = None,
    float_frequency: int | None = None,
    max_vol: float = 1.0,
    check_tol: float = 1e-8,
) -> tuple[HullWhiteParams, CalibrationReport]:
    """Bootstrap sigma_k (breakpoints = the sorted expiries) so every swaption reprices exactly.

    curve: discounting (and, alone, forecasting) curve. forward_curve: optional forecasting curve; the float
    leg then resets every 1/float_frequency years (default: the fixed frequency) with a deterministic basis.
    max_vol bounds the HW vol search (absolute, 1.0 = 10000bp). Raises CalibrationError naming the swaption
    whose quote no sigma_k in [0, max_vol] reaches, or if the final repricing misses by > check_tol relative.
    """
    quotes = list(quotes)
    if not quotes:
        raise ConfigError("calibration.swaptions", "no instruments to calibrate to")
    for i, q in enumerate(quotes):
        _check_quote(i, q)
    quotes.sort(key=lambda q: q.expiry)
    exps = np.array([q.expiry for q in quotes])
    dup = np.flatnonzero(np.diff(exps) <= 1e-10)
    if dup.size:
        i = int(dup[0])
        raise ConfigError(
            "calibration.swaptions",
            f"{quotes[i].label} and {quotes[i + 1].label} share expiry {exps[i]:g}: a piecewise vol with breakpoints "
            "at the expiries can fit only one swaption per expiry",
        )
    m = len(quotes)
    base = HullWhiteParams.create(mean_reversion, np.full(m, 0.01), exps[:-1], where="calibration")
    inst, market = _prepare(quotes, curve, forward_curve, float_frequency)
    times, amounts = pad_cashflows([(it[3], it[4]) for it in inst])
    target = np.array([it[5] for it in inst])
    payer = np.array([q.is_payer for q in quotes])
    vol_times = np.asarray(base.vol_times, dtype=np.float64)

    def model_price(k, vols):
        p = HullWhiteParams(float(mean_reversion), vol_times, np.asarray(vols, dtype=np.float64))
        return float(swaption_price_t0_np(p, curve, exps[k:k + 1], times[k:k + 1], amounts[k:k + 1],
                                          payer[k:k + 1], target[k])[0])

    sig = np.zeros(len(quotes))
    for k, q in enumerate(quotes):
        # Pieces after k do not touch swaption k (it only sees Var x(T_k)), so they can stay 0 meanwhile.
        price_k = lambda s, k=k: model_price(k, np.r_[sig[:k], s, sig[k + 1 :]])  # noqa: E731
        sig[k] = _bootstrap_piece(q, market[k], price_k, exps[k - 1] if k else 0.0, max_vol)
    params = base.with_vols(jax.device_put(sig))
    model = [model_price(k, sig) for k in range(len(quotes))]
    rows = []
    for k, q in enumerate(quotes):
        fwd, ann, strike = inst[k][:3]
        err = float(model[k] - market[k])
        rows.append(
            CalibrationRow(
                q.label, q.expiry, q.tenor, strike, q.vol, market[k], float(model[k]), err, err / market[k],
                implied_vol(q, float(model[k]), fwd, strike, ann), float(sig[k]),
            )
        )
    report = CalibrationReport(tuple(rows), float(mean_reversion))
    worst = max(rows, key=lambda r: abs(r.rel_error))
    if abs(worst.rel_error) > check_tol:
        raise CalibrationError(
            f"swaption {worst.instrument}: reprices with relative error {worst.rel_error:.3g} > {check_tol:g}"
        )
    return params, report
