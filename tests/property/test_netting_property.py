"""Property: netting never raises EE above the sum of the trades' EEs (and the allocation adds up).

max(sum_i v_i, 0) <= sum_i max(v_i, 0) path by path, so the netting-set EPE is at most the sum of its trades'
stand-alone EPEs on every date, whatever the trade values, numeraires or netting structure.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import exposure  # noqa: F401
from exposure.aggregation import exposure_measures, net_values

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def portfolios(draw):
    K = draw(st.integers(1, 4))
    n_trades = draw(st.integers(1, 6))
    P = draw(st.integers(1, 40))
    values = draw(arrays(np.float64, (K, n_trades, P), elements=finite))
    n_sets = draw(st.integers(1, n_trades))
    index = np.array(draw(st.lists(st.integers(0, n_sets - 1), min_size=n_trades, max_size=n_trades)))
    numeraire = draw(arrays(np.float64, (K, P), elements=st.floats(0.5, 2.0)))
    chunk = draw(st.integers(1, P))
    return values, index, n_sets, numeraire, chunk


@settings(max_examples=60, deadline=None)
@given(portfolios())
def test_netting_never_raises_ee_above_the_sum_of_trade_ees(case):
    values, index, n_sets, numeraire, chunk = case
    m = exposure_measures(net_values(values, index, n_sets), numeraire, trade_values=values,
                          trade_netting_index=index, chunk_size=chunk, quantiles=())
    scale = 1.0 + np.abs(values).sum(axis=1).max() / 0.5
    for j in range(n_sets):
        members = index == j
        stand_alone = m.trade["trade_EPE"][members].sum(axis=0)
        assert np.all(m.netting["EPE"][j] <= stand_alone + 1e-12 * scale)
        # the allocation of the netting-set EPE adds back up to it
        np.testing.assert_allclose(m.trade["AllocatedEPE"][members].sum(axis=0), m.netting["EPE"][j],
                                   rtol=1e-9, atol=1e-12 * scale)
