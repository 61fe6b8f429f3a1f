"""The reduced exposure measures (``ExposureMeasures``) and the profiles derived from the streamed sums.

    BaselEE(t)    = EPE(t) / P(0, t)                non-discounted EE (ORE: epe / curve->discount(date))
    PeakPFE(q)    = max_t PFE(t, q), PeakPFEIndex its first date index
    Basel EEE / EPE / EEPE from BaselEE (``basel.basel_measures``)

with EPE(t) = E[max(X(t), 0) / N(t)] (``accumulators``), P(0, t) the base-currency discount factor at the
valuation date and PFE(t, q) the q-quantile of the path axis (``quantiles``). Units: base currency; shapes
(n_entities, K[, nq]) for K valuation dates and nq quantile levels. Also the reductions of the JAX block totals
(``block_totals.BlockTotals``) into the same profiles and path-functional results as the NumPy accumulators.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from exposure.aggregation.basel import basel_measures
from exposure.aggregation.path_functionals import functional_result

FUNDING_BASES = ("FundingEPE", "FundingENE")
FUNCTIONAL_BASES = ("EPE", "ENE") + FUNDING_BASES


@dataclasses.dataclass
class ExposureMeasures:
    """Reduced results: ``netting`` arrays lead with the netting set (n_ns, K[, nq]), ``trade`` with the trade.

    ``trade_netting_index`` (n_trades,) maps trades to netting sets when trade results are present.
    ``cube`` (optional): exposure (n_ns, K, P) the collateralised value X, numeraire (K, P), and collateral
    (n_ns, K, P) when a CSA is present, all at the exposure dates (undiscounted, base currency).
    """

    times: np.ndarray
    quantiles: np.ndarray
    n_paths: int
    quantile_method: str
    pfe_basis: str
    discount_factors: np.ndarray
    netting: dict
    trade: dict | None = None
    cube: dict | None = None
    trade_netting_index: np.ndarray | None = None
    functionals: dict | None = None  # name -> PathFunctionalSums.result() entry (entity / group / total)
    pfe_ci_level: float | None = None  # confidence level of PFE_lower / PFE_upper when present


def finish_profiles(acc: dict, df: np.ndarray, times, maturity, horizon, prefix: str = "") -> dict:
    """acc's profiles (n, K[, nq]) with BaselEE = EPE / df, the Basel measures and PeakPFE / PeakPFEIndex added,
    every key prefixed; df (K,) P(0, t_k); maturity (n,) years or None; horizon the Basel horizon in years."""
    out = {prefix + k: v for k, v in acc.items()}
    ee_b = acc["EPE"] / df[None, :]
    out[prefix + "BaselEE"] = ee_b
    for k, v in basel_measures(ee_b, times, horizon, maturity).items():
        out[prefix + k] = v
    pfe = acc["PFE"]
    if pfe.shape[-1] and pfe.shape[1] and np.all(np.isfinite(pfe)):
        out[prefix + "PeakPFE"] = pfe.max(axis=1)
        out[prefix + "PeakPFEIndex"] = pfe.argmax(axis=1)
    return out


def reduced_profiles(totals, reducer, n_paths: int, ns_acc) -> dict:
    """The netting-set profiles (n_ns, K[, nq]) from the JAX reduction's block totals: means S0 / P, the EPE and
    ENE standard errors, and PFE from the accumulator's quantile store (``ExposureAccumulator.with_pfe``)."""
    t, P = totals, float(n_paths)
    if not t.complete():
        raise RuntimeError(f"accumulated {t.count} of {n_paths} paths")
    out = {name: np.ascontiguousarray(t.S0[name].T) / P for name in reducer.profile_names()}
    out["EE_stderr"] = np.ascontiguousarray(t.stderr("EPE").T)
    out["ENE_stderr"] = np.ascontiguousarray(t.stderr("ENE").T)
    return ns_acc.with_pfe(out)


def reduced_functionals(totals, fs, n_paths: int) -> dict:
    """Path-functional means and standard errors from the block totals, shaped as
    ``PathFunctionalSums.result()``: {name: {"entity": ((n,), (n,)), "group": ((g,), (g,)), "total": (m, se)}}."""
    t = totals
    mean, se = t.S0["F"] / n_paths, t.stderr("F")
    return functional_result(fs.names, mean, se, fs.n, fs.n_groups)


def netting_profiles(acc: dict, df: np.ndarray, times, maturity, horizon) -> dict:
    """``finish_profiles`` for netting sets, with ExpectedCollateral = 0 and FundingEPE / FundingENE = EPE / ENE
    filled in where no netting set has a CSA (F = V = X)."""
    netting = finish_profiles(acc, df, times, maturity, horizon)
    if "ExpectedCollateral" not in netting:
        netting["ExpectedCollateral"] = np.zeros((acc["EPE"].shape[0], df.shape[0]))
    for name, src in zip(FUNDING_BASES, ("EPE", "ENE")):
        if name not in netting:  # no CSA anywhere: F = V = X
            netting[name] = netting[src].copy()
    return netting


def trade_profiles(acc: dict, df: np.ndarray, times, maturity, horizon) -> dict:
    """``finish_profiles`` for trades: keys prefixed "trade_", but for AllocatedEPE / AllocatedENE."""
    trade = finish_profiles(acc, df, times, maturity, horizon, prefix="trade_")
    trade["AllocatedEPE"] = trade.pop("trade_AllocatedEPE")
    trade["AllocatedENE"] = trade.pop("trade_AllocatedENE")
    return trade


def empty_cube(n_ns: int, K: int, n_paths: int, dtype, with_collateral: bool) -> dict:
    """The stored cube's arrays: exposure (n_ns, K, P), numeraire (K, P) and collateral (n_ns, K, P, zeros)."""
    cube = {
        "exposure": np.empty((n_ns, K, n_paths), dtype=dtype),
        "numeraire": np.empty((K, n_paths), dtype=dtype),
    }
    if with_collateral:
        cube["collateral"] = np.zeros((n_ns, K, n_paths), dtype=dtype)
    return cube


def store_chunk(cube: dict, start: int, stop: int, X, N, coll) -> None:
    """Paths [start, stop) into ``empty_cube``'s arrays: X and coll (K, n_ns, p) (coll None without any CSA) as
    (n_ns, K, p), the numeraire N (K, p)."""
    cube["exposure"][:, :, start:stop] = np.transpose(X, (1, 0, 2))
    cube["numeraire"][:, start:stop] = N
    if coll is not None:
        cube["collateral"][:, :, start:stop] = np.transpose(coll, (1, 0, 2))
