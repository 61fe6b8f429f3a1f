"""Physically settled swaptions' netting values in the plain run: the exercised swaps after expiry summed per
(date, netting set, payment time), weighted by the trades' exercise indicators.

    V_r(t_k) = sum_{i in r, t_k <= T0_i} sign_i opt_i(t_k) + sum_T P(t_k, T) W_{s(k,r,T)} + running coupons,
    W_s = sum_{i in s} c_{s,i} 1_i(path),   c_{s,i} = sign_i a_{i,T}

with 1_i = 1{V_swap,i(t_e) > 0} the holder's exercise (``swaption_kernels._exercise_indicator``), a_{i,T} the
holder's swap flows at T alive at t_k (``opt_swaption`` module docstring; a float end and the next start at one
time added first) and the running coupons w_j F_j P(t_k, e_j) 1_i in their fixed phase. A bond P(t_k, T) is shared
by every trade of the currency paying at T, so a netting set's trades paying at T are one term, and the
indicator-weighted amounts W_s are per chunk a table of S states (a (r, T) pair's set of exercised-at-t_k trades
changes only at an expiry, so S is about the number of (trade, flow) pairs: bench-1k USD 435 states for 38,450
(date, trade, flow) entries, 13,619 terms). Every term by the same formula as the trade-level values
(``_physical_values``: per trade, times the indicator, then ``netting_sum``), added in another order: the netting
values equal theirs to rounding (0 or 1 times an amount is exact). All per path (chunk invariant).

Each term times its date's FX rate goes straight into the run's (K, n_ns, P) total (``add_netting_values``): no
(K, R, P) array of the batch to fill, scale and add (bench-1k: about 0.06 CPU s less per 5,120-path chunk); the
same bits in the base currency, elsewhere (sum of terms) x FX to about one ulp of the row's gross value.

Prepared only with the netting tables (``PricingContext.option_tables``, ``opt_swaption._tables``); values,
t0 prices and the AD twins keep the trade-level entries. Shapes: K dates, P paths, R netting sets of the batch.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from exposure.pricing.opt_common import accumulate, accumulate_shared, cast_floats, shared_bond_entries
from exposure.pricing.swaption_kernels import _exercise_indicator, _jamshidian_shared, _running_terms


def _merge(times, amounts):
    """The holder's swap flows (``opt_swaption._underlying``): sum flows on the same date (to 1e-10 y), keeping the
    exact times; drop zero amounts."""
    times = np.asarray(times, dtype=np.float64)
    _, first, inv = np.unique(np.round(times, 10), return_index=True, return_inverse=True)
    merged = np.zeros(first.size)
    np.add.at(merged, inv.reshape(-1), amounts)
    keep = merged != 0.0
    return times[first][keep], merged[keep]


NETTING_ROW_KEYS = ("ns_flows", "ns_flow_bonds", "ns_states", "ns_run")  # what ``netting_rows`` returns


def netting_rows(flat_flows: dict, run: dict, sign, ns_of_trade, ns_list) -> dict:
    """{"ns_flows", "ns_flow_bonds", "ns_states", "ns_run"}: the exercised swap's flows (``opt_swaption._underlying``:
    ``flat_flows`` unpadded with keys lnA, B, amt, T, g, k, i) summed per (date k, netting set r, bond time T) into
    one entry on row k R + r (r the trade's netting set in ``ns_list``) whose weight on a path is the state
    W_s = sum_i c_{s,i} 1_i (``ns_states``: per state s its trades ``idx`` (S, J) and amounts ``c`` (S, J), the
    trade's ``sign`` in them, padding 0; state 0 has no trade, for the padding entries): a netting set's trades
    paying at T share the bond and one entry. The states repeat over dates (a (r, T) pair's set of trades changes
    only at an expiry), so S is about the number of (trade, flow) pairs. ``run`` (padded running-coupon entries)
    moves to rows k R + r with w times the sign, i kept for the indicator. A netting set's terms may be summed in
    any order (values rounded once more anyway), so each entry gets its own row for the bond sharing's order check
    (as ``opt_tables.netting_entries``)."""
    R = np.int32(len(ns_list))
    r_of = np.searchsorted(ns_list, np.asarray(ns_of_trade)).astype(np.int32)
    i, k = np.asarray(flat_flows["i"]), np.asarray(flat_flows["k"], dtype=np.int32)
    T, amt = np.asarray(flat_flows["T"], dtype=np.float64), np.asarray(flat_flows["amt"]) * sign[i]
    # groups (k, r, T); within a group a trade's flows at T (a float end and the next start) are added first
    order = np.lexsort((i, T, r_of[i], k))
    ko, ro, To, io = k[order], r_of[i][order], T[order], i[order]
    step = lambda a: np.r_[True, a[1:] != a[:-1]] if a.size else np.zeros(0, bool)  # noqa: E731
    new_group = step(ko) | step(ro) | step(To)
    starts = np.flatnonzero(new_group | step(io))  # one (group, trade) pair each
    pair_amt = np.add.reduceat(amt[order], starts) if starts.size else np.zeros(0)
    live = pair_amt != 0.0  # a float end and the next start on one curve cancel (-1 + 1): no term
    pair_group = (np.cumsum(new_group) - 1)[starts][live]
    pair_i, pair_amt = io[starts][live], pair_amt[live]
    groups, first_pair, count = np.unique(pair_group, return_index=True, return_counts=True)
    J = max(int(count.max(initial=1)), 1)
    slot = np.arange(pair_group.size) - np.repeat(first_pair, count)
    gi, gc = np.zeros((groups.size, J), np.int64), np.zeros((groups.size, J))
    row_of = np.repeat(np.arange(groups.size), count)
    gi[row_of, slot], gc[row_of, slot] = pair_i, pair_amt
    # the states: distinct (trades, amounts) rows; state 0 has no trade (W = 0, the padding entries')
    key = np.concatenate([gi.astype(np.float64), gc], axis=1)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    idx = np.concatenate([np.zeros((1, J), np.int32), uniq[:, :J].astype(np.int32)])
    c = np.concatenate([np.zeros((1, J)), uniq[:, J:]])
    state_of = inv.reshape(-1).astype(np.int32) + 1
    first = order[np.flatnonzero(new_group)[groups]]
    flat = {"lnA": flat_flows["lnA"][first], "B": flat_flows["B"][first], "s": state_of, "k": k[first],
            "trow": k[first] * R + r_of[i[first]], "row": np.arange(first.size, dtype=np.int32), "T": T[first]}
    if not first.size:  # no flow after an expiry on the grid: one entry of state 0 (W = 0)
        flat = {name: np.zeros(1, a.dtype) for name, a in flat.items()}
    # an entry (its state's row gathered, a product, a scatter-add) costs more than the bond's exp: measured on
    # bench-1k (USD: 13,632 entries one bond each against 19,392 in 4,848 blocks of 4) about 0.03 CPU s less per
    # chunk of 5,120 paths, the same bits; so the blocks only where their padding is small
    ent, blocks = shared_bond_entries(flat, "lnA", "B", flat.pop("T"), np.zeros(flat["k"].size, np.int64),
                                      entry_cost=8.0)
    ri = np.asarray(run["i"])
    ns_run = dict(run, row=np.asarray(run["k"], dtype=np.int32) * R + r_of[ri], w=run["w"] * sign[ri])
    return {"ns_flows": {"row": ent["trow"], "s": ent["s"]}, "ns_flow_bonds": blocks,
            "ns_states": {"idx": idx, "c": c}, "ns_run": ns_run}


def _flow_states(weights):
    """P(t, T) W_s: a (date, netting set, T) group of the exercised swaps' flows (``netting_rows``)."""
    def fn(x, bond, c):
        return bond * weights[c["s"]]

    return fn


def netting_values(pre, x_all, fx, ns_rows: int):
    """(K, R, P) netting values of a physical batch's direct terms in the batch's R = ``ns_rows`` netting-set rows
    (``add_netting_values`` into zeros, netting set r in row r). x_all, fx (K, P): the currency's states and FX
    rates."""
    K, P = x_all.shape
    acc = jnp.zeros((K, ns_rows, P), x_all.dtype)
    return add_netting_values(acc, pre, x_all, fx, np.arange(ns_rows))


def total_rows(ns, n_ns: int):
    """ent -> ent with its rows k R + r (the batch's r-th netting set at date k) moved to the run's total's rows
    k n_ns + ns[r] (R = len(ns))."""
    ns_j, R = jnp.asarray(np.asarray(ns, dtype=np.int32)), np.int32(len(ns))

    def to_total(ent):
        row = ent["row"]
        return dict(ent, row=(row // R) * np.int32(n_ns) + ns_j[row % R])

    return to_total


def add_direct(acc, pre, x_all, fx, ns):
    """acc (K, n_ns, P) + a cash batch's pre-expiry terms left out of its tables (``opt_direct``), each times its
    date's FX rate and scatter-added straight into the run's total (``add_netting_values``' rows and rounding)."""
    K, n_ns, P = acc.shape
    d = cast_floats({"o": pre["opt_direct"], "b": pre["opt_direct_bonds"]}, x_all.dtype)
    flat = accumulate_shared(acc.reshape(K * n_ns, P), x_all, total_rows(ns, n_ns)(d["o"]), d["b"],
                             _jamshidian_shared, scale=fx)
    return flat.reshape(K, n_ns, P)


def add_netting_values(acc, pre, x_all, fx, ns):
    """acc (K, n_ns, P) + a physical batch's direct terms (module docstring) in its netting sets' rows ``ns`` (R,
    ints, the batch's r-th netting set's row of acc): the pre-expiry terms left out of the tables (``opt_direct``,
    signs in their weights), the exercised swap after expiry (``ns_flows``, ``ns_run``) times each trade's
    indicator, each term times its date's FX rate and scatter-added straight into the run's total (rows k n_ns +
    ns[r]): no (K, R, P) array of the batch, no zero fill, no pass over it for FX and the total. The terms of a
    row are added in the order of ``netting_rows`` (direct, flows, running coupons) onto the total's value, each
    times FX: equal to (sum of terms) x FX added once to about one ulp of the row's gross value. x_all, fx (K, P):
    the currency's states and FX rates."""
    pre = cast_floats(pre, x_all.dtype)
    K, n_ns, P = acc.shape
    to_total = total_rows(ns, n_ns)
    ind = _exercise_indicator(pre, x_all)
    st = pre["ns_states"]
    weights = st["c"][:, 0, None] * ind[st["idx"][:, 0]]  # (S, P): W_s per path, its trades in a fixed order
    for j in range(1, st["c"].shape[1]):
        weights = weights + st["c"][:, j, None] * ind[st["idx"][:, j]]
    flat = acc.reshape(K * n_ns, P)
    flat = accumulate_shared(flat, x_all, to_total(pre["opt_direct"]), pre["opt_direct_bonds"], _jamshidian_shared,
                             scale=fx)
    flat = accumulate_shared(flat, x_all, to_total(pre["ns_flows"]), pre["ns_flow_bonds"], _flow_states(weights),
                             scale=fx)
    flat = accumulate(flat, x_all, to_total(pre["ns_run"]), _running_terms(x_all, ind), scale=fx)
    return flat.reshape(K, n_ns, P)
