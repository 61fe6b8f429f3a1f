"""The CDS bootstrap's derivatives by the implicit-function theorem, its residual written in jnp.

    R_k(h, q, R, y) = Prot_k(h, R, y) / Annuity_k(h, y) - q_k = 0,   k = 1..n          (par spreads, decimal)
    dh/dtheta = -(dR/dh)^-1 dR/dtheta,   theta in {q (n,), R, y (m,)}

h (n,): the piecewise-flat hazards per year on the CDS pillars (``credit.CreditCurve``); q (n,): the par
spreads (decimal); R: the recovery; y (m,): ln P(0, t_i) of the discount curve the bootstrap prices with
(``DiscountCurve.log_dfs``). Prot and Annuity are the legs of ``credit.bootstrap_cds`` (QuantLib's
MidPointCdsEngine, module docstring of ``credit``), here vectorised over the n CDS (their premium periods padded
to one length with empty periods, ``cds_contract(n_periods=)``), so one compiled program serves every name with
the same number of pillars, periods and curve knots. The NumPy bootstrap gives the values (brentq, |R| < 1e-12);
this module gives their Jacobians at that solution. dR/dh is lower triangular (CDS k sees hazards 1..k only)
with a non-zero diagonal wherever the bootstrap has a root.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import jax
import jax.numpy as jnp
import numpy as np

from exposure.market.credit import _cum_hazard, cds_contract
from exposure.market.curves import _log_discount

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

    def arrays(self) -> tuple:
        return (self.periods, self.rebate, self.rebate_time, self.times, self.disc_times)

    def par_spreads(self, hazards, recovery, log_dfs):
        """s*_k = Prot_k / Annuity_k (n,), decimal, in jnp."""
        return _par_spreads_jit(jnp.asarray(hazards), jnp.asarray(recovery), jnp.asarray(log_dfs), *self.arrays())

    def jacobians(self, hazards, spreads, recovery, log_dfs) -> dict:
        """{h: dR/dh (n, n), q: dR/dq (n, n), R: dR/dR (n,), y: dR/dy (n, m)} at the given point."""
        jh, jq, jr, jy = _residual_jacobians(jnp.asarray(hazards), jnp.asarray(spreads), jnp.asarray(recovery),
                                             jnp.asarray(log_dfs), *self.arrays())
        return {"h": np.asarray(jh), "q": np.asarray(jq), "R": np.asarray(jr), "y": np.asarray(jy)}

    def hazard_derivatives(self, hazards, spreads, recovery, log_dfs) -> dict:
        """{q: dh/dq (n, n), R: dh/dR (n,), y: dh/dy (n, m)} by the implicit-function theorem at the solved
        hazards (module docstring)."""
        j = self.jacobians(hazards, spreads, recovery, log_dfs)
        inv = np.linalg.solve(j["h"], np.concatenate([j["q"], j["R"][:, None], j["y"]], axis=1))
        n = j["q"].shape[1]
        return {"q": -inv[:, :n], "R": -inv[:, n], "y": -inv[:, n + 1:]}


def _par_spreads(hazards, recovery, log_dfs, periods, rebate, rebate_time, times, disc_times):
    times, disc_times = jnp.asarray(times), jnp.asarray(disc_times)

    def ln_p(t):
        return _log_discount(disc_times, log_dfs, jnp.asarray(t, jnp.float64))

    def cum(t):
        return _cum_hazard(jnp, times, hazards, jnp.asarray(t, jnp.float64))

    p = periods
    annuity = (jnp.sum(jnp.exp(ln_p(p["pay_time"]) - cum(p["pay_time"])) * p["accrual"], axis=1)
               - rebate * jnp.exp(ln_p(rebate_time)))
    p_def = jnp.exp(-cum(p["prot_start"])) - jnp.exp(-cum(p["prot_end"]))
    d_def = jnp.exp(ln_p(p["default_time"]))
    prot = (1.0 - recovery) * jnp.sum(p_def * d_def, axis=1)
    return prot / (annuity + jnp.sum(p_def * p["accrued_at_default"] * d_def, axis=1))


_par_spreads_jit = jax.jit(_par_spreads)


@jax.jit
def _residual_jacobians(hazards, spreads, recovery, log_dfs, periods, rebate, rebate_time, times, disc_times):
    def residual(h, q, r, y):
        return _par_spreads(h, r, y, periods, rebate, rebate_time, times, disc_times) - q

    return jax.jacfwd(residual, argnums=(0, 1, 2, 3))(hazards, spreads, recovery, log_dfs)
