"""Exposure values per path from netting-set values: the collateralised value X and the funding value F.

    X(t_k) = V(t_k + MPoR) - fx(t_k + MPoR) (C(t_k) + IA)    netting set with a CSA (C from ``collateral``)
    X(t_k) = V(t_k)                                           without a CSA
    F(t_k) = V(t_k) - fx(t_k) C(t_k)                          funding value: VM at the call date itself

V the netting-set value (base currency, undiscounted), C the variation margin held in the collateral currency,
IA = independent amount held - posted, fx base units per unit of collateral currency (1 for base-currency
collateral). Without a margin period of risk the close-out date is the valuation date. Shapes: values
(K_all, n_ns, p) on the chunk's date axis; outputs (K, n_ns, p) at the K valuation dates.

Exposure dates: a netting set without a CSA has X(t_k) = V(t_k) at the valuation date, with or without an MPoR
(the margin period of risk only delays collateral); trade-level EPE/ENE are stand-alone and uncollateralised.

Discounting with a margin period of risk follows ORE: X is measured at the close-out date t + MPoR and deflated
with the numeraire of the valuation (default) date t; P(0, t) is at the valuation date (an O(r * MPoR)
approximation of discounting from the close-out date).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from exposure.aggregation.collateral import collateral_paths_batch


def as_slice(index):
    """A basic slice for an evenly spaced index array (a view instead of a copy), else the array itself."""
    if index is None or index.size == 0:
        return index
    if index.size == 1:
        return slice(int(index[0]), int(index[0]) + 1)
    step = int(index[1] - index[0])
    if step > 0 and np.array_equal(index, index[0] + step * np.arange(index.size)):
        return slice(int(index[0]), int(index[-1]) + 1, step)
    return index


def date_indices(valuation_index, closeout_index, K: int, n_ns: int):
    """(valuation_index (K,), closeout_index (K,) or (K, n_ns) or None, vi, ci): the positions of the valuation
    and close-out dates on a chunk's date axis (valuation default 0..K-1), checked, and their basic slices where
    evenly spaced (``as_slice``; a per-set (K, n_ns) close-out index stays an array)."""
    vi_arr = np.arange(K) if valuation_index is None else np.asarray(valuation_index, int)
    ci_arr = None if closeout_index is None else np.asarray(closeout_index, int)
    if vi_arr.shape != (K,) or (ci_arr is not None and ci_arr.shape not in ((K,), (K, n_ns))):
        raise ValueError(f"valuation_index and closeout_index must have the {K} entries of times "
                         f"(closeout_index: or ({K}, {n_ns}), one column per netting set)")
    ci = ci_arr if ci_arr is not None and ci_arr.ndim == 2 else as_slice(ci_arr)
    return vi_arr, ci_arr, as_slice(vi_arr), ci


def at_closeout(arr, ci, sets, cols=None):
    """arr (K_all, n, p) at the close-out dates: (K, len(sets), p) with column j read at netting set
    sets[j]'s close-out index. ci: a (K,) index or slice shared by all sets, or (K, n_ns) per set; cols: the
    columns of arr (default: ``sets``, when arr's axis is the netting sets)."""
    cols = sets if cols is None else cols
    if isinstance(ci, np.ndarray) and ci.ndim == 2:
        return arr[ci[:, sets], np.asarray(cols)[None, :]]
    return arr[ci][:, cols]


def csa_layout(netting_sets: Sequence, currencies: Sequence[str], base_currency: str | None):
    """(csa_idx (n_csa,) int, csas, fx_idx): the netting sets with a CSA, their CSAs and, per CSA, the index of
    its collateral currency on the fx axis (None for base-currency collateral)."""
    csa_idx = np.array([j for j, ns in enumerate(netting_sets) if ns.csa is not None], dtype=int)
    csas = [netting_sets[j].csa for j in csa_idx]
    fx_idx = []
    for j, csa in zip(csa_idx, csas):
        ccy = csa.collateral_currency
        if ccy is None or ccy == base_currency:
            fx_idx.append(None)
        elif ccy in currencies:
            fx_idx.append(currencies.index(ccy))
        else:
            raise ValueError(f"netting set '{netting_sets[j].id}': collateral currency '{ccy}' is not on "
                             f"the fx axis ({', '.join(currencies) or 'none given'})")
    return csa_idx, csas, fx_idx


def collateralise(vals, vi, ci, csa_idx, csas, fx_idx, t0_index, fx=None):
    """(X, collateral, V_exposure, F), each (K, n_ns, p): collateralised value, net collateral held (base
    currency, None without any CSA), the uncollateralised value at the exposure date and the funding value F.
    vals (K_all, n_ns, p) float64; vi / ci the valuation / close-out indices (``as_slice``; ci None without an
    MPoR); csa_idx, csas, fx_idx from ``csa_layout``; t0_index the t = 0 position or None; fx (n_ccy, K_all, p)."""
    Vv = vals[vi]
    X = Vv.copy() if csa_idx.size else Vv
    V_exp = Vv
    F = Vv
    coll = None
    if csa_idx.size:
        cs = csa_idx
        coll = np.zeros_like(Vv)
        V_call = Vv[:, cs]
        V_co = at_closeout(vals, ci, cs) if ci is not None else V_call
        fx_call = fx_co = fx0 = None
        if any(f is not None for f in fx_idx):
            if fx is None:
                raise ValueError("a CSA has a non-base collateral currency: add_chunk needs fx (n_ccy, K_all, P)")
            fxa = np.asarray(fx, dtype=np.float64)
            full = np.stack([np.ones(fxa.shape[1:]) if f is None else fxa[f] for f in fx_idx], axis=1)
            fx_call = full[vi]
            fx_co = at_closeout(full, ci, cs, np.arange(cs.size)) if ci is not None else fx_call
            fx0 = full[t0_index] if t0_index is not None else None
        v0 = vals[t0_index][cs] if t0_index is not None else None
        C = np.asarray(collateral_paths_batch(V_call, csas, fx_call, v0, fx0))
        ia = np.array([c.independent_amount_held - c.independent_amount_posted for c in csas])
        held = C + ia[None, :, None]
        F = Vv.copy()
        F[:, cs] = V_call - (C * fx_call if fx_call is not None else C)
        if fx_co is not None:
            held = held * fx_co
        X[:, cs] = V_co - held
        coll[:, cs] = held
        if ci is not None:
            V_exp = Vv.copy()
            V_exp[:, cs] = V_co
    return X, coll, V_exp, F


def functional_amounts(X, N, fund, with_csa: bool) -> dict:
    """The per-path amounts y(t_k) (K, n_ns, p) of the EPE / ENE / FundingEPE / FundingENE sums: max(X, 0) / N,
    max(-X, 0) / N and the funding parts fund[...] / N (with a CSA; F = X otherwise). N (K, p) the numeraire."""
    inv = 1.0 / N[:, None, :]
    pos = np.maximum(X, 0.0)
    y = {"EPE": pos * inv, "ENE": (pos - X) * inv}  # the per-path amounts of the EPE/ENE sums, exactly
    if with_csa:
        y["FundingEPE"], y["FundingENE"] = fund["FundingEPE"] * inv, fund["FundingENE"] * inv
    else:
        y["FundingEPE"], y["FundingENE"] = y["EPE"], y["ENE"]
    return y


def trade_exposure_values(trade_values, vi, ci, trade_closeout, trade_netting_index):
    """(tv, tv_exp), each (K, n_trades, p): trade values at the valuation dates, and at the exposure dates (the
    close-out date of the trade's netting set for the trades ``trade_closeout`` under a CSA; ci None: no MPoR)."""
    tv_all = np.asarray(trade_values, dtype=np.float64)
    tv = tv_all[vi]
    tv_exp = tv
    if ci is not None and trade_closeout.size:
        tv_exp = tv.copy()
        tc = trade_closeout
        tv_exp[:, tc] = at_closeout(tv_all, ci, trade_netting_index[tc], tc)
    return tv, tv_exp
