"""The option batches' jnp twins that ``setup_pres_tangents.PresTangents`` differentiates by jvp (and a reverse form may
by vjp), by batch type. Every twin has the interface of ``setup_pres.LinearPresTwin``:

    x0() -> dict of jnp inputs         leaves(x) -> the batch's moved float leaves, nested as in its prepare()
    direction(market, factor, moves, models, step) -> dx/de of a curve pillar / FX spot factor
        (``setup_curves``), with the calibrated currencies' dsigma/de in ``moves`` and the models built at
        +-step (a model parameter the twin reads, e.g. a bootstrapped FX vol, moves by their difference)

Leaves a twin does not return do not move with x (their tangent is 0).
"""

from __future__ import annotations


def option_twins(batches, ctx, pres=None) -> dict:
    """{batch index: twin} for every batch with an option twin (the others keep central differences). pres: every
    batch's prepare(ctx) where the caller has them (``state.path_state``'s, the same context): the swaption and
    cap/floor twins check their structure against them instead of preparing their batch again."""
    from exposure.pricing.opt_swaption import SwaptionBatch
    from exposure.pricing.opt_capfloor import CapFloorBatch
    from exposure.pricing.opt_equity import EquityOptionBatch
    from exposure.pricing.opt_fx import FxOptionBatch
    from exposure.risk.twin_capfloor import CapFloorPresTwin
    from exposure.risk.twin_options import EquityOptionPresTwin, FxOptionPresTwin
    from exposure.risk.twin_swaption import SwaptionPresTwin

    kinds = ((SwaptionBatch, SwaptionPresTwin), (FxOptionBatch, FxOptionPresTwin),
             (CapFloorBatch, CapFloorPresTwin), (EquityOptionBatch, EquityOptionPresTwin))
    takes_pre = (SwaptionPresTwin, CapFloorPresTwin)
    out = {}
    for i, b in enumerate(batches):
        for cls, twin in kinds:
            if type(b) is cls:
                out[i] = twin(b, ctx, pres[i]) if pres is not None and twin in takes_pre else twin(b, ctx)
    return out


def named_leaves(leaves: dict) -> dict:
    """{key path as ``PresTangents`` names a leaf of [prepare()]: value} of a twin's nested leaves."""
    import jax

    return {jax.tree_util.keystr(p): v for p, v in jax.tree_util.tree_flatten_with_path([leaves])[0]}


# Factors whose only move of the pricing data is the Hull-White sigma pieces: a swaption quote (through the
# calibration, dsigma/de by the implicit-function theorem) and a fixed sigma piece. Their pres tangent is the
# twins' jvp along dsigma/de (the FX / equity vol bootstrap's response read off the two model builds), as a curve
# pillar's. Not here: the mean reversion, the correlations and the FX / equity vols, which the twins hold fixed.
SIGMA_ONLY = ("SwaptionVol", "HWSigma")


def sigma_only(factor) -> bool:
    return factor.factor_type in SIGMA_ONLY


def sigma_moves(moves: dict, models, step: float) -> dict:
    """{ccy: dsigma/de}: the calibrated currencies' (``moves``, implicit-function theorem) and, for every other
    currency whose sigma differs between the two model builds at +-step (a fixed sigma piece), their central
    difference (exact: the builds take the configured pieces as they are)."""
    import numpy as np

    out = dict(moves)
    up, down = models
    for i, c in enumerate(up.currencies):
        if c not in out:
            d = (np.asarray(up.hw[i].vol_values, np.float64) - np.asarray(down.hw[i].vol_values, np.float64)) / (
                2.0 * step)
            if np.any(d != 0.0):
                out[c] = d
    return out
