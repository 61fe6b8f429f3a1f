"""Caps and floors under the currency's Hull-White model, as sums of caplets/floorlets on paths.

Periods [s_j, e_j) from the trade's schedule, accrual tau_j in the index day count, fixing on f_j <= s_j
(the accrual start less ``fixing_days``), payment on p_j >= e_j (the end, or ``payment_lag`` business days
after it), rate L_j with 1 + tau_j L_j = b_j P(f_j, s_j) / P(f_j, e_j) (b_j the deterministic basis of the
index's forwarding curve over the discount curve, 1 on a single curve). At t_k:

  * t_k <= f_j (fixing ahead): at f_j the caplet is worth (b_j P(f,s)/P(f,e) - (1 + K tau_j))^+ P(f,p), so
    under the p_j-forward measure it is Black on F = b_j P(t,s) P(t,p) / P(t,e) e^C struck at (1 + K tau_j)
    P(t,p), with sd (B(f,e) - B(f,s)) sd(x(f) | x(t)) and the payment-lag convexity C = (B(f,s) - B(f,e))
    (B(f,p) - B(f,e)) Var[x(f) | x(t)]: the formula of ``opt_closed_form.zbo`` (call for a cap, put for a floor),
    live terms only. Without a payment lag (p = e, C = 0) it is the option to exchange bonds (1 + K tau_j)
    (k_j P(f,s) - P(f,e))^+, k_j = b_j / (1 + K tau_j), i.e. (1 + K tau_j) ZBO_put(t_k; s_j, e_j, k_j) as
    ``hw_options.caplet`` when also f_j = s_j;
  * f_j < t_k < p_j (fixed, not yet paid): the intrinsic value max(w (F_j - (1 + K tau_j)), 0) P(t_k, p_j)
    with F_j = 1 + tau_j L_j observed as in ``opt_common.current_coupons`` (the fixings file or today's
    curve for fixings on or before the as-of date; else the path's state at the fixing date, a simulated
    event date: see ``event_dates``);
  * p_j <= t_k: paid (a payment on a valuation date is not in that date's value), 0.

Every caplet is included, the first one too (it is fixed at the start date). Values are in base currency
(times X_c on the path); a short position is negative.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.market.schedule import year_fraction
from exposure.pricing.opt_closed_form import zbo
from exposure.pricing.opt_common import (
    TIME_EPS,
    accumulate,
    cast_floats,
    basis_np,
    current_coupons,
    entries,
    pad_rows,
)
from exposure.pricing.view import TradeBatch
from exposure.pricing.today_options import cap_floor_today


class CapFloorBatch(TradeBatch):
    """Caps/floors in one currency; specs from ``options.parse_cap_floor``."""

    def __init__(self, specs, netting_index):
        super().__init__(specs, netting_index)
        self.currency = specs[0].currency

    def event_dates(self) -> tuple:
        """Every caplet's fixing date (the accrual start less the fixing lag)."""
        return tuple(d for s in self.specs for d in (s.fixing_dates or s.dates[:-1]))

    def payment_times(self, market) -> list:
        """Per trade: the model times of the caplets' payment dates (the ends without a payment lag)."""
        return [np.array([market.time(x) for x in (s.payment_dates or s.dates[1:])]) for s in self.specs]

    def periods(self, market):
        """Per trade: starts, ends (model times), accruals, basis b_j, fixing factors (nan if none), curve."""
        out = []
        for s in self.specs:
            d = s.dates
            ic = market.indices[s.index]
            st = np.array([market.time(x) for x in d[:-1]])
            en = np.array([market.time(x) for x in d[1:]])
            tau = np.array([year_fraction(a, b, ic.day_count) for a, b in zip(d[:-1], d[1:])])
            disc = market.curves[s.currency]
            b = basis_np(disc, ic.curve, st, en)
            fix = np.array([np.nan if f is None else 1.0 + ta * f for f, ta in zip(s.fixings, tau)])
            out.append((st, en, tau, b, fix, ic.curve))
        return out

    def fixing_times(self, market) -> list:
        """Per trade: the model times of the caplets' fixing dates (the starts without a fixing lag)."""
        return [np.array([market.time(x) for x in (s.fixing_dates or s.dates[:-1])]) for s in self.specs]

    def schedule_rows(self, market) -> dict:
        """The padded schedule rows (n trades, width) that ``prepare`` and the risk twin read: st, en, ft, pt
        (model times, padded with each row's last), tau (padded 0), b (padded 1), fix (padded nan), valid (bool);
        strike, notional (n,); per = ``periods(market)``."""
        per = self.periods(market)
        return {"per": per, "st": pad_rows([p[0] for p in per], fill=None), "en": pad_rows([p[1] for p in per], fill=None),
                "tau": pad_rows([p[2] for p in per], fill=0.0), "b": pad_rows([p[3] for p in per], fill=1.0),
                "fix": pad_rows([p[4] for p in per], fill=np.nan),
                "ft": pad_rows(self.fixing_times(market), fill=None), "pt": pad_rows(self.payment_times(market), fill=None),
                "valid": pad_rows([np.ones_like(p[0]) for p in per], fill=0.0) > 0.5,
                "strike": np.array([s.strike for s in self.specs]), "notional": np.array([s.notional for s in self.specs])}

    def prepare(self, ctx):
        specs, ccy = self.specs, self.currency
        rm = ctx.rate_model(ccy)
        t = np.asarray(ctx.times, dtype=np.float64)
        rows = self.schedule_rows(ctx.market)
        per, st, en, tau, b, fix, ft, pt, valid, strike, notional = (rows[k] for k in (
            "per", "st", "en", "tau", "b", "fix", "ft", "pt", "valid", "strike", "notional"))
        sign = np.array([1.0 if s.long else -1.0 for s in specs])
        is_cap = np.array([s.cap for s in specs])
        scale = 1.0 + strike[:, None] * tau

        lnA_E, B_E = ctx.bond_coefficients(ccy, en)
        lnA_S, B_S = ctx.bond_coefficients(ccy, st)
        lnA_P, B_P = ctx.bond_coefficients(ccy, pt)
        ahead = (t[:, None, None] <= ft[None] + TIME_EPS) & (ft[None] > TIME_EPS) & valid[None]
        sv = np.maximum(np.where(ahead, rm.state_variance(t[:, None, None], ft[None]), 0.0), 0.0)
        # B(f,T) of the bonds the payoff reads at the fixing date f (= s without a fixing lag)
        Bf_s, Bf_e, Bf_p = (rm.bond_coefficients(ft, T)[1] for T in (st, en, pt))
        s_p = (Bf_e - Bf_s)[None] * np.sqrt(sv)  # sd of ln[P(f,s)/P(f,e)] given x(t)
        # Paid at p >= e: under the p-forward measure E[P(f,s)/P(f,e)] = P(t,s)/P(t,e) e^C with
        # C = Cov(ln P(f,s)/P(f,e), ln P(f,p)/P(f,e)) = (B(f,s) - B(f,e)) (B(f,p) - B(f,e)) Var[x(f)|x(t)] (0 for p = e)
        conv = ((Bf_s - Bf_e) * (Bf_p - Bf_e))[None] * sv
        n = len(specs)
        # call (cap) / put (floor) on F = b P(t,s) P(t,p) / P(t,e) e^C against scale P(t,p): g = ln F / (scale P(t,p))
        opt = entries(
            ahead & (notional[:, None] * scale != 0.0)[None], n,
            alpha=np.log(b / scale)[None] + lnA_S - lnA_E + conv, beta=B_S - B_E,
            gamma=np.log(scale)[None] + lnA_P, delta=B_P, s=s_p,
            w=np.where(is_cap, 1.0, -1.0)[None, :, None], wgt=notional[None, :, None],
        )
        lagged = (ft < st - TIME_EPS) | (pt > en + TIME_EPS)  # fixed phases [f_j, p_j) of neighbours overlap
        keys = ("has", "j", "m", "c0", "Bfix", "lnA_e", "B_e")
        cur = {k: np.zeros((t.size, n), dtype=(int if k in ("j", "m") else bool if k == "has" else float))
               for k in keys}
        groups: dict = {}  # one call per distinct forwarding curve
        for i, p in enumerate(per):
            groups.setdefault(id(p[5]), (p[5], []))[1].append(i)
        cols = np.arange(n)[None, :]
        # With a fixing lag the next period fixes before the current one pays: their fixed phases overlap, so
        # even and odd periods are collected separately (each set alone does not overlap).
        sets = [slice(None)] if not lagged.any() or st.shape[1] < 2 else [slice(0, None, 2), slice(1, None, 2)]
        parts = []
        for sl in sets:
            step, first = sl.step or 1, sl.start or 0
            for fwd, idx in groups.values():
                idx = np.asarray(idx)
                sub = lambda a: a[idx][:, sl]  # noqa: E731
                part = current_coupons(ctx, ccy, fwd, sub(st), sub(en), sub(valid), sub(fix), sub(ft),
                                       own_fixings=True, pays=sub(pt))
                part["j"] = first + step * part["j"]  # back to the full schedule's period index
                for k in keys:
                    cur[k][:, idx] = part[k]
            parts.append(entries(
                cur["has"], n, c0=cur["c0"], Bfix=cur["Bfix"], m=cur["m"], lnA_e=cur["lnA_e"], B_e=cur["B_e"],
                scale=scale[cols, cur["j"]], w=notional[None, :], wp=np.where(is_cap, 1.0, -1.0)[None, :]))
        fixed = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        pre = {"opt": opt, "fixed": fixed, "sign": sign}
        return jax.tree_util.tree_map(jnp.asarray, pre)

    def values(self, pre, view):
        ci = view.ccy_index(self.currency)
        return _cap_values(pre, view.x[ci], view.fx[ci])

    today_values = cap_floor_today  # (n,) t0 values on the host from the t0 prepared data (``pricing.today``)


@jax.jit
def _cap_values(pre, x_all, fx):
    pre = cast_floats(pre, x_all.dtype)
    (K, P), n = x_all.shape, pre["sign"].shape[0]

    def fixed(x, c):
        col = lambda name: c[name][:, None]  # noqa: E731
        factor = jnp.exp(col("c0") + col("Bfix") * x_all[c["m"]])
        payoff = jnp.maximum(col("wp") * (factor - col("scale")), 0.0)
        return col("w") * payoff * jnp.exp(col("lnA_e") - col("B_e") * x)

    acc = accumulate(jnp.zeros((K * n, P), x_all.dtype), x_all, pre["opt"], zbo)
    acc = accumulate(acc, x_all, pre["fixed"], fixed)
    return acc.reshape(K, n, P) * pre["sign"][None, :, None] * fx[:, None, :]
