"""SA-CCR AddOn of one netting set at every future date, all dates at once (for the EAD profile).

    AddOn(t_k) = saccr.addon_by_class of the trades alive at t_k (maturity > t_k) aged to t_k: S, E, M and an
                 option's expiry T shortened by t_k (S floored at 0); an option expired by t_k is its underlying
                 (delta +-1, physical settlement); V = C = 0 (multiplier 1); a margined set takes the unmargined
                 AddOn when its unmargined EAD alpha AddOn_u is below alpha (max(TH + MTA - NICA, 0) + AddOn_m)

The same floating-point operations as ``saccr_netting_set`` date by date, in the same order (sums over trades in
trade order, over hedging sets and entities in the order of their first live trade; exp, log and erfc from
``math``), so the profile is bit for bit the per-date computation's; arrays (n trades, K dates), times in years.
Trades this does not cover (an option without expiry, price or strike; a tranche without attachment or
detachment; a delta that cannot be taken) return None: ``profile.saccr_profile`` then ages them date by date.
"""

from __future__ import annotations

import math

import numpy as np

from exposure.capital.saccr import _hs_key, maturity_factor
from exposure.capital.saccr_tables import IR_BUCKET_CORR, MIN_MATURITY, RHO

CLASSES = ("IR", "FX", "CR", "EQ", "CO")


def _map(fn, x: np.ndarray) -> np.ndarray:
    """fn (a ``math`` function) elementwise: NumPy's own exp/log may differ from libm's in the last bit."""
    return np.array([fn(v) for v in x.ravel().tolist()], dtype=np.float64).reshape(x.shape)


def _regular(t) -> bool:
    if t.option in ("call", "put") and t.delta is None:
        return t.expiry is not None and t.price is not None and t.strike is not None
    if t.option == "tranche" and t.delta is None:
        return t.attachment is not None and t.detachment is not None
    return True


def _ordered_sum(parts: np.ndarray, first: np.ndarray) -> np.ndarray:
    """0.0 + sum over rows of parts (m, K), added per date in increasing first (m, K): a dict filled in trade
    order and summed in its insertion order (rows without a live trade are 0 and come last)."""
    acc = np.zeros(parts.shape[1])
    order = np.argsort(first, axis=0, kind="stable")
    for row in np.take_along_axis(parts, order, axis=0):
        acc = acc + row
    return acc


def _deltas(trades, t: np.ndarray, alive: np.ndarray):
    """Supervisory deltas (n, K) of the aged trades (saccr.option_delta with rate_shifts), or None when a
    P + lambda or K + lambda is <= 0 (the per-date path raises its ValueError)."""
    n, K = alive.shape
    sign = np.array([1.0 if x.long else -1.0 for x in trades])
    out = np.repeat(sign[:, None], K, axis=1)
    opt = [i for i, x in enumerate(trades) if x.option in ("call", "put")]
    for i, x in enumerate(trades):
        if x.delta is not None:  # explicit delta, until an option expires into its underlying
            expires = x.option in ("call", "put") and x.expiry is not None
            keep = ~(x.expiry <= t) if expires else np.ones(K, bool)
            out[i] = np.where(keep, float(x.delta), out[i])
        elif x.option == "tranche":
            a, d = x.attachment, x.detachment
            out[i] = sign[i] * 15.0 / ((1.0 + 14.0 * a) * (1.0 + 14.0 * d))
    live = [i for i in opt if trades[i].delta is None]
    if not live:
        return out
    # lambda per IR currency and date: the lowest P or K of its live (unexpired) options without a shift
    low: dict = {}
    for i in live:
        x = trades[i]
        if x.asset_class == "IR" and x.shift is None:
            cur = low.get(x.hedging_set, np.full(K, math.inf))
            on = alive[i] & ~(x.expiry <= t)
            low[x.hedging_set] = np.where(on, np.minimum(cur, min(x.price, x.strike)), cur)
    lam = {c: np.where(lo <= 0, np.maximum(-lo, 0.0) + 0.001, 0.0) for c, lo in low.items()}
    rows = np.array(live)
    shift = np.stack([np.full(K, x.shift) if x.shift is not None else
                      (lam.get(x.hedging_set, np.zeros(K)) if x.asset_class == "IR" else np.zeros(K))
                      for x in (trades[i] for i in live)])
    price = np.array([trades[i].price for i in live])[:, None] + shift
    strike = np.array([trades[i].strike for i in live])[:, None] + shift
    expiry = np.array([trades[i].expiry for i in live])[:, None] - t[None, :]
    on = alive[rows] & ~(np.array([trades[i].expiry for i in live])[:, None] <= t[None, :])  # not yet exercised
    if np.any(on & ((price <= 0) | (strike <= 0))):
        return None
    T = np.maximum(expiry, MIN_MATURITY)
    vol = np.array([trades[i].supervisory_vol() for i in live])[:, None]
    ratio = np.where(on, price / np.where(on, strike, 1.0), 1.0)
    d1 = (_map(math.log, ratio) + 0.5 * vol * vol * T) / (vol * np.sqrt(T))
    call = np.array([trades[i].option == "call" for i in live])[:, None]
    phi = 0.5 * _map(math.erfc, np.where(call, -d1, d1) / math.sqrt(2.0))
    dl = np.where(call, sign[rows][:, None] * phi, -sign[rows][:, None] * phi)
    out[rows] = np.where(on, dl, out[rows])
    return out


def addon_profile(trades, terms, times, alpha: float):
    """(AddOn (K,), any trade alive (K,) bool) of one netting set at ``times`` (see the module docstring),
    or None for trades it does not cover. terms: the set's MarginTerms (its collateral is not used)."""
    trades = list(trades)
    t = np.asarray(times, dtype=np.float64)
    K = t.size
    if not trades:
        return np.zeros(K), np.zeros(K, bool)
    if not all(_regular(x) for x in trades):
        return None
    mat = np.array([x.maturity for x in trades])
    alive = ~(mat[:, None] <= t[None, :])
    delta = _deltas(trades, t, alive)
    if delta is None:
        return None
    d = np.repeat(np.array([float(x.notional) for x in trades])[:, None], K, axis=1)
    end = np.array([x.end if x.end is not None else x.maturity for x in trades])[:, None] - t[None, :]
    dur = [i for i, x in enumerate(trades) if x.asset_class in ("IR", "CR")]
    if dur:  # notional x SD(max(S - t, 0), E - t), SD = (exp(-0.05 S) - exp(-0.05 max(E, 10bd))) / 0.05
        s = np.maximum(np.maximum(np.array([trades[i].start for i in dur])[:, None] - t[None, :], 0.0), 0.0)
        e = np.maximum(end[dur], MIN_MATURITY)
        sd = (_map(math.exp, -0.05 * s) - _map(math.exp, -0.05 * e)) / 0.05
        d[dur] = d[dur] * sd
    dd = delta * d
    addons = {}
    for margined in (False, True) if terms.margined else (False,):
        if margined:
            mf = maturity_factor(0.0, True, terms.mpor_days)
        else:
            mf = np.sqrt(np.minimum(np.maximum(mat[:, None] - t[None, :], MIN_MATURITY), 1.0))
        addons[margined] = _addon(trades, np.where(alive, dd * mf, 0.0), alive, end)
    addon = addons[False]
    if terms.margined:
        rc = max(0.0 - 0.0, terms.threshold + terms.mta - terms.nica, 0.0)
        capped = alpha * (0.0 + 1.0 * addons[False]) < alpha * (rc + 1.0 * addons[True])
        addon = np.where(capped, addons[False], addons[True])
    return addon, alive.any(axis=0)


def _addon(trades, en: np.ndarray, alive: np.ndarray, end: np.ndarray) -> np.ndarray:
    """sum over asset classes of the hedging-set add-ons (saccr.addon_by_class), en (n, K) 0 where dead."""
    n, K = en.shape
    idx = np.arange(n)[:, None]
    groups: dict = {}
    for i, x in enumerate(trades):
        groups.setdefault(_hs_key(x), []).append(i)
    per_class = {ac: ([], []) for ac in CLASSES}
    for (ac, _, _), members in groups.items():
        m = np.array(members)
        first = np.where(alive[m], idx[m], n).min(axis=0)
        if ac == "IR":
            bucket = np.where(end[m] < 1.0, 0, np.where(end[m] <= 5.0, 1, 2))
            D = np.zeros((3, K))
            for j, i in enumerate(members):
                for b in range(3):
                    D[b] = D[b] + np.where(bucket[j] == b, en[i], 0.0)
            acc = np.zeros(K)
            for a in range(3):
                for b in range(3):
                    acc = acc + IR_BUCKET_CORR[a][b] * D[a] * D[b]
            part = trades[members[0]].supervisory_factor() * np.sqrt(np.maximum(acc, 0.0))
        elif ac == "FX":
            acc = np.zeros(K)
            for i in members:
                acc = acc + en[i]
            part = trades[members[0]].supervisory_factor() * np.abs(acc)
        else:
            part = _entities(trades, members, en, alive, ac)
        per_class[ac][0].append(np.where(first < n, part, 0.0))
        per_class[ac][1].append(first)
    total = np.zeros(K)
    for ac in CLASSES:
        parts, firsts = per_class[ac]
        total = total + (_ordered_sum(np.stack(parts), np.stack(firsts)) if parts else np.zeros(K))
    return total


def _entities(trades, members, en, alive, ac) -> np.ndarray:
    """sqrt((sum_k rho_k A_k)^2 + sum_k (1 - rho_k^2) A_k^2) over the entities k (risk factors) of one hedging
    set, A_k = sum of SF x EffNot of its live trades, rho_k of its last live trade (saccr._entity_aggregate)."""
    n, K = en.shape
    keys: dict = {}
    for i in members:
        keys.setdefault(trades[i].risk_factor, []).append(i)
    A, R, R1, F = [], [], [], []
    for rows in keys.values():
        a, rho, rho1 = np.zeros(K), np.zeros(K), np.zeros(K)
        for i in rows:
            x = trades[i]
            a = a + x.supervisory_factor() * en[i]
            r = RHO["CO"] if ac == "CO" else RHO[(ac, bool(x.is_index))]
            rho, rho1 = np.where(alive[i], r, rho), np.where(alive[i], 1.0 - r ** 2, rho1)  # Python's r ** 2
        A.append(a)
        R.append(rho)
        R1.append(rho1)
        F.append(np.where(alive[rows], np.array(rows)[:, None], n).min(axis=0))
    A, R, R1, F = np.stack(A), np.stack(R), np.stack(R1), np.stack(F)
    s = _ordered_sum(R * A, F)
    return np.sqrt(s * s + _ordered_sum(R1 * A * A, F))

