"""Market side of the set-up layer by AD: the tangents dS/de of the XVA weights S["w"], no set-up rebuilt.

    w = W(x),  x = (h_c, R_c for every credit name c of the book; y; s_B, s_L)   ``xva.weights_jax.weight_arrays``
    dw/de = dW/dx . dx/de                    dW/dx by one jax.jacfwd (or jacrev) of W, once per run
    dh_c/de = -(dR_c/dh)^-1 dR_c/dtheta . dtheta/de          ``market.credit_jax`` (implicit-function theorem)

h_c the bootstrapped hazards of name c (n,), R_c its recovery, y = ln P(0, t_i) of the base discount curve
(it discounts the funding accruals and prices every CDS of the bootstrap), s_B / s_L the funding spreads
(decimal). The inputs theta as the market is given: CDS par spreads (bp), recoveries (the bootstrap's and the
LGD's), a flat hazard where a name is given so, the base curve's zero-rate or discount-factor pillars (either
way y_i moves by -size t_i per factor unit), the funding spreads (bp). A credit or funding factor moves nothing
but w, so its tangent is complete here (``parts`` says so) and no set-up is rebuilt; a base-curve pillar also
moves the model and the pricing data, whose tangents ``stage.tangent`` takes elsewhere (``setup_tangent``). Curves
given as par instruments (market.curve_inputs) are not covered: their factors keep the difference.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from exposure.market.credit_jax import CdsBootstrap
from exposure.risk.kept import digest, kept
from exposure.xva.weights_jax import Credit, weight_arrays

CREDIT, FUNDING = ("market", "credit"), ("market", "funding")


@dataclasses.dataclass
class MarketTangents:
    """x0 (the inputs of W at the run's market), W(x) -> {measure: (n_ns, K)} in jnp, dh/dtheta per CDS name
    ({q, R, y}, ``CdsBootstrap.hazard_derivatives``), and dW/dx (computed on first use)."""

    base: str
    x0: dict
    weights_fn: object
    curve_times: np.ndarray
    dh: dict  # name -> {q (n, n) per decimal spread, R (n,), y (n, m)}
    key: str | None = None  # ``kept.digest`` of what weights_fn closes over (None: plain jit, traced each run)
    _jac: dict | None = None

    def weights(self) -> dict:
        """{measure: (n_ns, K)} NumPy at x0."""
        return {m: np.asarray(v) for m, v in jax.jit(self.weights_fn)(self.x0).items()}

    def jacobian(self) -> dict:
        """{measure: pytree like x0 with leaves (n_ns, K, *leaf shape)}: dW/dx by jax.jacfwd or jax.jacrev."""
        if self._jac is None:  # forward mode when the inputs are fewer than the weights, else reverse mode
            from exposure.risk.kept import shapes

            n_in = sum(np.size(x) for x in jax.tree_util.tree_leaves(self.x0))
            out = shapes(self.weights_fn, "ad_weights_shapes", self.key, self.x0)
            n_out = sum(int(np.prod(v.shape)) for v in out.values())
            mode = jax.jacfwd if n_in <= n_out else jax.jacrev
            jac = kept(jax.jit(mode(self.weights_fn)), f"ad_weights_{mode.__name__}", self.key, (self.x0,))
            self._jac = jax.tree_util.tree_map(np.asarray, jac)
        return self._jac

    def jvp(self, dx) -> dict:
        """dw = dW/dx . dx, {measure: (n_ns, K)} (dx: a pytree like x0)."""
        out = {}
        for m, jm in self.jacobian().items():
            acc = 0.0
            for j, d in zip(jax.tree_util.tree_leaves(jm), jax.tree_util.tree_leaves(dx)):
                d = np.asarray(d)
                if np.any(d):
                    acc = acc + np.tensordot(j, d, axes=d.ndim)
            out[m] = np.zeros(np.asarray(jax.tree_util.tree_leaves(jm)[0]).shape[:2]) + acc
        return out

    def direction(self, factor):
        """dx/de of a factor (a pytree like x0), or None when the factor does not act on x."""
        p = factor.path
        dx = jax.tree_util.tree_map(np.zeros_like, self.x0)
        if p[:2] == CREDIT and p[2] in self.x0["h"]:
            name, key = p[2], p[3]
            dh = self.dh.get(name)
            if key == "recovery":
                dx["R"][name] = np.asarray(factor.size)
                if dh is not None:
                    dx["h"][name] = dh["R"] * factor.size
            elif key == "flat_hazard" and dh is None:
                dx["h"][name] = np.full_like(dx["h"][name], factor.size)
            elif key == "spreads_bp" and dh is not None:
                dx["h"][name] = dh["q"][:, p[4]] * (1e-4 * factor.size)
            return dx  # anything else (spreads of a name built from its flat hazard) moves nothing
        if p[:2] == FUNDING and p[2] in ("borrowing_bp", "lending_bp") and p[2][:-3] in dx:
            dx[p[2][:-3]][p[3]] = 1e-4 * factor.size
            return dx
        if p[:3] == ("market", "curves", self.base) and p[3] == "quotes":
            dy = -factor.size * self.curve_times[p[4]]
            dx["y"][p[4]] = dy
            for name, d in self.dh.items():
                dx["h"][name] = d["y"][:, p[4]] * dy
            return dx
        return None

    def parts(self, factor):
        """({component: tangent}, complete): the tangent of S["w"] by AD where the factor acts on x, and
        whether it is all the factor moves (credit and funding inputs)."""
        d = self.direction(factor)
        if d is None:
            return {}, False
        return {"w": self.jvp(d)}, factor.path[:2] in (CREDIT, FUNDING)


def market_tangents(cfg, s, measures, val_times) -> MarketTangents | None:
    """MarketTangents of a run (cfg, its Setup s) for the measures of S["w"] on the valuation times; None when
    a credit curve of the book is not built from cfg.market.credit (e.g. an ORE market file)."""
    from exposure.xva import xva_settings

    m = s.market
    xs = xva_settings(cfg, m.asof)
    names = list(dict.fromkeys([ns.counterparty for ns in s.portfolio.netting_sets] + [m.own_name]))
    names = [n for n in names if n in m.credit]
    node = getattr(cfg.market, "credit", None) or {}
    base_curve = m.curves[m.base_currency]
    y0 = np.asarray(base_curve.log_dfs, np.float64)
    curve_times = np.asarray(base_curve.times, np.float64)
    times, dh = {}, {}
    x0 = {"h": {}, "R": {}, "y": y0}
    boots = {}
    for n in names:
        if n not in node:
            return None
        cc, curve = node[n], m.credit[n]
        times[n] = np.asarray(curve.times, np.float64)
        x0["h"][n] = np.asarray(curve.hazards, np.float64)
        x0["R"][n] = np.asarray(float(curve.recovery))
        if cc.flat_hazard is None:
            key = tuple(str(t) for t in cc.tenors)
            boot = boots.get(key) or boots.setdefault(key, CdsBootstrap.build(m.asof, list(cc.tenors), curve_times))
            if not np.array_equal(boot.times, times[n]):
                return None
            q = np.array([float(x) for x in cc.spreads_bp]) * 1e-4
            dh[n] = boot.hazard_derivatives(x0["h"][n], q, x0["R"][n], y0, run=_kept_run(boot))
    f = xs.funding
    if f is not None:
        x0.update(borrowing=np.asarray(f.borrowing, np.float64), lending=np.asarray(f.lending, np.float64))
    cps = [ns.counterparty for ns in s.portfolio.netting_sets]
    t = np.asarray(val_times, np.float64)
    # weights_fn closes over these alone (their digest keys its kept programs)
    fixed = (names, times, m.own_name, cps, t, curve_times, None if f is None else np.asarray(f.times, np.float64),
             xs.bilateral, xs.discretisation, xs.survival_weighting, tuple(measures))

    def weights_fn(x):
        names_, times_, own, cps_, t_, ct, f_times, bilateral, disc, surv, meas = fixed
        curves = {n: Credit(times_[n], x["h"][n], x["R"][n]) for n in names_}
        funding = None if f_times is None else (f_times, x["borrowing"], x["lending"])
        return weight_arrays(curves, own, cps_, t_, ct, x["y"], funding, bilateral, disc, surv, meas)

    return MarketTangents(m.base_currency, x0, weights_fn, curve_times, dh, key=digest(fixed))


def _kept_run(boot):
    """run(jitted, args) for ``CdsBootstrap.hazard_derivatives``: its residual Jacobians through a kept executable
    (keyed by the bootstrap's contracts and times: a warm run does not trace them)."""
    key = digest(boot.arrays())
    return lambda jitted, args: kept(jitted, "ad_cds_jacobians", key, args)
