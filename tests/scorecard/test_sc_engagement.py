"""RFQ engagement 1-5 from response rate, response time, fill rate and behaviour in volatile periods."""

import numpy as np
import pandas as pd
import pytest

from scorecard.protocol import protocol_metrics
from scorecard_testlib import compose


def rfq_log(stress_fill: float, stress_resp: float, n=400, seed=0):
    """Half the RFQs stressed; normal: always respond in 300 ms, fill 95%; stressed: as given."""
    rng = np.random.default_rng(seed)
    stressed = np.arange(n) % 2 == 1
    resp = np.where(stressed, rng.random(n) < stress_resp, True)
    fill = np.where(stressed, rng.random(n) < stress_fill, rng.random(n) < 0.95)
    outcome = np.where(~resp, "no_response", np.where(fill, "filled", "rejected"))
    return pd.DataFrame({"counterparty": "X", "responded": resp, "response_ms": np.where(resp, 300.0, np.nan),
                         "quote_price": np.where(resp, 100.01, np.nan), "mid": 100.0, "side": 1,
                         "outcome": outcome}), stressed


def score(stress_fill, stress_resp):
    df, st = rfq_log(stress_fill, stress_resp)
    m = protocol_metrics(df, compose().protocol, 1.96, st).set_index("metric")
    return m


def test_volatile_period_behaviour_lowers_the_score():
    good, bad = score(0.95, 1.0), score(0.40, 0.6)
    assert {"fill_rate", "stress_fill_rate", "stress_response_rate", "response_rate", "response_ms"} <= set(good.index)
    assert good.loc["protocol_score", "value"] - bad.loc["protocol_score", "value"] > 1.0
    assert 1 <= bad.loc["protocol_score", "value"] <= 5 and good.loc["protocol_score", "value"] <= 5
    # formula: sub-scores (lo 0.5 -> 0, hi 1 -> 1) weighted; check against a hand computation
    w = dict(compose().protocol.weights)
    sub = {"response_rate": (bad.loc["response_rate", "value"] - 0.5) / 0.5,
           "stress_response_rate": (bad.loc["stress_response_rate", "value"] - 0.5) / 0.5,
           "fill_rate": (bad.loc["fill_rate", "value"] - 0.5) / 0.5,
           "stress_fill_rate": 0.0,  # 40% < lo: clipped
           "response_time": (2000 - 300) / 1900, "competitiveness": (5 - 1.0) / 4.5}
    expected = 1 + 4 * sum(w[k] * min(1, max(0, v)) for k, v in sub.items()) / sum(w.values())
    assert bad.loc["protocol_score", "value"] == pytest.approx(expected, rel=1e-9)


def test_no_stressed_rfqs_reports_the_missing_parts():
    df, _ = rfq_log(0.9, 1.0)
    m = protocol_metrics(df, compose().protocol, 1.96, np.zeros(len(df), bool)).set_index("metric")
    assert "stress_fill_rate" not in m.index
    assert "without stress_fill_rate, stress_response_rate" in m.loc["protocol_score", "unit"]
