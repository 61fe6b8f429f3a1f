"""One factor's set-up tangent dS/de through the market and the model (every factor but credit and funding):

    Phi, mu, L, y0, log_num, bridge  = J S . dtheta/de                 (jvp of the jnp model layer, ``setup_model``)
    dtheta/de = (theta(+h) - theta(-h)) / 2h   of the NumPy model build at the bumped market, each calibrated
                Hull-White sigma moved by the implicit-function theorem (``models.calibration_jax``), not re-solved
    pres, w   = central differences of prepare / the XVA weights at the bumped market and model

A curve pillar or an FX spot moves the built market in place (``setup_curves``: no market build) and its pres
tangent comes from ``setup_pres`` (linear batches by jvp of a jnp twin, the others by the difference of their
own prepare).
e = +-h factor units (risk.setup_step). The compiled pieces (the model layer's jvp, one calibration Jacobian per
calibrated currency) are built once per run (``context``).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from exposure.risk.setup_model import ModelTangent


@dataclasses.dataclass
class _Context:
    static: object
    tangent: ModelTangent
    ift: dict  # ccy -> (CalibrationIFT, currency index, SwaptionVolCurve)
    pres: object = None  # setup_pres_tangents.PresTangents, built on the first curve-pillar or FX-spot factor
    moved: dict = dataclasses.field(default_factory=dict)  # ``model_direction``'s builds, until the factor's tangent


_CACHE: list = []  # the context of the last run's Static (compiled once per run, found by identity)


def context(cfg, s, S, static) -> _Context:
    """The run's ModelTangent and one CalibrationIFT per calibrated currency, built once per ``static``."""
    from exposure.models.calibrate_config import calibration_quotes
    from exposure.models.calibration_jax import CalibrationIFT

    if _CACHE and _CACHE[0].static is static:
        return _CACHE[0]
    model = s.built.model
    ift = {}
    for i, ccy in enumerate(model.currencies):
        ic = cfg.model.ir[ccy]
        strip = str(getattr(ic.calibrate, "value", ic.calibrate))
        if strip != "none":
            quotes = calibration_quotes(s.market, ccy, ic, strip)
            ift[ccy] = (_kept_jacobian(CalibrationIFT(quotes, model.hw[i], s.market.curves[ccy])), i,
                        s.market.swaption_vols[ccy])
    ctx = _Context(static, ModelTangent(model, s.grid, static, S), ift)
    _CACHE[:] = [ctx]
    return ctx


def _kept_jacobian(ift):
    """ift with its jitted Jacobian of the calibration equations through a kept executable (``kept``, keyed by
    the quotes, times and solution it closes over): a warm run neither traces nor lowers it."""
    from exposure.risk.kept import digest, kept

    jac, key = ift._jac, digest({k: v for k, v in vars(ift).items() if k != "_jac"})
    ift._jac = lambda *args: kept(jac, "ad_calibration_jacobian", key, args)
    return ift


def calibrated_moves(ctx: _Context, factor, markets, step: float) -> dict:
    """{ccy: dsigma/de (m,)} of every calibrated currency the factor moves (implicit-function theorem):
    its swaption quotes (SwaptionVol), its mean reversion, or its curve (markets = (up, down) at +-step)."""
    from exposure.models.calibration_jax import quote_vol_weights

    out = {}
    for ccy, (ift, _, sv) in ctx.ift.items():
        dv, da, dlnP = None, 0.0, None
        if factor.factor_type == "SwaptionVol" and factor.name == ccy:
            e, j = factor.path[-2], factor.path[-1]
            dv = quote_vol_weights(sv, ift.quotes, e, j) * factor.size
        elif factor.factor_type == "MeanReversion" and factor.name == ccy:
            da = factor.size
        up, down = (m.curves[ccy].log_discount_np(ift.times) for m in markets)
        if np.any(up != down):
            dlnP = (np.asarray(up) - np.asarray(down)) / (2.0 * step)
        if dv is not None or da or dlnP is not None:
            out[ccy] = ift.tangent(dv, da, dlnP)
    return out


def _calibrated_params(ctx: _Context, cfg_b, moves: dict, e: float) -> dict:
    """Every calibrated currency's parameters at the bumped config: base sigma + e dsigma/de, the config's a."""
    from exposure.models.hull_white import HullWhiteParams

    out = {}
    for ccy, (ift, i, _) in ctx.ift.items():
        sig = ift.sigma + e * moves[ccy] if ccy in moves else ift.sigma
        out[ccy] = HullWhiteParams(float(cfg_b.model.ir[ccy].mean_reversion), ift.vol_times, np.asarray(sig))
    return out


def prepared_floats(market, model, s, static) -> list:
    """The float leaves of every batch's prepare(ctx) on the run's dates (``state.path_state``'s pres), with
    the integer leaves checked against the run's."""
    from exposure.errors import ConfigError
    from exposure.pricing.view import PricingContext
    from exposure.risk.state import APPROXIMATION_ORDERS, split_leaves

    grid = s.grid
    dates = (market.asof,) + tuple(grid.dates)
    pctx = PricingContext(market, model, static.times, s.portfolio.fixings, dates, grid.reporting_mask())
    floats, ints, treedef = split_leaves([b.prepare(pctx) for b in s.portfolio.batches])
    same = treedef == static.treedef and len(ints) == len(static.int_leaves) and all(
        i == j and a.shape == b.shape and (np.array_equal(a, b) or any(o in name for o in APPROXIMATION_ORDERS))
        for (i, a, name), (j, b, _) in zip(ints, static.int_leaves))
    if not same:
        raise ConfigError("risk", "a bump changes the discrete pricing set-up (schedules or indices); its "
                                  "sensitivity cannot be taken through the fixed path program")
    return floats


class _Overlay:
    """A config seen with one top-level group replaced (attribute and item access)."""

    def __init__(self, cfg, key: str, node):
        self._cfg, self._key, self._node = cfg, key, node

    def __getattr__(self, k):
        return self._node if k == self._key else getattr(self._cfg, k)

    def __getitem__(self, k):
        return self._node if k == self._key else self._cfg[k]


def bumped_view(cfg, factor, e: float):
    """``factors.bumped(cfg, factor, e)`` as the set-up reads it, copying only the factor's top-level group
    (market or model): a deep copy of the whole config costs more than the rest of a model tangent."""
    from exposure.confignode import ConfigNode, to_plain
    from exposure.risk.factors import bumped

    top = factor.path[0]
    return _Overlay(cfg, top, bumped(ConfigNode({top: to_plain(cfg[top])}), factor, e)[top])


def _moved(cfg, s, factor, ctx: _Context, step: float, keep_credit: bool) -> tuple:
    """(cfgs, markets, moves, models, dtheta/de) at e = +-step of a factor ``model_state_tangent`` rebuilds."""
    from exposure.models.build import build_model
    from exposure.risk.setup_curves import covered, moved_market
    from exposure.risk.setup_inputs import moved_input_market
    from exposure.risk.state import rebuilt_market

    # a market input moved in place leaves the config's model group as it is: no bumped copy to read
    cfgs = (cfg, cfg) if covered(cfg, factor) else (bumped_view(cfg, factor, step), bumped_view(cfg, factor, -step))
    # a curve pillar or an FX spot moves the built market in place (``setup_curves``): no market build
    # a par quote: the bootstrapped curves moved in place by the implicit-function theorem (``setup_inputs``)
    markets = tuple(moved_market(cfg, s.market, factor, e, keep_credit) or moved_input_market(cfg, s.market, factor, e)
                    or rebuilt_market(c, s, factor, keep_credit) for c, e in zip(cfgs, (step, -step)))
    moves = calibrated_moves(ctx, factor, markets, step)
    models = tuple(build_model(m, c.model, calibrated=_calibrated_params(ctx, c, moves, e)).model
                   for m, c, e in zip(markets, cfgs, (step, -step)))
    thetas = [ctx.tangent.theta_of(m) for m in models]
    dtheta = jax.tree_util.tree_map(lambda a, b: (np.asarray(a) - np.asarray(b)) / (2.0 * step), *thetas)
    return cfgs, markets, moves, models, dtheta


def model_direction(cfg, s, factor, S, static, step: float, keep_credit: bool = False):
    """dtheta/de of a factor that ``model_state_tangent`` takes through moved markets and models (not one that
    ``setup_vols.in_place_tangent`` takes), its builds kept until that call reads them: a caller can hand the
    direction to ``ModelTangent.defer`` first, so its model tangent shares other factors' program calls."""
    ctx = context(cfg, s, S, static)
    key = (factor, step, keep_credit)
    if key not in ctx.moved:
        ctx.moved[key] = _moved(cfg, s, factor, ctx, step, keep_credit)
    return ctx.moved[key][-1]


def model_state_tangent(cfg, s, factor, S, static, step: float, keep_credit: bool = False) -> dict:
    """dS/de of a factor that reaches S through the market and the model (everything but credit and funding):

        Phi, mu, L, y0, log_num, bridge  = J S . dtheta/de                      (jvp, ``ModelTangent``)
        dtheta/de = central difference of the model build at the bumped market, its calibrated Hull-White
                    sigma moved by the implicit-function theorem (no re-calibration)
        pres, w   = central difference of prepare / the XVA weights at the bumped market and model
                    (a curve pillar or FX spot: market moved in place, pres by ``setup_pres_tangents.PresTangents``;
                    an equity spot: pres exactly 0, ``setup_equity_spot``)

    with e = +-step factor units; the model's matrix exponentials and eigen-decompositions are not rebuilt.
    keep_credit: the caller takes the weights' tangent by AD (``setup_market``): the bumped markets keep the base
    credit curves (no CDS bootstrap) and w is left to the caller."""
    from exposure.risk.setup_curves import covered
    from exposure.risk.setup_pres_tangents import PresTangents
    from exposure.risk.twins import sigma_only
    from exposure.risk.state import xva_weight_arrays

    ctx = context(cfg, s, S, static)
    from exposure.risk.setup_vols import in_place_tangent  # FX/equity vols and model parameters: nothing rebuilt

    done = in_place_tangent(cfg, s, factor, S, static, step, ctx)
    if done is not None:
        return done
    key = (factor, step, keep_credit)
    cfgs, markets, moves, models, dtheta = ctx.moved.pop(key, None) or _moved(cfg, s, factor, ctx, step, keep_credit)
    h2 = 2.0 * step
    dS = ctx.tangent(dtheta)
    # moved in place, or only sigma moves (``twins.sigma_only``): pres by jvp
    if all(m is not s.market for m in markets) and covered(cfg, factor) or sigma_only(factor):
        if ctx.pres is None:
            ctx.pres = PresTangents(s, static)
        dS["pres"] = ctx.pres(factor, markets, models, moves, step)
    else:  # an equity spot: exactly 0 (no prepare reads it, ``setup_equity_spot``), else every batch
        from exposure.risk.setup_equity_spot import equity_spot_pres

        dS["pres"] = equity_spot_pres(s, static, S["pres"], factor, markets, models, step)
        if dS["pres"] is None:
            pres = [prepared_floats(m, md, s, static) for m, md in zip(markets, models)]
            dS["pres"] = [(a - b) / h2 for a, b in zip(*pres)]
    base = s.market.base_currency
    kept = covered(cfg, factor) and all(  # the weights read the credit curves and the base discount curve only
        m.credit is s.market.credit and m.curves[base] is s.market.curves[base] for m in markets)
    if all(m is s.market for m in markets) or keep_credit or kept:  # model parameter: the weights read the market only
        dS["w"] = {k: np.zeros_like(v) for k, v in S["w"].items()}
    else:
        ns = s.portfolio.netting_sets
        w = [xva_weight_arrays(c, m, ns, static.val_times, tuple(S["w"])) for c, m in zip(cfgs, markets)]
        dS["w"] = {k: (w[0][k] - w[1][k]) / h2 for k in S["w"]}
    return {k: dS[k] for k in S}
