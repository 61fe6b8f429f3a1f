"""CDS options under the Gaussian intensity (``credit_intensity``) and the calibration of its vol to them.

A payer CDS option (expiry T_e, knock-out: worthless if the name defaults before T_e) gives the right to buy
protection at the running spread K on premium dates T_e = t_0 < t_1 < ... < t_n (quarterly, tau_i = t_i -
t_{i-1}, no accrual on default, protection paid at the period end, recovery R). With deterministic rates
P(0, t) (the correlation with rates is left out of the calibration, as ORE's CrLgm calibration does):

    V(z) = (1-R) sum_i P(T_e, t_i) [S_{i-1}(z) - S_i(z)] - K sum_i tau_i P(T_e, t_i) S_i(z)    value on survival
    S_i(z) = S(T_e, t_i | z(T_e)) = A_i e^{-B_i z},  B_i = (1 - e^{-a (t_i - T_e)}) / a,
    ln A_i = ln S_mkt(t_i)/S_mkt(T_e) + [V(T_e, t_i) - V(0, t_i) + V(0, T_e)] / 2     (Hull-White bond form)
    price  = E[e^{-int_0^{T_e} (r + lambda)} V(z)^+] = P(0, T_e) S_mkt(T_e) E'[V(z)^+],
             z ~ N(-Cov(Z(T_e), z(T_e)), Var z(T_e)) under E' (the weight e^{-Z} shifts the mean)

V is increasing in z (every S_i decreases, every coefficient on S_i is negative), so Jamshidian's decomposition
V^+ = sum_i (-c_i) (S_i(z*) - S_i(z))^+ with V(z*) = 0 turns the price into lognormal puts in closed form.

Market quotes: Black vols of the forward CDS spread, priced ATM (K = F = Prot / Ann):
    Black payer = Ann [F N(d1) - K N(d2)],  Ann = sum_i tau_i P(0, t_i) S_mkt(t_i),
    Prot = (1-R) sum_i P(0, t_i) (S_mkt(t_{i-1}) - S_mkt(t_i)).
The intensity vol is bootstrapped piecewise constant with breakpoints at the option expiries (the option
expiring at T_k fixes sigma on [T_{k-1}, T_k)).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import integrate
from scipy.optimize import brentq
from scipy.special import ndtr  # the normal cdf (scipy.stats costs 0.5 s of import per run)

from exposure.errors import ConfigError
from exposure.models.hull_white import HullWhiteParams, hw_B, state_variance, zero_bond

PREMIUM_STEP = 0.25  # years between premium dates


@dataclasses.dataclass(frozen=True)
class _SurvivalCurve:
    """A credit curve seen as a discount curve (ln S for ln P) for the Hull-White bond formula."""

    curve: object

    def log_discount_np(self, t):
        return np.log(self.curve.survival_np(np.asarray(t, dtype=np.float64)))


def premium_times(expiry: float, term: float) -> np.ndarray:
    """t_0 = expiry, ..., t_n = expiry + term, quarterly (a short last period)."""
    n = max(1, int(np.ceil(term / PREMIUM_STEP - 1e-9)))
    return expiry + np.minimum(PREMIUM_STEP * np.arange(n + 1), term)


def forward_legs(curve, log_discount, t: np.ndarray, recovery: float):
    """(Prot, Ann) of the forward CDS at 0 (knock-out), premium times t (n+1,)."""
    df = np.exp(log_discount(t))
    s = curve.survival_np(t)
    return (1.0 - recovery) * np.sum(df[1:] * (s[:-1] - s[1:])), np.sum(np.diff(t) * df[1:] * s[1:])


def black_payer(curve, log_discount, expiry: float, term: float, vol: float, recovery: float) -> float:
    """ATM Black payer price Ann [F N(d1) - F N(d2)] (per unit notional)."""
    prot, ann = forward_legs(curve, log_discount, premium_times(expiry, term), recovery)
    sd = vol * np.sqrt(expiry)
    return float(ann * (prot / ann) * (ndtr(0.5 * sd) - ndtr(-0.5 * sd)))


def _cov_Z_z(hw: HullWhiteParams, T: float) -> float:
    """Cov(Z(T), z(T)) = int_0^T sigma(u)^2 B(u, T) e^{-a (T-u)} du (piecewise quadrature)."""
    a = float(hw.mean_reversion)
    vt, vv = np.asarray(hw.vol_times), np.asarray(hw.vol_values)
    knots = np.concatenate([[0.0], vt[vt < T], [T]])
    return sum(vv[min(k, vv.size - 1)] ** 2 * integrate.quad(
        lambda u: (1.0 - np.exp(-a * (T - u))) / a * np.exp(-a * (T - u)), lo, hi)[0]
        for k, (lo, hi) in enumerate(zip(knots[:-1], knots[1:])))


def model_payer(hw: HullWhiteParams, curve, log_discount, expiry: float, term: float, strike: float,
                recovery: float) -> float:
    """Payer CDS option price in the Gaussian intensity model (module docstring), per unit notional."""
    t = premium_times(expiry, term)
    a = float(hw.mean_reversion)
    sc = _SurvivalCurve(curve)
    pe = np.exp(log_discount(t) - log_discount(np.array(expiry)))  # P(T_e, t_i), deterministic rates
    A = zero_bond(hw, sc, expiry, t[1:], 0.0, xp=np)  # S_i(0)
    B = hw_B(a, expiry, t[1:], xp=np)
    c = -(1.0 - recovery) * pe[1:] - strike * np.diff(t) * pe[1:]
    c[:-1] += (1.0 - recovery) * pe[2:]

    def value(z):
        return (1.0 - recovery) * pe[1] + np.sum(c * A * np.exp(-B * z))

    v = float(state_variance(hw, 0.0, expiry, xp=np))
    if v <= 0.0:
        return float(np.exp(log_discount(np.array(expiry))) * curve.survival_np(expiry) * max(value(0.0), 0.0))
    lo, hi = -50.0, 50.0
    if value(lo) >= 0.0:  # exercised on every path
        z_star = lo
    elif value(hi) <= 0.0:
        return 0.0
    else:
        z_star = brentq(value, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=300)
    m, sd = -_cov_Z_z(hw, expiry), np.sqrt(v)
    K = A * np.exp(-B * z_star)
    F = A * np.exp(-B * m + 0.5 * B * B * v)
    s = B * sd
    d1 = (np.log(F / K) + 0.5 * s * s) / s
    puts = K * ndtr(-(d1 - s)) - F * ndtr(-d1)
    return float(np.exp(log_discount(np.array(expiry))) * curve.survival_np(expiry) * np.sum(-c * puts))


def calibrate_vols(curve, log_discount, mean_reversion: float, expiries, terms, vols, recovery: float,
                   where: str):
    """(HullWhiteParams with sigma bootstrapped per expiry, report rows) so that every ATM option's model price
    equals its Black price; ConfigError naming ``where`` when a quote cannot be matched."""
    T = np.asarray(expiries, dtype=np.float64)
    if np.any(np.diff(T) <= 0) or T[0] <= 0:
        raise ConfigError(f"{where}.option_expiries", "must be after the as-of date and increasing")
    sig, rows = [], []
    for k, (te, term, vol) in enumerate(zip(T, terms, vols)):
        prot, ann = forward_legs(curve, log_discount, premium_times(te, term), recovery)
        target = black_payer(curve, log_discount, te, term, vol, recovery)

        def gap(s, k=k, te=te, term=term):
            hw = HullWhiteParams.create(mean_reversion, sig + [s], T[:k], where=where)
            return model_payer(hw, curve, log_discount, te, term, prot / ann, recovery) - target

        lo, hi = 1e-8, 2.0
        if not gap(lo) < 0.0 < gap(hi):
            raise ConfigError(f"{where}.option_vols[{k}]", f"Black vol {vol} (expiry {te:.4g}Y) cannot be matched "
                                                           "by a Gaussian intensity vol in (0, 2]")
        s_k = brentq(gap, lo, hi, xtol=1e-14, rtol=1e-12, maxiter=300)
        rows.append({"expiry": float(te), "term": float(term), "market_vol": float(vol),
                     "forward_spread": float(prot / ann), "market_price": float(target),
                     "model_price": float(target + gap(s_k)), "sigma": float(s_k)})
        sig.append(s_k)
    return HullWhiteParams.create(mean_reversion, sig, T[:-1], where=where), rows
