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


def _state(tmp_path, chunk: int):
    cfg = compose([f"simulation.paths={P}", f"simulation.chunk_size={chunk}", "output.csv=false",
                   f"output.dir={tmp_path}", "portfolio.trades=tests/data/risk_ns_portfolio.yaml",
                   "portfolio.fixings=null", "simulation.grid='6M,1Y,2Y'"])
    return path_state(cfg, setup(cfg), MEASURES)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    S, static = _state(tmp_path_factory.mktemp("a"), 20)
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
    for (path, a), b in zip(jax.tree_util.tree_flatten_with_path(G_ref)[0], jax.tree_util.tree_leaves(G)):
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
    for a, b in zip(jax.tree_util.tree_leaves(G), jax.tree_util.tree_leaves(G2)):
        assert np.array_equal(a, b)
