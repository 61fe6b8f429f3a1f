"""CVA/DVA of trades: stand-alone, Euler (marginal) allocation, and the incremental CVA of a new trade.

Stand-alone (ORE's trade rows of xva.csv):  CVA_i = sum_k w_k trade_EPE_i(t_k), DVA_i from trade_ENE.
Allocated (ORE's AllocatedCVA / AllocatedDVA, allocation method "Marginal"):

    AllocatedCVA_i = sum_k w_k AllocatedEPE_i(t_k),   AllocatedEPE_i(t) = E[max(X_j, 0) v_i / V_j / N]

with w the netting set's CVA weights. Without collateral this is the Euler allocation: CVA_j is homogeneous
of degree one in the trade positions lambda_i (CVA_j = sum_k w_k E[max(sum_i lambda_i v_i, 0)/N]), and
AllocatedCVA_i = lambda_i dCVA_j/dlambda_i at lambda = 1, so sum_{i in j} AllocatedCVA_i = CVA_j (Euler's
theorem; per path the allocations add up to max(X_j, 0) exactly). With a CSA the per-path pro-rata split of the
collateralised exposure keeps the sum but is no longer a derivative. With a stochastic default intensity
(xva.wwr.model=stochastic_intensity) the allocations are scaled pro rata to the wrong-way CVA
(``wrong_way_allocation``), so they still add up to the netting set's CVA.

Incremental CVA of a proposed trade (``incremental_cva``): CVA(V + v) - CVA(V) on the same paths. The engine's
scenarios depend only on the seed, the grid and the path index, so a run of the proposed trade alone with the
same seed and grid (``output.store_cube=true``) gives its values v on the paths of the portfolio's run.
"""

from __future__ import annotations

import numpy as np
import xarray as xr


def trade_adjustments(ds: xr.Dataset, w) -> xr.Dataset:
    """Adds trade_CVA, trade_DVA, AllocatedCVA, AllocatedDVA (dim trade) when trade-level results exist."""
    if "trade" not in ds.dims or "AllocatedEPE" not in ds:
        return ds
    ns_pos = {str(n): j for j, n in enumerate(ds["netting_set"].values)}
    idx = np.array([ns_pos[str(n)] for n in ds["trade_netting_set"].values], dtype=np.int64)
    units = {"units": "base currency"}
    pairs = (("trade_CVA", w.cva, "trade_EPE"), ("trade_DVA", w.dva, "trade_ENE"),
             ("AllocatedCVA", w.cva, "AllocatedEPE"), ("AllocatedDVA", w.dva, "AllocatedENE"))
    for name, weights, profile in pairs:
        ds[name] = ("trade", np.sum(weights[idx] * ds[profile].values, axis=1), units)
    if "CVA_independent" in ds:  # stochastic default intensity: the netting set's CVA is the wrong-way one
        ds["AllocatedCVA"] = ("trade", wrong_way_allocation(ds["AllocatedCVA"].values, idx, ds["CVA"].values,
                                                            ds["CVA_independent"].values), units)
    return ds


def wrong_way_allocation(allocated, trade_netting_index, cva, cva_independent) -> np.ndarray:
    """AllocatedCVA_i x CVA_j / CVA_independent_j on the netting sets j whose CVA carries wrong-way risk: the
    allocations with the deterministic curve (Euler, above) scaled pro rata so that they add up to the wrong-way
    CVA_j. (The Euler allocation of the wrong-way CVA itself would need per-trade path weights.) A netting set
    whose CVA_independent is 0 keeps its allocations (all 0)."""
    a = np.asarray(allocated, dtype=np.float64)
    ratio = np.ones_like(np.asarray(cva, dtype=np.float64))
    ind = np.asarray(cva_independent, dtype=np.float64)
    nz = ind != 0.0
    ratio[nz] = np.asarray(cva, dtype=np.float64)[nz] / ind[nz]
    return a * ratio[np.asarray(trade_netting_index)]


def incremental_cva(netting_values, trade_values, numeraire, weights) -> tuple[float, float]:
    """(CVA(V + v) - CVA(V), its Monte Carlo standard error) for one uncollateralised netting set.

    netting_values, trade_values: (K, P) undiscounted base-currency values V and v on the same paths at the
    exposure dates (t_0 = today first); numeraire (K, P); weights (K,) the netting set's CVA weights
    (``XvaWeights.cva[j]``). The difference is taken per path, so its error is that of the difference only.
    """
    V = np.asarray(netting_values, dtype=np.float64)
    v = np.asarray(trade_values, dtype=np.float64)
    N = np.asarray(numeraire, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if V.shape != v.shape or V.shape != N.shape or w.shape != (V.shape[0],):
        raise ValueError(f"shapes: values {V.shape}, trade {v.shape}, numeraire {N.shape}, weights {w.shape}")
    d = np.sum(w[:, None] * (np.maximum(V + v, 0.0) - np.maximum(V, 0.0)) / N, axis=0)
    P = d.size
    se = float(np.std(d, ddof=1) / np.sqrt(P)) if P > 1 else 0.0
    return float(d.mean()), se


def incremental_cva_from_runs(base, trade, netting_set: str, trade_netting_set: str, credit: dict, own_name: str,
                              settings) -> tuple[float, float]:
    """Incremental CVA of adding the trade(s) of ``trade_netting_set`` in run ``trade`` to ``netting_set`` of run
    ``base``: both results Datasets with the path cube (``output.store_cube=true``) from the same seed, grid and
    number of paths (hence the same scenarios). Only for netting sets without a CSA (the cube holds the
    collateralised value; with a CSA the collateral of the combined set would have to be recomputed).
    Returns (CVA(V + v) - CVA(V), standard error)."""
    from exposure.xva.adjustments import xva_weights

    for ds, name in ((base, "base"), (trade, "trade")):
        if "cube_exposure" not in ds:
            raise ValueError(f"the {name} run has no path cube: run it with output.store_cube=true")
    if base.sizes["path"] != trade.sizes["path"] or not np.array_equal(base["time"].values, trade["time"].values):
        raise ValueError("the two runs must share the grid and the number of paths (and the seed)")
    if base.attrs.get("seed") != trade.attrs.get("seed"):
        raise ValueError(f"the runs have different seeds ({base.attrs.get('seed')} vs {trade.attrs.get('seed')})")
    if "cube_collateral" in base and np.any(base["cube_collateral"].sel(netting_set=netting_set).values != 0):
        raise ValueError(f"netting set '{netting_set}' is collateralised: incremental CVA needs an uncollateralised set")
    j = list(base["netting_set"].values).index(netting_set)
    w = xva_weights(settings, credit, own_name, [netting_set], [str(base["counterparty"].values[j])],
                    base["time"].values, base["DiscountFactor"].values).cva[0]
    V = base["cube_exposure"].sel(netting_set=netting_set).values.astype(np.float64)
    v = trade["cube_exposure"].sel(netting_set=trade_netting_set).values.astype(np.float64)
    return incremental_cva(V, v, base["cube_numeraire"].values.astype(np.float64), w)
