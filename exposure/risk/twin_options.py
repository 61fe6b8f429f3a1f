"""The prepared pricing data of an FX option batch (``pricing.opt_fx.FxOptionBatch.prepare``; equity options at the
end: ``EquityOptionPresTwin``) as a jnp function of
the two currencies' curves and Hull-White sigma pieces and the model's lognormal FX vols:

    lnAf = lnA_f(t_k, T),  lnAd = lnA_d(t_k, T) + ln K                          (``twin_common.RateTwin``)
    sd   = sqrt(v_model(t_k, T) + w_mkt(T) - v_model(0, T)) on the live cells,
    v_model(t, T) = int_t^T l(u,T)' R l(u,T) du                                  (``models.forward_variance``)
    l(u, T) = sum_FX s_a sigma_a(u) e_a + sum_c s_c B_c(T - u) sigma_c(u) e_{IR:c}

x = {"curves": the model curves' ln P pillars, "sigma": the Hull-White sigma pieces of every currency of the batch's
pairs, "fxvol": the values of the model's piecewise FX vol of each non-base currency they read}, each pair's columns
from its own currencies' entries. The quadrature (knots, Gauss-Legendre nodes,
which vol piece each node reads) and the mean reversions stay the base run's; the correlation R and the market's
total variance w_mkt (``pair_variance``, the market's FX vol curves: no curve pillar moves them) too, unless x
holds them ("R" (m, m), "wmkt" (n,): the vol and model factors in reverse, ``setup_vols_reverse``).

Moved leaves: lnAf, lnAd, sd (columns in the batch's order, padded as prepare pads). Bf, Bd, wgt, w, n_alive do
not move. The FX spot is not read by prepare (the path's FX state carries it): an FX spot's tangent is 0.
direction(): the pillar move, dsigma/de of a calibrated currency, and the FX vols' move as the central
difference of the model builds at +-h (``models`` of ``setup_tangent``: the vol bootstrap reads the rate vols).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from exposure.models.forward_variance import _GL_W, _GL_X, _fixed_knots, _hw_B, fx_log_forward
from exposure.pricing.opt_fx import FX_CHUNK, FxOptionBatch, pair_variance
from exposure.pricing.opt_common import TIME_EPS
from exposure.risk.twin_common import CurveSet, RateTwin, safe_sqrt


class _VarianceTwin:
    """v_model(t, T) of ``forward_variance`` on fixed (t, T) with the vols as jnp inputs: every node's loading
    is a static coefficient times one vol value (a gather)."""

    def __init__(self, model, lf, t, T):
        t, T = np.broadcast_arrays(np.asarray(t, np.float64), np.asarray(T, np.float64))
        t = np.maximum(t, 0.0)
        Te = np.maximum(T, t)
        self.shape, self.R = Te.shape, np.asarray(model.correlation)
        knots = _fixed_knots(model, lf, float(Te.max()))
        Tu, inv = np.unique(Te, return_inverse=True)
        rows = inv.reshape(-1)
        a, b = knots[:-1], knots[1:]
        half = 0.5 * (b - a)
        u = ((a + b)[:, None] * 0.5 + half[:, None] * _GL_X[None, :]).ravel()
        self.model, self.lf, self.n_seg, self.seg_half = model, lf, a.size, half
        self.full = self._terms(np.broadcast_to(u[None, :], (Tu.size, u.size)), Tu[:, None])
        self.parts = []
        for x in (Te.reshape(-1), t.reshape(-1)):
            k = np.searchsorted(knots, x, side="right") - 1
            ph = 0.5 * (x - knots[k])
            pu = 0.5 * (knots[k] + x)[:, None] + ph[:, None] * _GL_X[None, :]
            self.parts.append((rows, k, ph, self._terms(pu, Tu[rows][:, None])))

    def _terms(self, u, T):
        """[(factor, sign x static coefficient (shape of u), which vol ('fx', j) / ('ir', c), piece index)]."""
        out = []
        for j, (f, pv, s) in enumerate(self.lf.assets):
            idx = np.searchsorted(np.asarray(pv.times), u, side="right")
            out.append((f, s * np.ones(u.shape), ("asset", j), idx))
        for c, s in self.lf.bonds:
            pv = self.model.ir_vols[c]
            idx = np.searchsorted(np.asarray(pv.times), u, side="right")
            out.append((c, s * _hw_B(float(self.model.hw[c].mean_reversion), T - u), ("ir", c), idx))
        return out

    def _integrand(self, terms, vols, R):
        m = self.R.shape[0]
        L = jnp.zeros(terms[0][1].shape + (m,))
        for f, coef, key, idx in terms:
            L = L.at[..., f].add(coef * vols[key][idx])
        return jnp.einsum("...i,ij,...j->...", L, R, L)

    def _diff(self, vols, R):
        """v_model(0, T) - v_model(0, t) per (t, T) cell (flat), before the clamp at 0."""
        vals = self._integrand(self.full, vols, R).reshape(-1, self.n_seg, _GL_X.size)
        seg = jnp.einsum("rsg,g->rs", vals, _GL_W) * self.seg_half[None, :]
        C = jnp.concatenate([jnp.zeros((seg.shape[0], 1)), jnp.cumsum(seg, axis=1)], axis=1)
        up = [C[rows, k] + jnp.einsum("ng,g->n", self._integrand(terms, vols, R), _GL_W) * ph
              for rows, k, ph, terms in self.parts]
        return up[0] - up[1]

    def _node_jacobian(self, terms, vols, R) -> tuple:
        """d integrand / d vols[key] (nodes, pieces) per key and d integrand / dR (nodes, m, m) at the nodes of
        ``terms``: the integrand is L' R L with L linear in the vols, so d/dvol_p = sum of the terms reading piece p
        of coef ((R + R') L)_f, d/dR_ij = L_i L_j."""
        m = self.R.shape[0]
        L = jnp.zeros(terms[0][1].shape + (m,))
        for f, coef, key, idx in terms:
            L = L.at[..., f].add(coef * vols[key][idx])
        RL = jnp.einsum("...j,ij->...i", L, R) + jnp.einsum("...i,ij->...j", L, R)
        out = {}
        for f, coef, key, idx in terms:
            P = vols[key].shape[0]
            hot = jnp.asarray(np.clip(idx, 0, P - 1))[..., None] == jnp.arange(P)  # vols[key][idx] clamps too
            out[key] = out.get(key, 0.0) + jnp.where(hot, (coef * RL[..., f])[..., None], 0.0)
        return out, L[..., :, None] * L[..., None, :]

    def _jacobian(self, vols, R) -> tuple:
        """d _diff / d vols[key] (cells, pieces) per key and d _diff / dR (cells, m, m): the quadrature of
        ``_node_jacobian`` as ``_diff`` sums the integrand."""
        dv, dR = self._node_jacobian(self.full, vols, R)
        dv["R"] = dR
        C = {}
        for key, d in dv.items():
            d = d.reshape((-1, self.n_seg, _GL_X.size) + d.shape[2:])
            seg = jnp.einsum("rsg...,g->rs...", d, _GL_W) * self.seg_half.reshape((1, -1) + (1,) * (d.ndim - 3))
            C[key] = jnp.concatenate([jnp.zeros((seg.shape[0], 1) + seg.shape[2:]), jnp.cumsum(seg, axis=1)], axis=1)
        up = []
        for rows, k, ph, terms in self.parts:
            dv, dR = self._node_jacobian(terms, vols, R)
            dv["R"] = dR
            up.append({key: C[key][rows, k] + jnp.einsum("ng...,g->n...", d, _GL_W) * ph.reshape((-1,) + (1,) * (
                d.ndim - 2)) for key, d in dv.items()})
        return {key: up[0][key] - up[1][key] for key in C}

    def __call__(self, vols, R=None):
        """v_model on the fixed (t, T); R: the correlation (None: the base model's).

        Its derivative is the Jacobian's (``_jacobian``, custom_jvp): per cell a row of pieces and R's entries,
        computed once per linearisation, so that a backward pass per output row (``twin_reverse.
        twin_cotangents``) is a product with it instead of a pass through every quadrature node."""
        R = self.R if R is None else R

        @jax.custom_jvp
        def diff(vols, R):
            return self._diff(vols, R)

        @diff.defjvp
        def _(primals, tangents):
            (vols, R), (dvols, dR) = primals, tangents
            J = self._jacobian(vols, R)
            d = jnp.einsum("nij,ij->n", J["R"], dR)
            for key in vols:
                if key in J:
                    d = d + J[key] @ dvols[key]
            return self._diff(vols, R), d

        return jnp.maximum(diff(vols, jnp.asarray(R, jnp.float64)), 0.0).reshape(self.shape)


class _PairTwin:
    """One currency pair's columns of an FX option batch: its variance twins on (t_k, T) and (0, T) of its trades
    in column order, which x["fxvol"] / x["sigma"] entries its vol pieces read."""

    def __init__(self, batch, ctx, g: int, t, fx_ccy: list):
        model = ctx.model
        f, d = batch.pairs[g]
        self.cols = batch.pair_columns(g)  # its trades, in column order
        T = np.array([batch.specs[i].expiry_time for i in self.cols])
        self.f, self.d = batch.ccys.index(f), batch.ccys.index(d)
        lf = fx_log_forward(model, f, d)
        self.asset = []
        for a, pv, _ in lf.assets:
            c = model.currencies[a - model.n_ccy + 1]
            if c not in fx_ccy:
                fx_ccy.append(c)
            self.asset.append(fx_ccy.index(c))
        self.ir_of = {c: batch.ccys.index(model.currencies[c]) for c, _ in lf.bonds}
        self.v_tT = _VarianceTwin(model, lf, t[:, None], T[None, :])
        self.v_0T = _VarianceTwin(model, lf, 0.0, T)

    def vols(self, x) -> dict:
        out = {("asset", j): x["fxvol"][u] for j, u in enumerate(self.asset)}
        out.update({("ir", c): x["sigma"][j] for c, j in self.ir_of.items()})
        return out


class FxOptionPresTwin:
    """An FX option batch's lnAf, lnAd, sd as jnp functions of x (module docstring), every pair's columns:
    x["sigma"] one entry per currency of ``batch.ccys``, x["fxvol"] one per FX vol of ``fx_ccy`` (the non-base
    currencies the pairs' vols read), x["wmkt"] (n,) per trade."""

    def __init__(self, batch: FxOptionBatch, ctx):
        self.batch, specs, model = batch, batch.specs, ctx.model
        self.curves = CurveSet()
        self.rates = [RateTwin(ctx, c, self.curves, j) for j, c in enumerate(batch.ccys)]
        t = self.t = np.asarray(ctx.times, np.float64)
        T = self.T = np.array([s.expiry_time for s in specs])
        self.alive = t[:, None] < T[None, :] - TIME_EPS
        self.lnK = np.log([s.strike for s in specs])
        self.fx_ccy = []
        self.parts = [_PairTwin(batch, ctx, g, t, self.fx_ccy) for g in range(len(batch.pairs))]
        fx_vol = {model.currencies[i + 1]: v for i, v in enumerate(model.fx_vol)}
        self.fx0 = [np.asarray(fx_vol[c].values, np.float64) for c in self.fx_ccy]
        self.w_mkt = np.zeros(T.size)
        for g, (f, d) in enumerate(batch.pairs):
            i = np.flatnonzero(batch.pair == g)
            self.w_mkt[i] = pair_variance(ctx.market, model, f, d, 0.0, T[i])
        self.pad = -len(specs) % FX_CHUNK

    def x0(self) -> dict:
        return {"curves": self.curves.x0(), "sigma": tuple(jnp.asarray(r.sigma0) for r in self.rates),
                "fxvol": tuple(jnp.asarray(v) for v in self.fx0)}

    def direction(self, market, factor, moves: dict, models=None, step: float = 1.0) -> dict:
        fx = []
        for j, ccy in enumerate(self.fx_ccy):
            if models is None:
                fx.append(jnp.zeros_like(self.fx0[j]))
                continue
            i = models[0].currencies.index(ccy) - 1
            up, down = (np.asarray(md.fx_vol[i].values, np.float64) for md in models)
            fx.append(jnp.asarray((up - down) / (2.0 * step)))
        sig = tuple(jnp.asarray(moves[r.ccy]) if r.ccy in moves else jnp.zeros_like(r.sigma0) for r in self.rates)
        return {"curves": self.curves.direction(market, factor), "sigma": sig, "fxvol": tuple(fx)}

    def leaves(self, x) -> dict:
        """{lnAf, lnAd, sd} (K, n_pad) at x (the batch's leaves of those names), pair by pair in column order."""
        t = self.t
        R, w_mkt = x.get("R"), x.get("wmkt", self.w_mkt)  # optional inputs (``setup_vols_reverse``)
        out = {"lnAf": [], "lnAd": [], "sd": []}
        for p in self.parts:
            T, alive, vols = self.T[p.cols], self.alive[:, p.cols], p.vols(x)
            out["lnAf"].append(self.rates[p.f].lnA(x, t[:, None], T[None, :]))
            out["lnAd"].append(self.rates[p.d].lnA(x, t[:, None], T[None, :]) + self.lnK[None, p.cols])
            var = p.v_tT(vols, R) + (w_mkt[p.cols] - p.v_0T(vols, R))[None, :]
            out["sd"].append(jnp.where(alive, safe_sqrt(jnp.where(alive, jnp.maximum(var, 0.0), 0.0)), 0.0))
        return {k: jnp.pad(jnp.concatenate(v, axis=1), [(0, 0), (0, self.pad)]) for k, v in out.items()}


class EquityOptionPresTwin:
    """An equity option batch's lnA (+ ln K) and sd as jnp functions of x = {"curves": its currencies' model
    curves, "sigma": one Hull-White sigma tuple entry per currency of ``batch.ccys``, "eqvol": one piecewise
    equity vol per underlying of ``batch.names``}, each underlying's columns from its own entries:

        lnA = lnA_c(t_k, T) + ln K,   sd = sqrt(v_model(t_k, T) + w_e(T) - v_model(0, T)) on the live cells

    (``pricing.opt_equity``; w_e the market's total variance, the dividend term div and B, wgt, w static)."""

    def __init__(self, batch, ctx):
        from exposure.models.forward_variance import equity_log_forward
        from exposure.pricing.opt_common import variance_between_np

        model, specs = ctx.model, batch.specs
        self.batch, self.curves = batch, CurveSet()
        self.rates = [RateTwin(ctx, c, self.curves, j) for j, c in enumerate(batch.ccys)]
        t = self.t = np.asarray(ctx.times, np.float64)
        T = self.T = np.array([s.expiry_time for s in specs])
        self.alive = t[:, None] < T[None, :] - TIME_EPS
        self.e = [model.equity_names.index(nm) for nm in batch.names]  # the model's index of each underlying
        self.eq0 = [np.asarray(model.equity_vol[e].values, np.float64) for e in self.e]
        self.lnK = np.log([s.strike for s in specs])
        self.w_mkt = np.zeros(T.size)
        self.parts = []  # per underlying: (columns, its currency in rates, {ir factor: sigma entry}, v_tT, v_0T)
        for u, (nm, e) in enumerate(zip(batch.names, self.e)):
            cols = batch.name_columns(u)
            lf = equity_log_forward(model, e)
            ir_of = {c: batch.ccys.index(model.currencies[c]) for c, _ in lf.bonds}
            r = batch.ccys.index(ctx.market.equities[nm].currency)
            Tc = T[cols]
            self.parts.append((cols, r, ir_of, _VarianceTwin(model, lf, t[:, None], np.maximum(Tc[None, :], t[:, None])),
                               _VarianceTwin(model, lf, 0.0, Tc)))
            self.w_mkt[cols] = variance_between_np(ctx.market.equities[nm].vol, np.zeros_like(Tc), Tc)
        self.inv = np.argsort(np.concatenate([p[0] for p in self.parts]))  # the parts' columns back to batch order

    def x0(self) -> dict:
        return {"curves": self.curves.x0(), "sigma": tuple(jnp.asarray(r.sigma0) for r in self.rates),
                "eqvol": tuple(jnp.asarray(v) for v in self.eq0)}

    def direction(self, market, factor, moves: dict, models=None, step: float = 1.0) -> dict:
        eq = tuple(jnp.zeros_like(v) if models is None else jnp.asarray(
            (np.asarray(models[0].equity_vol[e].values) - np.asarray(models[1].equity_vol[e].values)) / (2.0 * step))
            for e, v in zip(self.e, self.eq0))
        sig = tuple(jnp.asarray(moves[r.ccy]) if r.ccy in moves else jnp.zeros_like(r.sigma0) for r in self.rates)
        return {"curves": self.curves.direction(market, factor), "sigma": sig, "eqvol": eq}

    def leaves(self, x) -> dict:
        """{lnA, sd} (K, n) at x (the batch's leaves of those names), underlying by underlying."""
        t = self.t
        R, w_mkt = x.get("R"), x.get("wmkt", self.w_mkt)  # optional inputs (``setup_vols_reverse``)
        out = {"lnA": [], "sd": []}
        for u, (cols, r, ir_of, v_tT, v_0T) in enumerate(self.parts):
            vols = {("asset", 0): x["eqvol"][u]}
            vols.update({("ir", c): x["sigma"][j] for c, j in ir_of.items()})
            var = v_tT(vols, R) + (w_mkt[cols] - v_0T(vols, R))[None, :]
            alive = self.alive[:, cols]
            out["sd"].append(jnp.where(alive, safe_sqrt(jnp.where(alive, jnp.maximum(var, 0.0), 0.0)), 0.0))
            out["lnA"].append(self.rates[r].lnA(x, t[:, None], self.T[None, cols]) + self.lnK[None, cols])
        return {k: jnp.concatenate(v, axis=1)[:, self.inv] for k, v in out.items()}
