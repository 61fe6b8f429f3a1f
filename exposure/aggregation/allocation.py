"""Netting (trades -> netting sets) and the allocation of netting-set exposure to trades.

Netting: V_j(t, p) = sum_{i in j} v_i(t, p), summed trade by trade in index order (a fixed order, so the
result does not depend on how paths are chunked). The portfolio loader has already made every trade without
a listed netting set its own set; here a netting index (n_trades,) int maps trade i to set j.

Allocation (per path, the pro-rata or "marginal" scheme of ORE's NettedExposureCalculator):

    a_i^+(t, p) = max(X_j, 0) * v_i / V_j      if |V_j| > limit
                = max(X_j, 0) / n_j            otherwise (n_j = number of trades in set j)
    AllocatedEPE_i(t) = E[a_i^+(t) / N(t)],  AllocatedENE_i(t) = E[a_i^-(t) / N(t)] with max(-X_j, 0)

X_j is the netting set's collateralised value and V_j its uncollateralised value at the exposure date. Per path
sum_{i in j} a_i^+ = max(X_j, 0), so the allocations add up to the netting set's EPE (to float rounding).
Without collateral X_j = V_j and a_i^+ = v_i 1{V_j > 0}: the Euler allocation, the derivative of
EPE_j = E[max(sum_i lambda_i v_i, 0) / N] with respect to lambda_i at lambda = 1 (EPE is homogeneous of
degree 1 in the positions, so Euler's theorem makes the contributions sum to EPE_j exactly).
"""

from __future__ import annotations

import numpy as np


def netting_members(netting_index, n_netting_sets: int) -> list[np.ndarray]:
    """Trade indices of each netting set, ascending; a list of n_netting_sets int arrays."""
    idx = np.asarray(netting_index, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n_netting_sets):
        raise ValueError(f"netting index out of range [0, {n_netting_sets}): {idx.min()}..{idx.max()}")
    return [np.flatnonzero(idx == j) for j in range(n_netting_sets)]


def net_values(trade_values, netting_index, n_netting_sets: int) -> np.ndarray:
    """(K, n_trades, P) trade values -> (K, n_netting_sets, P) netting-set values (a set without trades is 0)."""
    v = np.asarray(trade_values)
    out = np.zeros((v.shape[0], n_netting_sets, v.shape[2]), dtype=v.dtype)
    for j, members in enumerate(netting_members(netting_index, n_netting_sets)):
        for i in members:  # sequential sum in trade order: deterministic whatever the path chunk
            out[:, j, :] += v[:, i, :]
    return out


def allocation_paths(trade_values, netting_index, collateralised_value, limit: float = 0.0):
    """Per-path allocations (a^+, a^-), each (K, n_trades, P), of the netting sets' exposures to their trades.

    trade_values: (K, n_trades, P) base-currency trade values at the netting sets' exposure dates.
    collateralised_value: (K, n_netting_sets, P) X_j at the same dates (equal to the netted values when the
    set is uncollateralised). limit: |V_j| at or below which the exposure is split equally.
    """
    v = np.asarray(trade_values, dtype=np.float64)
    x = np.asarray(collateralised_value, dtype=np.float64)
    n_sets = x.shape[1]
    idx = np.asarray(netting_index, dtype=np.int64)
    V = net_values(v, idx, n_sets)[:, idx, :]
    counts = np.bincount(idx, minlength=n_sets)[idx].astype(np.float64)
    big = np.abs(V) > limit
    share = np.where(big, v / np.where(big, V, 1.0), 1.0 / counts[None, :, None])
    xt = x[:, idx, :]
    return np.maximum(xt, 0.0) * share, np.maximum(-xt, 0.0) * share
