"""Netting-set tables of option terms that are smooth functions of one rate state.

Before its expiry a swaption is worth a deterministic function of its currency's state x(t_k) alone (Jamshidian,
``opt_swaption``), so at date t_k the sum of a netting set's option terms is one function of x:

    f_{ns,k}(x) = sum_e sign_i wgt_e exp(p_e - q_e x) erfc(a0_e + a1_e x)      (e: the set's terms at date k)

It is evaluated once per run on fixed nodes (``table_coefficients``: ``opt_table_nodes``, one small program of its
own: the nodes do not depend on the paths) and interpolated per path in every chunk, instead of every term per path. The
interval [-L_k, L_k], L_k = |E x(t_k)| + BOUND_SD sd(x(t_k)) from the model alone (``linear_moments._state_bound``:
the same on every chunk, whatever its paths), is cut into CELLS equal cells of half-width h_k = L_k / CELLS, each
interpolated at its COEFS Chebyshev points of the first kind and evaluated by Clenshaw's recurrence in the local
u = (x - c_m) / h_k in [-1, 1]. A path with |x| > L_k gets NaN there and ``check_range`` names it. Where the
state is deterministic, L_k = 0 (t0, x = 0 on every path), the interval is [-L_MIN, L_MIN]: the terms of the as-of
date (16% of bench-1k's untabulated ones) are tabulated too, a near-constant on a tiny interval.

Which terms are tabulated is decided at prepare time, per (date, trade), from an a priori bound of the interpolation
error (Trefethen, ATAP Thm 8.2: ||f - p_n|| <= 4 M r^{-n} / (r - 1) for f analytic in the Bernstein ellipse E_r
of the cell, |f| <= M there; the same bound holds in the first-kind points: |a_k| <= 2 M r^{-k} and each aliased
T_k moves the interpolant by at most 2 |a_k|). On E_r the cell's u has |Re u| <= (r + 1/r)/2 = A, |Im u| <= (r - 1/r)/2 = Bi, and
|erfc(z + i eta)| <= exp(eta^2) erfc(z) <= 2 exp(eta^2) (erfc as the integral of exp(-t^2) along the horizontal
ray from z + i eta), so per unit |wgt|

    err_e <= min_r 8 exp(p_e + |q_e| (L_k - h_k + A h_k) + (|a1_e| h_k Bi)^2) r^{-(COEFS - 1)} / (r - 1).

A (date, trade) is tabulated when sum_e |wgt_e| err_e <= TOL sum_e |wgt_e| over its terms, so every netting set's
tabulated sum is within TOL of its gross scale sum |wgt|; the rest (near the expiry the erfc is a near-step in x,
at s = 0 a kink) keeps the direct evaluation.

Size rule: a batch tabulates only when paths x (its entries that pass, dates included) >= MIN_WORK (with the run's
path count in ``PricingContext.paths``; 0, unknown, always tabulates). The tables save per path and entry and cost
compilation once: on bench-1k (10,000 paths, 1.0e9 entry-paths) they cut the warm run 8.14 -> 6.62 s, about
1.5 ns per entry-path saved, and cost the bundled example (5,000 paths, 294 entries: 1.5e6) 0.1-0.2 s of
compilation for ~2 ms saved: break-even about 1e8 entry-paths for the first batch, less for the next (the same
loop). MIN_WORK = 3e7 per batch keeps bench-1k's smallest batch (8.8e7) and drops the example's largest (9.5e5).

Shapes: Kt dates with tabulated terms, R = the batch's netting sets,
N = CELLS x COEFS nodes per date; values in the option currency until multiplied by its FX rate (base currency).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.errors import ExposureError
from exposure.pricing.linear_moments import _state_bound
from exposure.pricing.opt_common import shared_bond_entries
from exposure.pricing.opt_table_nodes import chebyshev_points, flat_terms
from exposure.pricing.opt_table_nodes import table_coefficients as _node_table_coefficients

CELLS = 32  # cells of [-L_k, L_k]
COEFS = 16  # Chebyshev coefficients per cell (degree COEFS - 1)
TOL = 2.5e-14  # bound on the tabulated error per unit of gross weight (1e-13 asked; margin for the rounding)
MIN_WORK = 3e7  # paths x tabulated entries below which a batch keeps the direct terms (module docstring)
L_MIN = 1e-8  # the interval of a date whose state is deterministic (t0: x = 0 on every path, L_k = 0)
STEP_COST = 4  # per-step work of the Clenshaw scan (the state's cell, u, fx), in rows' worth
_R = np.array([1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0])  # ellipse parameters tried


class OptionTableRangeError(ExposureError, ValueError):
    """A simulated rate state is outside the interval an option netting table covers."""


def error_bound(p, q, a1, L, cells: int = CELLS, coefs: int = COEFS) -> np.ndarray:
    """The module docstring's err_e per unit |wgt| (inf where it cannot be bounded, e.g. a1 ~ 1e200 at s = 0)."""
    h = L / cells
    A, Bi = 0.5 * (_R + 1.0 / _R), 0.5 * (_R - 1.0 / _R)
    with np.errstate(over="ignore", invalid="ignore"):
        ln = ((p + np.abs(q) * (L - h))[:, None] + (np.abs(q) * h)[:, None] * A[None]
              + ((np.abs(a1) * h)[:, None] * Bi[None]) ** 2 + np.log(8.0 / (_R - 1.0)) - (coefs - 1) * np.log(_R))
        out = np.exp(np.min(np.where(np.isfinite(ln), ln, np.inf), axis=1))
    return np.where(np.isfinite(out), out, np.inf)


def split_terms(ctx, ccy: str, flat: dict, n_trades: int):
    """(tabulate (L,) bool, L_k (K,)) for the unpadded entries ``flat`` (``entries(..., chunk=1)``; keys p, q, a1,
    wgt, k, i): True for every entry of a (date, trade) whose bound passes (module docstring)."""
    L = np.maximum(_state_bound(ctx, [ccy])[:, 0], L_MIN)
    k, i, wgt = np.asarray(flat["k"]), np.asarray(flat["i"]), np.abs(np.asarray(flat["wgt"], dtype=np.float64))
    err = error_bound(np.asarray(flat["p"]), np.asarray(flat["q"]), np.asarray(flat["a1"]), L[k])
    key = k.astype(np.int64) * n_trades + i
    size = L.size * n_trades
    with np.errstate(invalid="ignore"):
        bound = np.bincount(key, weights=np.where(wgt > 0.0, wgt * err, 0.0), minlength=size)
    gross = np.bincount(key, weights=wgt, minlength=size)
    good = (bound <= TOL * gross)[key]
    if not worth_tabulating(getattr(ctx, "paths", 0), int(good.sum())):
        good[:] = False
    return good, L


def worth_tabulating(paths: int, entries: int) -> bool:
    """The size rule (module docstring): paths x tabulated entries >= MIN_WORK; paths 0 (unknown): True."""
    return not paths or float(paths) * entries >= MIN_WORK


def netting_entries(sub: dict, sign, ns_of_trade, ns_list, k) -> tuple:
    """(entries, blocks) of ``shared_bond_entries`` for the unpadded entries ``sub`` (keys p, q, a0, a1, wgt, i, T,
    g) summed per (date, netting set): rows k R + r (k (L,) the date index, r the trade's netting set in
    ``ns_list``, R its length), weights times the trade's ``sign``. The terms of a row may be summed in any order
    (an interpolation, or values that are rounded once more anyway), so every entry gets its own row for the bond
    sharing's order check."""
    i = np.asarray(sub["i"])
    r = np.searchsorted(ns_list, np.asarray(ns_of_trade)[i]).astype(np.int32)
    k = np.asarray(k, dtype=np.int32)
    flat = {"p": sub["p"], "q": sub["q"], "a0": sub["a0"], "a1": sub["a1"], "wgt": sub["wgt"] * sign[i], "k": k,
            "trow": k * np.int32(len(ns_list)) + r, "row": np.arange(k.size, dtype=np.int32)}
    ent, blocks = shared_bond_entries(flat, "p", "q", sub["T"], sub["g"])
    return {"row": ent["trow"], "a0": ent["a0"], "a1": ent["a1"], "wgt": ent["wgt"]}, blocks


def build_tables(flat: dict, mask, L, sign, ns_of_trade, ns_list, ccy_index: int) -> dict | None:
    """The prepared table data of the entries ``flat[mask]`` (their weights times the trade's ``sign``), rows
    (date, netting set): "ent" (``opt_table_nodes.flat_terms``, rows kt R + r), "xn" (Kt, N) nodes, "L" (Kt,),
    "k" (Kt,) date indices, "ci" the currency's index; None when no entry is tabulated."""
    if not np.any(mask):
        return None
    sub = {name: np.asarray(a)[mask] for name, a in flat.items()}
    kk = np.unique(sub["k"])
    kt = np.searchsorted(kk, sub["k"]).astype(np.int32)
    i = np.asarray(sub["i"])
    r = np.searchsorted(ns_list, np.asarray(ns_of_trade)[i]).astype(np.int32)
    ent = flat_terms(dict(sub, wgt=sub["wgt"] * sign[i]), kt * np.int32(len(ns_list)) + r, kt)
    Lk = L[kk]
    h = Lk / CELLS
    centres = -Lk[:, None] + (2.0 * np.arange(CELLS) + 1.0)[None, :] * h[:, None]  # (Kt, CELLS)
    xn = (centres[:, :, None] + h[:, None, None] * chebyshev_points(COEFS)[None, None, :]).reshape(kk.size, -1)
    return {"ent": ent, "xn": xn, "L": Lk, "k": kk.astype(np.int32),
            "ci": np.int32(ccy_index)}


def check_range(tab, x_abs_max, what: str) -> None:
    """Raise OptionTableRangeError if max over paths of |x| (x_abs_max (n_ccy, K), NumPy) exceeds a table's L_k."""
    if tab is None:
        return
    k, L = np.asarray(tab["k"]), np.asarray(tab["L"])
    seen = np.asarray(x_abs_max)[int(np.asarray(tab["ci"])), k]
    bad = np.flatnonzero(~(seen <= L))
    if bad.size:
        j = bad[0]
        raise OptionTableRangeError(
            f"{what}: a simulated rate state |x| = {seen[j]:.4g} at date index {int(k[j])} is outside the option "
            f"netting table's interval [-{L[j]:.4g}, {L[j]:.4g}] (|mean| + 8 sd of the model's state); the model's "
            f"rate paths are implausible (check the Hull-White volatilities)")


def table_part(tab, rows: tuple, term) -> dict:
    """One batch's share of ``add_tables``: its table (``build_tables``), the netting set of each table row
    (R,) and the kernel ``term(x, bond, c)`` of its entries."""
    return {"tab": tab, "rows": tuple(int(r) for r in rows), "term": term, "cells": CELLS}


def _width(parts) -> int:
    """Rows per Clenshaw step: a part's R rows take ceil(R / W) steps of W rows (the last padded); W minimises
    the padded rows plus STEP_COST rows' worth of per-step work (bench-1k's R = 6, 12, 11, 17: W = 6, 4% padding
    where padding every part to the widest took 48%)."""
    R = np.array([len(p["rows"]) for p in parts])
    return min(range(1, int(R.max()) + 1), key=lambda w: (int(np.sum(-(-R // w))) * (w + STEP_COST), -w))


def table_coefficients(parts: list, dtype, kernel=None):
    """The coefficients ``add_tables`` reads for ``parts`` (``opt_table_nodes.table_coefficients`` at
    ``_width(parts)``; ``kernel`` its node program), None without parts. They depend on the prepared data alone, not
    on the paths: ``chunks.pricing_function`` computes them once per run, outside the chunk programs (their node loop
    cost 0.2-0.35 CPU s of every bench-1k chunk), and passes them to every chunk."""
    return _node_table_coefficients(parts, _width(parts), COEFS, dtype, kernel) if parts else None


def add_tables(acc, x_all, fx_all, parts: list, coef=None):
    """acc (K, n_ns, P) + the tabulated netting values of every part (``table_part``, any currencies) times fx:
    the nodes' values and coefficients of all parts together (``table_coefficients(parts, acc.dtype)``, or ``coef``
    computed so beforehand), then one scan over steps of W
    rows (``_width``; a part's dates, for each of its row groups; padding rows dropped), per step and path
    Clenshaw's recurrence on its cell's coefficients, times fx (NaN where |x| > L_k), added into the running
    total (no (Kt, R, P) array): the loops serve every swaption batch of a run. x_all, fx_all (n_ccy, K, P):
    states and FX rates."""
    if not parts:
        return acc
    n_ns, x_all, fx_all = acc.shape[1], jnp.asarray(x_all), jnp.asarray(fx_all)
    W = _width(parts)
    rows, per_step = [], []
    for p in parts:
        r = np.asarray(p["rows"], dtype=np.int32)
        r = np.r_[r, np.full(-r.size % W, n_ns, np.int32)].reshape(-1, W)  # (groups, W); n_ns: dropped
        Kt = p["tab"]["k"].shape[0]
        rows.append(np.repeat(r, Kt, axis=0))
        rep = lambda a: jnp.tile(jnp.broadcast_to(jnp.asarray(a), (Kt,)), r.shape[0])  # noqa: E731
        per_step.append((rep(p["tab"]["k"]), rep(jnp.asarray(p["tab"]["L"], acc.dtype)),
                         rep(jnp.asarray(p["tab"]["ci"], jnp.int32))))
    xs = {"c": table_coefficients(parts, acc.dtype) if coef is None else coef, "k": jnp.concatenate([a[0] for a in per_step]),
          "L": jnp.concatenate([a[1] for a in per_step]), "ci": jnp.concatenate([a[2] for a in per_step]),
          "rows": jnp.asarray(np.concatenate(rows))}
    base = jnp.asarray(np.arange(W, dtype=np.int32) * CELLS)[:, None]

    def one_step(acc, d):
        xk, L = x_all[d["ci"], d["k"]], d["L"]
        y = (xk + L) * (CELLS / (2.0 * L))
        m = jnp.clip(jnp.floor(y), 0, CELLS - 1)
        u = (2.0 * (y - m) - 1.0)[None, :]
        idx = base + m.astype(jnp.int32)[None, :]  # (W, P)
        c = lambda j: jnp.take(d["c"][j], idx)  # noqa: E731
        b1, b2 = c(COEFS - 1), jnp.zeros(idx.shape, acc.dtype)
        for j in range(COEFS - 2, 0, -1):
            b1, b2 = c(j) + 2.0 * u * b1 - b2, b1
        v = (c(0) + u * b1 - b2) * jnp.where(jnp.abs(xk) <= L, fx_all[d["ci"], d["k"]], jnp.nan)[None, :]
        return acc.at[d["k"], d["rows"]].add(v, mode="drop"), None

    return jax.lax.scan(one_step, acc, xs)[0]

