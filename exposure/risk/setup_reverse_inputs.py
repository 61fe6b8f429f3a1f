"""Par-quote curves (``market.curve_inputs``) in the reverse set-up: the zero-pillar cotangents through the bootstrap.

A par quote q_k moves every bootstrapped curve object c of the market along dY_c/dq_k (``setup_inputs``: the joint
bootstrap by the implicit-function theorem, dY/dq = -(dR/dY)^-1 dR/dq = (dR/dY)^-1, one solve per market), so with
``ReverseSetup``'s one-time cotangents of the pillars Y = ln P (n_out rows)

    d measure_o / dq_k = g_q[o, k] size  +  <g_opt_o, dx_opt/dq_k>  +  remainder_o(k)

    g_q   = g_Y (dY/dq)                         (n_out, n_quotes): once per run, per factor a column
    g_Y[c] = gP[c]   (c a model currency's discount curve: theta, calibration by the IFT, linear twins, weights)
           + gA[c]   (the linear twins' cash-flow amounts reading c, folded: ``twin_reverse.TwinReverse``)

with size the factor's unit (1bp of the quote: 1e-4). The option twins take dx/dq_k along every moved curve slot
and the calibrated sigma's move (``calibrated_moves``, the IFT of the calibration), and the rest (batches without
a twin, amounts the dual build does not reproduce) is the central difference of their set-up at the moved markets
(``moved_input_market``, curves moved in place, e = +-step units), as ``ReverseSetup.remainder`` takes a zero
pillar. The sum equals the per-factor tangent (``stage.tangent``: the market moved in place by the same IFT,
every batch by central differences) to rounding and O(step^2) (tests/test_risk_reverse_inputs.py).
``ReverseSetup.per_factor_remainder`` does not apply here (the reference is ``stage.tangent``).
Not covered (per-factor tangent): models with credit intensities, a moved discount curve of a currency without a
model, a moved base curve without ``MarketTangents``. An ORE market file's curve quotes are covered: the stage
reads the file into ``market.curve_inputs`` first (``ore_quotes``).
"""

from __future__ import annotations

import numpy as np

from exposure.risk.setup_inputs import curve_moves, input_ift, is_input, moved_input_market


def input_covered(cfg, s, market_tangents, factor) -> bool:
    """Whether ``ReverseSetup`` takes the par-quote factor (module docstring)."""
    m, model = s.market, s.built.model
    if not is_input(cfg, factor) or model.credit:
        return False
    moved = {cid for cid, (_, d) in curve_moves(cfg, m, factor).items() if np.any(d)}
    for c, cv in m.curves.items():
        if id(cv) in moved and (c not in model.currencies or (c == m.base_currency and market_tangents is None)):
            return False
    return True


def _objects(market, ift) -> dict:
    """{id: (curve, name)} of the market's bootstrapped curve objects (``setup_inputs.curve_moves``' rule)."""
    out = {}
    for cv in list(market.curves.values()) + [ic.curve for ic in market.indices.values()]:
        n = getattr(cv, "name", None)
        if n in ift.times and np.asarray(cv.times).shape == ift.times[n].shape and np.array_equal(cv.times,
                                                                                                  ift.times[n]):
            out[id(cv)] = (cv, n)
    return out


class InputReverse:
    """g_q of one ``ReverseSetup`` (module docstring) and the per-factor sensitivity of a par quote."""

    def __init__(self, rev):
        self.rev = rev
        cfg, m = rev.cfg, rev.s.market
        self.ift = ift = input_ift(cfg, m)
        self.tr = tr = rev.twin_reverse()
        gY = np.zeros((rev.n_out, ift.y0.size))
        model_curve = {id(m.curves[c]): c for c in rev.model.currencies}
        for cid, (cv, n) in _objects(m, ift).items():
            sl = slice(ift.offsets[n], ift.offsets[n] + ift.sizes[n])
            if cid in model_curve:
                gY[:, sl] += rev.g_pillars[model_curve[cid]]
            if cid in tr.amounts:
                gY[:, sl] += tr.amounts[cid][1]
        self.g_q = gY @ ift.dy_dq  # the pillars' cotangent pulled back to the quotes: one product per run

    def sensitivity(self, factor) -> np.ndarray:
        """d measure_o / de (n_out,) of a covered par-quote factor."""
        from exposure.models.build import build_model
        from exposure.risk.setup_remainder import amounts_difference, prepare_difference
        from exposure.risk.setup_tangent import _calibrated_params, calibrated_moves
        from exposure.risk.twin_reverse import bootstrap_response, direction

        rev, tr, cfg, s = self.rev, self.tr, self.rev.cfg, self.rev.s
        col = self.ift.column[(factor.path[3], int(factor.path[5]))]
        out = np.zeros(rev.n_out) if col is None else self.g_q[:, col] * factor.size
        moves = {cid: d for cid, (_, d) in curve_moves(cfg, s.market, factor).items() if np.any(d)}
        if not moves:
            return out
        steps = (rev.step, -rev.step)
        markets = tuple(moved_input_market(cfg, s.market, factor, e, keep_credit=True) for e in steps)
        dsig = calibrated_moves(rev.ctx, factor, markets, rev.step)
        if tr.options:  # every curve slot an option twin reads that the quote moves, and sigma's move
            model = rev.model
            fx, eq = bootstrap_response(tr.vctx, model, dsig)
            dx = {}
            for i, tw in tr.options.items():
                dx[i] = direction(tw, s.market, None, dsig, fx, eq, model)
                dx[i]["curves"] = tuple(moves[id(c)] if id(c) in moves else np.zeros(np.shape(c.log_dfs))
                                        for c in tw.curves.objs)
            out = out + self._options(dx)
        for i in tr.unfolded:
            if any(cid in moves for cid in rev.twins[i].amount_curves):
                out = out + amounts_difference(rev, i, markets, factor)
        rest = [i for i in range(len(s.portfolio.batches)) if i not in rev.pt.twins]
        if rest:
            models = tuple(build_model(mk, cfg.model, calibrated=_calibrated_params(rev.ctx, cfg, dsig, e)).model
                           for mk, e in zip(markets, steps))
            out = out + prepare_difference(rev, rest, markets, models, factor)
        return out

    def _options(self, dx) -> np.ndarray:
        return self.tr.dx_part(dx)
