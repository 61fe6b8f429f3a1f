"""FX/equity vol pillars and model parameters in reverse: the model layer's cotangent once, then dot products.

For a factor e that ``setup_vols`` takes (a vol pillar, a mean reversion, a Hull-White sigma piece, a swaption
quote, a correlation) the model arrays' part of d measure_o / de is

    <G_model, J_theta dtheta/de> = <g_theta, dtheta/de>,    g_theta = J_theta' G_model      (one vjp, all rows)

on theta's vol and model parts p = (a, ir_vol, fx_vol, eq_vol, R). L's cotangent is the transpose of
``setup_model.factor_tangent`` (the eigenvectors of the base run's covariances):

    H = V' G_L,   G_A = F o (H diag s) + diag(H_jj / (2 s_j)) (s_j > 0),   G_Sigma = V G_A V'

(F the rotation weights 1/(w_j - w_i) of ``factor_tangent``), so one backward program of the jnp model layer
(``setup_model.model_arrays``) replaces one forward program call per factor. dtheta/de stays ``setup_vols.
theta_direction``'s (NumPy: the bootstrap's implicit-function theorem and the calibration's). A vol pillar's
response goes through the bootstrap transposed, once for all pillars of an asset:

    dvalues = E J^-1 dw,   dw_i = 2 vol_i T_i size   =>   d measure / dvol_i = 2 vol_i T_i size (J^-T E' g)_i

(E: the last piece repeated; ``AssetVol.pieces_tangent``; market forward vols: that map's transpose).
The pricing data is ``pres_part``'s (the twins' sigma where only sigma moves, the FX/equity option twins with the
correlation and the market variance as inputs (``setup_vols_options``), the linear, cap / floor, FX and equity option
batches' exact model tangents where only the model moves (``setup_pres_model``, ``setup_pres_options``: a mean
reversion's), central differences of prepare for the rest: a mean reversion's swaptions).
"""

from __future__ import annotations

import jax
import numpy as np

from exposure.risk.setup_model import EIG_GAP, model_arrays
from exposure.risk.setup_vols_options import OptionVolCotangents

VOL_THETA = ("a", "ir_vol", "fx_vol", "eq_vol", "R")  # theta's parts a vol or model factor moves
# factors whose pricing-data move is the FX / equity option twins' x with R and w_mkt (``OptionCotangents``)
VOL_OPTION_TYPES = ("FXVol", "EquityVol", "Correlation")


def factor_cotangent(w, V, G):
    """G_Sigma (n_out, ..., d, d) of G_L (n_out, ..., d, d): the transpose of ``factor_tangent`` at (w, V)
    (..., d), (..., d, d) (module docstring), NumPy."""
    gap = w[..., None, :] - w[..., :, None]  # [i, j] = w_j - w_i
    tol = EIG_GAP * np.max(np.abs(w), axis=-1, keepdims=True)[..., None]
    big = np.abs(gap) > tol
    F = np.where(big, 1.0 / np.where(big, gap, 1.0), 0.0)
    pos = w > 0.0
    s = np.sqrt(np.where(pos, w, 0.0))
    H = np.einsum("...ji,o...jk->o...ik", V, np.asarray(G, np.float64))
    diag = np.where(pos, np.diagonal(H, axis1=-2, axis2=-1) / (2.0 * np.where(pos, s, 1.0)), 0.0)
    GA = F * H * s[..., None, :]
    GA = GA + diag[..., :, None] * np.eye(w.shape[-1])
    return np.einsum("...ij,o...jk,...lk->o...il", V, GA, V)


def model_cotangent(tangent, G, keys=VOL_THETA) -> dict:
    """g_theta = J_theta' G_model on theta's ``keys`` (leading axis n_out), one vjp of the jnp model layer with
    the rows vmapped; tangent: the run's ``setup_model.ModelTangent`` (its base eigen-decompositions)."""
    lay, theta = tangent.layout, tangent.theta
    if tangent._eig is None:
        tangent.arrays(tangent.zero())
    (w, V), beig = tangent._eig
    cot = {k: np.asarray(G[k], np.float64) for k in ("Phi", "mu", "y0", "log_num")}
    cot["Sigma"] = factor_cotangent(w, V, G["L"])
    if lay.lo is not None:
        b = G["bridge"]
        cot["bridge"] = {"A": np.asarray(b["A"]), "B": np.asarray(b["B"]), "m": np.asarray(b["m"]),
                         "V": factor_cotangent(beig[0], beig[1], b["L"])}
    fixed = {k: v for k, v in theta.items() if k not in keys}

    def rows(x, c):
        _, f = jax.vjp(lambda x_: model_arrays(dict(fixed, **x_), lay), x)
        return jax.lax.map(lambda r: f(r)[0], c)

    return jax.tree_util.tree_map(np.asarray, jax.jit(rows)({k: theta[k] for k in keys}, cot))


def run_cotangent(rev, G) -> dict:
    """``model_cotangent`` of a ``ReverseSetup``'s run, computed once (held by it)."""
    if "_vol_theta" not in rev.__dict__:
        rev._vol_theta = model_cotangent(rev.ctx.tangent, G)
    return rev._vol_theta


def sigma_cotangents(rev, G) -> dict:
    """{ccy: gsig (n_out, m)} of every calibrated currency (``ReverseSetup._sigma_cotangents``):

        gsig_c = g_theta["ir_vol"][c] - sum_assets (dv/dsigma_c)' J^-T E' g_theta[asset pieces] + sum_twins g_x["sigma"]

    (the FX/equity vol bootstraps' response to sigma_c transposed, dv/dsigma_c by ``VolContext.dv_dp``, m calls)
    instead of 2 m model builds and m model jvps."""
    from exposure.risk import setup_vols as sv

    g_theta = run_cotangent(rev, G)
    vctx = sv.vol_context(rev.cfg, rev.s, rev.static, rev.ctx.tangent.theta)
    gw = {key: pillar_cotangents(av, g_theta[tk][pos], vctx.p0) for key, (av, tk, pos) in vctx.assets.items()
          if av.bootstrap}
    model, out = rev.model, {}
    zeros = {"a": np.zeros(model.n_ccy), "R": np.zeros(np.shape(model.correlation))}
    for c, (ift, ci, _) in rev.ctx.ift.items():
        g = np.array(g_theta["ir_vol"][ci], np.float64)
        for k in range(g.shape[1] if gw else 0):
            unit = np.zeros(g.shape[1])
            unit[k] = 1.0
            ir = tuple(unit if j == ci else np.zeros(np.size(v.values)) for j, v in enumerate(model.ir_vols))
            dv = vctx.dv_dp(dict(zeros, ir_vol=ir))
            for key, w in gw.items():
                g[:, k] -= w @ dv[key]
        out[c] = rev.add_twins_sigma(c, g)
    return out


def theta_dot(g_theta: dict, th: dict) -> np.ndarray:
    """<g_theta, dtheta> (n_out,) over g_theta's keys (dtheta theta-shaped, NumPy)."""
    out = 0.0
    for k, g in g_theta.items():
        for gl, dl in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(th[k])):
            d = np.asarray(dl, np.float64).reshape(-1)
            if d.size and np.any(d):
                out = out + np.asarray(gl).reshape(gl.shape[0], -1) @ d
    return out


def pillar_cotangents(av, g_values, p0) -> np.ndarray:
    """d measure / d w_i (n_out, n) of an asset's total variances from g_values (n_out, n+1) of its model vol
    pieces: the transpose of ``AssetVol.pieces_tangent`` (dv_p = 0) applied to every row at once."""
    g = np.asarray(g_values, np.float64)
    n = av.T.size
    if av.bootstrap:
        ge = g[:, :n].copy()
        ge[:, -1] += g[:, n]
        return np.linalg.solve(av.jacobian(p0).T, ge.T).T
    T0 = np.concatenate([[0.0], av.T])
    w0 = np.concatenate([[0.0], av.w])
    vals = np.sqrt(np.concatenate([np.diff(w0) / np.diff(T0), [w0[-1] / T0[-1]]]))
    k = np.where(vals > 0, 1.0 / (2.0 * np.where(vals > 0, vals, 1.0)), 0.0)  # dvalue/dvar
    gv = g * k[None, :]  # d / dvar pieces
    dT = np.diff(T0)
    gw = np.zeros((g.shape[0], n))  # var_k = (w_k - w_{k-1}) / dT_k (k < n), var_n = w_n / T_n
    gw += gv[:, :n] / dT[None, :]
    gw[:, :-1] -= gv[:, 1:n] / dT[None, 1:]
    gw[:, -1] += gv[:, n] / T0[-1]
    return gw


class VolModelReverse:
    """FX/equity vol pillars and model parameters (``setup_vols.covered``) against one run's G: the model arrays'
    part by ``model_cotangent`` once (vol pillars: ``pillar_cotangents``, once per asset), the pricing data as
    ``twin_reverse.VolReverse`` takes it (its ``pres_part``). Same interface as ``VolReverse``, which risk=ad keeps
    (``stage.ad_sensitivities``): on bench-1k (64 x 40, warm) the backward pass over every (measure, netting set)
    row cost more than the 86 factors' model jvps (benchmarks/RESULTS.md); it pays where factors outnumber rows."""

    def __init__(self, rev, G):
        from exposure.risk import setup_vols as sv

        self.rev = rev
        self.vctx = sv.vol_context(rev.cfg, rev.s, rev.static, rev.ctx.tangent.theta)
        self.g_theta = run_cotangent(rev, G)
        self.g_pillar = {}  # asset -> d measure / d vol_i per unit size (n_out, n)
        for key, (av, tk, pos) in self.vctx.assets.items():
            gw = pillar_cotangents(av, self.g_theta[tk][pos], self.vctx.p0)
            self.g_pillar[key] = gw * (2.0 * av.vol * av.T)[None, :]

    def sensitivity(self, factor) -> np.ndarray | None:
        """d measure_o / de (n_out,), or None for a factor ``setup_vols.in_place_tangent`` does not take."""
        from exposure.risk import setup_vols as sv
        from exposure.risk.factors import value_at

        rev = self.rev
        cfg, s = rev.cfg, rev.s
        if not sv.covered(cfg, factor):
            return None
        vctx = self.vctx
        if factor.factor_type in sv.VOL_TYPES:  # the quote must be the built curve's (``in_place_tangent``)
            key, i = sv._vol_pillar(factor)
            if not np.isclose(float(value_at(cfg, factor.path)), vctx.assets[key][0].vol[i], rtol=1e-12, atol=0):
                return None
        th, dsig, moved = sv.theta_direction(rev.ctx, vctx, s.built.model, s.market, factor)
        if factor.factor_type in sv.VOL_TYPES:
            out = self.g_pillar[key][:, i] * factor.size
        else:
            out = theta_dot(self.g_theta, th)
        return out + pres_part(rev, vctx, factor, th, dsig, moved)


def pres_part(rev, vctx, factor, th, dsig, moved, twins: bool = True) -> np.ndarray:
    """<G_pres, dpres/de> of a vol or model factor along theta's move th (``setup_vols.theta_direction``): the
    twins' dot products where only Hull-White sigma moves and, for an FX / equity vol or a correlation, on the FX /
    equity option batches (``setup_vols_options``; twins=False: their central differences, the reference), the
    linear batches' exact model tangent where the market stays (a mean reversion, a correlation:
    ``setup_pres_model``; twins=False: their central differences) and the cap / floor, FX and equity option
    batches' and the swaptions' where only a and the vol pieces move (a mean reversion: ``setup_pres_options``),
    the batches' central differences at the first-order moved model otherwise (swaptions with a payment lag)
    (``twin_reverse.VolReverse``'s)."""
    from exposure.risk import setup_vols as sv
    from exposure.risk.setup_pres_model import model_only
    from exposure.risk.setup_pres_options import batch_model_tangent
    from exposure.risk.state import batch_difference
    from exposure.risk.twins import sigma_only

    s, step = rev.s, rev.step
    model, market = s.built.model, s.market
    batches = s.portfolio.batches
    out = np.zeros(rev.n_out)
    if sigma_only(factor):
        tr = rev.twin_reverse()
        out = out + tr.linear_sigma_part(dsig) + tr.options_part(None, dsig, list(th["fx_vol"]), list(th["eq_vol"]))
        diff = [i for i in range(len(batches)) if i not in rev.pt.twins]
    else:
        diff = [i for i, b in enumerate(batches) if vctx.layout[i][1] and (
            sv.reads(b) is None or sv.reads(b) & moved)]
        if twins and factor.factor_type in VOL_OPTION_TYPES and not np.any(th["a"]):  # the FX / equity option
            # twins with R and w_mkt as inputs: their cotangents once (with every option twin's in "vjp" mode)
            from exposure.risk.setup_vols_options import option_vol_cotangents

            opt = option_cotangents(rev) if rev.twin_reverse().mode == "vjp" else option_vol_cotangents(rev)
            out = out + opt.part(factor, th, dsig)
            diff = [i for i in diff if i not in opt.twins]
    if diff and twins and model_only(factor):  # the batches' exact model tangents (about one prepare, not two)
        from exposure.risk.state import run_context

        ctx = run_context(s, rev.static, market, model)
        for i in list(diff):  # the option batches' exact tangent (``setup_pres_options``; None: not written)
            at, _, ints = vctx.layout[i]
            b = batches[i]
            tangent = batch_model_tangent(b, ctx, th, ints)
            if tangent is None:
                continue
            for j, d in enumerate(tangent):
                out = out + rev._G_pres.dot(at + j, d)
            diff.remove(i)
    if diff:
        models = tuple(sv.moved_model(model, th, e) for e in (step, -step))
        markets = tuple(sv.moved_market(market, factor, e) for e in (step, -step))
        for i in diff:
            at, _, ints = vctx.layout[i]
            for j, d in enumerate(batch_difference(batches[i], ints, markets, models, s, rev.static, factor, step)):
                out = out + rev._G_pres.dot(at + j, np.asarray(d, np.float64))
    return out


class OptionCotangents(OptionVolCotangents):
    """g_x = (dleaves/dx)' G_pres of every option twin (``twins.option_twins``), the FX / equity ones on x =
    (curves, sigma, fx/eq vol pieces, R, w_mkt), once by one vjp (``twin_reverse.twin_cotangents``): the curve,
    sigma-only (``TwinReverse`` in "vjp" mode) and vol / correlation factors' option part are then dot products.
    ``part``: <g_x, dx/de> of a vol / correlation factor with dx/de theta's move and dw_mkt/de the exact tangent
    of the market variance (``opt_fx.pair_variance``, the equity vol curve) along the moved vol pillar and
    correlation (``market_variance``; NumPy, the option expiries only)."""

    def __init__(self, rev):
        from exposure.risk.setup_vols_options import extended_twins
        from exposure.risk.twin_reverse import twin_cotangents

        self.rev = rev
        options = {i: tw for i, tw in rev.pt.twins.items() if i not in rev.twins}
        ext = extended_twins(rev)
        self.twins = {i: e.tw for i, e in ext.items()}
        self.g = twin_cotangents(rev, {i: ext.get(i, tw) for i, tw in options.items()})


def option_cotangents(rev) -> OptionCotangents:
    """The run's ``OptionCotangents`` (built on first use, held by the ``ReverseSetup``)."""
    if "_option_vols" not in rev.__dict__:
        rev._option_vols = OptionCotangents(rev)
    return rev._option_vols


def factor_direction(rev, factor):
    """(vctx, dtheta/de, {ccy: dsigma/de}, moved) of a factor ``setup_vols.in_place_tangent`` takes, else None."""
    from exposure.risk import setup_vols as sv
    from exposure.risk.factors import value_at

    cfg, s = rev.cfg, rev.s
    if not sv.covered(cfg, factor):
        return None
    model, market, ctx = s.built.model, s.market, rev.ctx
    vctx = sv.vol_context(cfg, s, rev.static, ctx.tangent.theta)
    if factor.factor_type in sv.VOL_TYPES:  # the quote must be the built curve's (``in_place_tangent``)
        key, i = sv._vol_pillar(factor)
        if not np.isclose(float(value_at(cfg, factor.path)), vctx.assets[key][0].vol[i], rtol=1e-12, atol=0):
            return None
    th, dsig, moved = sv.theta_direction(ctx, vctx, model, market, factor)
    return vctx, th, dsig, moved
