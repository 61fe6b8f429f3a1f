"""Synthetic RFQ log: one row per (request, solicited counterparty).

respond ~ Bern(r_c); response_ms ~ LogNormal with mean rt_c (sigma 0.5); quote = mid (1 + s (hs_c + N(0, 0.3)) / 1e4);
a responded quote is attempted with probability 1/2 and filled with probability p_c(regime), regime stressed when the
vol index at the request exceeds 25. Outcomes: filled | rejected | not_selected | no_response.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STRESS_LEVEL = 25.0
RT_SIGMA = 0.5


def generate_rfq(rng, planted, n_rfq: int, regime: pd.DataFrame, ins: pd.DataFrame, t_start: int, t_end: int):
    ncp = len(planted)
    ts = np.sort(rng.integers(t_start, t_end, n_rfq))
    reg_idx = np.searchsorted(regime["ts_ns"].to_numpy(), ts, side="right") - 1
    stressed = regime["vol_index"].to_numpy()[reg_idx] > STRESS_LEVEL
    k = rng.integers(0, len(ins), n_rfq)
    mid = ins["price_level"].to_numpy()[k] * np.exp(rng.normal(0, 0.01, n_rfq))
    side = rng.choice([1, -1], n_rfq)
    size = (ins["adv"].to_numpy()[k] * 1e-3).round(0)

    r = np.array([p.response_rate for p in planted])
    rt = np.array([p.response_ms for p in planted])
    hs = np.array([p.halfspread_bps for p in planted])
    pn = np.array([p.fill_normal for p in planted])
    ps = np.array([p.fill_stress for p in planted])
    responded = rng.random((n_rfq, ncp)) < r[None, :]
    ms = np.exp(np.log(rt)[None, :] - RT_SIGMA**2 / 2 + RT_SIGMA * rng.normal(size=(n_rfq, ncp)))
    quote = mid[:, None] * (1 + side[:, None] * (hs[None, :] + rng.normal(0, 0.3, (n_rfq, ncp))) / 1e4)
    attempt = responded & (rng.random((n_rfq, ncp)) < 0.5)
    p_fill = np.where(stressed[:, None], ps[None, :], pn[None, :])
    filled = attempt & (rng.random((n_rfq, ncp)) < p_fill)
    outcome = np.where(~responded, "no_response",
                       np.where(~attempt, "not_selected", np.where(filled, "filled", "rejected")))
    df = pd.DataFrame({
        "rfq_id": np.repeat([f"R{i:05d}" for i in range(n_rfq)], ncp),
        "ts_ns": np.repeat(ts, ncp),
        "counterparty": np.tile([p.counterparty for p in planted], n_rfq),
        "instrument": np.repeat(ins["instrument"].to_numpy()[k], ncp),
        "side": np.repeat(np.where(side > 0, "buy", "sell"), ncp),
        "size": np.repeat(size, ncp),
        "mid": np.repeat(mid, ncp),
        "responded": responded.ravel(),
        "response_ms": np.where(responded, ms, np.nan).ravel(),
        "quote_price": np.where(responded, quote, np.nan).ravel(),
        "outcome": outcome.ravel(),
    })
    truth = {"stressed_share": float(stressed.mean())}
    return df, truth
