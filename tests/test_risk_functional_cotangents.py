"""The collateral and sums' backward of the shared reverse pass (``reverse_ns.functional_cotangents``: one vjp per
measure, netting sets reading their own copies of fx and the numeraire) against the per-output reference: every
output o = (m, j)'s own vjp of the same functionals on the shared fx and numeraire (vmapped over the outputs), on
a book whose CSAs include foreign-currency collateral (the fx cotangent is not zero), a one-way CSA, MPoR
close-out dates and two measures."""

from __future__ import annotations

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np

import exposure  # noqa: F401  (float64)
from exposure.aggregation.collateral_jax import CollateralLayout, collateralise
from exposure.portfolio.netting import Csa, NettingSet
from exposure.risk.reverse import BASIS
from exposure.risk.reverse_ns import functional_cotangents

NETTING = [
    NettingSet("A", "CA", Csa(threshold_cpty=1.0, threshold_bank=0.5, mta_cpty=0.3, mta_bank=0.2, rounding=0.1,
                              collateral_currency="EUR")),
    NettingSet("B", "CB"),
    NettingSet("C", "CC", Csa(margining="cpty_posts", mta_cpty=0.25, independent_amount_held=0.7,
                              collateral_currency="GBP")),
    NettingSet("D", "CD", Csa(threshold_bank=0.4, initial_balance=-0.3)),
]
MEASURES = ("CVA", "DVA")


def _reference(V, fx, num, w, layout, mask):
    """f (n_meas, n_ns) on the shared fx and numeraire (the run's collateral and sums, written out again)."""
    X, _ = collateralise(layout, V, fx)
    inv = 1.0 / num[layout.vi][:, None, :]
    pos = jnp.maximum(X, 0.0)
    y = {"EPE": pos * inv, "ENE": (pos - X) * inv}
    return jnp.stack([jnp.sum(jnp.sum(w[m].T[:, :, None] * y[BASIS[m]], axis=0) * mask[None], axis=-1)
                      for m in MEASURES])


def test_one_backward_per_measure_equals_per_output_backward():
    rng = np.random.default_rng(5)
    K, P, n_ns = 9, 64, len(NETTING)
    V = rng.normal(0.2, 1.5, size=(K, n_ns, P)).cumsum(axis=0)
    fx = np.exp(rng.normal(0.0, 0.05, size=(3, K, P)).cumsum(axis=1))
    fx[0] = 1.0
    num = np.exp(rng.normal(0.01, 0.02, size=(K, P)).cumsum(axis=0))
    vi, ci = np.array([0, 2, 4, 6, 8]), np.array([1, 3, 5, 7, 8])
    layout = CollateralLayout(NETTING, ("USD", "EUR", "GBP"), "USD", vi, ci, 0)
    w = {m: rng.uniform(0.1, 1.0, size=(n_ns, vi.size)) for m in MEASURES}
    mask = (np.arange(P) < 50).astype(float)  # the block's last paths beyond n_paths
    static = SimpleNamespace(layout=layout, n_ns=n_ns)

    f, ct_V, ct_fx, ct_num, g_w = jax.jit(
        lambda *a: functional_cotangents(*a, static, jnp.asarray(mask), MEASURES, 0.0))(V, fx, num, w)

    def ref(V_, fx_, num_, w_):
        return _reference(V_, fx_, num_, w_, layout, jnp.asarray(mask))

    n_out = len(MEASURES) * n_ns
    f_ref, vjp = jax.vjp(ref, V, fx, num, w)
    basis = jnp.eye(n_out).reshape((n_out,) + f_ref.shape)
    r_V, r_fx, r_num, r_w = jax.jit(jax.vmap(vjp))(basis)
    np.testing.assert_allclose(f, f_ref, rtol=1e-14, atol=0.0)

    def close(a, b, what):
        a, b = np.asarray(a), np.asarray(b)
        scale = np.max(np.abs(b))
        assert scale > 0.0, what  # the comparison can fail
        assert np.max(np.abs(a - b)) <= 1e-13 * scale, (what, float(np.max(np.abs(a - b)) / scale))

    close(ct_V, np.asarray(r_V).reshape((len(MEASURES), n_ns) + V.shape).sum(axis=1), "V")
    close(ct_fx, r_fx, "fx")
    close(ct_num, r_num, "numeraire")
    for m in MEASURES:
        close(g_w[m], r_w[m], f"w[{m}]")
    # the foreign collateral makes fx matter to netting sets A (EUR) and C (GBP) only, each its own output's
    per_out = np.abs(np.asarray(ct_fx)).reshape(len(MEASURES), n_ns, 3, -1).max(axis=-1)
    assert per_out[0, 0, 1] > 0 and per_out[0, 2, 2] > 0
    assert per_out[:, 0, 2].max() == 0 and per_out[:, 2, 1].max() == 0 and per_out[:, [1, 3]].max() == 0
