"""``risk.setup_pres_options``: the option batches' prepared data along a mean-reversion move (exact forward mode in
NumPy) against the Richardson extrapolation (steps h, h/2: O(h^4)) of the central differences of their ``prepare`` at
the first-order moved model (``state.batch_difference``, the path it replaces in ``setup_vols_reverse.pres_part``).

On tests/data/risk_portfolio.yaml (a cap and a physical swaption in USD, calibrated to swaptions: a mean reversion
moves a_c and the calibrated sigma_c; a cash swaption in EUR; an EUR/USD FX option and an SX5E equity option, whose
bootstrapped vol pieces move too): every float leaf within 1e-7 of the leaf's largest tangent, plus the reference's
rounding eps |leaf| / h (measured: cap 3.0e-11 (alpha), FX 2.2e-10 (lnAf), equity 6.0e-10 (sd) and 1.4e-7 of a
6.8e-8 lnA tangent = 1e-14, rounding; swaptions (``setup_pres_swaption``) 1.5e-10 (a0), 3.0e-10 (B_e), the rest
<= 4e-11; the plain central difference 3e-5 .. 3e-8 off, O(h^2)); every batch type covered (the swaptions' cdf
coefficients at the expiry, +-alpha 1e200, apart). Broken on purpose: the cap's d s without its dsv term fails at
1.04 (s); forward_variance_tangent without dB_c fails at 0.35 (FX sd); the swaption strikes' d lnK without the
root's move -B dx* fails (a0, its 1e200 entries), its d s without dsv at 2.9 (a0 of the physical one). (Dropping
dv(0,T) passes on this book: the bootstrap holds v(0,T_i) = w_i at the option's pillar expiry, so dv(0,T) = 0
there.)"""

from __future__ import annotations

import re

import numpy as np

from exposure.risk import RiskSettings
from exposure.risk import setup_vols as sv
from exposure.risk.setup_pres_options import option_model_tangent
from exposure.risk.state import batch_difference, split_leaves
from tests.risk_reference import mean_reversion_moves

STEP = RiskSettings().setup_step


def test_option_mean_reversion_tangent_equals_central_differences():
    checked, kinds = set(), set()
    for f, th, b, at, n, ints, ctx, model, market, s, static, names in mean_reversion_moves():
        got = option_model_tangent(b, ctx, th)
        if got is None:
            continue
        kinds.add(type(b).__name__)
        ref = {h: batch_difference(b, ints, (market, market), tuple(sv.moved_model(model, th, e) for e in (h, -h)),
                                   s, static, f, h) for h in (STEP, STEP / 2)}
        assert len(got) == n
        base = split_leaves([b.prepare(ctx)])[0]
        for j, (d, r1, r2) in enumerate(zip(got, ref[STEP], ref[STEP / 2])):
            name = names[at + j]
            assert d.shape == r1.shape, name
            rich = (4.0 * r2 - r1) / 3.0
            # a swaption's cdf coefficients at s ~ 0 (the expiry) are +-alpha 1e200 (``_STEP``): checked apart,
            # so that their scale does not hide the other entries
            step = np.abs(base[j]) > 1e100
            for part in (step, ~step):
                scale = np.abs(rich[part]).max(initial=0.0)
                err = np.abs(d - rich)[part].max(initial=0.0)
                print(f.label(), type(b).__name__, name, "relative", err / max(scale, 1e-300),
                      "plain", np.abs(d - r1)[part].max(initial=0) / max(scale, 1e-300))
                # the reference's own rounding: eps |leaf| / h (lnA + ln K of the equity option: ~1e-14)
                tol = 1e-7 * scale + 64 * np.finfo(float).eps * np.abs(base[j][part]).max(initial=0.0) / STEP
                assert err <= tol, (f.label(), type(b).__name__, name, err, scale)
                if scale > 0:
                    checked.add((type(b).__name__, re.findall(r"\w+", name)[-1]))
    assert kinds == {"FxOptionBatch", "EquityOptionBatch", "CapFloorBatch", "SwaptionBatch"}
    assert {n for k, n in checked if k == "CapFloorBatch"} >= {"alpha", "beta", "gamma", "delta", "s", "c0", "Bfix",
                                                               "lnA_e", "B_e"}
    assert {n for k, n in checked if k in ("FxOptionBatch", "EquityOptionBatch")} >= {"lnAf", "Bf", "lnAd", "Bd",
                                                                                     "sd", "lnA", "B"}
    # swaptions: the Jamshidian terms and their shared bonds, the physical one's underlying after expiry
    assert {n for k, n in checked if k == "SwaptionBatch"} >= {"a0", "a1", "p", "q", "c0", "Bfix", "B_e",
                                                               "lnA", "B"}
