"""dS["pres"]/d(factor): the tangent of every batch's prepared pricing data along one curve pillar or FX spot.

    dS_pres = J_twin . dx      (linear batches and option batches with a twin: one jvp of all twins)
            = (prepare(m + h e) - prepare(m - h e)) / 2h     (every other batch, at the moved markets and models)

S["pres"] leaves keep their shapes (the batch's prepared arrays: (K, ...) per date, trades or netting sets).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.errors import ConfigError
from exposure.pricing.linear import LinearBatch
from exposure.risk.setup_pres import LinearPresTwin
from exposure.risk.twins import named_leaves, option_twins, sigma_moves


class PresTangents:
    """The tangent of S["pres"] for a factor ``setup_curves`` covers (a curve pillar, an FX spot): linear batches
    and the option batches with a twin (``risk.twins``: swaptions, FX options) by one jvp of all their twins (built and
    compiled on first use), every other batch by the central difference of its own prepare at the moved markets
    and models (no market build)."""

    def __init__(self, s, static, S=None):
        from exposure.risk.state import merge_pres, run_context, split_leaves

        self.s, self.static = s, static
        self.ctx = run_context(s, static, s.market, s.built.model)
        # S given: the run's own prepared data (``state.path_state``, the same context) split per batch, not a
        # second prepare of every batch (bench-1k: about as long as the run's own prepare)
        trees = merge_pres(static, S["pres"]) if S is not None else None
        self.trees = trees  # the option twins' structure checks read them too (``twins.option_twins``)
        self.base = []  # per batch: (float leaves, int leaves, key paths of the float leaves)
        for k, b in enumerate(s.portfolio.batches):
            pre = [b.prepare(self.ctx) if trees is None else trees[k]]
            floats, ints, _ = split_leaves(pre)
            paths = [jax.tree_util.keystr(p).split(".")[-1] for p, x in jax.tree_util.tree_flatten_with_path(pre)[0]
                     if np.issubdtype(np.asarray(x).dtype, np.floating)]
            self.base.append((floats, ints, paths))
        if sum(len(f) for f, _, _ in self.base) != static.n_float:
            raise ConfigError("risk", "the batches' prepared data do not split as the run's S['pres']")
        self.names = [p for _, _, paths in self.base for p in paths]  # the leaf name of every S["pres"] entry
        self.twins: dict = {}

    def _linear(self):
        """Every linear batch's twin and one compiled jvp of them all (one program: the compilation has a fixed
        cost per program, whatever its size)."""
        if not self.twins:
            self.twins = {i: LinearPresTwin(b, self.ctx) for i, b in enumerate(self.s.portfolio.batches)
                          if isinstance(b, LinearBatch)}
            self.twins.update(option_twins(self.s.portfolio.batches, self.ctx, self.trees))  # ``twins``: options
            f = lambda xs: {i: self.twins[i].leaves(x) for i, x in xs.items()}  # noqa: E731
            self._jvp = jax.jit(lambda xs, ds: jax.jvp(f, (xs,), (ds,)))
            self._x0 = {i: tw.x0() for i, tw in self.twins.items()}
        return self.twins

    def _direction(self, tw, factor, markets, moves: dict, step: float, models=None) -> dict:
        """dx/de of one twin: the pillar move of its currencies' curves, dsigma/de, the amounts' difference."""
        from exposure.risk.setup_curves import CURVES, moved_curve_of, pillar_direction

        if not isinstance(tw, LinearPresTwin):
            return tw.direction(self.ctx.market, factor, moves, models, step)
        x0, ccys, h2 = tw.x0(), tw.cf.currencies, 2.0 * step
        moved = moved_curve_of(self.ctx.market, factor)
        if moved is None or id(moved) not in tw.amount_curves:  # the amounts read no curve the factor moves
            cu = cd = tw.cf
        else:
            cu, cd = (tw.batch.cashflows(m) for m in markets)
        if not all(np.array_equal(getattr(cu, k), getattr(cd, k)) and np.array_equal(getattr(cu, k), getattr(tw.cf, k))
                   for k in ("f_trade", "f_day", "f_dead", "f_num", "f_den", "c_trade", "c_fix", "c_pay")):
            raise ConfigError("risk", f"moving {factor.label()} changes the cash-flow tables of {tw.batch!r}")
        dln = tuple(jnp.asarray(pillar_direction(self.ctx.model.curves[self.ctx.ccy_index(c)], factor))
                    if factor.path[:2] == CURVES and factor.path[2] == c else jnp.zeros_like(x0["ln_df"][j])
                    for j, c in enumerate(ccys))
        dsig = tuple(jnp.asarray(moves[c]) if c in moves else jnp.zeros_like(x0["sigma"][j])
                     for j, c in enumerate(ccys))
        return {"ln_df": dln, "sigma": dsig, "amt": jnp.asarray((cu.f_amount - cd.f_amount) / h2),
                "cw": jnp.asarray((cu.c_weight - cd.c_weight) / h2)}

    def __call__(self, factor, markets, models, moves: dict, step: float) -> list:
        """d pres / de: the float leaves of every batch in S["pres"] order. markets, models: at +-step;
        moves {ccy: dsigma/de} of the calibrated currencies (``setup_tangent.calibrated_moves``)."""
        from exposure.risk.state import batch_difference

        twins = self._linear()
        moves = sigma_moves(moves, models, step)  # ``twins``: a fixed sigma piece's move as well
        dx = {i: self._direction(tw, factor, markets, moves, step, models) for i, tw in twins.items()}
        values, lin = jax.tree_util.tree_map(np.asarray, self._jvp(self._x0, dx)) if twins else ({}, {})
        self.values = values  # the twins' leaves at the base (equal to prepare's: tests/test_risk_setup_model.py)
        out = []
        for i, b in enumerate(self.s.portfolio.batches):
            floats, ints, paths = self.base[i]
            if i in lin:
                moved = lin[i] if isinstance(twins[i], LinearPresTwin) else named_leaves(lin[i])
                out += [moved[p] if p in moved else np.zeros_like(f) for p, f in zip(paths, floats)]
                continue
            out += batch_difference(b, ints, markets, models, self.s, self.static, factor, step)
        return out
