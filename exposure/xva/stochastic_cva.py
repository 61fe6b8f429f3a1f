"""Wrong-way risk with a stochastic default intensity: CVA with survival simulated on the exposure's paths.

For a netting set whose counterparty c has a stochastic intensity in the model (``model.credit``,
``exposure.models.credit_intensity``: lambda_c = phi_c + z_c, S_c(t) = exp(-Phi_c(t) - Z_c(t)) per path),

    CVA = (1 - R_c) sum_j E[ q_j(p) y(t_j, p) ],   y = max(X, 0) / N     (X collateralised, N the numeraire)
    q_j(p) = S_c(t_{j-1}, p) - S_c(t_j, p)                              unilateral
    q_j(p) = L_c S_c S_b(t_{j-1}) (1 - e^{-(L_c + L_b)}) / (L_c + L_b)     first to default (tau_c < tau_b)
             L_c = ln S_c(t_{j-1}, p) / S_c(t_j, p), L_b = ln S_b(t_{j-1}) / S_b(t_j)  (the bank's curve stays
             deterministic): int h_c S_c S_b over the interval, exact for intensities flat inside it (the
             ``weights`` formula path by path; well defined for L_c + L_b <= 0)

with the exposure inside the interval taken as the engine's ``xva.discretisation`` says (``weights``: "ore" at
t_j, "midpoint" half at t_{j-1} and half at t_j), now path by path. The per-path weights multiply the EPE
amounts in the aggregator's streamed path functionals (``PathFunctionalSums`` terms with a per-path factor),
so the CVA, its standard error, the counterparty and total sums come out of the same chunk-invariant sums.

Streamed alongside on the same paths: ``CVA_independent`` = sum_j w_j E[y(t_j)] with the deterministic curve
(the CVA without wrong-way risk), and ``CVA_WWR_effect`` = CVA - CVA_independent with the standard error of
the difference. Since E[S_c(t)] = S_c,mkt(t), the effect is zero in expectation when the intensity is
uncorrelated with the exposure; positive correlation between intensity and exposure makes it positive.

Other netting sets (counterparty without a model intensity) keep the deterministic curve; DVA, FCA/FBA, KVA
and the trade allocation keep the deterministic curves too (README "Wrong-way risk", limits).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from exposure.errors import ConfigError
from exposure.xva.weights import survival

PATH_KEY = "cva_survival"  # name of the per-path factor in the streamed functionals


@dataclasses.dataclass(frozen=True)
class StochasticCvaWeights:
    """Per-path CVA weights from the model states at the valuation dates.

    ``__call__(states)`` with states (K, d, p) returns {PATH_KEY: (rows (r,), M (r, K, p))}: the per-path
    weights (1 - R_c) spread(q_j(p)) of the stochastic netting sets ``rows``; the others keep the functional's
    date weights (memory r K p, not n_ns K p)."""

    n_ns: int
    rows: np.ndarray  # (r,) netting-set indices with a stochastic counterparty intensity
    state_rows: np.ndarray  # (r,) row of Z_c in the model state
    shift: np.ndarray  # (r, K) Phi_c(t_k)
    lgd: np.ndarray  # (r,)
    own_log: np.ndarray | None  # (K,) ln S_b(t_k) of the bank (first to default), else None
    discretisation: str

    def survival(self, states) -> np.ndarray:
        """S_c(t_k, p) (r, K, p) from states (K, d, p)."""
        Z = np.asarray(states, dtype=np.float64)[:, self.state_rows, :]  # (K, r, p)
        return np.exp(-self.shift[:, :, None] - np.transpose(Z, (1, 0, 2)))

    def log_survival(self, states, r: int) -> np.ndarray:
        """ln S_c(t_k, p) (K, p) of stochastic row r."""
        return -self.shift[r][:, None] - np.asarray(states, dtype=np.float64)[:, self.state_rows[r], :]

    def __call__(self, states) -> dict:
        states = np.asarray(states, dtype=np.float64)
        K, _, p = states.shape
        M = np.empty((self.rows.size, K, p))
        S = self.survival(states)
        for r in range(self.rows.size):
            q = np.zeros((K, p))
            if self.own_log is None:
                q[1:] = S[r, :-1] - S[r, 1:]
            else:
                lc = self.log_survival(states, r)
                Lc = (lc[:-1] - lc[1:])
                x = Lc + (self.own_log[:-1] - self.own_log[1:])[:, None]
                small = np.abs(x) < 1e-8
                ratio = np.where(small, 1.0 - 0.5 * x, -np.expm1(-x) / np.where(small, 1.0, x))
                q[1:] = Lc * S[r, :-1] * np.exp(self.own_log[:-1])[:, None] * ratio
            M[r] = self.lgd[r] * _spread_paths(q, self.discretisation)
        return {PATH_KEY: (self.rows, M)}


def _spread_paths(q: np.ndarray, discretisation: str) -> np.ndarray:
    """``weights.spread_on_profile`` along axis 0 of (K, p) per-path interval amounts."""
    if discretisation == "ore":
        out = q.copy()
        out[0] = 0.0
        return out
    w = 0.5 * q
    w[0] = 0.0
    w[:-1] += 0.5 * q[1:]
    return w


def stochastic_cva_weights(settings, model, credit: dict, own_name: str, counterparties, times
                           ) -> StochasticCvaWeights | None:
    """The per-path weights for settings.wwr_model == "stochastic_intensity" (else None); model: the
    CrossAssetModel holding the intensities (``model.credit``); times (K,) valuation times, t_0 = 0."""
    if settings is None or settings.wwr_model != "stochastic_intensity":
        return None
    if model is None:
        raise ConfigError("xva.wwr.model", "stochastic_intensity needs the model with its simulated credit states")
    t = np.asarray(times, dtype=np.float64)
    index = {c.name: k for k, c in enumerate(getattr(model, "credit", ()))}
    missing = [n for n in settings.wwr_names if n not in index]
    if missing:
        raise ConfigError("model.credit", f"names {missing} have no intensity in the model")
    rows = [j for j, cp in enumerate(counterparties) if str(cp) in index and str(cp) in credit]
    own = credit.get(own_name) if settings.bilateral else None
    own_log = None if own is None else np.log(survival(own, t))
    ks = [index[str(counterparties[j])] for j in rows]
    return StochasticCvaWeights(
        n_ns=len(counterparties), rows=np.array(rows, dtype=np.int64),
        state_rows=np.array([model.cr_state(k) + 1 for k in ks], dtype=np.int64),
        # phi refitted to the curve given here (a re-aggregation may change market.credit; Z does not depend on it)
        shift=np.array([dataclasses.replace(model.credit[k], curve=credit[str(counterparties[j])]).integrated_shift(t)
                        for k, j in zip(ks, rows)]).reshape(len(ks), t.size),
        lgd=np.array([1.0 - float(credit[str(counterparties[j])].recovery) for j in rows]),
        own_log=own_log, discretisation=settings.discretisation)


def functional_spec(w_cva: np.ndarray, sw: StochasticCvaWeights) -> dict:
    """Path functionals CVA (per-path weights on the stochastic rows), CVA_independent (deterministic curve)
    and CVA_WWR_effect = CVA - CVA_independent, all on the EPE amounts."""
    mixed = np.array(w_cva, dtype=np.float64)
    mixed[sw.rows] = 1.0
    return {"CVA": ("EPE", mixed, PATH_KEY), "CVA_independent": ("EPE", w_cva),
            "CVA_WWR_effect": [("EPE", mixed, PATH_KEY), ("EPE", -np.asarray(w_cva))]}


def describe(settings) -> str:
    """The attrs line naming the stochastic names and their configured parameters."""
    parts = [f"{n} (a={a:g}, sigma={v})" for n, a, v in settings.wwr_params]
    return ("stochastic_intensity: Gaussian intensity lambda = phi(t) + z, dz = -a z dt + sigma dW "
            "(ORE CrLgm, exposure.models.credit_intensity), phi fitted to the market survival curve, "
            "correlated via model.correlations CR:<name>, P(lambda<0) in calibration_CR_<name>.csv; "
            "CVA pathwise for " + (", ".join(parts) or "no name"))
