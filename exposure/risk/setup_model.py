"""The model layer of the set-up, theta -> (Phi, mu, L, y0, log_num, bridge), in jax.numpy, and its tangents.

    Phi_k, mu_k, Sigma_k = exact transitions over the reporting steps   (``models.cross_asset_jax``)
    A_e = Phi(e,l) - C Phi(r,l),  B_e = C,  m_e = mu(e,l) - C mu(r,l),  V_e = Sigma(e,l) - C Phi(r,e) Sigma(e,l),
        C = Sigma(e,l) Phi(r,e)' Sigma(r,l)^-                          (the event-date bridge, ``simulation.bridge``)
    y0 = (ln X_c, ln S_e),   log_num_k = int_0^{t_k} phi_base
    L = V diag(sqrt w)  with Sigma = V diag(w) V' (eigh, the run's ``factor_matrix``),

dS = J_theta S . dtheta by jax.jvp, so the heavy part of the set-up (dozens of matrix exponentials per step) is
differentiated exactly, in one compiled program, instead of being rebuilt twice per factor. L's tangent follows
the base run's eigenvectors (the run's L is the NumPy one, and the paths must stay the run's own):

    dw_j = v_j' dSigma v_j,   dv_j = sum_{i != j} v_i (v_i' dSigma v_j) / (w_j - w_i),
    dL_j = dv_j sqrt(w_j) + v_j dw_j / (2 sqrt(w_j))                   (0 where w_j <= 0: a clipped direction)

with the (w_j - w_i) terms of (numerically) equal eigenvalues left out (relative gap < EIG_GAP), where the
eigenvectors, and the central difference of ``state.difference`` too, are not defined. Columns are followed
with the base L's signs (``state.aligned``'s convention).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from exposure.dates import DAYS_PER_YEAR
from exposure.models import cross_asset_jax as caj
from exposure.simulation.bridge import RCOND, reporting_positions

# Relative eigenvalue gap below which two eigen-directions are treated as one (no rotation term between them).
EIG_GAP = 1e-10


@dataclasses.dataclass(frozen=True)
class ModelLayout:
    """Static times of the run's discretisation: reporting steps (starts, ends), bridge nodes (lo, e, hi), the
    numeraire's times and their union ``phi_times``."""

    model: object
    starts: np.ndarray
    ends: np.ndarray
    lo: np.ndarray | None
    node: np.ndarray | None
    hi: np.ndarray | None
    num_times: np.ndarray
    phi_times: np.ndarray


def model_layout(model, grid, static) -> ModelLayout:
    """The layout of ``Discretisation.build(model, grid)`` (same times, same bridge nodes as ``static.bridge``)."""
    times = np.asarray(grid.times, dtype=np.float64)
    lo = node = hi = None
    if static.bridge is not None:
        left, right, days, _ = static.bridge
        rep = reporting_positions(grid)
        asof = grid.asof.toordinal()
        rep_days = np.array([asof] + [grid.dates[i].toordinal() for i in rep], dtype=np.int64)
        row_day = np.concatenate([rep_days, np.asarray(days, np.int64)])
        t = lambda ds: (np.asarray(ds, dtype=np.float64) - asof) / DAYS_PER_YEAR  # noqa: E731  (build_bridge)
        lo, node, hi = t(row_day[np.asarray(left)]), t(np.asarray(days)), t(row_day[np.asarray(right)])
        times = times[rep]
    starts, ends = np.concatenate([[0.0], times[:-1]]), times
    num_times = np.asarray(static.times, dtype=np.float64)
    parts = [starts, ends, num_times] + ([lo, node, hi] if lo is not None else [])
    return ModelLayout(model, starts, ends, lo, node, hi, num_times, np.unique(np.concatenate(parts)))


def generalised_inverse(S):
    """S^- on the correlation scale (``bridge.generalised_inverse``): R^-1 when every eigenvalue of the scaled
    R is above RCOND x the largest (the usual case, and the exact derivative of the inverse), else the
    eigen-pseudo-inverse over the kept directions (the set is fixed under a tangent: no derivative of the mask)."""
    diag = jnp.diag(S)
    pos = diag > 0.0
    scale = jnp.where(pos, 1.0 / jnp.sqrt(jnp.where(pos, diag, 1.0)), 0.0)
    R = S * scale[:, None] * scale[None, :]
    R = 0.5 * (R + R.T)
    w, V = jnp.linalg.eigh(R)
    keep = w > RCOND * jnp.maximum(jnp.max(w), 0.0)
    pinv = (V * jnp.where(keep, 1.0 / jnp.where(keep, w, 1.0), 0.0)[None, :]) @ V.T
    inv = jnp.linalg.inv(jnp.where(jnp.all(keep), R, jnp.eye(R.shape[0])))
    return scale[:, None] * jnp.where(jnp.all(keep), inv, pinv) * scale[None, :]


def model_arrays(theta, lay: ModelLayout) -> dict:
    """{Phi, mu, Sigma, y0, log_num[, bridge {A, B, m, V}]} of the run's discretisation at theta."""
    m = lay.model
    ns = lay.starts.size
    if lay.lo is None:
        starts, ends = lay.starts, lay.ends
    else:  # the bridge's transitions l -> e and e -> r in the same program as the steps'
        starts = np.concatenate([lay.starts, lay.lo, lay.node])
        ends = np.concatenate([lay.ends, lay.node, lay.hi])
    P, M, S = caj.step_transitions(m, theta, lay.phi_times, starts, ends)
    out = {"Phi": P[:ns], "mu": M[:ns], "Sigma": S[:ns], "y0": caj.initial_state(m, theta),
           "log_num": caj.integrated_phi(m, theta, lay.phi_times, lay.num_times)[0]}
    if lay.lo is not None:
        n = lay.lo.size
        P, M, S = P[ns:], M[ns:], S[ns:]
        P_el, mu_el, S_el, P_be, mu_be, S_be = P[:n], M[:n], S[:n], P[n:], M[n:], S[n:]
        tr = lambda x: jnp.swapaxes(x, 1, 2)  # noqa: E731
        P_bl, mu_bl = P_be @ P_el, jnp.einsum("nij,nj->ni", P_be, mu_el) + mu_be
        S_bl = P_be @ S_el @ tr(P_be) + S_be
        K = S_el @ tr(P_be)
        C = K @ jax.vmap(generalised_inverse)(S_bl)
        v = S_el - C @ tr(K)
        out["bridge"] = {"A": P_el - C @ P_bl, "B": C, "m": mu_el - jnp.einsum("nij,nj->ni", C, mu_bl),
                         "V": 0.5 * (v + tr(v))}
    return out


def eig_base(Sigma: np.ndarray, L_run: np.ndarray):
    """(w, V) of the base covariances (..., d, d) with V's columns signed as the run's L (``factor_matrix``)."""
    w, V = np.linalg.eigh(np.asarray(Sigma, np.float64))
    dots = np.sum(V * np.asarray(L_run), axis=-2, keepdims=True)
    return w, np.where(dots < 0.0, -V, V)


def factor_tangent(w, V, dSigma):
    """dL of L = V diag(sqrt(max(w, 0))) along dSigma (module docstring); NumPy, batched over leading axes."""
    dA = np.einsum("...ji,...jk,...kl->...il", V, dSigma, V)
    gap = w[..., None, :] - w[..., :, None]  # [i, j] = w_j - w_i
    tol = EIG_GAP * np.max(np.abs(w), axis=-1, keepdims=True)[..., None]
    big = np.abs(gap) > tol
    F = np.where(big, 1.0 / np.where(big, gap, 1.0), 0.0)
    dV = np.einsum("...ij,...jk->...ik", V, F * dA)
    pos = w > 0.0
    s = np.sqrt(np.where(pos, w, 0.0))
    ds = np.where(pos, np.diagonal(dA, axis1=-2, axis2=-1) / (2.0 * np.where(pos, s, 1.0)), 0.0)
    return dV * s[..., None, :] + V * ds[..., None, :]


class ModelTangent:
    """dS (Phi, mu, L, y0, log_num, bridge) = J S . dtheta at the run's base model: one compiled jvp (its
    primal, the jnp set-up at the base, fixes the eigenvectors L's tangent follows)."""

    def __init__(self, model, grid, static, S):
        lay = model_layout(model, grid, static)
        self.layout = lay
        self.theta = caj.model_theta(model, lay.phi_times)
        self._L = (np.asarray(S["L"]), np.asarray(S["bridge"]["L"]) if "bridge" in S else None)
        self._eig = None
        # theta is an argument, not a constant of the program: a run on other market values finds it in JAX's
        # persistent compilation cache.
        self._jvp = jax.jit(lambda th, dth: jax.jvp(lambda x: model_arrays(x, lay), (th,), (dth,)))

    def theta_of(self, model) -> dict:
        """theta of another (bumped) model on this run's layout."""
        return caj.model_theta(model, self.layout.phi_times)

    def zero(self) -> dict:
        return jax.tree_util.tree_map(jnp.zeros_like, self.theta)

    def arrays(self, dtheta):
        """(base arrays of ``model_arrays``, their tangent along dtheta), NumPy."""
        base, d = jax.tree_util.tree_map(np.asarray, self._jvp(self.theta, dtheta))
        if self._eig is None:
            self._eig = (eig_base(base["Sigma"], self._L[0]),
                         None if self._L[1] is None else eig_base(base["bridge"]["V"], self._L[1]))
        return base, d

    def __call__(self, dtheta) -> dict:
        """The model components of dS (NumPy) along dtheta (a theta-shaped pytree)."""
        _, d = self.arrays(dtheta)
        out = {"Phi": d["Phi"], "mu": d["mu"], "L": factor_tangent(*self._eig[0], d["Sigma"]), "y0": d["y0"],
               "log_num": d["log_num"]}
        if self.layout.lo is not None:
            b = d["bridge"]
            out["bridge"] = {"A": b["A"], "B": b["B"], "m": b["m"], "L": factor_tangent(*self._eig[1], b["V"])}
        return out


# ---- the factor tangent: model arrays by jvp, calibration by the implicit-function theorem ------------------

@dataclasses.dataclass
class _Context:
    static: object
    tangent: ModelTangent
    ift: dict  # ccy -> (CalibrationIFT, currency index, SwaptionVolCurve)


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
            ift[ccy] = (CalibrationIFT(quotes, model.hw[i], s.market.curves[ccy]), i, s.market.swaption_vols[ccy])
    ctx = _Context(static, ModelTangent(model, s.grid, static, S), ift)
    _CACHE[:] = [ctx]
    return ctx


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
    from exposure.risk.state import APPROXIMATION_ORDERS, _split

    grid = s.grid
    dates = (market.asof,) + tuple(grid.dates)
    pctx = PricingContext(market, model, static.times, s.portfolio.fixings, dates, grid.reporting_mask())
    floats, ints, treedef = _split([b.prepare(pctx) for b in s.portfolio.batches])
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


def model_state_tangent(cfg, s, factor, S, static, step: float) -> dict:
    """dS/de of a factor that reaches S through the market and the model (everything but credit and funding):

        Phi, mu, L, y0, log_num, bridge  = J S . dtheta/de                      (jvp, ``ModelTangent``)
        dtheta/de = central difference of the model build at the bumped market, its calibrated Hull-White
                    sigma moved by the implicit-function theorem (no re-calibration)
        pres, w   = central difference of prepare / the XVA weights at the bumped market and model

    with e = +-step factor units; the model's matrix exponentials and eigen-decompositions are not rebuilt."""
    from exposure.models.build import build_model
    from exposure.risk.state import rebuilt_market, xva_weight_arrays

    ctx = context(cfg, s, S, static)
    cfgs = (bumped_view(cfg, factor, step), bumped_view(cfg, factor, -step))
    markets = tuple(rebuilt_market(c, s, factor) for c in cfgs)
    moves = calibrated_moves(ctx, factor, markets, step)
    models = tuple(build_model(m, c.model, calibrated=_calibrated_params(ctx, c, moves, e)).model
                   for m, c, e in zip(markets, cfgs, (step, -step)))
    h2 = 2.0 * step
    thetas = [ctx.tangent.theta_of(m) for m in models]
    dtheta = jax.tree_util.tree_map(lambda a, b: (np.asarray(a) - np.asarray(b)) / h2, *thetas)
    dS = ctx.tangent(dtheta)
    pres = [prepared_floats(m, md, s, static) for m, md in zip(markets, models)]
    dS["pres"] = [(a - b) / h2 for a, b in zip(*pres)]
    if all(m is s.market for m in markets):  # a model parameter: the weights read the market only
        dS["w"] = {k: np.zeros_like(v) for k, v in S["w"].items()}
    else:
        ns = s.portfolio.netting_sets
        w = [xva_weight_arrays(c, m, ns, static.val_times, tuple(S["w"])) for c, m in zip(cfgs, markets)]
        dS["w"] = {k: (w[0][k] - w[1][k]) / h2 for k in S["w"]}
    return {k: dS[k] for k in S}
