"""FX/equity vol pillars and model parameters: their set-up tangent dS/de with no market or model build.

The FX and equity spot vols are bootstrapped (``models.forward_variance.bootstrap_vol``) so that, per asset,

    F_i(sigma, p) = v_i(sigma, p) - w_i = 0,    v_i = int_0^{T_i} l(u, T_i)' R l(u, T_i) du,   w_i = vol_i^2 T_i

with sigma (n,) the asset's vol pieces on its market pillars T_i and p = (a, Hull-White sigma pieces, R) the
rest of the model the loading l reads. By the implicit-function theorem on the NumPy solution

    dsigma = J^-1 (dw - dv/dp . dp),   J = dv/dsigma (lower triangular),   dw_i/dvol_i = 2 vol_i T_i

with v written once for NumPy and jnp (``AssetVol.variance``) on the bootstrap's own Gauss-Legendre nodes (so
v(sigma_0, p_0) = w to rounding): J in NumPy (v is quadratic in sigma; a vol quote compiles nothing), dv/dp . dp
by one compiled jax.jvp for all assets (a model parameter's factor). With model.vol_calibration=market the pieces are the
market's forward vols, sigma_k = sqrt((w_k - w_{k-1}) / (T_k - T_{k-1})), and p does not enter.

A factor's theta move (``models.cross_asset_jax``): FXVol / EquityVol its asset's pieces; MeanReversion a_c (and
the calibrated sigma_c by the implicit-function theorem, ``setup_tangent.calibrated_moves``); HWSigma sigma_c;
SwaptionVol the calibrated sigma_c; Correlation R_ab = R_ba; then every bootstrapped asset's pieces through
dv/dp. The model arrays follow by ``setup_model.ModelTangent`` (jvp), the pricing data by ``pres_tangent``,
only for the batches that read what moved: each batch's exact forward tangent along th, no step (a model
parameter, the market kept: ``setup_pres_model``, ``setup_pres_options``; an FX / equity vol pillar's options with
the market's total variance moved exactly too: ``market_variance``); where none is written (an FX / equity option
under a correlation, a swaption with a payment lag under a mean reversion) the central difference of prepare at
the first-order moved model and the market with that one vol curve moved. The XVA weights read the credit curves and the base discount curve only: their tangent is 0.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from exposure.risk.asset_vol import AssetVol
from exposure.risk.twins import sigma_only

VOL_TYPES = ("FXVol", "EquityVol")
MODEL_TYPES = ("MeanReversion", "HWSigma", "Correlation", "SwaptionVol")


def covered(cfg, factor) -> bool:
    """A factor this module takes: an FX or equity vol pillar (not with an ORE market file underneath the
    config's quotes), a mean reversion, a fixed Hull-White sigma, a swaption quote, a correlation given once."""
    t, p = factor.factor_type, factor.path
    if t in VOL_TYPES:
        ci = getattr(cfg.market, "curve_inputs", None)
        return not (ci is not None and getattr(ci, "ore_market", None))
    if t == "Correlation":
        pairs = [frozenset((str(c.a), str(c.b))) for c in cfg.model.correlations]
        return pairs.count(pairs[p[2]]) == 1
    return t in MODEL_TYPES


@dataclasses.dataclass
class VolContext:
    static: object
    assets: dict  # ("fx", ccy) | ("eq", name) -> (AssetVol, theta key, position)
    p0: dict  # {a, ir_vol, R} of the base theta (jnp)
    layout: list  # per batch: (first float leaf in S["pres"], number of float leaves, its integer leaves)
    _dv_dp: object = None

    def dv_dp(self, dp) -> dict:
        """{asset: dv/dp . dp} of every bootstrapped asset, one compiled program (built on first use: only a model
        parameter's factor needs it), kept as an executable (``kept``: a warm run does not trace it) under the
        assets' quadrature and loadings by content."""
        from exposure.risk.kept import digest, kept

        boot = {k: av for k, (av, _, _) in self.assets.items() if av.bootstrap}
        if not boot:
            return {}
        if self._dv_dp is None:
            # the program reads each AssetVol's static arrays, not its cached Jacobian (filled later: not keyed)
            key = digest({k: {a: v for a, v in vars(av).items() if a != "_J"} for k, av in boot.items()})
            jitted = jax.jit(lambda p, d: {k: av.variance_jvp(p, d) for k, av in boot.items()})
            self._dv_dp = lambda p, d: kept(jitted, "ad_vol_dv_dp", key, (p, d))
        return {k: np.asarray(v) for k, v in self._dv_dp(self.p0, dp).items()}


_CACHE: list = []


def vol_context(cfg, s, static, theta) -> VolContext:
    """Every asset's AssetVol and the batches' float-leaf layout, built once per run (``static``)."""
    from exposure.models.forward_variance import equity_log_forward, fx_log_forward
    from exposure.risk.state import split_leaves, merge_pres

    if _CACHE and _CACHE[0].static is static:
        return _CACHE[0]
    model, market = s.built.model, s.market
    mode = getattr(cfg.model, "vol_calibration", "bootstrap")
    boot = str(getattr(mode, "value", mode)) == "bootstrap"
    n, base = model.n_ccy, model.currencies[0]
    assets = {}
    for k, c in enumerate(model.currencies[1:]):
        assets[("fx", c)] = (AssetVol(model, market.fx_vols[c], fx_log_forward(model, c, base), n + k, boot),
                             "fx_vol", k)
    for e, name in enumerate(model.equity_names):
        assets[("eq", name)] = (AssetVol(model, market.equities[name].vol, equity_log_forward(model, e),
                                         2 * n - 1 + e, boot), "eq_vol", e)
    layout, at = [], 0
    for tree in merge_pres(static, [np.zeros(0)] * static.n_float):
        floats, ints, _ = split_leaves([tree])
        layout.append((at, len(floats), ints))
        at += len(floats)
    p0 = {"a": theta["a"], "ir_vol": theta["ir_vol"], "R": theta["R"]}
    ctx = VolContext(static, assets, p0, layout)
    _CACHE[:] = [ctx]
    return ctx


def pres_names(static) -> list:
    """The leaf name (the last key) of every entry of S["pres"]."""
    from exposure.risk.state import merge_pres

    tree = merge_pres(static, [np.zeros(0)] * static.n_float)
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [jax.tree_util.keystr(p).split(".")[-1].strip("[]'") for p, x in leaves
            if np.issubdtype(np.asarray(x).dtype, np.floating)]


def _vol_pillar(factor) -> tuple:
    """(("fx", ccy) | ("eq", name), pillar index) of an FXVol / EquityVol factor."""
    p = factor.path
    return (("fx", p[2]) if factor.factor_type == "FXVol" else ("eq", p[2])), int(p[-1])


def theta_direction(tctx, vctx: VolContext, model, market, factor) -> tuple:
    """(dtheta/de as a theta-shaped NumPy tree, {ccy: dsigma/de} of the Hull-White pieces, moved keys)."""
    from exposure.risk.setup_tangent import calibrated_moves

    th = jax.tree_util.tree_map(lambda x: np.zeros(np.shape(x)), tctx.tangent.theta)
    th["ir_vol"], th["fx_vol"], th["eq_vol"] = list(th["ir_vol"]), list(th["fx_vol"]), list(th["eq_vol"])
    t, p, ccys = factor.factor_type, factor.path, model.currencies
    moved, dsig = set(), {}
    if t in VOL_TYPES:
        key, i = _vol_pillar(factor)
        av, tk, pos = vctx.assets[key]
        dw = np.zeros_like(av.w)
        dw[i] = 2.0 * av.vol[i] * av.T[i] * factor.size
        th[tk][pos] = av.pieces_tangent(dw, vctx.p0)
        moved.add(key)
    else:
        if t == "Correlation":
            names = model.factor_names
            a, b = (names.index(x) for x in factor.name.split("~"))
            th["R"][a, b] = th["R"][b, a] = factor.size
            moved.add(("R",))
        elif t == "MeanReversion":
            th["a"][ccys.index(p[2])] = factor.size
            moved.add(("ir", p[2]))
        elif t == "HWSigma":
            th["ir_vol"][ccys.index(p[2])][p[4]] = factor.size
            dsig[p[2]] = th["ir_vol"][ccys.index(p[2])]
            moved.add(("ir", p[2]))
        for c, d in calibrated_moves(tctx, factor, (market, market), 1.0).items():
            th["ir_vol"][ccys.index(c)] = np.asarray(d, np.float64)
            dsig[c] = th["ir_vol"][ccys.index(c)]
            moved.add(("ir", c))
        dp = {"a": np.asarray(th["a"], np.float64), "ir_vol": tuple(np.asarray(x, np.float64) for x in th["ir_vol"]),
              "R": np.asarray(th["R"], np.float64)}  # NumPy: the program's arguments (a jnp copy: a transfer each)
        dv = vctx.dv_dp(dp) if moved else {}
        for key, (av, tk, pos) in vctx.assets.items():
            if key in dv:
                th[tk][pos] = av.pieces_tangent(np.zeros_like(av.w), vctx.p0, dv[key])
                if np.any(th[tk][pos]):
                    moved.add(key)
    th["ir_vol"], th["fx_vol"], th["eq_vol"] = tuple(th["ir_vol"]), tuple(th["fx_vol"]), tuple(th["eq_vol"])
    return th, dsig, moved


def moved_model(model, th: dict, e: float):
    """The model at theta + e dtheta (a, Hull-White, FX / equity vol pieces, R; nothing else moves here)."""
    from exposure.models.cross_asset import PiecewiseVol
    from exposure.models.hull_white import HullWhiteParams

    hw = tuple(HullWhiteParams(float(h.mean_reversion) + e * float(da), np.asarray(h.vol_times),
                               np.asarray(h.vol_values, np.float64) + e * dv)
               for h, da, dv in zip(model.hw, th["a"], th["ir_vol"]))
    pv = lambda old, d: tuple(PiecewiseVol(np.asarray(v.times), np.asarray(v.values, np.float64) + e * dv)  # noqa
                              for v, dv in zip(old, d))
    return dataclasses.replace(model, hw=hw, fx_vol=pv(model.fx_vol, th["fx_vol"]),
                               equity_vol=pv(model.equity_vol, th["eq_vol"]),
                               correlation=np.asarray(model.correlation) + e * th["R"])


def moved_market(market, factor, e: float):
    """The market with one FX / equity vol quote moved by e units (its vol curve only); else the market."""
    from exposure.market.vols import BlackVolCurve

    if factor.factor_type not in VOL_TYPES:
        return market
    (kind, name), i = _vol_pillar(factor)
    old = market.fx_vols[name] if kind == "fx" else market.equities[name].vol
    T = np.asarray(old.times, np.float64)
    vols = np.sqrt(np.asarray(old.total_variances, np.float64) / T)
    vols[i] += e * factor.size
    new = BlackVolCurve.from_implied_vols(T, vols, name=old.name)
    if kind == "fx":
        return dataclasses.replace(market, fx_vols={**market.fx_vols, name: new})
    eq = dataclasses.replace(market.equities[name], vol=new)
    return dataclasses.replace(market, equities={**market.equities, name: eq})


def reads(batch):
    """The moved keys a batch's prepare reads: ("ir", ccy) of its currencies' Hull-White parameters, ("fx", ccy),
    ("eq", name) of the FX / equity vols (model pieces and market curve), ("R",); None for everything (a batch
    type not listed here). A linear batch reads the FX vols and R only in xi_lim, which picks the series order
    (its cotangent is 0: setup_pres.ORDER_ONLY)."""
    from exposure.pricing.linear import LinearBatch
    from exposure.pricing.opt_capfloor import CapFloorBatch
    from exposure.pricing.opt_equity import EquityOptionBatch
    from exposure.pricing.opt_fx import FxOptionBatch
    from exposure.pricing.opt_swaption import SwaptionBatch

    if isinstance(batch, FxOptionBatch):
        return {(k, c) for c in batch.ccys for k in ("ir", "fx")} | {("R",)}
    if isinstance(batch, EquityOptionBatch):
        return {("ir", c) for c in batch.ccys} | {("eq", nm) for nm in batch.names} | {("R",)}
    if isinstance(batch, (SwaptionBatch, CapFloorBatch)):
        return {("ir", batch.currency)}
    if isinstance(batch, LinearBatch):
        hit = _LINEAR_READS.get(id(batch))
        if hit is None or hit[0] is not batch:  # once per batch: its legs' currencies (a pass over every trade)
            ccys = {getattr(leg, "currency", None) for spec in batch.specs for leg in spec.legs}
            if len(_LINEAR_READS) > 64:  # a long process's earlier runs: their batches are not kept alive
                _LINEAR_READS.clear()
            hit = _LINEAR_READS[id(batch)] = (batch, None if None in ccys else frozenset(("ir", c) for c in ccys))
        return None if hit[1] is None else set(hit[1])
    return None


_LINEAR_READS: dict = {}  # id(batch) -> (batch, its moved keys): ``reads`` of a linear batch


def pres_tangent(s, static, S, vctx: VolContext, factor, markets, models, moved: set, step: float, th=None) -> list:
    """d S["pres"] / de: for every batch that reads a moved key, its exact forward-mode tangent along th (a mean
    reversion or correlation: ``setup_pres_options.batch_model_tangent``; an FX / equity vol pillar's FX / equity
    options: ``vol_option_tangent``), else (a correlation's options, a lagged swaption) the central difference of
    its prepare at the moved markets and models (+-step); the other batches' leaves 0."""
    from exposure.pricing.opt_equity import EquityOptionBatch
    from exposure.pricing.opt_fx import FxOptionBatch
    from exposure.risk.setup_pres_model import model_only
    from exposure.risk.setup_pres_options import batch_model_tangent, vol_option_tangent
    from exposure.risk.state import batch_difference, run_context

    out = [np.zeros_like(x) for x in S["pres"]]
    ctx = None
    for b, (at, k, ints) in zip(s.portfolio.batches, vctx.layout):
        r = reads(b)
        if not k or not (r is None or r & moved):
            continue
        d = None
        if th is not None and (model_only(factor) or isinstance(b, (FxOptionBatch, EquityOptionBatch))):
            if ctx is None:
                ctx = run_context(s, static, s.market, s.built.model)
            d = batch_model_tangent(b, ctx, th, ints) if model_only(factor) else vol_option_tangent(b, ctx, th, factor)
        out[at:at + k] = d if d is not None else batch_difference(b, ints, markets, models, s, static, factor, step)
    return out


def in_place_tangent(cfg, s, factor, S, static, step: float, tctx) -> dict | None:
    """dS/de of a factor ``covered`` takes (module docstring), or None for any other; tctx: the run's
    ``setup_tangent.context``."""
    if not covered(cfg, factor):
        return None
    from exposure.risk.factors import value_at

    model, market = s.built.model, s.market
    vctx = vol_context(cfg, s, static, tctx.tangent.theta)
    if factor.factor_type in VOL_TYPES:  # the quote must be the built curve's (else it came from elsewhere)
        key, i = _vol_pillar(factor)
        if not np.isclose(float(value_at(cfg, factor.path)), vctx.assets[key][0].vol[i], rtol=1e-12, atol=0):
            return None
    th, dsig, moved = theta_direction(tctx, vctx, model, market, factor)
    dS = tctx.tangent(jax.tree_util.tree_map(jnp.asarray, th))
    models = tuple(moved_model(model, th, e) for e in (step, -step))
    markets = tuple(moved_market(market, factor, e) for e in (step, -step))
    if sigma_only(factor):  # only Hull-White sigma moves: every batch's twin (``twins``) gives pres by one jvp
        from exposure.risk.setup_pres_tangents import PresTangents

        if tctx.pres is None:
            tctx.pres = PresTangents(s, static, S)
        dS["pres"] = tctx.pres(factor, markets, models, dsig, step)
    else:
        dS["pres"] = pres_tangent(s, static, S, vctx, factor, markets, models, moved, step, th)
    dS["w"] = {k: np.zeros_like(v) for k, v in S["w"].items()}
    return {k: dS[k] for k in S}
