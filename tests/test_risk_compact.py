"""G["pres"] per measure (exposure.risk.compact.CompactPres) against the dense rows it stands for.

The reference is written out independently: row o = (m, j) of an ``elements`` leaf is a[m] where the element's
netting set is j (0 elsewhere), of a ``rows`` leaf a[m, r] for j = rows[r]; <row, d> by a plain sum over the
row. ``dot`` (a segment sum by netting set) and ``dense`` must give the same numbers (1e-13), and the dense list
form (``CompactPres.of``) must read as n_out measures of one netting set.
"""

from __future__ import annotations

import numpy as np

from exposure.risk.compact import ELEMENTS, ROWS, ZERO, CompactPres
from exposure.risk.reverse import contract


def _book(rng, n_meas=2, n_ns=4):
    a_el = rng.standard_normal((n_meas, 5, 3))
    ns_el = rng.integers(-1, n_ns, size=(5, 3))
    a_rw = rng.standard_normal((n_meas, 2, 7))
    rows = np.array([3, 1])
    leaves = [(ELEMENTS, a_el, ns_el, (5, 3)), (ROWS, a_rw, rows, (7,)), (ZERO, None, None, (4, 2))]
    ref = np.zeros((n_meas, n_ns, 5, 3)), np.zeros((n_meas, n_ns, 7)), np.zeros((n_meas, n_ns, 4, 2))
    for m in range(n_meas):
        for j in range(n_ns):
            for e in np.ndindex(5, 3):
                if ns_el[e] == j:
                    ref[0][m, j][e] = a_el[m][e]
        for r, j in enumerate(rows):
            ref[1][m, j] = a_rw[m, r]
    return CompactPres(n_meas, n_ns, leaves), [x.reshape((n_meas * n_ns,) + x.shape[2:]) for x in ref]


def test_dot_and_dense_equal_the_rows():
    rng = np.random.default_rng(5)
    pres, ref = _book(rng)
    assert pres.n_out == 8 and len(pres) == 3
    for k, r in enumerate(ref):
        np.testing.assert_array_equal(pres.dense(k), r)
        d = rng.standard_normal(r.shape[1:])
        want = np.array([np.sum(row * d) for row in r])
        np.testing.assert_allclose(pres.dot(k, d), want, rtol=1e-13, atol=1e-13 * np.abs(want).max(initial=1.0))
    assert pres.nbytes() == (2 * 5 * 3 + 2 * 2 * 7) * 8  # n_meas rows, not n_out


def test_contract_reads_compact_and_dense_alike():
    rng = np.random.default_rng(6)
    pres, ref = _book(rng)
    G = {"Phi": rng.standard_normal((8, 3, 2)), "pres": pres}
    dS = {"Phi": rng.standard_normal((3, 2)), "pres": [rng.standard_normal(r.shape[1:]) for r in ref]}
    dense = contract(dict(G, pres=ref), dS)
    np.testing.assert_allclose(contract(G, dS), dense, rtol=1e-13)
    assert np.all(dense != 0.0)
    one = CompactPres.of(ref)  # a caller's dense rows: n_out measures of one netting set
    assert (one.n_meas, one.n_ns) == (8, 1)
    np.testing.assert_array_equal(one.dense(1), ref[1])
