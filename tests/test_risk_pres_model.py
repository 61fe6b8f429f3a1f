"""``risk.setup_pres_model``: the linear batches' prepared data along a mean-reversion move (exact forward mode)
against the central differences of ``LinearBatch.prepare`` at the first-order moved model (``state.batch_difference``,
the path it replaces in ``setup_vols_reverse.pres_part``), Richardson-extrapolated over two steps (O(h^4)).

On tests/data/risk_portfolio.yaml (EUR and USD flows, USD calibrated to swaptions: a mean reversion moves a_c and
the calibrated sigma_c): every float leaf but xi_lim (an order choice with a zero cotangent, left at 0) equal to
1e-8 of the leaf's largest |value| (measured <= 1.1e-9, cc_w, the reference's own rounding eps/h; the moments
1.8e-12), the plain central difference 5e-6 off (O(h^2)). Broken on purpose (the z_f term of d mom dropped,
``_flow_tangent``) it fails at 1.0 (mom_tr, MeanReversion/USD)."""

from __future__ import annotations

import numpy as np

from exposure.pricing.linear import LinearBatch
from exposure.risk import RiskSettings
from exposure.risk import setup_vols as sv
from exposure.risk.setup_pres_model import linear_model_tangent
from exposure.risk.state import batch_difference
from tests.risk_reference import book_state, mean_reversion_moves

STEP = RiskSettings().setup_step


def test_linear_mean_reversion_tangent_equals_central_differences():
    checked = set()
    for f, th, b, at, n, ints, ctx, model, market, s, static, names in mean_reversion_moves(LinearBatch):
        got = linear_model_tangent(b, ctx, th, ints)
        ref = {h: batch_difference(b, ints, (market, market), tuple(sv.moved_model(model, th, e) for e in (h, -h)),
                                   s, static, f, h) for h in (STEP, STEP / 2)}
        for j, (d, r1, r2) in enumerate(zip(got, ref[STEP], ref[STEP / 2])):
            name = names[at + j]
            assert d.shape == r1.shape, name
            if name == "xi_lim":
                assert not np.any(d)
                continue
            rich = (4.0 * r2 - r1) / 3.0
            scale = np.abs(rich).max(initial=0.0)
            err = np.abs(d - rich).max(initial=0.0)
            print(f.label(), name, "relative", err / max(scale, 1e-300), "plain", np.abs(d - r1).max(initial=0) / max(scale, 1e-300))
            assert err <= 1e-8 * scale, (f.label(), name, err, scale)
            if scale > 0:
                checked.add((f.label(), name))
    assert {n for _, n in checked} >= {"mom_tr", "mom_ns", "bmid", "inv_scale", "cc_w", "cc_b1", "cc_b2", "cu_b1",
                                       "cu_b2"}
    assert len({f for f, _ in checked}) == 2  # EUR and USD


def test_variance_weights_tangent_follows_variance_weights_branch_for_branch():
    """``setup_pres_model.variance_weights_tangent`` is ``hull_white.variance_weights`` differentiated by hand, branch
    for branch: its value equals variance_weights (NumPy) to rounding and its derivative in a equals jax.jvp of the
    jnp variance_weights (1e-12 relative) and the Richardson extrapolation of NumPy central differences (1e-7), on
    pieces that hit each branch: the small-z series (z = a (u2 - u1) < 0.5: a tiny, a short piece), the closed form
    (z >= 0.5), z on both sides of the 0.5 switch, and the piece ending at T (B(u2, T) = 0) or before it. A change to
    variance_weights that the tangent does not mirror fails here. Broken on purpose (the closed form's -3 big da / a^4
    term dropped; the series' dpoly recursion one coefficient off) it fails at 8.8 and 2.3 relative."""
    import jax
    import jax.numpy as jnp

    from exposure.models.hull_white import variance_weights
    from exposure.risk.setup_pres_model import variance_weights_tangent

    a = np.array([1e-6, 0.01, 0.03, 0.1, 0.4999, 0.5001, 0.05, 0.2, 1.5, 3.0])
    u1 = np.array([0.0, 0.5, 1.0, 0.0, 0.0, 0.0, 2.0, 1.1, 0.0, 4.0])
    u2 = np.array([1.0, 3.0, 11.0, 2.0, 1.0, 1.0, 30.0, 3.5, 2.0, 4.3])
    gap = np.array([0.0, 1.0, 4.0, 0.0, 2.0, 0.0, 0.0, 7.0, 1.0, 0.0])
    for T in (u2 + gap, u2 + np.where(gap > 0, 0.0, 3.0)):
        z = a * (u2 - u1)
        assert (z < 0.5).sum() >= 4 and (z >= 0.5).sum() >= 4 and np.any(T == u2) and np.any(T > u2)
        for da in (1.0, -0.37):
            g, dg = variance_weights_tangent(a, da * np.ones_like(a), u1, u2, T)
            np.testing.assert_allclose(g, variance_weights(a, u1, u2, T, np), rtol=1e-15, atol=0)
            _, jvp = jax.jvp(lambda a_: variance_weights(a_, u1, u2, T, jnp), (jnp.asarray(a),),
                             (jnp.full(a.shape, da),))
            # 1e-10: at a = 1e-6 both forms of dB/da = (tau e^{-a tau} - B) / a cancel to ~eps / (a tau)
            np.testing.assert_allclose(dg, np.asarray(jvp), rtol=1e-10, atol=0)
            h = np.maximum(1e-3 * a, 5e-7)  # no piece crosses the z = 0.5 switch; a - 2h > 0
            cd = {k: (variance_weights(a + k * h * da, u1, u2, T, np) - variance_weights(a - k * h * da, u1, u2, T, np))
                  / (2 * k * h) for k in (1.0, 0.5)}
            rich = (4.0 * cd[0.5] - cd[1.0]) / 3.0
            np.testing.assert_allclose(dg, rich, rtol=1e-7, atol=0)


def test_pres_tangents_take_the_run_state_as_prepare_gives_it():
    """``PresTangents(s, static, S)`` splits the run's own S["pres"] per batch (``ReverseSetup``: no second prepare
    of every batch); its base (float leaves, integer leaves, leaf names) equals the one from each batch's prepare,
    leaf for leaf and bit for bit. Broken on purpose (the batches' trees shifted by one) it fails on the first batch's
    leaf names."""
    from exposure.risk.setup_pres_tangents import PresTangents

    cfg, s, S, static = book_state()
    got, ref = PresTangents(s, static, S).base, PresTangents(s, static).base
    assert len(got) == len(ref) == len(s.portfolio.batches)
    for (gf, gi, gp), (rf, ri, rp) in zip(got, ref):
        assert gp == rp and len(gf) == len(rf) and len(gi) == len(ri)
        for a, b in zip(gf, rf):
            assert a.dtype == b.dtype == np.float64 and np.array_equal(a, b)
        for (k, a, n), (k_, b, n_) in zip(gi, ri):
            assert (k, n) == (k_, n_) and a.dtype == b.dtype and np.array_equal(a, b)
