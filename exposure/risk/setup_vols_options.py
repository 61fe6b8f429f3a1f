"""FX / equity option twins along a vol or correlation factor's move: cotangents once, a dot product per factor.

For a factor e that moves theta by th (``setup_vols.theta_direction``: an FX / equity vol pillar, a correlation)
the FX and equity option batches' pricing data are their twins' leaves at x = (curves, sigma, FX / equity vol
pieces, R, w_mkt) (``twin_options``, R and w_mkt as optional inputs), so

    <G_pres, dpres/de> = sum_twins <g_x, dx/de>,     g_x = (d leaves / dx)' G_pres[leaves]       (once per run)
    dx/de = (0, dsigma/de, th's FX / equity vol pieces, th["R"], dw_mkt/de)

with dw_mkt/de the exact tangent of the market's total variance (``opt_fx.pair_variance``, the equity vol curve)
along the moved vol pillar and correlation (``market_variance``: the interpolated pillar variances' move, a cross
pair's covariance by the chain rule through its vol pieces), NumPy on the option expiries only, no step (the
central difference it replaced was off by O(h^2) for a cross pair's covariance). g_x comes from one
backward pass per ROWS output rows (``twin_reverse.twin_cotangents``, kept compiled across runs); it replaces
the central differences of those batches' ``prepare`` at the moved models (``state.batch_difference``: two NumPy
prepares per batch and factor; bench-1k: 40 calls). Measured on bench-1k (same process, loaded): g_x 2.5 s
against 3.5 s of central differences; a jvp of the twins per factor cost about as much as the differences. The
twins hold the mean reversions fixed: a mean reversion's option batches take their exact NumPy tangent
(``setup_pres_options``: caps / floors, FX and equity options; swaptions keep the central differences).
"""

from __future__ import annotations

import dataclasses

import numpy as np



class Extended:
    """A twin seen with x0 extended by R and w_mkt (``twin_options``' optional inputs)."""

    def __init__(self, tw, R0):
        import jax.numpy as jnp

        self.tw, self._x0 = tw, dict(tw.x0(), R=jnp.asarray(R0), wmkt=jnp.asarray(tw.w_mkt))

    def x0(self):
        return self._x0

    def leaves(self, x):
        return self.tw.leaves(x)


def extended_twins(rev) -> dict:
    """{batch index: ``Extended``} of the run's FX / equity option twins."""
    from exposure.risk.twin_options import EquityOptionPresTwin, FxOptionPresTwin

    R0 = np.asarray(rev.model.correlation, np.float64)
    return {i: Extended(tw, R0) for i, tw in rev.pt.twins.items()
            if i not in rev.twins and isinstance(tw, (FxOptionPresTwin, EquityOptionPresTwin))}


def option_directions(rev, twins: dict, factor, th: dict, dsig: dict) -> dict:
    """{batch index: dx/de} (NumPy, the extended x0's structure) of the FX / equity option twins ``twins`` (their
    underlying twins) along the factor's theta move th (module docstring)."""
    from exposure.pricing.opt_common import variance_between_np
    from exposure.pricing.opt_fx import pair_variance
    from exposure.risk import setup_vols as sv
    from exposure.risk.market_variance import market_variance_tangent, pillar_moves
    from exposure.risk.twin_options import FxOptionPresTwin
    from exposure.risk.twin_reverse import direction

    model, market, h = rev.model, rev.s.market, rev.step
    fx, eq = list(th["fx_vol"]), list(th["eq_vol"])
    moves, dR = pillar_moves(market, factor), np.asarray(th["R"], np.float64)
    out = {}
    for i, tw in twins.items():
        dx = direction(tw, market, None, dsig, fx, eq, model)
        fx_pair = isinstance(tw, FxOptionPresTwin)
        # an FX option batch: each pair's trades; an equity option batch: each underlying's
        groups = ([(p, np.flatnonzero(tw.batch.pair == g)) for g, p in enumerate(tw.batch.pairs)] if fx_pair
                  else [(nm, tw.batch.name_columns(e)) for e, nm in enumerate(tw.batch.names)])
        dw = np.zeros(tw.T.size)
        for under, cols in groups:
            T = tw.T[cols]
            d_w = market_variance_tangent(market, model, under, T, moves, dR)
            if d_w is None:  # a moving vol piece at 0 (no derivative): the central difference (module docstring)
                mk = tuple(sv.moved_market(market, factor, e) for e in (h, -h))
                md = tuple(dataclasses.replace(model, correlation=np.asarray(model.correlation) + e * dR)
                           for e in (h, -h))
                w = [pair_variance(m, d, *under, 0.0, T) if fx_pair else
                     variance_between_np(m.equities[under].vol, np.zeros_like(T), T) for m, d in zip(mk, md)]
                d_w = (w[0] - w[1]) / (2.0 * h)
            dw[cols] = d_w
        dx["R"], dx["wmkt"] = dR, dw
        out[i] = dx
    return out


class OptionVolCotangents:
    """The FX / equity option part of a vol or correlation factor (module docstring) against a ``ReverseSetup``'s
    G: g_x = (d leaves / dx)' G_pres of the extended FX / equity option twins once (``twin_reverse.
    twin_cotangents``: one backward pass per ROWS output rows, kept compiled across runs), then ``part`` is a dot
    product per factor. (A jvp per factor cost more: bench-1k's two FX option twins' forward program took about as
    long as the central differences of their NumPy prepare.)"""

    def __init__(self, rev):
        from exposure.risk.twin_reverse import twin_cotangents

        self.rev = rev
        ext = extended_twins(rev)
        self.twins = {i: e.tw for i, e in ext.items()}
        self.g = twin_cotangents(rev, ext, "ad_option_vol_cotangents")

    def part(self, factor, th: dict, dsig: dict) -> np.ndarray:
        """sum over the FX / equity option twins of <g_x, dx/de> (n_out,)."""
        from exposure.risk.twin_reverse import _dot

        out = np.zeros(self.rev.n_out)
        for i, dx in option_directions(self.rev, self.twins, factor, th, dsig).items():
            out += _dot(self.g[i], dx)
        return out


def option_vol_cotangents(rev) -> OptionVolCotangents:
    """The run's ``OptionVolCotangents`` (built on first use, held by the ``ReverseSetup``)."""
    if "_option_vol_cotangents" not in rev.__dict__:
        rev._option_vol_cotangents = OptionVolCotangents(rev)
    return rev._option_vol_cotangents
