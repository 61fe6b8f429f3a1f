"""The option twins' cotangents by forward mode along their inputs' basis, and the choice of form per book.

For option twin i with inputs x_i (n_i numbers: the curves' ln P pillars, Hull-White sigma pieces, FX / equity
vol pieces; ``twins``) and the pricing-data part of G (n_out rows, ``compact.CompactPres``):

    g_i[o, k] = <G_pres[o], (d leaves_i / d x_i) e_k>          (n_out, n_i),   k < n_i
    <G_pres[o], d pres / de>  (option part)  = sum_i g_i[o] . dx_i/de      (per factor: a dot product)

The columns J_i e_k come from one compiled program, called once: per twin, one linearisation (one primal pass,
its residuals kept inside the program) and its linear map applied to the basis vectors of x_i, CHUNK at a time in
a loop (``_columns``; memory: CHUNK tangent copies of one twin's data at a time). A basis vector of some leaves of
x_i moves only the outputs its tangent reaches (``_reads``, on the map's jaxpr); the map restricted to those
leaves (``restrict``) leaves out every equation whose tangent inputs are all zero, as jvp does with symbolic
zeros, so the leaves are grouped by the outputs they reach into loops (``classes``): an FX option twin's 22 curve
pillars reach only lnA (about 1% of the map: the variance quadrature reads the vols alone), its 14 vol and sigma
pieces the rest. Each column is contracted with G on the host (``CompactPres.dot_many``, a segment sum by
netting set); the program's output tree (twin, loop: its leaves' positions in x_i, output name) places them.

Three forms give the same numbers (to rounding, tests/test_risk_twin_reverse.py); their cost in units of one
forward direction through the option twins (a primal evaluation costs about one):

    "jvp"    one jvp per factor along its own dx/de                            2 n_f
    "basis"  the g_i above, once                                               1 + N (at most)
    "vjp"    g_i by one backward pass per output row (``twin_reverse.twin_cotangents``)   1 + ROW_COST n_out

with n_f the factors that take the option part (curve pillars, FX spots, par quotes, Hull-White sigma moves).
``choose`` takes the cheapest. On bench-1k (50 output rows, N = 36, n_f = 97 at 64 x 40): "basis". Where the run
has FX / equity vol or correlation factors, their one backward pass (``setup_vols_options``) already gives the FX /
equity option twins' g_i (``vol_shared``): the basis program then runs over the other twins only.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jax.flatten_util import ravel_pytree

from exposure.risk.kept import digest, kept
from exposure.risk.twins import named_leaves

# Basis directions per pass of a loop. Memory: CHUNK tangent copies of a twin's data; on bench-1k at 256 x 100, with
# all twins in one pass (the earlier form), CHUNK = 12 raised the AD run's peak RSS by 0.45-0.6 GiB, CHUNK = 4 by
# 0.06 GiB.
CHUNK = 4
ROW_COST = 3.0  # a backward pass per output row against one forward direction (residuals, transposed scatters)


def choose(n_basis: int, n_out: int, n_factors: int | None) -> str:
    """The cheapest form (module docstring); n_factors None: every factor of the run is unknown, assume many."""
    cost = {"basis": 1.0 + n_basis, "vjp": 1.0 + ROW_COST * n_out}
    if n_factors is not None:
        cost["jvp"] = 2.0 * n_factors
    return min(cost, key=cost.get)


def sizes(x0: dict) -> dict:
    """{twin: n_i}: the number of inputs of every twin."""
    return {i: int(sum(np.size(a) for a in jax.tree_util.tree_leaves(x))) for i, x in x0.items()}


def flat(dx) -> np.ndarray:
    """A twin's direction (its x0's structure) as one vector, in the order of ``basis_cotangents``' columns."""
    leaves = [np.asarray(a, np.float64).reshape(-1) for a in jax.tree_util.tree_leaves(dx)]
    return np.concatenate(leaves) if leaves else np.zeros(0)


def flat_rows(g, x0) -> np.ndarray:
    """(n_out, n_i): a twin's g_x (x0's structure, leading axis n_out; a tree holding more inputs than x0, e.g. an
    extended twin's R and w_mkt, is cut to x0's keys) as ``basis_cotangents``' g_i, columns in ``flat``'s order."""
    leaves = jax.tree_util.tree_leaves({k: g[k] for k in x0})
    n = np.shape(leaves[0])[0]
    return np.concatenate([np.asarray(a, np.float64).reshape(n, -1) for a in leaves], axis=1)


def vol_shared(rev, options: dict) -> dict:
    """{twin: g_i} of the FX / equity option twins among ``options`` from ``setup_vols_options.
    option_vol_cotangents`` (their g_x on x extended by R and w_mkt: g_i's columns and more) when the run has FX /
    equity vol or correlation factors (``stage``: rev.vol_option_factors), which take it anyway: one derivative of
    those twins, not two (they carried the basis program's cost: 36 inputs through the variance quadrature)."""
    if not getattr(rev, "vol_option_factors", 0):
        return {}
    from exposure.risk.setup_vols_options import option_vol_cotangents

    opt = option_vol_cotangents(rev)
    return {i: flat_rows(opt.g[i], options[i].x0()) for i in opt.twins if i in options}


def _weight(jaxpr) -> int:
    """The numbers a jaxpr's equations compute (nested programs by their own equations): its cost, roughly."""
    w = 0
    for e in jaxpr.eqns:
        subs = [getattr(v, "jaxpr", v) for v in e.params.values() if hasattr(v, "eqns") or hasattr(v, "jaxpr")]
        w += sum(_weight(j) for j in subs) if subs else sum(int(np.prod(v.aval.shape)) for v in e.outvars)
    return w


def _slice(jaxpr, outs) -> int:
    """``_weight`` of the equations that the outputs ``outs`` (indices) need."""
    from jax.extend.core import Literal

    need = {v for k, v in enumerate(jaxpr.outvars) if k in outs and not isinstance(v, Literal)}
    w = 0
    for e in reversed(jaxpr.eqns):
        if any(v in need for v in e.outvars):
            subs = [getattr(v, "jaxpr", v) for v in e.params.values() if hasattr(v, "eqns") or hasattr(v, "jaxpr")]
            w += sum(_weight(j) for j in subs) if subs else sum(int(np.prod(v.aval.shape)) for v in e.outvars)
            need.update(v for v in e.invars if not isinstance(v, Literal))
    return w


def _reads(jaxpr, ins: list) -> list:
    """[frozenset of the inputs that output r reads] (``ins``: each input's set): an equation's outputs read what
    its inputs read (a nested pjit / closed_call by its own equations, any other nested program as a whole: an
    over-approximation, never a miss)."""
    from jax.extend.core import Literal

    env = dict(zip(jaxpr.invars, ins))
    none = frozenset()
    read = lambda v: none if isinstance(v, Literal) else env.get(v, none)  # noqa: E731 - constvars read none
    for e in jaxpr.eqns:
        r = [read(v) for v in e.invars]
        sub = e.params.get("jaxpr") if e.primitive.name == "pjit" else e.params.get("call_jaxpr")
        sub = getattr(sub, "jaxpr", sub)
        if e.primitive.name in ("pjit", "closed_call") and sub is not None and len(sub.invars) == len(r):
            outs = _reads(sub, r)
        else:
            outs = [none.union(*r)] * len(e.outvars)
        env.update(zip(e.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def classes(jaxpr, names: list, sizes_: list) -> list:
    """[(output names, positions of x's leaves)]: the leaves of x whose columns one loop of the linear map ``lin``
    (the tangents of f's outputs ``names`` from one tangent per leaf of x) computes, reading those outputs only.

    A leaf's outputs are those its tangent reaches (``_reads``; the others' columns are exactly 0); leaves that
    reach the same outputs share a loop, and a loop joins a costlier one (``_slice``: the numbers the map computes
    for its outputs) where its own map costs at least half of that one's and the joined map at most 1.25x: a loop
    apart would save its directions less than 2x and cost one more body to compile."""
    reach = _reads(jaxpr, [frozenset([p]) for p in range(len(sizes_))])
    by: dict = {}
    for p, m in enumerate(sizes_):
        outs = frozenset(r for r in range(len(names)) if p in reach[r])
        if outs and m:
            by.setdefault(outs, []).append(p)
    cost = {outs: _slice(jaxpr, outs) for outs in by}
    groups: list = []
    for outs in sorted(by, key=lambda o: -cost[o]):
        for g in groups:
            if cost[outs] >= 0.5 * g[2] and _slice(jaxpr, g[0] | outs) <= 1.25 * g[2]:
                g[0], g[1] = g[0] | outs, g[1] + by[outs]
                break
        else:
            groups.append([outs, list(by[outs]), cost[outs]])
    return [(tuple(names[r] for r in sorted(o)), sorted(ps)) for o, ps, _ in groups]


def restrict(jaxpr, consts, keep: list):
    """The linear map ``jaxpr`` (tangent inputs -> outputs) with only the inputs ``keep`` (positions): the others
    are zero, and every equation whose tangent inputs are all zero is left out (its outputs are zero: the map is
    linear), as jvp leaves out symbolic zeros; a zero that meets a nonzero tangent is materialised. Returns
    fn(*tangents of keep) -> the outputs."""
    from jax.extend.core import Literal

    def fn(*ts):
        env, tan = {}, set()  # values; the variables that carry a tangent (zero ones: absent from env)
        env.update(zip(jaxpr.constvars, consts))
        for p, v in enumerate(jaxpr.invars):
            tan.add(v)
            if p in keep:
                env[v] = ts[keep.index(p)]
        zero = lambda v: v in tan and v not in env  # noqa: E731
        read = lambda v: v.val if isinstance(v, Literal) else (  # noqa: E731
            jnp.zeros(v.aval.shape, v.aval.dtype) if zero(v) else env[v])
        for e in jaxpr.eqns:
            ins = [v for v in e.invars if not isinstance(v, Literal)]
            t_in = [v for v in ins if v in tan]
            if t_in:
                tan.update(e.outvars)
                if all(zero(v) for v in t_in):
                    continue
            with e.ctx.manager:
                out = e.primitive.bind(*[read(v) for v in e.invars], **e.primitive.get_bind_params(e.params))
            env.update(zip(e.outvars, out if e.primitive.multiple_results else [out]))
        return [read(v) for v in jaxpr.outvars]

    return fn


def _columns(lin_fn, sizes_: list, names: tuple) -> dict:
    """{name: (n, *shape)}: the linear map ``lin_fn`` (tangents of the loop's leaves of x, their sizes ``sizes_``)
    along each basis vector of those leaves (n numbers, in their flat order), CHUNK vectors at a time in a loop."""
    n = int(sum(sizes_))
    nb = -(-n // CHUNK)
    _, unravel = ravel_pytree([jnp.zeros(m) for m in sizes_])

    def one(v):
        return dict(zip(names, lin_fn(*unravel(v))))

    cols = jax.lax.map(jax.vmap(one), jnp.eye(nb * CHUNK, n, dtype=jnp.float64).reshape(nb, CHUNK, n))
    return {k: c.reshape((nb * CHUNK,) + c.shape[2:])[:n] for k, c in cols.items()}


def basis_cotangents(rev, twins: dict) -> dict:
    """{twin: g_i (n_out, n_i)} (module docstring) of the option twins ``twins`` of ``ReverseSetup`` rev."""
    if not twins:
        return {}
    x0 = {i: tw.x0() for i, tw in twins.items()}
    n = sizes(x0)

    def columns(xs):
        out = {}
        for i, x in xs.items():
            leaves, tree = jax.tree_util.tree_flatten(x)
            f = lambda *ls, i=i, tree=tree: named_leaves(twins[i].leaves(tree.unflatten(ls)))  # noqa: E731
            y, lin = jax.linearize(f, *leaves)  # one trace of the twin; its tangents by output and by leaf of x
            flats = [jnp.ravel(a) for a in leaves]
            names = list(y)
            lj = jax.make_jaxpr(lambda *ts: list(lin(*[t.reshape(np.shape(a)) for t, a in zip(ts, leaves)]).values()))(
                *flats)  # the map once: outputs in ``names``' order (one dict, as y)
            out[i] = {}
            for outs, ps in classes(lj.jaxpr, names, [int(np.size(a)) for a in leaves]):
                fn = restrict(lj.jaxpr, lj.consts, ps)
                sel = [names.index(k) for k in outs]
                out[i][",".join(map(str, ps))] = _columns(
                    lambda *ts, fn=fn, sel=sel: [v for r, v in enumerate(fn(*ts)) if r in sel],
                    [flats[p].size for p in ps], outs)
        return out

    cols = kept(jax.jit(columns), "ad_option_twins_basis", digest(twins), (x0,))  # ``kept``: the twins by content
    g = {i: np.zeros((rev.n_out, n[i])) for i in twins}
    for i, loops in cols.items():
        at = np.cumsum([0] + [int(np.size(a)) for a in jax.tree_util.tree_leaves(x0[i])])
        for ps, leaves in loops.items():  # the loop's columns of g_i: its leaves' places in x_i's flat order
            k = np.concatenate([np.arange(at[p], at[p + 1]) for p in map(int, ps.split(","))])
            for name, d in leaves.items():
                pos = rev.offsets[i] + rev.pt.base[i][2].index(name)
                g[i][:, k] += rev._G_pres.dot_many(pos, np.asarray(d, np.float64))
    return g
