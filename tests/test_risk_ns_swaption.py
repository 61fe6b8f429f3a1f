"""The reverse twins' hand-written pieces against what they replace (``exposure.risk.ns_swaption``,
``exposure.risk.ns_common``).

* ``_bond_terms``' closed-form backward pass against JAX's autodiff of the expression it replaces, the copies'
  first-order form w B (1 + d) erfc(a0 + a1 x_e) (erfc: the pricers' ``normal_cdf.erfc``), d = (p_u - p) - (q_u - q) x_b - q (x_e - x) (``ns_kernels``),
  on random entries (some with zero weight, as padding), for the Jamshidian terms and the plain bond terms;
* ``ns_sum`` against ``view.netting_sum`` (the pricers' netting sum): the same bits.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from exposure.pricing.normal_cdf import erfc
from exposure.pricing.view import netting_sum
from exposure.risk.ns_common import _zero, ns_sum, sg
from exposure.risk.ns_swaption import _bond_terms


def _reference(jamshidian, w, a0, a1, p_u, q_u, x_e, bond, xb, q):
    d = _zero(p_u)[:, None] - _zero(q_u)[:, None] * xb - sg(q)[:, None] * _zero(x_e)
    v = w[:, None] * (sg(bond) * (1.0 + d))
    return v * erfc(a0[:, None] + a1[:, None] * x_e) if jamshidian else v


@pytest.mark.parametrize("jamshidian", [True, False])
def test_bond_terms_backward_equals_autodiff(jamshidian):
    rng = np.random.default_rng(3)
    C, P = 16, 7
    w = rng.normal(size=C)
    w[-3:] = 0.0  # padding entries
    a0, a1, q = rng.normal(size=C), rng.normal(size=C), rng.uniform(0.5, 5.0, C)
    p_u, q_u = rng.normal(size=C), q.copy()
    x_e, xb = rng.normal(0.0, 0.02, (C, P)), rng.normal(0.0, 0.02, (C, P))
    bond = np.exp(rng.normal(size=C)[:, None] - q[:, None] * xb)
    args = tuple(map(jnp.asarray, (w, a0, a1, p_u, q_u, x_e, bond, xb, q)))
    g = jnp.asarray(rng.normal(size=(C, P)))
    v, vjp = jax.vjp(lambda *a: _bond_terms(jamshidian, *a), *args)
    v_ref, vjp_ref = jax.vjp(lambda *a: _reference(jamshidian, *a), *args)
    np.testing.assert_array_equal(v, v_ref)  # the values: the same bits
    n_diff = 6 if jamshidian else 4  # w, (a0, a1,) p_u, q_u, x_e
    for name, a, b in zip(("w", "a0", "a1", "p_u", "q_u", "x_e"), vjp(g)[:6], vjp_ref(g)[:6]):
        if not jamshidian and name in ("a0", "a1"):
            continue
        n_diff -= 1
        scale = float(np.max(np.abs(b)))
        assert scale > 0.0, name
        np.testing.assert_allclose(a, b, rtol=0.0, atol=1e-14 * scale, err_msg=name)
    assert n_diff == 0


def test_ns_sum_equals_netting_sum_bit_for_bit():
    rng = np.random.default_rng(5)
    seg = np.array([3, 0, 3, 1, 3, 0, 4, 3])  # netting set 2 holds no trade
    v = jnp.asarray(rng.normal(size=(5, seg.size, 6)) * 10.0 ** rng.integers(-8, 8, (5, seg.size, 6)))
    np.testing.assert_array_equal(ns_sum(v, seg, 5), netting_sum(v, seg, 5))


@pytest.mark.parametrize("n_top", [0, 3, 7])
def test_horner_backward_equals_autodiff(n_top):
    """``ns_kernels._horner``'s written-out backward pass against autodiff of the same guarded Horner loop (the
    linear twin's moment series), at a date order below, at and between the series' full order; xi the netting
    sets' copies of one state (equal along axis 1), as the twin calls it."""
    from exposure.risk.ns_linear import _horner

    def reference(mom, xi, n):
        coef = lambda m: jax.lax.dynamic_index_in_dim(mom, m, axis=1, keepdims=False)[:, :, None]  # noqa: E731
        init = jnp.broadcast_to(coef(n), xi.shape)
        return jax.lax.fori_loop(1, mom.shape[1], lambda i, acc: jnp.where(i <= n, acc * xi + coef(n - i), acc),
                                 init)

    rng = np.random.default_rng(7)
    mom = jnp.asarray(rng.normal(size=(2, 8, 3)))  # (n_b, N + 1, n_u)
    xi = jnp.asarray(np.broadcast_to(rng.uniform(-1.0, 1.0, (2, 1, 5)), (2, 3, 5)))  # copies of one state
    g = jnp.asarray(rng.normal(size=(2, 3, 5)))
    n = jnp.int32(n_top)
    v, vjp = jax.vjp(lambda m, x: _horner(m, x, n), mom, xi)
    v_ref, vjp_ref = jax.vjp(lambda m, x: reference(m, x, n), mom, xi)
    np.testing.assert_array_equal(v, v_ref)
    for name, a, b in zip(("mom", "xi"), vjp(g), vjp_ref(g)):
        scale = float(np.max(np.abs(b)))
        assert scale > 0.0 or (name == "xi" and n_top == 0), name
        np.testing.assert_allclose(a, b, rtol=0.0, atol=1e-14 * max(scale, 1.0), err_msg=name)
