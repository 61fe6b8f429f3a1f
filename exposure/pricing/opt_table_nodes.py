"""The netting tables' Chebyshev coefficients from their terms on the nodes (``opt_tables``).

    c[row, l, m] = sum_j C[l, j] f_row(x_{m, j}),   f_row(x) = sum_{e in row} term(x, exp(p_e - q_e x), e)

(C = ``chebyshev_matrix``, x_{m, j} the j-th Chebyshev point of cell m). Every part's entries (every batch, every
tier) go into one flat list, each entry evaluated on one node row of U x COEFS nodes, U the greatest common divisor
of the parts' cell counts: a part with ``cells`` = s U cells splits each date's nodes into s node rows and repeats
its entries on each (the same work as its cells x COEFS nodes). One scan over chunks of entries then serves any
number of parts, tiers and bond-block sizes: the program no longer grows with them (one scan per block size and a
copy per tier cost bench-1k's cold run ~0.5 s of compilation per copy). An entry reads its own bond (no shared
blocks: its exp costs less than the erfc beside it, and the padding of the blocks is gone).

Shapes: ``ent`` of a part (``flat_terms``) (L,) per key, rows kt R + r and dates kt in the part's own numbering;
``xn`` (Kt, cells x COEFS). With concrete parts (``table_coefficients`` once per run) the gathering and layout run in
NumPy and only the node values compile (``kernel``); inside a trace (``add_tables`` without coefficients) the same
steps run in jnp.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from exposure.pricing.opt_common import CHUNK

_FLOATS = ("p", "q", "a0", "a1", "wgt")


def chebyshev_points(n1: int) -> np.ndarray:
    """u_j = cos(pi (j + 1/2) / n1), j < n1: the Chebyshev points of the first kind on [-1, 1]."""
    return np.cos(np.pi * (np.arange(n1) + 0.5) / n1)


def chebyshev_matrix(n1: int) -> np.ndarray:
    """(n1, n1) C with c_l = sum_j C[l, j] f(u_j) the coefficients of the interpolant sum_l c_l T_l(u)."""
    l, j = np.arange(n1)[:, None], np.arange(n1)[None, :]
    c = (2.0 / n1) * np.cos(np.pi * l * (j + 0.5) / n1)
    c[0] *= 0.5
    return c


def flat_terms(sub: dict, row, kt) -> dict:
    """A part's entries for the node scan: ``sub``'s p, q, a0, a1, wgt with their rows ``row`` and dates ``kt``, in
    row order (stable: a row's terms in their original order, the order its sum is rounded in)."""
    order = np.argsort(np.asarray(row), kind="stable")
    out = {name: np.asarray(sub[name], dtype=np.float64)[order] for name in _FLOATS}
    out["row"] = np.asarray(row, dtype=np.int32)[order]
    out["k"] = np.asarray(kt, dtype=np.int32)[order]
    return out


def _concrete(parts) -> bool:
    leaves = jax.tree_util.tree_leaves([(p["tab"]["ent"], p["tab"]["xn"]) for p in parts])
    return not any(isinstance(a, jax.core.Tracer) for a in leaves)


def _gather(parts, coefs: int, dtype, xp):
    """(xn (D, U coefs), ent (L_pad,) per key, n_rows, U): every part's node rows and entries, offsets applied,
    padded with weight-0 entries to a multiple of CHUNK."""
    unit = math.gcd(*[p["cells"] for p in parts])
    xns, ents, row0, k0 = [], [], 0, 0
    for p in parts:
        s, tab = p["cells"] // unit, p["tab"]
        Kt, R = tab["xn"].shape[0], len(p["rows"])
        xns.append(xp.asarray(tab["xn"], dtype).reshape(Kt * s, unit * coefs))
        e = tab["ent"]
        j = xp.arange(s, dtype=np.int32)[:, None]
        rep = {n: xp.broadcast_to(xp.asarray(e[n], dtype)[None], (s, e[n].shape[0])).reshape(-1) for n in _FLOATS}
        rep["row"] = (xp.asarray(e["row"])[None] * np.int32(s) + j + np.int32(row0)).reshape(-1)
        rep["k"] = (xp.asarray(e["k"])[None] * np.int32(s) + j + np.int32(k0)).reshape(-1)
        ents.append(rep)
        row0, k0 = row0 + Kt * R * s, k0 + Kt * s
    ent = {n: xp.concatenate([e[n] for e in ents]) for n in ents[0]}
    pad = -ent["row"].shape[0] % CHUNK
    ent = {n: xp.concatenate([a, xp.zeros(pad, a.dtype)]) for n, a in ent.items()}
    return xp.concatenate(xns), ent, row0, unit


def node_coefficients(xn, ent, n_rows: int, unit: int, coefs: int, term):
    """(n_rows, coefs, unit): the Chebyshev coefficients of each node row's cells, its entries' terms summed on
    its nodes (a scan over chunks of CHUNK entries, scatter-added in entry order)."""
    chunks = jax.tree_util.tree_map(lambda a: a.reshape((-1, CHUNK)), ent)

    def body(acc, c):
        x = xn[c["k"]]  # (CHUNK, unit coefs)
        bond = jnp.exp(c["p"][:, None] - c["q"][:, None] * x)
        return acc.at[c["row"]].add(term(x, bond, c)), None

    vals = jax.lax.scan(body, jnp.zeros((n_rows, xn.shape[1]), xn.dtype), chunks)[0]
    cm = jnp.asarray(chebyshev_matrix(coefs), xn.dtype)
    return jnp.einsum("nmj,lj->nlm", vals.reshape(-1, unit, coefs), cm)


def _layout(coef, parts, W: int, unit: int, coefs: int, xp):
    """(S, coefs, W max cells) from node rows' coefficients (``node_coefficients``, ``_gather``'s order): per part,
    its (date, row) coefficients (Kt, R, coefs, cells) (cell s_j unit + m of node row s_j), rows padded with zeros
    to R' (a multiple of W), in steps (row group, date) of W rows; each step's cells padded to the widest part's."""
    wide = W * max(p["cells"] for p in parts)
    out, o = [], 0
    for p in parts:
        cells, Kt, R = p["cells"], p["tab"]["xn"].shape[0], len(p["rows"])
        s, Rp = cells // unit, -(-R // W) * W
        c = coef[o:o + Kt * R * s].reshape(Kt, R, s, coefs, unit).transpose(0, 1, 3, 2, 4).reshape(Kt, R, coefs, cells)
        c = xp.concatenate([c, xp.zeros((Kt, Rp - R, coefs, cells), c.dtype)], axis=1)
        c = c.reshape(Kt, Rp // W, W, coefs, cells).transpose(1, 0, 3, 2, 4).reshape(-1, coefs, W * cells)
        out.append(xp.concatenate([c, xp.zeros(c.shape[:2] + (wide - W * cells,), c.dtype)], axis=2))
        o += Kt * R * s
    return xp.concatenate(out)


def table_coefficients(parts, W: int, coefs: int, dtype, kernel=None):
    """(S, coefs, W max cells) coefficients of ``parts`` (``opt_tables.table_part`` dicts with their "cells"), all
    sharing one ``term``. Concrete parts: gathering and layout in NumPy, the node values by
    ``kernel(xn, ent, n_rows, unit, coefs, term)`` (default: ``node_program(term)``). Traced parts: all in jnp."""
    term = parts[0]["term"]
    if any(p["term"] is not term for p in parts):
        raise ValueError("netting tables of different terms in one loop")
    xp = np if _concrete(parts) else jnp
    xn, ent, n_rows, unit = _gather(parts, coefs, dtype, xp)
    if xp is jnp:
        coef = node_coefficients(xn, ent, n_rows, unit, coefs, term)
    else:
        run = kernel or (lambda xn, ent, n_rows, unit, coefs, term: node_program(term)(xn, ent, n_rows, unit, coefs))
        coef = np.asarray(run(xn, ent, n_rows, unit, coefs, term))
    return jnp.asarray(_layout(coef, parts, W, unit, coefs, xp))


_PROGRAMS: dict = {}


def node_program(term):
    """node_coefficients for ``term`` under one jit per process (named: compile reports show
    "jit(option_tables)")."""
    if term not in _PROGRAMS:
        def option_tables(xn, ent, n_rows, unit, coefs):
            return node_coefficients(xn, ent, n_rows, unit, coefs, term)

        _PROGRAMS[term] = jax.jit(option_tables, static_argnames=("n_rows", "unit", "coefs"))
    return _PROGRAMS[term]
