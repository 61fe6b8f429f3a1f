"""Stochastic default intensity of a credit name: a Gaussian (Hull-White / LGM) intensity, ORE's CrLgm.

    lambda(t) = phi(t) + z(t),   dz = -a z dt + sigma(t) dW_lambda,   z(0) = 0,   dZ = z dt,   Z(0) = 0,
    S(t) = exp(-int_0^t lambda) = exp(-Phi(t) - Z(t))                 survival on a path (no default up to t)
    Phi(t) = int_0^t phi = -ln S_mkt(0, t) + V(0, t) / 2,   V(0, t) = Var Z(t) = int_0^t sigma(u)^2 B(u, t)^2 du

so E[S(t)] = exp(-Phi(t) + V(0, t) / 2) = S_mkt(0, t): the market survival curve (``CreditCurve``) is
reproduced exactly for any (a, sigma), as Hull-White fits the discount curve. (z, Z) are linear-Gaussian, so
they join the cross-asset model's state vector and its exact Van Loan transitions (``cross_asset``), with
dW_lambda correlated to the rate, FX and equity factors by the model's correlation matrix (factor
``CR:<name>``). The dynamics are taken under the base-currency risk-neutral measure (bank-account numeraire):
z has no drift adjustment, so correlation moves the joint law of survival and exposure but never E[S(t)].

Units: a per year (> 0), sigma(t) the absolute intensity vol per sqrt(year) (0.01 = 100bp), piecewise
constant like the Hull-White rate vols; t in years.

Limit of the Gaussian choice (ORE documents the same for CrLgm): lambda(t) ~ N(phi(t), Var z(t)) can be
negative, with probability Phi_N(-phi(t) / sd z(t)) (``negative_intensity_probability``, reported per name
by ``report``); a path survival S(t) can then exceed 1 locally and a per-interval default increment be
negative. Expected values stay exact (E[S] = S_mkt); the probability is small when sigma << hazard *
sqrt(2a). CIR++ keeps lambda >= 0 but has no exact linear-Gaussian transition, so it would need its own
scheme outside the joint Gaussian step: the Gaussian model is chosen for exactness and for the closed-form
joint moments with the rate factors (used by the tests).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import ndtr  # the normal cdf (scipy.stats costs 0.5 s of import per run)

from exposure.models.hull_white import HullWhiteParams, integrated_variance, state_variance


@dataclasses.dataclass(frozen=True)
class CreditIntensity:
    """One name's intensity model: ``hw`` holds a and the piecewise sigma; ``curve`` is the market
    ``CreditCurve`` the shift is fitted to."""

    name: str
    hw: HullWhiteParams
    curve: object  # exposure.market.credit.CreditCurve

    @property
    def mean_reversion(self) -> float:
        return float(self.hw.mean_reversion)

    def integrated_shift(self, t) -> np.ndarray:
        """Phi(t) = -ln S_mkt(0, t) + V(0, t) / 2, float64, shape of t."""
        t = np.asarray(t, dtype=np.float64)
        return -np.log(self.curve.survival_np(t)) + 0.5 * integrated_variance(self.hw, np.zeros_like(t), t, xp=np)

    def survival(self, t, Z) -> np.ndarray:
        """S(t) = exp(-Phi(t) - Z) on paths: t (K,), Z (K, ...) the integrated state at those times."""
        Z = np.asarray(Z, dtype=np.float64)
        phi = self.integrated_shift(t).reshape((-1,) + (1,) * (Z.ndim - 1))
        return np.exp(-phi - Z)

    def shift(self, t) -> np.ndarray:
        """phi(t) = h_mkt(t) + (1/2) dV(0, t)/dt, dV/dt = 2 int_0^t sigma^2 B(u, t) e^{-a (t-u)} du
        (central difference of the exact V: for reports only)."""
        t = np.asarray(t, dtype=np.float64)
        eps = 1e-5
        lo, hi = np.maximum(t - eps, 0.0), t + eps
        z = np.zeros_like(t)
        dv = (integrated_variance(self.hw, z, hi, xp=np) - integrated_variance(self.hw, z, lo, xp=np)) / (hi - lo)
        return np.asarray(self.curve.hazard(t), dtype=np.float64) + 0.5 * dv

    def negative_intensity_probability(self, t) -> np.ndarray:
        """P(lambda(t) < 0) = Phi_N(-phi(t) / sd z(t)) (0 where sd z(t) = 0)."""
        t = np.asarray(t, dtype=np.float64)
        sd = np.sqrt(state_variance(self.hw, np.zeros_like(t), t, xp=np))
        phi = self.shift(t)
        return np.where(sd > 0, ndtr(-phi / np.where(sd > 0, sd, 1.0)), (phi < 0).astype(float))

    def report(self, times) -> "IntensityReport":
        t = np.asarray(times, dtype=np.float64)
        t = t[t > 0]
        sd = np.sqrt(state_variance(self.hw, np.zeros_like(t), t, xp=np))
        rows = [{"name": self.name, "time": float(u), "market_survival": float(s), "market_hazard": float(h),
                 "shift_phi": float(p), "sd_z": float(v), "prob_negative_intensity": float(q)}
                for u, s, h, p, v, q in zip(t, self.curve.survival_np(t), np.asarray(self.curve.hazard(t)),
                                            self.shift(t), sd, self.negative_intensity_probability(t))]
        return IntensityReport(self.name, self.mean_reversion, tuple(rows))


@dataclasses.dataclass(frozen=True)
class IntensityReport:
    """Per date: market survival and hazard, the fitted shift phi(t), sd of z(t), P(lambda(t) < 0)."""

    name: str
    mean_reversion: float
    rows: tuple

    @property
    def max_negative_probability(self) -> float:
        return max((r["prob_negative_intensity"] for r in self.rows), default=0.0)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(list(self.rows))


def credit_intensity(name: str, curve, mean_reversion: float, volatility, volatility_times=(),
                     where: str = "model.credit") -> CreditIntensity:
    """Validated CreditIntensity (ConfigError naming ``where`` for bad a / sigma / breakpoints)."""
    return CreditIntensity(name, HullWhiteParams.create(mean_reversion, volatility, volatility_times, where=where),
                           curve)
