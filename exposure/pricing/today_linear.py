"""t0 values of a linear batch on the host (NumPy float64), from its t0 prepared moments (``LinearPre``, K = 1):

    V_i(0) = sum_c X_c(0) [ exp(-B_mid x_c) sum_n m_n,i xi^n  +  sum_cpn w exp(-b1 x_c(s) - b2 x_c) ]
             + sum_eq q_i S_e(0) X_c(0),          xi = x_c / s,  x_c = x_c(0)

the formula of ``linear_eval._evaluate`` on the one-date, one-path t0 view: with x(0) = 0 the series is m_0 =
sum_f a_f P_c(0, T_f) (``linear_moments``), the current coupons w P(0,T1)/P(0,T2) P(0,Tp) and the equity forwards
q S(0) e^{-div T} (the closed form of ``linear_today.present_values_local``, from the prepared tables). (n_trades,)
in base currency.
"""

from __future__ import annotations

import numpy as np


def linear_today(batch, pre, state) -> np.ndarray:
    """(n_trades,) t0 values of the ``LinearBatch`` ``batch`` from ``pre`` (its ``prepare`` at t = 0) and the
    ``today.TodayState`` ``state``."""
    a = lambda name: np.asarray(getattr(pre, name))  # noqa: E731
    mom = a("mom_tr")  # (1, n_b, N+1, n_tr)
    n_tr = mom.shape[-1]
    if not pre.ccy_idx:  # every trade has paid out
        return np.zeros(n_tr)
    ci = np.asarray(pre.ccy_idx, dtype=np.int64)
    x, fx = state.x[ci], state.fx[ci]  # (n_b,)
    xi = x * a("inv_scale")[0]
    v = np.zeros((ci.size, n_tr))
    for n in range(mom.shape[2] - 1, -1, -1):  # Horner: sum_n m_n xi^n
        v = v * xi[:, None] + mom[0, :, n, :]
    v = v * np.exp(-a("bmid")[0] * x)[:, None]
    cn = int(a("cc_n")[0])  # the current coupons, packed to the front
    if cn:
        b = a("cc_b")[0, :cn].astype(np.int64)
        xs = np.where(a("cc_j")[0, :cn] < 1, x[b], 0.0)  # the fixing state: the t0 view date, or x = 0
        cv = a("cc_w")[0, :cn] * np.exp(-a("cc_b1")[0, :cn] * xs - a("cc_b2")[0, :cn] * x[b])
        seg = a("cc_tr")[0, :cn].astype(np.int64)  # b n_trades + trade
        np.add.at(v, (seg // n_tr, seg % n_tr), cv)
    val = v[0] * fx[0]
    for j in range(1, ci.size):
        val = val + v[j] * fx[j]
    eqc = a("eq_tr")[0]  # (n_eq_b, n_tr)
    for e, (ei, ec) in enumerate(zip(pre.eq_idx, pre.eq_ccy_idx)):
        val = val + eqc[e] * (state.eq[ei] * state.fx[ec])
    return val
