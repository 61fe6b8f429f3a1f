"""Every twin's pricing data in reverse: one vjp of the option twins, the cash-flow amounts' Jacobian, once per run.

For a factor e whose move of the pricing data is the twins' inputs x (``setup_pres``, ``twins``),

    <G_pres, dpres/de> = sum_twins <g_x, dx/de>,     g_x = (dleaves/dx)' G_pres[leaves]          (once per run)

and dx/de is small and cheap per factor:

    curves   d ln P / de of the moved pillar (``twin_common.CurveSet.direction``)
    sigma    dsigma_c/de: a calibrated currency's by the implicit-function theorem (``calibrated_moves``), a fixed
             piece's own move (HWSigma)
    fx/eq vols  the bootstrap's response to dsigma by the implicit-function theorem (``asset_vol.AssetVol``:
             dpieces = -J^-1 dv/dp . dp), not the central difference of two model builds; for a vol/model factor
             theta's own move (``setup_vols.theta_direction``)
    amt, cw  a linear twin's cash-flow amounts: d a / d lnP once per run (``setup_amounts``), folded with g_x into
             gA_c = g_amt . da/dlnP_c + g_cw . dw/dlnP_c (n_out, n_pillars) per curve object c: a dot product

``TwinReverse`` holds the option twins' g_x (``ReverseSetup`` holds the linear twins') and the folded amounts;
``VolReverse`` takes FX/equity vol pillars and model parameters (``setup_vols``) with the model arrays by the run's
compiled jvp (as the per-factor tangent) and the pricing data by these dot products where only Hull-White sigma
moves, the FX / equity option batches of a vol or correlation factor by their extended twins' cotangents
(``setup_vols_options``), by the batches' own central differences otherwise. The per-factor forms (``ReverseSetup.
per_factor_remainder``, ``stage.tangent``) stay the reference (tests/test_risk_twin_reverse.py).
"""

from __future__ import annotations

import jax
import numpy as np

from exposure.risk.kept import digest, kept, shapes
from exposure.risk.setup_pres import LinearPresTwin
from exposure.risk.twins import named_leaves

ROWS = 8  # cotangent rows per backward pass (memory: one group's cotangents of the option twins' grids)
MODEL_KEYS = ("Phi", "mu", "L", "y0", "log_num", "bridge")


def pres_rows(rev, k: int) -> np.ndarray:
    """G's dense rows (n_out, ...) of S["pres"][k] (``compact.CompactPres``; contractions use its ``dot``)."""
    return np.asarray(rev._G_pres[k])


def _dot(g, d) -> np.ndarray:
    """sum_leaves <g_leaf (n_out, ...), d_leaf (...)>: (n_out,)."""
    gl, dl = jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(d)
    out = np.zeros(np.shape(gl[0])[0]) if gl else 0.0
    for a, b in zip(gl, dl):
        b = np.asarray(b, np.float64).reshape(-1)
        if b.size and np.any(b):
            out = out + np.asarray(a, np.float64).reshape(a.shape[0], -1) @ b
    return out


def twin_cotangents(rev, twins: dict, kind: str | None = None) -> dict:
    """{batch index: g_x (x's pytree, leading axis n_out)} of ``twins`` by one vjp of their leaves (rows in
    groups of ROWS); ``kind``: keep the program compiled across runs under that name (``kept``, the twins by
    content). A twin's rows whose cotangent is 0 on all its leaves (the netting sets that hold none of its trades:
    ``compact``) have g_x = 0 exactly and take no backward pass: each twin runs over its own live rows."""
    if not twins:
        return {}
    f = lambda xs: {i: named_leaves(twins[i].leaves(x)) for i, x in xs.items()}  # noqa: E731
    x0 = {i: tw.x0() for i, tw in twins.items()}
    key = None if kind is None else digest(twins)
    cot, live = {}, {}
    for i, names in (jax.eval_shape(f, x0) if key is None else shapes(f, kind + "_shapes", key, x0)).items():
        paths = rev.pt.base[i][2]
        cot[i] = {}
        for name in names:
            pos = [k for k, p in enumerate(paths) if p == name]
            if len(pos) != 1:
                raise ValueError(f"twin leaf '{name}' found {len(pos)} times in batch {i}'s prepared data")
            cot[i][name] = pres_rows(rev, rev.offsets[i] + pos[0])
        nz = [np.any(a.reshape(rev.n_out, -1) != 0, axis=1) for a in cot[i].values()]
        live[i] = np.flatnonzero(np.logical_or.reduce(nz)) if nz else np.zeros(0, np.int64)
    n = rev.n_out
    run = [i for i in twins if live[i].size]
    groups = {i: -(-live[i].size // min(ROWS, live[i].size)) for i in run}

    def grouped(i, a):  # (groups, B, ...): the live rows, padded with zero rows
        B, a = min(ROWS, live[i].size), a[live[i]]
        pad = np.zeros((groups[i] * B - len(a),) + a.shape[1:])
        return np.concatenate([a, pad]).reshape((groups[i], B) + a.shape[1:])

    c = {i: {name: grouped(i, a) for name, a in cot[i].items()} for i in run}

    def rows(xs, c):  # per twin: its own forward pass and rows (another twin's rows would be zeros to it)
        out = {}
        for i, ci in c.items():
            _, vjp = jax.vjp(lambda x, i=i: f({i: x})[i], xs[i])
            out[i] = jax.lax.map(jax.vmap(lambda r, vjp=vjp: vjp(r)[0]), ci)
        return out

    g = kept(jax.jit(rows), kind, key, ({i: x0[i] for i in run}, c)) if run else {}

    def place(i, x, a=None):  # (n_out, *x's shape): the live rows' g_x, 0 elsewhere
        full = np.zeros((n,) + np.shape(x))
        if a is not None:
            full[live[i]] = np.asarray(a).reshape((-1,) + np.shape(x))[: live[i].size]
        return full

    return {i: jax.tree_util.tree_map(lambda x, *a, i=i: place(i, x, *a), x0[i], *([g[i]] if i in g else []))
            for i in twins}


def bootstrap_response(vctx, model, dsig: dict) -> tuple:
    """(fx_vol, eq_vol) lists of d pieces (model.fx_vol / equity_vol layout) along {ccy: dsigma} of the Hull-White
    pieces: the FX/equity vol bootstraps by the implicit-function theorem (``asset_vol.AssetVol``)."""
    fx = [np.zeros(np.size(v.values)) for v in model.fx_vol]
    eq = [np.zeros(np.size(v.values)) for v in model.equity_vol]
    if not dsig:
        return fx, eq
    ccys = model.currencies
    dp = {"a": np.zeros(len(ccys)), "R": np.zeros(np.shape(model.correlation)),  # NumPy: no eager jnp op compiles
          "ir_vol": tuple(np.asarray(dsig[c], np.float64) if c in dsig else np.zeros(np.size(h.vol_values))
                          for c, h in zip(ccys, model.hw))}
    dv = vctx.dv_dp(dp)
    for key, (av, tk, pos) in vctx.assets.items():
        if key in dv:
            (fx if tk == "fx_vol" else eq)[pos] = av.pieces_tangent(np.zeros_like(av.w), vctx.p0, dv[key])
    return fx, eq


def _curves_direction(cs, market, factor) -> tuple:
    """``twin_common.CurveSet.direction`` in NumPy (a jnp op per new shape would compile a program per factor)."""
    from exposure.risk.setup_curves import CURVES, moved_curve_of, pillar_direction

    moved = None if factor is None else moved_curve_of(market, factor)
    out = []
    for c, ccy in zip(cs.objs, cs.model_of):
        hit = moved is not None and (c is moved or (ccy is not None and factor.path[:2] == CURVES
                                                    and factor.path[2] == ccy))
        out.append(pillar_direction(c, factor) if hit else np.zeros(np.shape(c.log_dfs)))
    return tuple(out)


def direction(tw, market, factor, dsig: dict, fx: list, eq: list, model) -> dict:
    """dx/de of one twin (its x0's structure, NumPy): the factor's pillar move (factor None: no curve moves),
    {ccy: dsigma/de}, the FX/equity vol pieces' moves; a linear twin's amounts are left at 0
    (``TwinReverse.amounts``)."""
    from exposure.risk.twin_options import EquityOptionPresTwin, FxOptionPresTwin

    sig = lambda c, like: np.asarray(dsig[c], np.float64) if c in dsig else np.zeros(np.shape(like))  # noqa: E731
    if isinstance(tw, LinearPresTwin):
        return {"ln_df": tuple(np.zeros(np.shape(r[3])) for r in tw.rates),
                "sigma": tuple(sig(c, r[4]) for c, r in zip(tw.cf.currencies, tw.rates)),
                "amt": np.zeros(np.shape(tw.cf.f_amount)), "cw": np.zeros(np.shape(tw.cf.c_weight))}
    curves = _curves_direction(tw.curves, market, factor)
    if isinstance(tw, FxOptionPresTwin):
        return {"curves": curves, "sigma": tuple(sig(r.ccy, r.sigma0) for r in tw.rates),
                "fxvol": tuple(np.asarray(fx[model.currencies.index(c) - 1]) for c in tw.fx_ccy)}
    if isinstance(tw, EquityOptionPresTwin):
        return {"curves": curves, "sigma": tuple(sig(r.ccy, r.sigma0) for r in tw.rates),
                "eqvol": tuple(np.asarray(eq[e]) for e in tw.e)}
    return {"curves": curves, "sigma": (sig(tw.rt.ccy, tw.rt.sigma0),)}


class TwinReverse:
    """The option twins' g_x and the linear twins' folded amount cotangents of one ``ReverseSetup`` (module
    docstring), computed on first use."""

    # The form of the option twins' part (``twin_basis``): "auto" (default) takes the cheapest of "jvp" (one forward
    # program of the option twins alone, one call per factor along dx/de), "basis" (their g_x once by forward mode
    # along x's basis, N = max n_x directions) and "vjp" (g_x once by one backward pass per output row,
    # ``setup_vols_reverse.option_cotangents``, shared with the vol and correlation factors), by the counts of
    # factors (``ReverseSetup.option_factors``), inputs and output rows. Measured (benchmarks/RESULTS.md): on
    # bench-1k (64 x 40, 50 rows, 97 factors, N = 36) "basis"; "vjp" cost more than "jvp" there.
    options_mode = "auto"
    share_vol_cotangents = True  # "basis": ``twin_basis.vol_shared`` (False: every twin through the basis program)

    def __init__(self, rev):
        from exposure.risk.setup_amounts import amount_jacobian
        from exposure.risk.setup_vols import vol_context
        from exposure.risk import twin_basis

        self.rev = rev
        self.options = {i: tw for i, tw in rev.pt.twins.items() if i not in rev.twins}
        self.mode = self.options_mode
        if self.mode == "auto":
            n_x = twin_basis.sizes({i: tw.x0() for i, tw in self.options.items()})
            self.mode = twin_basis.choose(max(n_x.values(), default=0), rev.n_out, getattr(rev, "option_factors", None))
        if self.mode == "vjp":  # shared with the vol / correlation factors (their x holds R and w_mkt too)
            from exposure.risk.setup_vols_reverse import option_cotangents

            self.g_opt = option_cotangents(rev).g
        elif self.mode == "basis":  # the FX / equity twins' g_i from the vol factors' pass where it runs
            self.g_flat = twin_basis.vol_shared(rev, self.options) if self.share_vol_cotangents else {}
            self.g_flat.update(twin_basis.basis_cotangents(
                rev, {i: tw for i, tw in self.options.items() if i not in self.g_flat}))
        else:
            self._jvp_setup()
        self.vctx = vol_context(rev.cfg, rev.s, rev.static, rev.ctx.tangent.theta)
        self.amounts, self.unfolded = {}, []  # {curve id: (curve, gA (n_out, n))}; twins left to differences
        for i, tw in rev.twins.items():
            if not tw.amount_curves:
                continue
            made = getattr(rev, "amount_jacobians", {})
            jac = made[i] if i in made else amount_jacobian(tw.batch, rev.s.market, tw.cf)
            if jac is None:
                self.unfolded.append(i)
                continue
            g = rev.g_x[i]
            for cid, (curve, dA, dW) in jac.items():
                gA = np.asarray(g["amt"]).reshape(rev.n_out, -1) @ dA + np.asarray(g["cw"]).reshape(rev.n_out, -1) @ dW
                old = self.amounts.get(cid, (curve, 0.0))[1]
                self.amounts[cid] = (curve, old + gA)

    def amounts_part(self, factor) -> np.ndarray:
        """<g_amt, da/de> + <g_cw, dw/de> of every folded linear twin for a curve-pillar factor."""
        from exposure.risk.setup_curves import moved_curve_of, pillar_direction

        moved = moved_curve_of(self.rev.s.market, factor)
        if moved is None or id(moved) not in self.amounts:
            return np.zeros(self.rev.n_out)
        curve, gA = self.amounts[id(moved)]
        return gA @ pillar_direction(curve, factor)

    def options_part(self, factor, dsig: dict, fx=None, eq=None) -> np.ndarray:
        """sum over the option twins of <g_x, dx/de> (``direction``); fx, eq: the vol pieces' moves (None: the
        bootstraps' response to dsig)."""
        model = self.rev.model
        if fx is None:
            fx, eq = bootstrap_response(self.vctx, model, dsig)
        dx = {i: direction(tw, self.rev.s.market, factor, dsig, fx, eq, model) for i, tw in self.options.items()}
        return self.dx_part(dx)

    def dx_part(self, dx) -> np.ndarray:
        """sum over the option twins of <g_x, dx[i]> for their directions dx {twin: x0-shaped NumPy tree}."""
        from exposure.risk.twin_basis import flat

        if self.mode == "jvp":
            return self._jvp_part(dx)
        out = np.zeros(self.rev.n_out)
        for i in self.options:
            if self.mode == "basis":
                out += self.g_flat[i] @ flat(dx[i])
            else:
                out += _dot({k: self.g_opt[i][k] for k in dx[i]}, dx[i])
        return out

    def _jvp_setup(self) -> None:
        f = lambda xs: {i: named_leaves(self.options[i].leaves(x)) for i, x in xs.items()}  # noqa: E731
        self._x0 = {i: tw.x0() for i, tw in self.options.items()}
        self._fwd = jax.jit(lambda xs, ds: jax.jvp(f, (xs,), (ds,))[1])  # directions are arguments: one program
        self._key = digest(self.options)  # ``kept``: the option twins by content
        self._pos = None  # the leaves' places in S["pres"], from the first call's output (no separate trace)

    def _jvp_part(self, dx) -> np.ndarray:
        out = np.zeros(self.rev.n_out)
        if not self.options:
            return out
        lin = kept(self._fwd, "ad_option_twins_jvp", self._key, (self._x0, dx))
        if self._pos is None:
            self._pos = {i: {name: self.rev.offsets[i] + self.rev.pt.base[i][2].index(name) for name in leaves}
                         for i, leaves in lin.items()}
        for i, leaves in lin.items():
            for name, d in leaves.items():
                out += self.rev._G_pres.dot(self._pos[i][name], np.asarray(d, np.float64))
        return out

    def linear_sigma_part(self, dsig: dict) -> np.ndarray:
        """sum over the linear twins of <g_x["sigma"], dsigma/de>."""
        out = np.zeros(self.rev.n_out)
        for i, tw in self.rev.twins.items():
            for j, c in enumerate(tw.cf.currencies):
                if c in dsig:
                    out += np.asarray(self.rev.g_x[i]["sigma"][j]).reshape(self.rev.n_out, -1) @ np.asarray(dsig[c])
        return out


class VolReverse:
    """FX/equity vol pillars and model parameters (``setup_vols.covered``) against one run's G: the model arrays
    by the run's compiled jvp along theta's move (``setup_vols.theta_direction``, as the per-factor tangent), the
    twins' pricing data by dot products with their one-time cotangents where only Hull-White sigma moves
    (SwaptionVol, HWSigma: the FX/equity vol pieces' response is theta's own), the FX / equity option batches of a
    vol or correlation factor likewise (``setup_vols_options``), every other batch that reads what moved by its
    central difference at the first-order moved model (``setup_vols.pres_tangent``'s). The XVA weights read no vol
    or model parameter."""

    def __init__(self, rev, G):
        self.rev = rev
        self.G_model = {k: G[k] for k in MODEL_KEYS if k in G}
        self._dirs = {}  # factor -> (vctx, th, dsig, moved) or None, from ``prefetch``

    def directions(self, factors) -> list:
        """Keep every factor's direction (None: one ``sensitivity`` does not take); their dthetas (NumPy:
        ``ModelTangent`` reads them as NumPy and keys them by their bytes, and a jnp copy is a transfer per leaf)."""
        from exposure.risk.setup_vols_reverse import factor_direction

        self._dirs.update({f: factor_direction(self.rev, f) for f in factors if f not in self._dirs})
        return [d[1] for d in self._dirs.values() if d is not None]

    def prefetch(self, factors) -> None:
        """Every factor's direction, and their model tangents in one batched call (``ModelTangent.prefetch``)."""
        self.rev.ctx.tangent.prefetch(self.directions(factors))

    def taken(self, factor) -> bool:  # a factor of ``directions`` that ``sensitivity`` takes
        return self._dirs.get(factor) is not None

    def sensitivity(self, factor) -> np.ndarray | None:
        """d measure_o / de (n_out,), or None for a factor ``setup_vols.in_place_tangent`` does not take."""
        from exposure.risk.reverse import contract
        from exposure.risk.setup_vols_reverse import factor_direction, pres_part

        d = self._dirs[factor] if factor in self._dirs else factor_direction(self.rev, factor)
        if d is None:
            return None
        vctx, th, dsig, moved = d
        dS = self.rev.ctx.tangent(th)
        out = contract(self.G_model, {k: dS[k] for k in self.G_model})
        return out + pres_part(self.rev, vctx, factor, th, dsig, moved)
