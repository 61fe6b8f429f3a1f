"""The vol and model factors in reverse (exposure.risk.setup_vols_reverse) against the per-factor forms.

Against the per-factor forms:

  * ``factor_cotangent`` is the transpose of ``setup_model.factor_tangent``: <G_L, dL(dSigma)> = <G_Sigma, dSigma>
    on random symmetric dSigma (to rounding);
  * ``VolModelReverse`` against the per-factor reference (``stage.tangent``): in
    tests/test_risk_twin_reverse.py::test_vol_and_model_factors_equal_per_factor_tangents (its reference tangents
    are the costly part; computed once for both forms).
"""

from __future__ import annotations

import numpy as np


def test_factor_cotangent_is_the_transpose_of_factor_tangent():
    from exposure.risk.setup_model import factor_tangent
    from exposure.risk.setup_vols_reverse import factor_cotangent

    rng = np.random.default_rng(3)
    d, n = 5, 4
    X = rng.standard_normal((n, d, d))
    Sig = X @ np.swapaxes(X, 1, 2)
    Sig[0] = np.diag([2.0, 2.0, 1.0, 0.5, 0.0])  # equal eigenvalues (no rotation term) and a zero one
    w, V = np.linalg.eigh(Sig)
    G = rng.standard_normal((3, n, d, d))
    GS = factor_cotangent(w, V, G)
    for _ in range(3):
        D = rng.standard_normal((n, d, d))
        D = D + np.swapaxes(D, 1, 2)
        lhs = np.einsum("onij,nij->o", G, factor_tangent(w, V, D))
        rhs = np.einsum("onij,nij->o", GS, D)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12 * np.abs(lhs).max())
