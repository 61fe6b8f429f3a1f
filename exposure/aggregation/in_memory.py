"""In-memory entry point of the aggregation (tests, notebooks): every path at once, optionally fed in chunks."""

from __future__ import annotations

import numpy as np

from exposure.aggregation.measure_set import ExposureMeasures
from exposure.aggregation.measures import ExposureAggregator


def exposure_measures(values, numeraire=None, times=None, *, netting_sets=None, discount_factors=None,
                      maturities=None, chunk_size: int | None = None, **kwargs) -> ExposureMeasures:
    """In-memory convenience: measures of netting-set values (K, n, P) (uncollateralised sets by default).

    numeraire (K, P) defaults to 1 (so EPE = BaselEE = E[max(V, 0)]); times (K,) default 1..K;
    netting_sets default to uncollateralised sets NS0..; chunk_size feeds the paths in chunks (for tests).
    Other keyword arguments go to ExposureAggregator.
    """
    from exposure.portfolio.netting import NettingSet

    v = np.asarray(values, dtype=np.float64)
    K, n, P = v.shape
    if netting_sets is None:
        netting_sets = [NettingSet(f"NS{j}", f"CP{j}") for j in range(n)]
    num = np.ones((K, P)) if numeraire is None else np.asarray(numeraire, dtype=np.float64)
    t = np.arange(1, K + 1, dtype=np.float64) if times is None else times
    trade_values = kwargs.pop("trade_values", None)
    fx = kwargs.pop("fx", None)
    size = P if chunk_size is None else int(chunk_size)
    with ExposureAggregator(netting_sets, P, t, **kwargs) as agg:
        for s in range(0, P, size):
            e = min(P, s + size)
            agg.add_chunk(s, e, v[..., s:e], num[..., s:e], None if fx is None else np.asarray(fx)[..., s:e],
                          None if trade_values is None else np.asarray(trade_values)[..., s:e])
        return agg.finalize(discount_factors, maturities)
