"""Exposure measures per netting set (and trade) and date: pure reductions over the path axis, streamed.

Notation: X(t, p) the collateralised value of a netting set (base currency, undiscounted; X = V without a
CSA, see ``collateral``), N(t, p) the base-currency bank account numeraire (N(0) = 1), P paths, P(0, t) today's
base-currency discount factor, q a quantile level. Names follow ORE's exposure reports
(exposure_nettingset_*.csv / exposure_trade_*.csv; OREAnalytics/orea/aggregation/*exposurecalculator.cpp).
``ExposureAggregator`` runs the whole reduction, one chunk of paths at a time; the definitions live in

    ``accumulators``  EPE, ENE, EE_stderr, ExpectedCollateral (streaming sums, discounted by 1/N) and PFE(t, q)
    ``quantiles``     the quantile methods ("ore", "linear"); ``quantile_store`` keeps the paths behind PFE
    ``basel``         BaselEEE, BaselEPE, BaselEEPE, TimeWeightedBaselEPE / EEPE

with the collateralised and funding values X, F per path in ``exposure_values``, and the results
(``ExposureMeasures``: BaselEE = EPE / P(0, t), PeakPFE) in ``measure_set``. This module streams

    ExpectedIM(t) = E[IM(t) / N(t)]: regression dynamic initial margin (``dim``), with mva_weights and an MPoR
    FundingEPE(t) = E[max(F(t), 0) / N(t)], FundingENE(t) = E[max(-F(t), 0) / N(t)]: F = V - X_c C, the value
                    net of the variation margin held at the call date (no MPoR: funding is a going-concern
                    cost). VM is taken as rehypothecable and remunerated at the numeraire (OIS) rate;
                    independent amounts are segregated and left out. These feed FCA/FBA (``exposure.xva.funding``).
    path functionals: mean and standard error of sum_k w_k y(t_k) per path for y in {EPE, ENE, FundingEPE,
                    FundingENE} and weights given up front (``path_functionals.PathFunctionalSums``).

Results are arrays (n_netting_sets, K[, nq]) (``ExposureMeasures.netting``) and (n_trades, K[, nq])
(``ExposureMeasures.trade``). Exposure dates and discounting with a margin period of risk: ``exposure_values``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from exposure.aggregation.accumulators import DEFAULT_BLOCK, BlockSums, ExposureAccumulator
from exposure.aggregation.allocation import allocation_paths, netting_members
from exposure.aggregation.dim import RegressionDIM
from exposure.aggregation.exposure_values import (at_closeout, collateralise, csa_layout, date_indices,
                                                  functional_amounts, trade_exposure_values)
from exposure.aggregation.measure_set import (FUNCTIONAL_BASES, FUNDING_BASES, ExposureMeasures, empty_cube,
                                              netting_profiles, reduced_functionals, reduced_profiles,
                                              store_chunk, trade_profiles)
from exposure.aggregation.path_functionals import PathFunctionalSums
from exposure.aggregation.quantiles import DEFAULT_MEMORY_BUDGET, DEFAULT_QUANTILES
from exposure.aggregation.block_totals import BlockTotals
from exposure.aggregation.reduction import ChunkReducer

REDUCTIONS = ("jax", "numpy")


class ExposureAggregator:
    """Netting sets (and optionally trades) -> collateral -> exposure measures, one chunk of paths at a time.

    netting_sets: the portfolio's NettingSet objects, in the order of the values' netting-set axis.
    n_paths: the total number of paths. times: (K,) valuation (exposure) times in years.
    valuation_index: (K,) positions of the valuation dates on the date axis of the arrays given to
    ``add_chunk`` (default 0..K-1); closeout_index: (K,) positions of the close-out dates t_k + MPoR, or
    (K, n_ns) one close-out position per netting set (close-out dates rolled on each set's calendar), or None
    without a margin period of risk; t0_index: position of t = 0 values (for the t0 collateral target) or None.
    currencies: names of the fx axis (fx[c] = base units per unit of currency c) for collateral currencies.
    path_functionals: {name: (basis, weights (n_ns, K)) or a list of such terms} per-path weighted date sums
    (basis EPE, ENE, FundingEPE or FundingENE) whose mean and standard error are streamed
    (``path_functionals.PathFunctionalSums``), with sums over ``functional_groups`` (n_ns,) ints and the total;
    pfe_ci_level: confidence level of the PFE order-statistic interval (None: none).
    mva_weights (n_ns, K): with a close-out grid, the regression dynamic initial margin (``dim``) is computed
    (ExpectedIM) and the MVA path functional sum_k w_k IM_k / N_k streamed (functionals["MVA"]).
    trade_netting_index: (n_trades,) set index of each trade to compute trade-level EPE/ENE, the allocation
    (AllocatedEPE/ENE) and, with trade_pfe, trade PFE. path_weights: a callable states (K, d, p) at the
    valuation dates -> {key: (rows (r,), (r, K, p))} per-path weight factors of path-functional terms (stochastic
    survival, ``exposure.xva.stochastic_cva``); add_chunk then needs the model states. store_cube keeps X, N (and collateral) for every path
    in memory (n_ns * K * P * itemsize bytes: for moderate runs). For ORE's t = 0 report row, make t0 the first
    valuation date (its close-out index may point at t0 itself). Use as a context manager (or call close) so a
    failed run removes its spill files; finalize releases them too.
    """

    def __init__(self, netting_sets: Sequence, n_paths: int, times, *, valuation_index=None, closeout_index=None,
                 t0_index: int | None = None, currencies: Sequence[str] = (), base_currency: str | None = None,
                 quantiles=DEFAULT_QUANTILES, quantile_method: str = "ore", pfe_basis: str = "undiscounted",
                 trade_netting_index=None, trade_pfe: bool = False, allocation_limit: float = 0.0,
                 store_cube: bool = False, cube_dtype="float32", memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
                 store_dtype="float64", spill_dir: str | None = None, force_spill: bool = False,
                 block_size: int = DEFAULT_BLOCK, path_functionals: dict | None = None,
                 functional_groups=None, pfe_ci_level: float | None = 0.95, mva_weights=None,
                 dim_quantile: float = 0.99, dim_order: int = 2, path_weights=None, reduction: str = "jax"):
        self.netting_sets = tuple(netting_sets)
        self.n_ns = len(self.netting_sets)
        self.n_paths = int(n_paths)
        self.times = np.asarray(times, dtype=np.float64).reshape(-1)
        K = self.times.size
        self.K = K
        self.valuation_index, self.closeout_index, self._vi, self._ci = date_indices(
            valuation_index, closeout_index, K, self.n_ns)
        self.t0_index = t0_index
        self.currencies = tuple(currencies)
        self.base_currency = base_currency if base_currency is not None else (self.currencies[0] if self.currencies else None)
        self.quantiles = np.asarray(quantiles, dtype=np.float64).reshape(-1)
        self.quantile_method, self.pfe_basis = quantile_method, pfe_basis
        self.allocation_limit = float(allocation_limit)

        # _fx_idx per CSA set: index into the fx axis, or None for base-currency collateral
        self._csa_idx, self._csas, self._fx_idx = csa_layout(self.netting_sets, self.currencies, self.base_currency)

        common = dict(quantile_method=quantile_method, pfe_basis=pfe_basis, block_size=block_size,
                      store_dtype=store_dtype, memory_budget_bytes=memory_budget_bytes, spill_dir=spill_dir,
                      force_spill=force_spill)
        self._ns_acc = ExposureAccumulator(self.n_ns, K, self.n_paths, self.quantiles,
                                           with_collateral=bool(self._csa_idx.size), pfe_ci_level=pfe_ci_level,
                                           extras=FUNDING_BASES if self._csa_idx.size else (), **common)
        self.pfe_ci_level = pfe_ci_level
        self._functional_groups = functional_groups
        self._dim = None
        if mva_weights is not None and self.closeout_index is not None:
            self._mva_weights = np.asarray(mva_weights, dtype=np.float64)
            if self._mva_weights.shape != (self.n_ns, K):
                raise ValueError(f"mva_weights must be ({self.n_ns}, {K}), got {self._mva_weights.shape}")
            self._dim = RegressionDIM(self.n_ns, K, self.n_paths, dim_quantile, dim_order,
                                      memory_budget_bytes, spill_dir)
        self._functionals = None
        self._path_weights = path_weights
        if path_functionals:
            self._functionals = PathFunctionalSums(path_functionals, self.n_ns, K, self.n_paths, block_size,
                                                   functional_groups)
            bad = self._functionals.bases - set(FUNCTIONAL_BASES)
            if bad:
                raise ValueError(f"path functional basis {sorted(bad)}: must be one of {', '.join(FUNCTIONAL_BASES)}")
        self._df_sums = BlockSums((K,), block_size)

        self.trade_netting_index = None
        self._trade_acc = None
        if trade_netting_index is not None:
            self.trade_netting_index = np.asarray(trade_netting_index, dtype=np.int64).reshape(-1)
            netting_members(self.trade_netting_index, self.n_ns)  # range check
            self._trade_acc = ExposureAccumulator(
                self.trade_netting_index.size, K, self.n_paths, self.quantiles if trade_pfe else (),
                extras=("AllocatedEPE", "AllocatedENE"), **common)
            csa_set = np.zeros(self.n_ns, bool)
            csa_set[self._csa_idx] = True
            self._trade_closeout = np.flatnonzero(csa_set[self.trade_netting_index])

        self.cube = empty_cube(self.n_ns, K, self.n_paths, cube_dtype, bool(self._csa_idx.size)) if store_cube else None
        if reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction '{reduction}' (known: {', '.join(REDUCTIONS)})")
        self.reduction = reduction
        self.reducer = self._totals = None
        if reduction == "jax":
            fs = self._functionals
            self.reducer = ChunkReducer(
                self.netting_sets, self.n_paths, self.valuation_index, self.closeout_index, t0_index, self._fx_idx,
                block_size, None if fs is None else dict(zip(fs.names, fs.terms)), functional_groups,
                path_weights if fs is not None else None, pfe_basis == "discounted",
                want_x=store_cube or self._trade_acc is not None, pfe=self._ns_acc.store is not None)
            self._totals = BlockTotals(self.reducer)
        self._next = 0

    @property
    def needs_values(self) -> bool:
        """add_chunk needs the chunk's values, numeraire and fx on the host, not only its reduction sums."""
        return self.reducer is None or self._dim is not None or self._trade_acc is not None or self.cube is not None

    @property
    def needs_states(self) -> bool:
        """add_chunk needs the model states (stochastic survival weights)."""
        return self._path_weights is not None

    # -- per chunk -------------------------------------------------------------------------------------------

    def collateralise(self, values, fx=None):
        """(X, collateral, V_exposure, F), each (K, n_ns, p): collateralised value, net collateral held (base
        currency, None without any CSA), the uncollateralised value at the exposure date and the funding value
        F = V(t_k) - X_c(t_k) C_k (module docstring); values (K_all, n_ns, p)."""
        vals = np.asarray(values, dtype=np.float64)
        return collateralise(vals, self._vi, self._ci, self._csa_idx, self._csas, self._fx_idx, self.t0_index, fx)

    def add_chunk(self, start: int, stop: int, values, numeraire, fx=None, trade_values=None, states=None,
                  sums=None) -> None:
        """Paths [start, stop): values (K_all, n_ns, p) netting-set values in base currency (undiscounted) on
        the date axis that valuation_index / closeout_index / t0_index point into; numeraire (K_all, p);
        fx (n_ccy, K_all, p) base units per unit of ``currencies`` (needed for non-base collateral);
        trade_values (K_all, n_trades, p) when trade-level results were requested; states (K_all, d, p) the
        model states, needed with ``path_weights``. sums: this chunk's ``reduction.ChunkSums`` when the chunk
        program has already reduced it (reduction="jax"; computed here from the values otherwise)."""
        if start != self._next:
            raise ValueError(f"paths must arrive in order: expected start {self._next}, got {start}")
        if values is None:  # a lean chunk from a Dask worker: the compiled reduction's sums only
            if sums is None or self.needs_values:
                raise ValueError("add_chunk without values needs the chunk's reduction sums and no consumer of "
                                 "values on the host (dynamic IM, trade level, stored cube, NumPy reduction)")
            self._add_reduced(start, stop, None, None, None, None, None, None, sums)
            return
        p = stop - start
        vals = np.asarray(values, dtype=np.float64)
        if vals.ndim != 3 or vals.shape[1] != self.n_ns or vals.shape[2] != p:
            raise ValueError(f"values must be (K_all, {self.n_ns}, {p}); got {vals.shape}")
        N = np.asarray(numeraire, dtype=np.float64)[self._vi]
        if self.reducer is not None:
            self._add_reduced(start, stop, vals, N, numeraire, fx, trade_values, states, sums)
            return
        X, coll, _, F = self.collateralise(vals, fx)
        if self._dim is not None:
            self._dim.add(start, stop, vals[self._vi], at_closeout(vals, self._ci, np.arange(self.n_ns)), N)
        fund = ({"FundingEPE": np.maximum(F, 0.0), "FundingENE": np.maximum(-F, 0.0)}
                if self._csa_idx.size or self._functionals is not None else None)
        self._ns_acc.add(start, stop, X, N, collateral=coll, extras=fund if self._csa_idx.size else None)
        if self._functionals is not None:
            y = functional_amounts(X, N, fund, bool(self._csa_idx.size))
            if self._path_weights is not None:
                if states is None:
                    raise ValueError("path_weights (stochastic survival) need the model states in add_chunk")
                y.update(self._path_weights(np.asarray(states)[self._vi]))
            self._functionals.add(start, stop, y)
        self._df_sums.add(1.0 / N)
        self._add_host_parts(start, stop, vals, N, X, coll, trade_values)

    def _add_reduced(self, start, stop, vals, N, numeraire, fx, trade_values, states, sums) -> None:
        """add_chunk with the JAX reduction: block sums merged in path order, the rest on the host."""
        cs = sums if sums is not None else self.reducer(start, stop, vals, np.asarray(numeraire, np.float64),
                                                        None if fx is None else np.asarray(fx, np.float64), states)
        if (cs.start, cs.stop) != (start, stop):
            raise ValueError(f"chunk sums of paths [{cs.start}, {cs.stop}) given with paths [{start}, {stop})")
        self._totals.merge(cs)
        self._ns_acc.add_quantile_input(start, stop, cs.pfe)
        if self._dim is not None:
            self._dim.add(start, stop, vals[self._vi], at_closeout(vals, self._ci, np.arange(self.n_ns)), N)
        self._add_host_parts(start, stop, vals, N, cs.X, cs.coll, trade_values)

    def _add_host_parts(self, start, stop, vals, N, X, coll, trade_values) -> None:
        """Trade-level measures and the stored cube (both need X on the host)."""
        if self._trade_acc is not None:
            if trade_values is None:
                raise ValueError("trade-level results were requested: add_chunk needs trade_values")
            tv, tv_exp = trade_exposure_values(trade_values, self._vi, self._ci if self.closeout_index is not None
                                               else None, self._trade_closeout, self.trade_netting_index)
            a_pos, a_neg = allocation_paths(tv_exp, self.trade_netting_index, X, self.allocation_limit)
            self._trade_acc.add(start, stop, tv, N, extras={"AllocatedEPE": a_pos, "AllocatedENE": a_neg})
        if self.cube is not None:
            store_chunk(self.cube, start, stop, X, N, coll)
        self._next = stop

    # -- the end ---------------------------------------------------------------------------------------------

    def finalize(self, discount_factors=None, maturities=None, trade_maturities=None,
                 horizon: float = 1.0) -> ExposureMeasures:
        """All measures. discount_factors: (K,) P(0, t_k) of the base curve at the valuation dates, or None for
        the Monte Carlo estimate E[1/N(t_k)]; maturities: (n_ns,) netting-set maturities in years (None: no
        cap on the one-year Basel horizon); trade_maturities likewise (n_trades,)."""
        if self._next != self.n_paths:
            raise RuntimeError(f"accumulated {self._next} of {self.n_paths} paths")
        try:
            df = (self._df_mc() if discount_factors is None
                  else np.asarray(discount_factors, dtype=np.float64).reshape(-1))
            if df.shape != (self.K,):
                raise ValueError(f"discount_factors must be ({self.K},), got {df.shape}")
            netting = netting_profiles(self._ns_result(), df, self.times, maturities, horizon)
            trade = None
            if self._trade_acc is not None:
                trade = trade_profiles(self._trade_acc.result(), df, self.times, trade_maturities, horizon)
            functionals = self._functionals_result()
            if self._dim is not None:
                netting["ExpectedIM"], mva = self._dim.result(self._mva_weights, self._functional_groups)
                functionals = dict(functionals or {}, MVA=mva)
            return ExposureMeasures(self.times, self.quantiles, self.n_paths, self.quantile_method, self.pfe_basis,
                                    df, netting, trade, self.cube, self.trade_netting_index, functionals,
                                    self.pfe_ci_level if "PFE_lower" in netting else None)
        finally:
            self.close()

    def _df_mc(self):
        if self.reducer is not None:
            return self._totals.S0["df"] / self.n_paths
        return self._df_sums.result() / self.n_paths

    def _ns_result(self) -> dict:
        if self.reducer is None:
            return self._ns_acc.result()
        return reduced_profiles(self._totals, self.reducer, self.n_paths, self._ns_acc)

    def _functionals_result(self):
        fs = self._functionals
        if fs is None:
            return None
        if self.reducer is None:
            return fs.result()
        return reduced_functionals(self._totals, fs, self.n_paths)

    def close(self) -> None:
        """Release the quantile stores (and delete their spill files); finalize does it on its own."""
        self._ns_acc.close()
        if self._dim is not None:
            self._dim.close()
        if self._trade_acc is not None:
            self._trade_acc.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
