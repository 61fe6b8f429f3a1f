"""Implementation-shortfall decomposition per parent order (delay, timing, impact, fees, opportunity) sums to the
total, matches a hand computation, and each counterparty's excess against comparable orders elsewhere recovers
the planted excess."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scorecard.shortfall import COMPONENTS, decompose

T = 1_700_000_000_000_000_000


def _quotes(rows):
    return pd.DataFrame([{"ts_ns": t, "instrument": "X", "bid": m - 0.01, "ask": m + 0.01} for t, m in rows])


def test_hand_computed_order():
    """Buy 1000, decision mid 100, arrival 100.05; fills 400 @ 100.10 (mid 100.07, fee 10) and 300 @ 100.20
    (mid 100.15, fee 5); 300 unfilled, valued at the last mid 100.15.
    delay = 0.05 x 700 = 35; timing = 400 x 0.02 + 300 x 0.10 = 38; impact = 400 x 0.03 + 300 x 0.05 = 27;
    fees = 15; opportunity = 0.15 x 300 = 45; total 160 = 16 bps of 100 x 1000."""
    ex = pd.DataFrame({"order_id": "O1", "fill_id": ["F1", "F2"], "ts_ns": [T, T + 10**9], "counterparty": "A",
                       "instrument": "X", "side": 1, "price": [100.10, 100.20], "size": [400.0, 300.0],
                       "arrival_mid": 100.05, "decision_mid": 100.0, "fees": [10.0, 5.0], "order_qty": 1000.0})
    o = decompose(ex, _quotes([(T, 100.07), (T + 10**9, 100.15)])).iloc[0]
    expected = {"delay": 35, "timing": 38, "impact": 27, "fees": 15, "opportunity": 45, "total": 160}
    for k, v in expected.items():
        assert o[k] == pytest.approx(v, rel=1e-9), k
    assert o["total_bps"] == pytest.approx(16.0)
    sell = decompose(ex.assign(side=-1, price=[99.90, 99.80], decision_mid=100.0, arrival_mid=99.95),
                     _quotes([(T, 99.93), (T + 10**9, 99.85)])).iloc[0]
    assert sell["total"] == pytest.approx(160.0) and sell["delay"] == pytest.approx(35.0)  # mirror image


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(1, 1e4), st.floats(-50, 50), st.floats(-50, 50), st.floats(0, 20)),
                min_size=1, max_size=6),
       st.sampled_from([1, -1]), st.floats(-50, 50), st.floats(0, 3), st.booleans())
def test_components_sum_to_total(fills, side, arr_bps, unfilled_mult, with_quotes):
    p_d = 100.0
    arrival = p_d * (1 + arr_bps / 1e4)
    ts = [T + i * 10**9 for i in range(len(fills))]
    mids = [arrival * (1 + m / 1e4) for _, m, _, _ in fills]
    ex = pd.DataFrame({"order_id": "O", "fill_id": [f"F{i}" for i in range(len(fills))], "ts_ns": ts,
                       "counterparty": "A", "instrument": "X", "side": side,
                       "price": [mi * (1 + side * d / 1e4) for mi, (_, _, d, _) in zip(mids, fills)],
                       "size": [q for q, _, _, _ in fills], "arrival_mid": arrival, "decision_mid": p_d,
                       "fees": [f for *_, f in fills]})
    ex["order_qty"] = ex["size"].sum() * (1 + unfilled_mult)
    o = decompose(ex, _quotes(zip(ts, mids)) if with_quotes else None).iloc[0]
    parts = sum(o[c] for c in COMPONENTS)
    direct = side * ((ex["price"] - p_d) * ex["size"]).sum() + ex["fees"].sum() + o["opportunity"]
    assert o["total"] == pytest.approx(parts, rel=1e-9, abs=1e-6)
    assert o["total"] == pytest.approx(direct, rel=1e-9, abs=1e-6)
    assert sum(o[f"{c}_bps"] for c in COMPONENTS) == pytest.approx(o["total_bps"], rel=1e-9, abs=1e-9)


def test_excess_against_comparable_orders_elsewhere(run_result, synthetic):
    """Planted excess e_c with a firm-wide flow-weighted mean of zero: against the OTHER counterparties' orders,
    the truth is e_c N / (N - n_c)."""
    m = run_result.metrics.set_index(["counterparty", "metric"])
    counts = synthetic.tables["executions"]["counterparty"].map(
        lambda s: next((p.counterparty for p in synthetic.planted if s in (p.counterparty, p.name, *p.aliases)),
                       None)).value_counts()
    n = counts.sum()
    for p in synthetic.planted:
        truth = p.excess_slippage_bps * n / (n - counts[p.counterparty])
        r = m.loc[(p.counterparty, "excess_shortfall_bps")]
        assert r["lo"] <= truth <= r["hi"], (p.counterparty, truth, r.to_dict())
    orders = run_result.orders
    assert np.allclose(orders[[*COMPONENTS]].sum(axis=1), orders["total"])
