"""Netting, collateral and exposure measures: pure reductions over the path axis.

    values (K, n_netting_sets, P) --collateral (CSA, MPoR)--> X --measures--> EPE, ENE, PFE, Basel EE/EEE/EEPE

``ExposureAggregator`` is the streaming entry point (one chunk of paths at a time); the modules hold the
definitions: ``collateral`` (variation margin recursion), ``exposure_values`` (X and the funding value F
per path), ``measures`` (the aggregator and the whole reduction), ``measure_set`` (the results and BaselEE,
PeakPFE), ``accumulators`` (EPE/ENE/collateral path sums and their standard errors), ``path_functionals``
(weighted per-path date sums for the XVA standard errors), ``quantiles`` (PFE order statistics and their
distribution-free interval), ``quantile_store`` (every path kept, spilled to disk, for the quantiles), ``basel`` (EEE/EPE/EEPE), ``allocation`` (netting and the Euler / pro-rata allocation of
netting-set EPE to trades), ``dim`` (regression dynamic initial margin for MVA).
"""

from exposure.aggregation.accumulators import BlockSums, ExposureAccumulator
from exposure.aggregation.allocation import allocation_paths, net_values, netting_members
from exposure.aggregation.basel import basel_measures, basel_weights, effective_ee, time_weighted_average
from exposure.aggregation.collateral import (
    collateral_paths,
    collateral_paths_batch,
    exposure_with_collateral,
    net_collateral,
    vm_target,
)
from exposure.aggregation.dim import RegressionDIM, regression_im
from exposure.aggregation.in_memory import exposure_measures
from exposure.aggregation.measure_set import ExposureMeasures
from exposure.aggregation.measures import ExposureAggregator
from exposure.aggregation.path_functionals import PathFunctionalSums
from exposure.aggregation.quantile_store import QuantileStore
from exposure.aggregation.quantiles import (
    DEFAULT_QUANTILES,
    exposure_quantiles,
    order_statistic_interval,
    quantile_positions,
    quantile_stderr,
)

__all__ = [
    "DEFAULT_QUANTILES",
    "BlockSums",
    "ExposureAccumulator",
    "ExposureAggregator",
    "ExposureMeasures",
    "PathFunctionalSums",
    "QuantileStore",
    "RegressionDIM",
    "allocation_paths",
    "basel_measures",
    "basel_weights",
    "collateral_paths",
    "collateral_paths_batch",
    "effective_ee",
    "exposure_measures",
    "exposure_quantiles",
    "exposure_with_collateral",
    "net_collateral",
    "net_values",
    "netting_members",
    "order_statistic_interval",
    "quantile_positions",
    "quantile_stderr",
    "regression_im",
    "time_weighted_average",
    "vm_target",
]
