"""The reverse pass shared across netting sets (``exposure.risk.reverse_ns``) against the per-output reference.

Book: tests/data/risk_ns_portfolio.yaml, three netting sets (one under a CSA with threshold, MTA and rounding);
the USD swap, EUR/USD FX forward, FX option, SPX equity forward, USD physical and EUR cash swaption batches each
hold trades of two netting sets (so a mixed-up gradient would show), an equity option takes the per-output
fallback. Market and model: the
example (USD Hull-White calibrated to the swaption strip). The reference is ``reverse_pass(form="per_output")``:
every output's own backward pass through simulation, pricers and collateral (vmapped jax.vjp), a different
program; the shared pass must give the same gradient of CVA and DVA of every netting set with respect to every
set-up array (to 1e-12 of each leaf's scale: only the order of floating-point additions differs).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from exposure.api import compose
from exposure.risk.reverse import reverse_pass
from exposure.risk.reverse_ns import Plan
from exposure.risk.state import path_state
from exposure.setup import setup

pytestmark = pytest.mark.slow  # ~45 s of CPU (two path programs compiled); minutes of wall time under load

P, SEED, MEASURES = 40, 11, ("CVA", "DVA")


def _cfg(tmp_path, chunk: int):
    return compose([f"simulation.paths={P}", f"simulation.chunk_size={chunk}", "output.csv=false",
                    f"output.dir={tmp_path}", "portfolio.trades=tests/data/risk_ns_portfolio.yaml",
                    "portfolio.fixings=null", "simulation.grid='6M,1Y,2Y'"])


def _state(tmp_path, chunk: int):
    cfg = _cfg(tmp_path, chunk)
    return path_state(cfg, setup(cfg), MEASURES)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cfg = _cfg(tmp_path_factory.mktemp("a"), 20)
    s = setup(cfg)
    return cfg, s, *path_state(cfg, s, MEASURES)


@pytest.fixture(scope="module")
def base(built):
    _, _, S, static = built
    shared = reverse_pass(S, static, P, SEED, False, MEASURES)
    return S, static, shared


def test_book_exercises_every_path(base):
    """Three netting sets, a CSA, kernel batches spanning several netting sets and a fallback batch."""
    S, static, _ = base
    plan = Plan(S, static)
    assert static.n_ns == 3 and static.layout.csas
    kinds = {type(k).__name__ for k in plan.kernels if k is not None}
    assert kinds == {"LinearKernel", "FxOptionKernel", "SwaptionKernel"} and any(k is None for k in plan.kernels)
    assert all(len(k.ns_global) >= 2 for k in plan.kernels if k is not None)
    shared = {name for name in plan.shared.values()}
    assert ("bmid",) in shared and ("opt_bonds", "p") in shared and ("flow_bonds", "q") in shared


def test_shared_pass_equals_per_output_reference(base):
    S, static, (G, values) = base
    G_ref, values_ref = reverse_pass(S, static, P, SEED, False, MEASURES, form="per_output")
    np.testing.assert_allclose(values, values_ref, rtol=1e-13, atol=0.0)
    assert values[0].min() > 0.0  # every netting set has a CVA (NS_A's DVA is 0 on these paths)
    n_checked = 0
    dense = dict(G, pres=[G["pres"].dense(k) for k in range(len(G["pres"]))])  # compact: per measure
    for (path, a), b in zip(jax.tree_util.tree_flatten_with_path(G_ref)[0], jax.tree_util.tree_leaves(dense)):
        assert a.shape == b.shape, jax.tree_util.keystr(path)
        if not a.size:
            continue
        scale = np.max(np.abs(a), axis=tuple(range(1, a.ndim)), keepdims=True)  # per output
        err = np.abs(a - b) / np.where(scale > 0, scale, 1.0)
        assert np.max(err) <= 1e-12, (jax.tree_util.keystr(path), float(np.max(err)))
        n_checked += int(np.count_nonzero(a))
    assert n_checked > 1000


def test_same_bits_whatever_the_chunk_size(base, tmp_path):
    S, static, (G, values) = base
    S2, static2 = _state(tmp_path, 40)
    G2, values2 = reverse_pass(S2, static2, P, SEED, False, MEASURES)
    assert np.array_equal(values, values2)
    for a, b in zip(jax.tree_util.tree_leaves(_arrays(G)), jax.tree_util.tree_leaves(_arrays(G2))):
        assert np.array_equal(a, b)


def _arrays(G):
    return dict(G, pres=[v for _, v, _, _ in G["pres"].leaves])


def test_pres_gradient_is_per_measure(base):
    """G["pres"] holds n_meas rows per leaf (n_r <= the batch's netting sets for a shared leaf or a batch without
    a kernel), not n_out = n_meas n_ns: a regression to per-output rows breaks the bound."""
    S, static, (G, _) = base
    pres, n_meas = G["pres"], len(MEASURES)
    assert (pres.n_meas, pres.n_ns, len(pres)) == (n_meas, static.n_ns, len(S["pres"]))
    stored = dense = 0
    for k, (kind, a, ns, shape) in enumerate(pres.leaves):
        assert tuple(shape) == np.shape(S["pres"][k])
        if kind == "elements":
            assert a.shape == (n_meas,) + tuple(shape)
        elif kind == "rows":
            assert a.shape == (n_meas, len(ns)) + tuple(shape) and len(ns) <= static.n_ns
        stored += 0 if a is None else a.size
        dense += pres.n_out * int(np.prod(shape))
    kinds = {kind for kind, _, _, _ in pres.leaves}
    assert kinds == {"elements", "rows", "zero"}
    print("G['pres'] stored / dense", stored / dense)
    assert stored <= 0.5 * dense  # 3 netting sets, per output it would be 1


def test_reverse_setup_compact_equals_dense(built, base):
    """``ReverseSetup`` on the compact G against the same G written out per output row: the twins' cotangents by
    one backward pass per measure (netting-set copies) equal the per-row reference ``_twin_cotangents_rows`` and
    every covered factor's sensitivity (and ``contract``) is the dense form's, to 1e-12."""
    from exposure.risk import RiskSettings
    from exposure.risk.reverse import contract
    from exposure.risk.setup_market import market_tangents
    from exposure.risk.setup_reverse import ReverseSetup, reverse_covered
    from exposure.risk.stage import factor_list, tangent

    cfg, s, S, static = built
    _, _, (G, _) = base
    dense = dict(G, pres=[G["pres"].dense(k) for k in range(len(G["pres"]))])
    market = market_tangents(cfg, s, MEASURES, static.val_times)
    step = RiskSettings().setup_step
    rev = ReverseSetup(cfg, s, S, static, G, market, step)
    assert rev.twins and all(len(set(tw.batch.netting_set)) >= 2 for tw in rev.twins.values())
    ref = rev._twin_cotangents_rows(rev.twins)
    n_cmp = 0
    for i in rev.twins:
        for (path, a), b in zip(jax.tree_util.tree_flatten_with_path(ref[i])[0], jax.tree_util.tree_leaves(rev.g_x[i])):
            assert a.shape == b.shape, jax.tree_util.keystr(path)
            scale = np.abs(a).max(initial=0.0)
            assert np.abs(a - b).max(initial=0.0) <= 1e-12 * scale, (i, jax.tree_util.keystr(path))
            n_cmp += int(np.count_nonzero(a))
    assert n_cmp > 100
    rev_d = ReverseSetup(cfg, s, S, static, dense, market, step)
    factors = [f for f in factor_list(cfg, s, RiskSettings()) if reverse_covered(cfg, s, market, f)][::4]
    assert len(factors) >= 5
    got = np.array([rev.sensitivity(f) for f in factors])
    want = np.array([rev_d.sensitivity(f) for f in factors])
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())
    dS = tangent(cfg, factors[0], S, static, s, step, market)
    np.testing.assert_allclose(contract(G, dS), contract(dense, dS), rtol=0, atol=1e-12 * np.abs(want).max())


def test_grouped_kernels_price_as_the_batches(built):
    """``ns_kernels.kernel_values`` (the book's two swaption batches, physical USD and cash EUR, in one call with
    their entries concatenated; the FX options as one array of live cells) against each batch's own pricer on the
    same view: a shifted row, copy or column offset would move a trade's value to another one."""
    from exposure.pricing.view import PathView
    from exposure.risk.ns_kernels import kernel_values
    from exposure.risk.reverse_ns import SIM_KEYS, _states, _take
    from exposure.risk.state import merge_pres

    _, _, S, static = built
    plan = Plan(S, static)
    kb = [b for b, k in enumerate(plan.kernels) if k is not None]
    assert sum(type(plan.kernels[b]).__name__ == "SwaptionKernel" for b in kb) == 2

    def both(S):
        idx = jax.numpy.arange(16, dtype=jax.numpy.int64)
        states = _states({k: S[k] for k in SIM_KEYS if k in S}, static, jax.random.PRNGKey(SEED), idx, False)
        view = PathView.from_states(static.model, states, static.times, S["log_num"])
        pres = merge_pres(static, S["pres"])
        src = {"x": view.x, "fx": view.fx, "eq": view.eq}
        copies = {}
        for b in kb:
            k, n_u = plan.kernels[b], len(plan.kernels[b].ns_global)
            vc = tuple(jax.numpy.broadcast_to(_take(src[f], ix)[None], (n_u,) + _take(src[f], ix).shape)
                       for f, ix in k.view_reads)
            sh = {"/".join(plan.shared[i]): jax.numpy.broadcast_to(S["pres"][i][None], (n_u,) + S["pres"][i].shape)
                  for i in plan.by_batch[b] if i in plan.shared}
            copies[b] = (vc, sh)
        got = kernel_values({b: plan.kernels[b] for b in kb}, pres, copies, static.n_ns)
        return got, {b: static.batches[b].netting_values(pres[b], view, static.n_ns) for b in kb}

    got, ref = jax.jit(both)(S)
    for b in kb:
        scale = float(np.max(np.abs(ref[b])))
        assert scale > 0.0, b
        np.testing.assert_allclose(got[b], ref[b], rtol=0.0, atol=1e-13 * scale, err_msg=type(plan.kernels[b]).__name__)


def test_swaption_scan_chunk_moves_no_value(built, monkeypatch):
    """``ns_swaption``'s grouped scans in chunks of GROUP_CHUNK entries, the tail padded with zero-weight entries
    into a dropped row: the values are the same bits as in chunks of the pricers' CHUNK (every row receives its own
    terms in their order), the gradient with respect to every pricing array and copy the same to 1e-14 of its
    scale (the backward adds the chunks' state cotangents in another order)."""
    from exposure.pricing.opt_common import CHUNK
    from exposure.risk import ns_swaption
    from exposure.risk.ns_kernels import kernel_values
    from exposure.risk.state import merge_pres

    _, _, S, static = built
    plan = Plan(S, static)
    kb = [b for b, k in enumerate(plan.kernels) if type(k).__name__ == "SwaptionKernel"]
    rng = np.random.default_rng(2)
    P_ = 8
    copies = {}
    for b in kb:
        n_u = len(plan.kernels[b].ns_global)
        x = rng.normal(0.0, 0.01, (1, static.times.size, P_))
        vc = tuple(jax.numpy.broadcast_to(a[None], (n_u,) + a.shape) for a in (x, np.exp(x)))
        sh = {"/".join(plan.shared[i]): jax.numpy.broadcast_to(S["pres"][i][None], (n_u,) + S["pres"][i].shape)
              for i in plan.by_batch[b] if i in plan.shared}
        copies[b] = (vc, sh)

    def run(chunk):
        monkeypatch.setattr(ns_swaption, "GROUP_CHUNK", chunk)

        def total(floats, cps):
            V = kernel_values({b: plan.kernels[b] for b in kb}, merge_pres(static, floats), cps, static.n_ns)
            return sum(V.values())

        V, vjp = jax.vjp(total, S["pres"], copies)
        ct = jax.numpy.asarray(rng.normal(size=V.shape))
        return V, jax.tree_util.tree_leaves(vjp(ct))

    for chunk in (2 * CHUNK, 8 * CHUNK):
        rng = np.random.default_rng(5)
        V0, g0 = run(CHUNK)
        rng = np.random.default_rng(5)
        V1, g1 = run(chunk)
        assert float(np.max(np.abs(V0))) > 0.0
        np.testing.assert_array_equal(V1, V0)
        assert len(g0) == len(g1)
        for a, b in zip(g1, g0):
            np.testing.assert_allclose(a, b, rtol=0.0, atol=1e-14 * max(float(np.max(np.abs(b), initial=0.0)), 1e-300))


def test_step_takes_its_index_arrays_as_arguments(built):
    """The reverse step's large index arrays (the swaption scans' rows and copies, the element-wise leaves' masks:
    ``Plan.args``) reach it as arguments, not as constants baked into its program (bench-1k: 13.2 -> 2.2 MB of
    MLIR): none of them is among the constants its trace closes over."""
    from exposure.pricing.linear import differentiable_loops
    from exposure.risk.programs import device_tree, int_arg
    from exposure.risk.reverse_ns import block_gradients

    _, _, S, static = built
    plan = Plan(S, static)
    args = plan.args()
    big = [a for a in jax.tree_util.tree_leaves(args) if np.size(a) >= 64]
    assert args["index"]["SwaptionKernel"] and args["live"] and len(big) > 10

    def grads(S_, a):
        return block_gradients(S_, static, plan, int_arg(0), 8, int_arg(P), int_arg(SEED), False, MEASURES, 0.0, a)

    with differentiable_loops():
        consts = [np.asarray(c) for c in jax.make_jaxpr(grads)(device_tree(S), device_tree(args)).consts]
    baked = [a.shape for a in big if any(c.shape == a.shape and np.array_equal(c, a) for c in consts)]
    assert not baked, baked
