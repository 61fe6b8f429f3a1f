"""Par-quote curves (``market.curve_inputs``) differentiated by the implicit-function theorem.

The bootstrap (``exposure.market.bootstrap``) solves, for every instrument k of every curve it builds,

    R_k(Y; q) = implied_k(curves(Y)) - q_k = 0,        Y = ln P at the pillars of all bootstrapped curves

(curves log-linear in their pillars through (0, 0), flat forward beyond the last; one pillar per used
instrument). implied_k does not read q_k, so dR/dq = -I and, at the solution,

    dY/dq = -(dR/dY)^-1 dR/dq = (dR/dY)^-1                    (n x n, n = the used instruments)

dR/dY by ``jax.jacfwd`` of a jnp twin of the residuals (``implied`` below: the rate helpers' formulas on the
helpers' own schedules, day-count fractions and dates). The system is the joint one over every bootstrapped curve,
so a quote of an OIS discount curve also moves the forwarding curves bootstrapped on it (their column of dY/dq).
Zero-rate curves given directly (``known``) are held fixed. A quote dropped by ``drop_duplicate_pillars`` moves
nothing. ``direction(curve, i, size)``: d ln P_pillars / de of every bootstrapped curve for the factor
"instrument i of ``curve`` moved by e * size", e in factor units (``factors``: par quote per 1bp, size 1e-4).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.dates import model_times
from exposure.market.bootstrap import _order, _used
from exposure.market.rate_futures import Future
from exposure.market.rate_helpers import CrossCurrencyBasisSwap, Deposit, Swap, TenorBasisSwap
from exposure.market.schedule import year_fraction


def _weights(kt: np.ndarray, t: np.ndarray) -> np.ndarray:
    """W (len(t), len(kt)) with ln P(t) = W @ ln P(knots): ``bootstrap._Curves.df``'s linear interpolation and
    flat-forward (linear) extrapolation beyond the last knot are linear in the knots' ln P."""
    W = np.zeros((t.size, kt.size))
    for r, x in enumerate(t):
        if x > kt[-1]:
            a = (x - kt[-1]) / (kt[-1] - kt[-2])
            W[r, -1], W[r, -2] = 1.0 + a, -a
        else:
            i = min(max(int(np.searchsorted(kt, x, side="right")) - 1, 0), kt.size - 2)
            w = (x - kt[i]) / (kt[i + 1] - kt[i])
            W[r, i], W[r, i + 1] = 1.0 - w, w
    return W


class _JCurves:
    """jnp twin of ``bootstrap._Curves``: df(name, dates) = exp(W ln P_knots) of the free (traced) and the fixed
    (known) curves; W in NumPy (the dates are fixed), so the traced program is matrix products and exp."""

    def __init__(self, asof, knots: dict):
        self.asof, self.knots = asof, knots  # name -> (times (n,) np, ln P (n,) jnp or np)

    def df(self, name, dates):
        times, ys = self.knots[name]
        kt = np.concatenate([[0.0], np.asarray(times, np.float64)])
        ky = jnp.concatenate([jnp.zeros(1), jnp.asarray(ys)])
        return jnp.exp(jnp.asarray(_weights(kt, model_times(self.asof, dates))) @ ky)


def _forwards(cp, curves, name):
    return (curves.df(name, cp.fwd_start) / curves.df(name, cp.fwd_end) - 1.0) / cp.fwd_tau


def implied(h, curves, fwd: str, disc: str):
    """The quote the (jnp) curves imply: ``h.implied`` (``rate_helpers``) as a traceable function."""
    if isinstance(h, Deposit):
        s, e = h.dates()
        return (curves.df(fwd, [s])[0] / curves.df(fwd, [e])[0] - 1.0) / year_fraction(s, e, h.index.day_count)
    if isinstance(h, Future):
        s, e = h.start, h.end
        if h.averaged:
            fixes, nexts, w = h._days
            growth = jnp.sum((curves.df(fwd, fixes) / curves.df(fwd, nexts) - 1.0) * w)
        else:
            growth = curves.df(fwd, [s])[0] / curves.df(fwd, [e])[0] - 1.0
        return 100.0 * (1.0 - (growth / year_fraction(s, e, h.index.day_count) + h.convexity))
    if isinstance(h, Swap):
        fpay, ftau, cp = h._legs
        annuity = jnp.sum(ftau * curves.df(disc, fpay))
        return jnp.sum(cp.tau * _forwards(cp, curves, fwd) * curves.df(disc, cp.pay)) / annuity
    if isinstance(h, TenorBasisSwap):
        b, o = h._legs
        db = curves.df(disc, b.pay)
        pv_b = jnp.sum(b.tau * _forwards(b, curves, h.base_curve) * db)
        pv_o = jnp.sum(o.tau * _forwards(o, curves, h.other_curve) * curves.df(disc, o.pay))
        return (pv_o - pv_b) / jnp.sum(b.tau * db)
    if isinstance(h, CrossCurrencyBasisSwap):
        (s1, e1, c1), (s2, e2, c2) = h._legs

        def pv(s, e, c, fwd_curve, disc_curve):
            d = curves.df(disc_curve, c.pay)
            ends = curves.df(disc_curve, [s, e])
            return jnp.sum(c.tau * _forwards(c, curves, fwd_curve) * d) - ends[0] + ends[1], jnp.sum(c.tau * d)

        pv_this, bps_this = pv(s1, e1, c1, h.this_fwd, disc)
        pv_other, bps_other = pv(s2, e2, c2, h.other_fwd, h.other_disc)
        return (pv_other - pv_this) / bps_this if h.spread_leg == "this" else (pv_this - pv_other) / bps_other
    raise TypeError(f"no jnp twin of the rate helper {type(h).__name__}")


class BootstrapIFT:
    """dY/dq of the bootstrapped curves of one market (module docstring).

    specs: {name: CurveSpec} (``curve_inputs.input_specs``), curves: {name: DiscountCurve} the bootstrap's
    result (its pillars are the used instruments' pillars), known: {name: DiscountCurve} the fixed curves."""

    def __init__(self, asof, specs: dict, curves: dict, known: dict):
        self.asof = asof
        self.names = [n for n in _order(specs, known)]
        self.used = {n: _used(specs[n]) for n in self.names}
        self.times = {n: np.asarray(curves[n].times, np.float64) for n in self.names}
        for n in self.names:
            if self.times[n].size != len(self.used[n]):
                raise ValueError(f"curve '{n}': {self.times[n].size} pillars for {len(self.used[n])} instruments")
        sizes = [self.times[n].size for n in self.names]
        self.offsets = dict(zip(self.names, np.cumsum([0] + sizes[:-1]).tolist()))
        self.sizes = dict(zip(self.names, sizes))
        self.y0 = np.concatenate([np.asarray(curves[n].log_dfs, np.float64) for n in self.names])
        self.fixed = {n: (np.asarray(c.times, np.float64), np.asarray(c.log_dfs, np.float64))
                      for n, c in known.items()}
        self.column = {}  # (curve, configured instrument index) -> column of dY/dq (None: dropped)
        for n in self.names:
            pos = {id(q): k for k, q in enumerate(self.used[n])}
            for i, q in enumerate(specs[n].quotes):
                self.column[(n, i)] = self.offsets[n] + pos[id(q)] if id(q) in pos else None
        J = np.asarray(jax.jit(jax.jacfwd(self.residuals))(self.y0))  # one program: eager ops would dispatch each
        self.jacobian = J  # dR/dY
        self.dy_dq = np.linalg.solve(J, np.eye(J.shape[0]))  # dR/dq = -I

    def residuals(self, y):
        """R(Y) + q = the implied quotes of every used instrument (jnp, (n,)), in the order of Y."""
        knots = dict(self.fixed)
        for n in self.names:
            o = self.offsets[n]
            knots[n] = (self.times[n], y[o:o + self.sizes[n]])
        curves = _JCurves(self.asof, knots)
        return jnp.stack([implied(q.helper, curves, q.fwd, q.disc) for n in self.names for q in self.used[n]])

    def direction(self, curve: str, i: int, size: float) -> dict:
        """{bootstrapped curve name: d ln P_pillars / de (n_c,)} of instrument i of ``curve`` moved by e * size."""
        col = self.column[(curve, int(i))]
        d = np.zeros(self.y0.size) if col is None else self.dy_dq[:, col] * size
        return {n: d[self.offsets[n]:self.offsets[n] + self.sizes[n]] for n in self.names}


def bootstrap_ift(cfg_market) -> BootstrapIFT | None:
    """``BootstrapIFT`` of a market config's ``curve_inputs.curves`` (None without them), bootstrapped here as
    ``build_market`` does (the zero-rate curves of ``market.curves`` fixed)."""
    from exposure.market.curve_inputs import input_specs
    from exposure.market.snapshot import build_curve, parse_date
    from exposure.market.bootstrap import bootstrap

    ci = getattr(cfg_market, "curve_inputs", None)
    if ci is None or not getattr(ci, "curves", None):
        return None
    asof = parse_date(cfg_market.asof, "market.asof")
    known = {c: build_curve(asof, cc, f"market.curves.{c}", c) for c, cc in (getattr(cfg_market, "curves", None)
                                                                            or {}).items()}
    specs, _, _ = input_specs(asof, ci)
    curves = bootstrap(asof, specs, known).curves
    return BootstrapIFT(asof, specs, curves, known)


INPUTS = ("market", "curve_inputs", "curves")
_CACHE: dict = {}  # id(market) -> (market, BootstrapIFT): one IFT per built market (the run's)


def input_ift(cfg, market) -> BootstrapIFT:
    """The run's ``BootstrapIFT`` (built once per built ``market``, found by identity)."""
    hit = _CACHE.get(id(market))
    if hit is None or hit[0] is not market:
        _CACHE.clear()
        hit = _CACHE[id(market)] = (market, bootstrap_ift(cfg.market))
    return hit[1]


def is_input(cfg, factor) -> bool:
    """A par quote of ``market.curve_inputs`` of a market without an ORE market file."""
    return factor.path[:3] == INPUTS and not getattr(cfg.market.curve_inputs, "ore_market", None)


def curve_moves(cfg, market, factor) -> dict:
    """{id(built curve): (curve, d ln P_pillars / de (n,))} of every bootstrapped curve object of ``market``
    (``market.curves`` and the indices' curves) for a par-quote factor (``is_input``); a curve object shared by
    a currency and an index appears once."""
    ift = input_ift(cfg, market)
    d = ift.direction(factor.path[3], int(factor.path[5]), factor.size)
    out = {}
    for cv in list(market.curves.values()) + [ic.curve for ic in market.indices.values()]:
        n = getattr(cv, "name", None)
        if n in d and np.asarray(cv.times).shape == ift.times[n].shape and np.array_equal(cv.times, ift.times[n]):
            out[id(cv)] = (cv, d[n])  # else not a bootstrapped curve (a zero-rate curve given directly)
    return out


def moved_input_market(cfg, market, factor, e: float, keep_credit: bool = False):
    """The built ``market`` with a par-quote factor (``market.curve_inputs``) moved by e units, or None for any
    other factor: every bootstrapped curve moved in place, ln P_c -> ln P_c + e dlnP_c/de (``curve_moves``),
    and what ``build_market`` builds off them again (the swaption vols and, unless ``keep_credit``, the credit
    curves, which read the base curve). Equal to building the market at the bumped quote to O(e^2)."""
    import dataclasses

    from exposure.market.curves import DiscountCurve
    from exposure.market.snapshot import _swaption_vols, build_credit

    if not is_input(cfg, factor):
        return None
    moves = curve_moves(cfg, market, factor)
    moved: dict = {}  # id(built curve) -> moved curve: objects shared by curves and indices stay shared

    def move(cv):
        if id(cv) not in moves:
            return cv
        if id(cv) not in moved:
            moved[id(cv)] = DiscountCurve(np.asarray(cv.times, np.float64),
                                          np.asarray(cv.log_dfs, np.float64) + e * moves[id(cv)][1], name=cv.name)
        return moved[id(cv)]

    curves = {c: move(cv) for c, cv in market.curves.items()}
    indices = {n: dataclasses.replace(ic, curve=move(ic.curve)) for n, ic in market.indices.items()}
    mc, base = cfg.market, market.base_currency
    swv = {c: _swaption_vols(market.asof, c, mc.swaption_vols[c], curves) for c in market.swaption_vols}
    credit = market.credit if keep_credit else {
        n: build_credit(market.asof, mc.credit[n], f"market.credit.{n}", n, curves[base]) for n in market.credit}
    return dataclasses.replace(market, curves=curves, indices=indices, swaption_vols=swv, credit=credit)
