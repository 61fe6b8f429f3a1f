"""The path layer's reverse pass with one backward pass through the pricers for all netting sets.

With f_{m,j} = H_{m,j}(V_{:,j}, X, N, w) (``reverse.block_functionals``: collateral and XVA sums of netting set j),
V = sum_b V_b(pres_b, view), view = view(states(S_sim), log_num), the gradient of output o = (m, j) is

    d f_o / d S = H_o' [ dV_{:,j} / d(pres, view) ] + H_o' [ d(X, N) ]  chained through view and states.

Every trade is in one netting set, so V_{:,j} reads only netting set j's trades. The pricers are differentiated
once per measure with the cotangent of all netting sets at once, c_m[k, j, p] = dH_{m,j} / dV[k, j, p] (columns
of different netting sets do not overlap), and read per-netting-set copies of what their trades share
(``ns_kernels``): the copies' gradients are the netting sets' own view (and shared pricing data) gradients, the
other pricing arrays' gradients are split by the netting set of their element. The collateral and sums are
differentiated once per measure too (``ns_functionals``: per-netting-set copies of fx and the numeraire);
only the cheap view and simulation once per output (vmapped). Batches without a copy-reading twin
are differentiated once per output of the netting sets they hold, as in ``reverse.reverse_pass`` (their cost
grows with those netting sets).

Same output as ``reverse.reverse_pass`` (G[o] = (1/P) sum_blocks d f_o / d S), same block order (results the same
bits for any simulation.chunk_size), values the run's measures on the same paths. G["pres"] is accumulated and
returned per measure (``compact.CompactPres``, layouts fixed by ``Plan.layout``): a kernel batch's leaf per element
with its netting set (plan.mask), a shared leaf and a batch without a kernel per netting set it holds, a leaf
no value reads not at all; the per-output rows are where(ns == j, a_m, 0), never stored.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.pricing.linear import differentiable_loops
from exposure.pricing.view import PathView
from exposure.risk.compact import ELEMENTS, ROWS, ZERO, CompactPres
from exposure.risk.kept import kept, step_key
from exposure.risk.ns_functionals import _per_measure, functional_cotangents
from exposure.risk.ns_kernels import kernel_for, kernel_values
from exposure.risk.programs import device_tree, device_zeros, int_arg
from exposure.risk.reverse import block_starts
from exposure.risk.state import Static, merge_pres
from exposure.simulation.bridge import bridge_states
from exposure.simulation.paths import simulate_chunk

SIM_KEYS = ("Phi", "mu", "L", "y0", "bridge")
STEP_OPTIONS = {"xla_backend_optimization_level": 1}  # LLVM -O1: bench-1k ~15 not ~19 CPU s, same bits and speed
sg = jax.lax.stop_gradient


def _leaf_names(static: Static, floats) -> list:
    """[(batch index, key path in the batch's prepared data)] of every float leaf of S["pres"], in order."""
    marks = [("f", i) for i in range(static.n_float)]
    pres = merge_pres(static, marks)
    out = [None] * static.n_float
    for b, pre in enumerate(pres):
        for path, leaf in jax.tree_util.tree_flatten_with_path(pre, is_leaf=lambda x: isinstance(x, tuple)
                                                               and len(x) == 2 and x[0] == "f")[0]:
            if isinstance(leaf, tuple) and len(leaf) == 2 and leaf[0] == "f":
                out[leaf[1]] = (b, tuple(getattr(k, "name", getattr(k, "key", None)) for k in path))
    return out


class Plan:
    """What the shared pass bakes in: per batch its kernel (or None), the float leaves' owners and masks."""

    def __init__(self, S, static: Static):
        pres = merge_pres(static, [np.asarray(a) for a in S["pres"]])
        self.names = _leaf_names(static, S["pres"])
        self.kernels = []
        for b, pre in zip(static.batches, pres):
            k = kernel_for(b, static.model)
            if k is not None and hasattr(k, "bind"):
                k = k.bind(pre)
            self.kernels.append(k)
        self.mask = {}  # float leaf index -> (leaf shape) global netting set of each element, -1: none
        self.shared = {}  # float leaf index -> its name in its kernel's shared copies
        seps = {}  # batch -> its kernel's ``separable``: once per batch, not once per leaf (bench-1k: 40 leaves)
        for i, (b, name) in enumerate(self.names):
            k = self.kernels[b]
            if k is None:
                continue
            if name in k.shared:
                self.shared[i] = name
                continue
            if b not in seps:
                seps[b] = k.separable(pres[b])
            sep = seps[b]
            # a leaf no value reads: a read-only view of -1, not a filled array (hashed by content: the same key)
            self.mask[i] = (np.asarray(sep[name], np.int64) if name in sep
                            else np.broadcast_to(np.int64(-1), np.shape(S["pres"][i])))
        self.by_batch = [[i for i, (bb, _) in enumerate(self.names) if bb == b] for b in range(len(pres))]
        self.layout = []  # per float leaf: (kind, netting sets, shape) of its gradient (``compact.CompactPres``)
        for i, (b, _) in enumerate(self.names):
            shape = np.shape(S["pres"][i])
            k = self.kernels[b]
            if k is None:
                self.layout.append((ROWS, np.unique(static.batches[b].netting_set).astype(np.int64), shape))
            elif i in self.shared:
                self.layout.append((ROWS, np.asarray(k.ns_global, np.int64), shape))
            elif np.any(self.mask[i] >= 0):
                self.layout.append((ELEMENTS, self.mask[i], shape))
            else:  # not read by the values: no gradient in either form
                self.layout.append((ZERO, None, shape))

        # the grouped kernels' scan indices and the element-wise leaves' masks: the step's arguments (``args``), not
        # constants XLA folds and specialises on (bench-1k: ~7 of the 7.7 MB of arrays its trace closed over)
        K, groups = np.size(static.times), {}
        for b, k in enumerate(self.kernels):
            if hasattr(type(k), "group_index"):
                groups.setdefault(type(k), []).append(b)
        self.index = {cls.__name__: cls.group_index([self.kernels[b] for b in bs], [pres[b] for b in bs], K)
                      for cls, bs in groups.items()}
        self.live = {i: self.mask[i] >= 0 for i, (kind, _, _) in enumerate(self.layout) if kind == ELEMENTS}

    def args(self) -> dict:
        """The step's index arguments {"index": {kernel class: group_index}, "live": {leaf: mask >= 0}} (NumPy)."""
        return {"index": self.index, "live": self.live}

    def zeros(self, n_meas: int) -> list:
        """The accumulator of G["pres"] in ``layout`` (a zero leaf: an empty placeholder)."""
        return [device_zeros((n_meas,) + ((len(ns),) if kind == ROWS else ()) + shape) if kind != ZERO
                else device_zeros((0,)) for kind, ns, shape in self.layout]

    def compact(self, pres, n_meas: int, n_ns: int) -> CompactPres:
        return CompactPres(n_meas, n_ns, [(kind, None if kind == ZERO else np.asarray(a), ns, shape)
                                          for (kind, ns, shape), a in zip(self.layout, pres)])


def _states(sim, static, key, idx, antithetic):
    states = simulate_chunk(sim["Phi"], sim["mu"], sim["L"], sim["y0"], key, idx, antithetic=antithetic)
    if static.bridge is not None:
        br = sim["bridge"]
        states = bridge_states(states, br["A"], br["B"], br["m"], br["L"], *static.bridge, key, idx,
                               antithetic=antithetic)
    return states


def _take(arr, idx):
    return arr[jnp.asarray(idx, jnp.int32)] if len(idx) else arr[:0]


def block_gradients(S, static: Static, plan: Plan, start, block, n_total, seed, antithetic, measures, smooth,
                    args=None):
    """(G (n_out, pytree of S), f (n_meas, n_ns)) of one block: d f_o / d S for every output (module docstring).
    args: ``plan.args()`` as traced arguments (None: the NumPy ones, baked into the program as constants)."""
    args = plan.args() if args is None else args
    n_ns, n_meas = static.n_ns, len(measures)
    n_out = n_meas * n_ns
    idx = start + jnp.arange(block, dtype=jnp.int64)
    key = jax.random.PRNGKey(seed)
    mask = (idx < n_total).astype(S["Phi"].dtype)
    sim = {k: S[k] for k in SIM_KEYS if k in S}
    states, vjp_sim = jax.vjp(lambda a: _states(a, static, key, idx, antithetic), sim)

    def view_of(st, log_num):
        v = PathView.from_states(static.model, st, static.times, log_num)
        return v.x, v.fx, v.eq, v.numeraire

    (x, fx, eq, num), vjp_view = jax.vjp(view_of, states, S["log_num"])
    kb = [b for b, k in enumerate(plan.kernels) if k is not None]
    fb = [b for b, k in enumerate(plan.kernels) if k is None]
    vsrc = {"x": sg(x), "fx": sg(fx), "eq": sg(eq)}
    copies = {}
    for b in kb:  # per-netting-set copies: n_u equal arrays (the vjp's inputs)
        k, n_u = plan.kernels[b], len(plan.kernels[b].ns_global)
        vc = tuple(jnp.broadcast_to(_take(vsrc[f], ix)[None], (n_u,) + _take(vsrc[f], ix).shape)
                   for f, ix in k.view_reads)
        sh = {"/".join(plan.shared[i]): jnp.broadcast_to(sg(S["pres"][i])[None], (n_u,) + S["pres"][i].shape)
              for i in plan.by_batch[b] if i in plan.shared}
        copies[b] = (vc, sh)

    def priced_k(floats, cps):
        pres = merge_pres(static, floats)
        return kernel_values({b: plan.kernels[b] for b in kb}, pres, cps, n_ns, args["index"])

    def priced_f(b, floats, xv, fxv, eqv):
        pres = merge_pres(static, floats)
        view = PathView(jnp.asarray(static.times), xv, fxv, eqv, sg(num), tuple(static.model.currencies),
                        tuple(static.model.equity_names))
        return static.batches[b].netting_values(pres[b], view, n_ns)

    Vk, vjp_k = jax.vjp(priced_k, S["pres"], copies)
    Vb = dict(Vk)
    vjp_f = {}
    for b in fb:
        Vb[b], vjp_f[b] = jax.vjp(lambda *a, b=b: priced_f(b, *a), S["pres"], x, fx, eq)
    V = sum(Vb[b] for b in range(len(static.batches)))  # the run's order of the sum
    o_m, o_j = np.divmod(np.arange(n_out), n_ns)
    f, ct_Vm, ct_fx_h, ct_num_h, g_w = functional_cotangents(V, fx, num, S["w"], static, mask, measures, smooth)

    def ct_V(outs):  # the per-output cotangents of V: column j of measure m's
        col = np.arange(n_ns)[None, :] == o_j[outs][:, None]
        return jnp.where(jnp.asarray(col)[:, None, :, None], ct_Vm[np.asarray(o_m[outs])], 0.0)

    g_fl_k, g_cp = _per_measure(lambda c: vjp_k({b: c for b in kb}), ct_Vm)  # one pass per measure

    # batches without a twin: one pass per output of the netting sets they hold (the others' cotangent is 0)
    view = {"x": x, "fx": fx, "eq": eq}
    ct = {"x": None, "fx": ct_fx_h, "eq": None}  # None: zero, not materialised
    g_fl_f = {}
    for b in fb:
        outs = np.flatnonzero(np.isin(o_j, np.unique(static.batches[b].netting_set)))
        gf, *gv = jax.vmap(vjp_f[b])(ct_V(outs))
        o_idx = jnp.asarray(outs, jnp.int32)
        ct = {f: (jnp.zeros((n_out,) + view[f].shape, x.dtype) if ct[f] is None else ct[f]).at[o_idx].add(g)
              for f, g in zip(("x", "fx", "eq"), gv)}
        for i in plan.by_batch[b]:  # outs: measure-major, the batch's netting sets ascending (``layout``'s rows)
            g_fl_f[i] = gf[i].reshape((n_meas, -1) + gf[i].shape[1:])

    # the view's cotangent of each output: the copies of its netting set, the other batches', collateral's; summed
    # per view column in the kernels' order (no zero-filled (n_out, ...) arrays scattered into)
    cols = {f: [None if ct[f] is None else ct[f][:, c] for c in range(a.shape[0])] for f, a in view.items()}
    for b in kb:
        k = plan.kernels[b]
        pos = np.full(n_ns, -1)
        pos[k.ns_global] = np.arange(len(k.ns_global))
        rows, live = o_m * len(k.ns_global) + np.maximum(pos[o_j], 0), jnp.asarray(pos[o_j] >= 0, x.dtype)
        for (field, ix), g in ((r, g) for r, g in zip(k.view_reads, g_cp[b][0]) if len(r[1])):
            g = g.reshape((-1,) + g.shape[2:])  # (n_meas n_u, len(ix), K, P) -> output rows (n_out, ...)
            g = g if np.array_equal(rows, np.arange(g.shape[0])) else g[rows] * live[:, None, None, None]
            for q, c in enumerate(ix):
                cols[field][c] = g[:, q] if cols[field][c] is None else cols[field][c] + g[:, q]
    ct = {f: jnp.stack([jnp.zeros((n_out,) + a.shape[1:], a.dtype) if c is None else c for c in cols[f]], axis=1)
          if a.shape[0] else jnp.zeros((n_out,) + a.shape, a.dtype) for f, a in view.items()}
    ct_states, g_log = jax.vmap(lambda a, b_, c, d: vjp_view((a, b_, c, d)))(ct["x"], ct["fx"], ct["eq"], ct_num_h)
    (g_sim,) = jax.vmap(vjp_sim)(ct_states)

    g_pres = []  # in ``plan.layout`` (``compact``): per measure, not per output
    for i, (kind, _, _) in enumerate(plan.layout):
        b = plan.names[i][0]
        if kind == ZERO:
            g_pres.append(jnp.zeros((0,)))
        elif plan.kernels[b] is None:
            g_pres.append(g_fl_f[i])
        elif i in plan.shared:
            g_pres.append(g_cp[b][1]["/".join(plan.shared[i])])  # (n_meas, n_u, ...): rows ns_global
        else:
            g_pres.append(jnp.where(args["live"][i][None], g_fl_k[i], 0.0))
    G = dict(g_sim, log_num=g_log, pres=g_pres, w=g_w)
    return G, f


def reverse_pass_shared(S, static: Static, n_paths: int, seed: int, antithetic: bool, measures, block: int = 64,
                        smooth: float = 0.0):
    """``reverse.reverse_pass``'s (G, values) by ``block_gradients``: the pricers differentiated once per measure."""
    n_ns, n_meas, plan = static.n_ns, len(measures), Plan(S, static)
    S = device_tree(S)  # ``programs``: no per-shape programs; the seed an argument (one program for every seed)
    ix = device_tree(plan.args())  # index arrays: arguments, so the program holds no large constants

    def step(G, acc, S, ix, start, n_total, seed_):
        g, y = block_gradients(S, static, plan, start, block, n_total, seed_, antithetic, measures, smooth, ix)
        return jax.tree_util.tree_map(jnp.add, G, g), acc + y

    step = jax.jit(step, donate_argnums=(0, 1), compiler_options=STEP_OPTIONS)
    G = jax.tree_util.tree_map(lambda a: device_zeros((n_meas * n_ns,) + a.shape, a.dtype),
                               {k: v for k, v in S.items() if k != "pres"})
    G["pres"] = plan.zeros(n_meas)
    acc = device_zeros((n_meas, n_ns))
    with differentiable_loops():
        key = step_key(static, plan, block, antithetic, measures, smooth)  # what the trace bakes in (``kept``)
        seed_ = int_arg(seed)
        for start in block_starts(n_paths, block):
            G, acc = kept(step, "ad_reverse_step", key, (G, acc, S, ix, int_arg(start), int_arg(n_paths), seed_))
    G = jax.tree_util.tree_map(lambda a: np.asarray(a) / n_paths, G)
    G["pres"] = plan.compact(G["pres"], n_meas, n_ns)
    return G, np.asarray(acc) / n_paths
