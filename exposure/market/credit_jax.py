"""The CDS bootstrap's derivatives by the implicit-function theorem, its residual written in jnp.

    R_k(h, q, R, y) = Prot_k(h, R, y) / Annuity_k(h, y) - q_k = 0,   k = 1..n          (par spreads, decimal)
    dh/dtheta = -(dR/dh)^-1 dR/dtheta,   theta in {q (n,), R, y (m,)}

h (n,): the piecewise-flat hazards per year on the CDS pillars (``credit.CreditCurve``); q (n,): the par
spreads (decimal); R: the recovery; y (m,): ln P(0, t_i) of the discount curve the bootstrap prices with
(``DiscountCurve.log_dfs``). Prot and Annuity are the legs of ``cds.bootstrap_cds`` (QuantLib's
MidPointCdsEngine, module docstring of ``cds``), here vectorised over the n CDS (their premium periods padded
to one length with empty periods, ``cds_contract(n_periods=)``); one compiled program per CdsBootstrap serves
every name quoted on the same tenors. Cumulative hazards and log discount factors at the legs' dates are linear
maps of h and y (``cum_hazard_matrix``, ``log_discount_matrix``, NumPy, static), so the traced program is a few
products and exponentials. The NumPy bootstrap gives the values (brentq, |R| < 1e-12);
this module gives their Jacobians at that solution. dR/dh is lower triangular (CDS k sees hazards 1..k only)
with a non-zero diagonal wherever the bootstrap has a root.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

import jax
import jax.numpy as jnp
import numpy as np

from exposure.market.cds import cds_contract

_FIELDS = ("pay_time", "accrual", "prot_start", "prot_end", "default_time", "accrued_at_default")


@dataclasses.dataclass(frozen=True)
class CdsBootstrap:
    """The static part of one name's bootstrap: the n CDS as padded period arrays (n, P) (``_FIELDS``), their
    rebates and rebate times (n,), the pillar times (n,) (= the CreditCurve's times, years) and the discount
    curve's pillar times (m,). Contracts as ``snapshot.build_credit`` makes them (``cds_contract`` defaults,
    engine "midpoint")."""

    periods: dict
    rebate: np.ndarray
    rebate_time: np.ndarray
    times: np.ndarray
    disc_times: np.ndarray

    @staticmethod
    def build(asof: dt.date, tenors, disc_times, **contract_kw) -> "CdsBootstrap":
        plain = [cds_contract(asof, x, **contract_kw) for x in tenors]
        n_p = max(c.pay_time.shape[0] for c in plain)
        cs = [cds_contract(asof, x, n_periods=n_p, **contract_kw) for x in tenors]
        return CdsBootstrap({f: np.stack([np.asarray(getattr(c, f), np.float64) for c in cs]) for f in _FIELDS},
                            np.array([float(c.rebate) for c in cs]), np.array([float(c.rebate_time) for c in cs]),
                            np.array([c.pillar_time for c in cs]), np.asarray(disc_times, np.float64))

    @functools.cached_property
    def _programs(self):
        return _jitted(self)

    def arrays(self) -> tuple:
        return (self.periods, self.rebate, self.rebate_time, self.times, self.disc_times)

    def par_spreads(self, hazards, recovery, log_dfs):
        """s*_k = Prot_k / Annuity_k (n,), decimal, in jnp."""
        return self._programs[0](jnp.asarray(hazards), jnp.asarray(recovery), jnp.asarray(log_dfs))

    def jacobians(self, hazards, spreads, recovery, log_dfs, run=None) -> dict:
        """{h: dR/dh (n, n), q: dR/dq (n, n), R: dR/dR (n,), y: dR/dy (n, m)} at the given point; run(jitted,
        args) calls the compiled Jacobians (default: jitted(*args); a caller may run a stored executable)."""
        args = (jnp.asarray(hazards), jnp.asarray(spreads), jnp.asarray(recovery), jnp.asarray(log_dfs))
        jh, jq, jr, jy = self._programs[1](*args) if run is None else run(self._programs[1], args)
        return {"h": np.asarray(jh), "q": np.asarray(jq), "R": np.asarray(jr), "y": np.asarray(jy)}

    def hazard_derivatives(self, hazards, spreads, recovery, log_dfs, run=None) -> dict:
        """{q: dh/dq (n, n), R: dh/dR (n,), y: dh/dy (n, m)} by the implicit-function theorem at the solved
        hazards (module docstring); run: as ``jacobians``."""
        j = self.jacobians(hazards, spreads, recovery, log_dfs, run)
        inv = np.linalg.solve(j["h"], np.concatenate([j["q"], j["R"][:, None], j["y"]], axis=1))
        n = j["q"].shape[1]
        return {"q": -inv[:, :n], "R": -inv[:, n], "y": -inv[:, n + 1:]}


def cum_hazard_matrix(times, t) -> np.ndarray:
    """M (len(t), n) with H(t) = M h for piecewise-flat hazards h on (times[i-1], times[i]], the last one
    extrapolated flat, H = 0 for t <= 0 (``credit._cum_hazard`` as a linear map of h)."""
    times = np.asarray(times, np.float64)
    t = np.maximum(np.asarray(t, np.float64).reshape(-1), 0.0)
    starts = np.concatenate([[0.0], times[:-1]])
    i = np.clip(np.searchsorted(times, t, side="left"), 0, times.size - 1)
    cols = np.arange(times.size)
    return np.where(cols[None, :] < i[:, None], (times - starts)[None, :],
                    np.where(cols[None, :] == i[:, None], (t - starts[i])[:, None], 0.0))


def log_discount_matrix(times, t) -> np.ndarray:
    """L (len(t), m) with ln P(0, t) = L y for the log-linear curve through (0, 0) and (times_i, y_i) with flat
    forwards outside (``curves.DiscountCurve.log_discount`` as a linear map of y)."""
    knots = np.concatenate([[0.0], np.asarray(times, np.float64)])
    t = np.asarray(t, np.float64).reshape(-1)
    j = np.clip(np.searchsorted(knots, t, side="right") - 1, 0, knots.size - 2)  # segment [k_j, k_j+1]
    u = (t - knots[j]) / (knots[j + 1] - knots[j])  # beyond either end: the end segment extended
    out = np.zeros((t.size, knots.size))
    np.add.at(out, (np.arange(t.size), j), 1.0 - u)
    np.add.at(out, (np.arange(t.size), j + 1), u)
    return out[:, 1:]


def _par_spreads(hazards, recovery, log_dfs, periods, rebate, rebate_time, times, disc_times):
    p = periods

    def ln_p(t):
        return (log_discount_matrix(disc_times, t) @ log_dfs).reshape(np.shape(t))

    def cum(t):
        return (cum_hazard_matrix(times, t) @ hazards).reshape(np.shape(t))

    annuity = (jnp.sum(jnp.exp(ln_p(p["pay_time"]) - cum(p["pay_time"])) * p["accrual"], axis=1)
               - rebate * jnp.exp(ln_p(rebate_time)))
    p_def = jnp.exp(-cum(p["prot_start"])) - jnp.exp(-cum(p["prot_end"]))
    d_def = jnp.exp(ln_p(p["default_time"]))
    prot = (1.0 - recovery) * jnp.sum(p_def * d_def, axis=1)
    return prot / (annuity + jnp.sum(p_def * p["accrued_at_default"] * d_def, axis=1))


def _jitted(boot: "CdsBootstrap"):
    """(par spreads (h, R, y), residual Jacobians (h, q, R, y)) compiled once per bootstrap."""
    a = boot.arrays()

    def par(h, r, y):
        return _par_spreads(h, r, y, *a)

    def residual(h, q, r, y):
        return par(h, r, y) - q

    # n outputs against 2n + 1 + m inputs: reverse mode takes n passes where forward mode takes 2n + 1 + m
    return jax.jit(par), jax.jit(jax.jacrev(residual, argnums=(0, 1, 2, 3)))
