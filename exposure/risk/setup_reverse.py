"""The set-up layer in reverse for curve pillars and FX spots: one vjp of g_S to all of them at once.

For a factor e that ``setup_curves`` moves in place (a zero/discount pillar of a discount or index curve, an FX
spot), d measure_o / de = <G_o, dS/de> (G = ``reverse.reverse_pass``'s g_S, n_out rows) is split as

    <G_o, dS/de> = gP_o[c] . dlnP_c/de  +  gX_o[k] dX_k/de  +  <G_o, dS/de>_remainder

    gP[c] = J_phi,c' g_theta["log_df"][c]                      theta's ln P(0, t) on the model times
          + (D_c M_c)' gsig[c]                                 calibrated sigma: D_c = -(dR/dsigma)^-1 dR/dlnP
          + sum_twins g_x["ln_df"][c]                           linear batches' (any twin's) pricing data
          + [c = base] (g_w["y"] + sum_n dh_n/dy' g_w["h"][n])  XVA weights (``setup_market``, CDS by the IFT)
    gX[k]   = g_theta["fx_spot"][k]                             theta's FX spot (the initial state)
    gsig[c] = <G_model, J_theta dtheta/dsigma_c> + sum_twins g_x["sigma"][c]
    g_theta = J_theta' G_model on theta's (log_df, fx_spot)      one vjp of ``setup_model.model_arrays``
    g_x     = (dleaves/dx)' G_pres[leaves]                      one backward pass per measure of every twin's
                                                                leaves, netting set u's trades reading copy u
                                                                of x (``twin_linear_ns``: all netting sets at
                                                                once, in closed form)

with dlnP_c/de = -size t_i at the factor's pillar (``pillar_direction``), J_phi,c and M_c the (exactly linear)
log-linear interpolation of the pillars at the model times / the calibration's times, G_model = G's (Phi, mu, L,
y0, log_num, bridge), dtheta/dsigma_c exact (``sigma_direction``: the unit piece and the FX/equity vol
bootstraps' implicit-function response, no model build) and J_theta . dtheta by the run's compiled model jvp
(``setup_model.ModelTangent``): m calls per calibrated currency, once per run; g_w the weights'
Jacobian ``MarketTangents.jacobian`` contracted with G_w. All of this is computed once per run (``ReverseSetup``);
per factor it is a dot product. The remainder is what has no jnp twin, kept per factor as ``setup_tangent``
takes it (so the sum is the per-factor tangent's sensitivity exactly, to rounding): the central difference of
``prepare`` of every batch without a twin at the moved markets and models, and of the cash-flow amounts a
twin reads off a moved curve (a twin's x keys other than ln_df and sigma: ``amt``/``cw`` of a LinearPresTwin
from its cash-flow tables, those of any other twin from its ``x_of(market, model)``).
Any twin that ``setup_pres_tangents.PresTangents`` holds (``x0()``, ``leaves(x)``) is taken in reverse automatically.
Par quotes of market.curve_inputs: the pillars' cotangents pulled back through the bootstrap
(``setup_reverse_inputs``). Not covered (the caller keeps the per-factor tangent): zero pillars of a market with
curve inputs, models with credit intensities (their calibration reads the base curve), a base curve without
``MarketTangents``, an index curve that is also a model curve.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.risk.compact import CompactPres
from exposure.risk.kept import digest, kept
from exposure.risk.reverse import contract
from exposure.risk.setup_curves import CURVES, FX, INDICES, covered, moved_curve_of, moved_market, pillar_direction
from exposure.risk.setup_model import model_arrays
from exposure.risk.setup_pres import LinearPresTwin
from exposure.risk.setup_inputs import is_input
from exposure.risk.setup_reverse_inputs import InputReverse, input_covered
from exposure.risk.setup_remainder import amounts_difference, prepare_difference, remainder_per_factor

MARKET_THETA = ("log_df", "fx_spot")  # theta's parts that curve pillars and FX spots move directly


def interpolation_matrix(curve, t) -> np.ndarray:
    """d ln P(0, t) / d lnP_pillars (len(t), n): ``log_discount_np`` is linear in the pillars (interpolation and
    flat-forward extrapolation), so its columns are the curve at unit pillar vectors."""
    times = np.asarray(curve.times, np.float64)
    from exposure.market.curves import DiscountCurve

    cols = [DiscountCurve(times, np.eye(times.size)[i]).log_discount_np(t) for i in range(times.size)]
    return np.stack(cols, axis=-1) if cols else np.zeros((np.size(t), 0))


def reverse_covered(cfg, s, market_tangents, factor) -> bool:
    """Whether ``ReverseSetup`` takes the factor (module docstring: what is not covered)."""
    m, model = s.market, s.built.model
    if is_input(cfg, factor):  # a par quote: through the bootstrap (``setup_reverse_inputs``)
        return input_covered(cfg, s, market_tangents, factor)
    if not covered(cfg, factor) or model.credit:
        return False
    p = factor.path
    if p[:2] == CURVES:
        return p[2] in model.currencies and (p[2] != m.base_currency or market_tangents is not None)
    if p[:2] == INDICES:
        return not any(moved_curve_of(m, factor) is cv for cv in model.curves)
    return p[:2] == FX and p[2] in model.currencies[1:]


def sigma_direction(theta, vctx, model, ccy, k: int) -> dict:
    """dtheta/dsigma_k (theta-shaped, NumPy) of currency ccy's Hull-White sigma piece k (1/unit of sigma): the unit
    vector in theta["ir_vol"][ccy], the FX/equity vol pieces by their bootstraps' implicit-function response
    (``twin_reverse.bootstrap_response``); nothing else in theta reads sigma. Exact: no model build."""
    from exposure.risk.twin_reverse import bootstrap_response

    th = jax.tree_util.tree_map(lambda x: np.zeros(np.shape(x)), theta)
    ci = model.currencies.index(ccy)
    unit = np.zeros(np.shape(th["ir_vol"][ci]))
    unit[k] = 1.0
    fx, eq = bootstrap_response(vctx, model, {ccy: unit})
    return dict(th, ir_vol=tuple(unit if j == ci else x for j, x in enumerate(th["ir_vol"])),
                fx_vol=tuple(fx), eq_vol=tuple(eq))


class ReverseSetup:
    """The reduced cotangents of one run's G (module docstring) and the per-factor sensitivity from them."""

    def __init__(self, cfg, s, S, static, G, market, step: float, ahead=None, amounts=None):
        """ahead: None, or ahead(self) -> [dtheta], the model directions the caller will ask the run's
        ``ModelTangent`` for later, fetched in the calibrated sigma's program calls (``ModelTangent.defer``).
        amounts: {batch index: ``setup_amounts.amount_jacobian``} made ahead (``stage``), or None."""
        from exposure.risk.setup_pres_tangents import PresTangents
        from exposure.risk.setup_tangent import context

        self.cfg, self.s, self.static, self.step = cfg, s, static, step
        self.amount_jacobians = dict(amounts or {})  # read by ``TwinReverse`` (the rest it makes itself)
        self.ctx = ctx = context(cfg, s, S, static)
        self.market_t = market
        self.model = s.built.model
        if ctx.pres is None:
            ctx.pres = PresTangents(s, static, S)
        self.pt = ctx.pres
        # the linear batches' twins in reverse; the option batches' twins (``twins``: other x layouts) per factor
        self.twins = {i: tw for i, tw in self.pt._linear().items() if isinstance(tw, LinearPresTwin)}
        self.n_out = int(np.shape(G["Phi"])[0])
        self._G_pres = CompactPres.of(G["pres"], self.n_out)  # read through .dot(k, d) (or .dense(k))
        self.g_theta = self._model_cotangent(G)
        self.offsets = np.cumsum([0] + [len(f) for f, _, _ in self.pt.base])
        self.g_x = self._twin_cotangents(G)
        if ahead is not None:
            ctx.tangent.defer(ahead(self))
        self.g_sigma = self._sigma_cotangents(G)
        self.g_pillars = self._pillar_cotangents(G)

    # -- once per run ---------------------------------------------------------------------------------------
    def _model_cotangent(self, G) -> dict:
        """g_theta of theta's market parts, {log_df, fx_spot} (leading axis n_out): one vjp of the jnp model layer
        with respect to them alone (rows vmapped). They reach only the numeraire and y0, never the covariances,
        so the program is small once XLA drops the rest; the vol parts' cotangent is ``_sigma_cotangents``'."""
        mt = self.ctx.tangent
        lay, theta = mt.layout, mt.theta
        fixed = {k: v for k, v in theta.items() if k not in MARKET_THETA}
        cot = {k: np.asarray(G[k]) for k in ("Phi", "mu", "y0", "log_num")}
        cot["Sigma"] = np.zeros((self.n_out,) + np.shape(G["L"])[1:])  # independent of ln P and spots
        if lay.lo is not None:
            b = G["bridge"]
            cot["bridge"] = {"A": np.asarray(b["A"]), "B": np.asarray(b["B"]), "m": np.asarray(b["m"]),
                             "V": np.zeros((self.n_out,) + np.shape(b["L"])[1:])}

        def rows(x, c, fx):  # the fixed parts are an argument: a new market day's calibration is no new program
            _, f = jax.vjp(lambda x_: model_arrays(dict(fx, **x_), lay), x)
            return jax.vmap(lambda r: f(r)[0])(c)

        return jax.tree_util.tree_map(np.asarray, kept(jax.jit(rows), "ad_model_cotangent", digest(lay),
                                                        ({k: theta[k] for k in MARKET_THETA}, cot, fixed)))

    def _twin_cotangents(self, G) -> dict:
        """{batch index: g_x (the twin's x pytree, leading axis n_out)} of the linear twins (``twin_linear_ns``)."""
        from exposure.risk.twin_linear_ns import twin_cotangents

        return twin_cotangents(self, self.twins)

    def _twin_cotangents_rows(self, twins) -> dict:
        """The same by one backward pass per output row: the reference (``twin_linear_ns.cotangents_rows``)."""
        from exposure.risk.twin_linear_ns import cotangents_rows

        return cotangents_rows(self, twins)

    # True (default): ``_sigma_cotangents_jvp`` (m jvps, exact dtheta/dsigma); False: the model layer's
    # cotangent once (``setup_vols_reverse``): one backward pass per output row, measured not cheaper on bench-1k
    sigma_by_differences = True

    def _sigma_cotangents(self, G) -> dict:
        """{ccy: gsig (n_out, m)} of every calibrated currency: the model layer's cotangent once
        (``setup_vols_reverse.sigma_cotangents``)."""
        if self.sigma_by_differences:
            return self._sigma_cotangents_jvp(G)
        from exposure.risk.setup_vols_reverse import sigma_cotangents

        return sigma_cotangents(self, G)

    def _sigma_cotangents_jvp(self, G) -> dict:
        """{ccy: gsig (n_out, m)} of every calibrated currency: <G_model, J_theta dtheta/dsigma_k> (the run's
        compiled model jvp, m calls) + the twins' sigma, dtheta/dsigma_k exact (``sigma_direction``)."""
        from exposure.risk.setup_vols import vol_context

        vctx = vol_context(self.cfg, self.s, self.static, self.ctx.tangent.theta)
        model_keys = [k for k in ("Phi", "mu", "L", "y0", "log_num", "bridge") if k in G]
        Gm = {k: G[k] for k in model_keys}
        mt, out = self.ctx.tangent, {}
        dirs = {(c, k): sigma_direction(mt.theta, vctx, self.model, c, k)
                for c, (ift, _, _) in self.ctx.ift.items() for k in range(ift.sigma.size)}
        # a swaption quote's direction is a combination of these (``model_span``): no program slot of its own
        mt.span(list(dirs.values()))
        mt.prefetch(list(dirs.values()))  # all currencies' directions in one batched program call
        for c, (ift, _, _) in self.ctx.ift.items():
            g = np.zeros((self.n_out, ift.sigma.size))
            for k in range(ift.sigma.size):
                dS = mt(dirs[c, k])
                g[:, k] = contract(Gm, {k_: dS[k_] for k_ in model_keys})
            out[c] = self.add_twins_sigma(c, g)
        return out

    def add_twins_sigma(self, c: str, g: np.ndarray) -> np.ndarray:
        """g + g_x["sigma"][c] of each linear twin holding currency c, added in twin order: (n_out, m)."""
        return sum((np.asarray(self.g_x[i]["sigma"][list(tw.cf.currencies).index(c)]).reshape(self.n_out, -1)
                    for i, tw in self.twins.items() if c in tw.cf.currencies), g)

    def _pillar_cotangents(self, G) -> dict:
        """{ccy: gP (n_out, n_pillars)} of every model currency's discount curve (module docstring)."""
        model, out = self.model, {}
        t_phi = self.ctx.tangent.layout.phi_times
        mt = self.market_t
        gw = None
        if mt is not None:
            jac = mt.jacobian()
            gw = jax.tree_util.tree_map(lambda a: np.zeros((self.n_out,) + np.shape(a)), mt.x0)
            for m, jm in jac.items():
                Gm = np.asarray(G["w"][m])  # (n_out, n_ns, K)
                gw = jax.tree_util.tree_map(lambda acc, j: acc + np.tensordot(Gm, j, axes=2), gw, jm)
        for ci, c in enumerate(model.currencies):
            curve = model.curves[ci]
            g = np.asarray(self.g_theta["log_df"][:, ci, :]) @ interpolation_matrix(curve, t_phi)
            if c in self.ctx.ift:
                ift = self.ctx.ift[c][0]
                Js, _, _, Jp = (np.asarray(j) for j in ift._jac(jnp.asarray(ift.sigma), jnp.asarray(ift.vols),
                                                                 jnp.asarray(ift.a), jnp.asarray(ift.lnP)))
                D = -np.linalg.solve(Js, Jp)  # dsigma / dlnP(times)
                g = g + self.g_sigma[c] @ D @ interpolation_matrix(curve, ift.times)
            for i, tw in self.twins.items():
                ccys = list(tw.cf.currencies)
                if c in ccys:
                    g = g + np.asarray(self.g_x[i]["ln_df"][ccys.index(c)])
            if c == self.s.market.base_currency and gw is not None:
                g = g + gw["y"]
                for n, d in mt.dh.items():
                    g = g + gw["h"][n] @ d["y"]
            out[c] = g
        return out

    # -- per factor -----------------------------------------------------------------------------------------
    def covers(self, factor) -> bool:
        return reverse_covered(self.cfg, self.s, self.market_t, factor)

    def sensitivity(self, factor) -> np.ndarray:
        """d measure_o / de (n_out,) of a covered factor: the reverse part plus the per-factor remainder."""
        p, m = factor.path, self.s.market
        if is_input(self.cfg, factor):
            return self.inputs().sensitivity(factor)
        if p[:2] == CURVES:
            g = self.g_pillars[p[2]]
            out = g @ pillar_direction(m.curves[p[2]], factor)
        elif p[:2] == FX:
            k = self.model.currencies.index(p[2]) - 1
            out = np.asarray(self.g_theta["fx_spot"][:, k]) * (factor.size * float(m.fx_spots[p[2]]))
        else:
            out = np.zeros(self.n_out)
        return out + self.remainder(factor)

    def inputs(self):
        """The par quotes' pulled-back cotangent (``setup_reverse_inputs.InputReverse``), once."""
        if "_inputs" not in self.__dict__:
            self._inputs = InputReverse(self)
        return self._inputs

    per_factor_remainder = False  # True: the per-factor remainder (``setup_remainder``), the reference

    def twin_reverse(self):
        """The option twins' cotangents and the folded cash-flow amounts (``twin_reverse.TwinReverse``), once."""
        if "_twin_reverse" not in self.__dict__:
            from exposure.risk.twin_reverse import TwinReverse

            self._twin_reverse = TwinReverse(self)
        return self._twin_reverse

    def remainder(self, factor) -> np.ndarray:
        """<G, dS/de> of what the one-time cotangents leave out: the option twins (their g_x . dx/de, the calibrated
        sigma by the IFT, the FX/equity vol bootstraps' response by the IFT) and the linear twins' cash-flow
        amounts (their Jacobian folded with g_x) as dot products (``twin_reverse``); central differences at the
        moved markets and models only for batches without a twin and amounts the dual build does not reproduce."""
        if self.per_factor_remainder:
            return self._remainder_per_factor(factor)
        from exposure.risk.setup_tangent import calibrated_moves

        tr, cfg, s = self.twin_reverse(), self.cfg, self.s
        markets = tuple(moved_market(cfg, s.market, factor, e, keep_credit=True) for e in (self.step, -self.step))
        moves = calibrated_moves(self.ctx, factor, markets, self.step)
        out = tr.amounts_part(factor) + tr.options_part(factor, moves)
        moved = moved_curve_of(s.market, factor)
        for i in tr.unfolded:
            if moved is not None and id(moved) in self.twins[i].amount_curves:
                out += amounts_difference(self, i, markets, factor)
        rest = [i for i in range(len(s.portfolio.batches)) if i not in self.pt.twins]
        if rest:
            from exposure.models.build import build_model
            from exposure.risk.setup_tangent import _calibrated_params

            models = tuple(build_model(mk, cfg.model, calibrated=_calibrated_params(self.ctx, cfg, moves, e)).model
                           for mk, e in zip(markets, (self.step, -self.step)))
            out += prepare_difference(self, rest, markets, models, factor)
        return out

    def _remainder_per_factor(self, factor) -> np.ndarray:
        """The reference remainder (``setup_remainder.remainder_per_factor``)."""
        return remainder_per_factor(self, factor)
