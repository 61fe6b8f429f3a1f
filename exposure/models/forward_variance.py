"""Model variance of log FX and equity forwards, and the bootstrap of FX / equity vols to the market.

Under the cross-asset model an FX forward F(t,T) = X_f(t) P_f(t,T) / (X_d(t) P_d(t,T)) and an equity
forward F(t,T) = S(t) e^{-q (T-t)} / P_c(t,T) have Gaussian logs with deterministic diffusion

    d ln F(u,T) = l(u,T)' dW(u),   d<W> = R du,
    l = sum_assets s_a sigma_a(u) e_a + sum_bonds s_c B_c(u,T) sigma_c(u) e_{IR:c},   B_c = (1 - e^{-a_c (T-u)}) / a_c

    FX f/d:  assets (FX:f, +1), (FX:d, -1) (none for the base), bonds (f, -1), (d, +1)
    equity:  asset (EQ:e, +1), bond (c(e), +1)

so the option on F is exactly Black with the conditional variance

    v(t,T) = Var[ln F(T,T) | F_t] = int_t^T l(u,T)' R l(u,T) du          (years x vol^2).

The integral is done by 16-point Gauss-Legendre on every piece between the model's vol breakpoints
and whole years (and from the last of these to the requested time), pieces at most 1 year long: the
integrand is smooth there (exponentials in u), so this is exact to rounding.

Bootstrap. With the asset's own vol sigma_a piecewise constant on the market pillars T_1 < ... < T_n
and the rest of l written r(u,T) (rates, other assets), the model's t0 total variance at T_i is

    v(0,T_i) = sum_{k<=i} [sigma_k^2 dT_k + 2 sigma_k H_{k,i}] + G_i,
    H_{k,i} = int_{T_{k-1}}^{T_k} e_a' R r(u,T_i) du,   G_i = int_0^{T_i} r' R r du,

a quadratic in sigma_i once sigma_1..sigma_{i-1} are known; sigma_i is its larger root, chosen so that
v(0,T_i) = w_mkt(T_i) = sigma_mkt(T_i)^2 T_i at every pillar (ORE's piecewise FX sigma calibration to
ATM options, done as an exact bootstrap). sigma_n is held after the last pillar.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from exposure.errors import ConfigError
from exposure.models.cross_asset import CrossAssetModel, PiecewiseVol

_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
_MAX_PIECE = 1.0  # years
_EXPIRY_BLOCK = 32


@dataclasses.dataclass(frozen=True)
class LogForward:
    """Loadings of d ln F: ``assets`` (factor index, PiecewiseVol, sign), ``bonds`` (currency index, sign)."""

    assets: tuple
    bonds: tuple


def fx_log_forward(model: CrossAssetModel, foreign: str, domestic: str) -> LogForward:
    ci = {c: i for i, c in enumerate(model.currencies)}
    n = model.n_ccy
    assets = tuple((n + ci[c] - 1, model.fx_vol[ci[c] - 1], s) for c, s in ((foreign, 1.0), (domestic, -1.0)) if ci[c])
    return LogForward(assets, ((ci[foreign], -1.0), (ci[domestic], 1.0)))


def equity_log_forward(model: CrossAssetModel, e: int) -> LogForward:
    return LogForward(((2 * model.n_ccy - 1 + e, model.equity_vol[e], 1.0),), ((model.equity_ccy[e], 1.0),))


def _vol(pv: PiecewiseVol, u: np.ndarray) -> np.ndarray:
    return np.asarray(pv.values)[np.searchsorted(np.asarray(pv.times), u, side="right")]


def _hw_B(a: float, tau):
    return tau if abs(a) < 1e-14 else -np.expm1(-a * tau) / a


def _loadings(model: CrossAssetModel, lf: LogForward, u: np.ndarray, T: np.ndarray) -> np.ndarray:
    """l(u, T): (len(T), len(u), m)."""
    m = model.correlation.shape[0]
    L = np.zeros((T.size, u.size, m))
    for f, pv, s in lf.assets:
        L[:, :, f] += s * _vol(pv, u)[None, :]
    for c, s in lf.bonds:
        a = float(model.hw[c].mean_reversion)
        L[:, :, c] += s * _hw_B(a, T[:, None] - u[None, :]) * _vol(model.ir_vols[c], u)[None, :]
    return L


def _pieces(model: CrossAssetModel, lf: LogForward, points) -> np.ndarray:
    """Knots: 0, the requested points, every vol breakpoint below their maximum; no piece above _MAX_PIECE."""
    points = np.asarray(points, dtype=np.float64).ravel()
    top = float(points.max(initial=0.0))
    bps = [model.breakpoints()] + [np.asarray(pv.times, dtype=float) for _, pv, _ in lf.assets]
    knots = np.unique(np.concatenate([[0.0], points] + bps))
    knots = knots[(knots >= 0.0) & (knots <= top)]
    fine = [knots[:1]]
    for a, b in zip(knots[:-1], knots[1:]):
        k = max(1, int(np.ceil((b - a) / _MAX_PIECE)))
        inner = np.linspace(a, b, k + 1)[1:]
        inner[-1] = b  # the exact knot, so look-ups by value below find it
        fine.append(inner)
    return np.concatenate(fine)


def _cumulative(knots: np.ndarray, integrand) -> np.ndarray:
    """C[:, j] = int_0^{knots[j]} integrand(u) du for integrand(u (N,)) -> (rows, N); (rows, len(knots))."""
    a, b = knots[:-1], knots[1:]
    half = 0.5 * (b - a)
    u = ((a + b)[:, None] * 0.5 + half[:, None] * _GL_X[None, :]).ravel()
    vals = integrand(u).reshape(-1, a.size, _GL_X.size)
    seg = np.einsum("rsg,g->rs", vals, _GL_W) * half[None, :]
    return np.concatenate([np.zeros((seg.shape[0], 1)), np.cumsum(seg, axis=1)], axis=1)


def forward_variance(model: CrossAssetModel, lf: LogForward, t, T) -> np.ndarray:
    """v(t,T) = int_t^T l' R l du (0 where t >= T); t, T broadcast, years. NumPy float64.

    Computed as C_T(T) - C_T(t), C_T(x) = int_0^x: Gauss-Legendre pieces on fixed knots (0, the model's vol
    breakpoints, whole years) up to the last knot below x, plus one piece from there to x. So each v(t,T)
    depends on t, T and the model only, never on the other times or expiries asked for with it, down to the
    last bit: a trade's values do not move when another trade adds an event date to the grid or an expiry to
    its batch (every product below is elementwise or a fixed-order einsum, no BLAS blocking)."""
    t, T = np.broadcast_arrays(np.asarray(t, dtype=np.float64), np.asarray(T, dtype=np.float64))
    t = np.maximum(t, 0.0)
    Te = np.maximum(T, t)
    if Te.size == 0:
        return np.zeros(Te.shape)
    knots = _fixed_knots(model, lf, float(Te.max()))
    Tu, inv = np.unique(Te, return_inverse=True)
    R = model.correlation
    C = np.empty((Tu.size, knots.size))
    for lo in range(0, Tu.size, _EXPIRY_BLOCK):
        Tb = Tu[lo : lo + _EXPIRY_BLOCK]

        def integrand(u, Tb=Tb):
            L = _loadings(model, lf, u, Tb)
            return np.einsum("tui,ij,tuj->tu", L, R, L)

        C[lo : lo + Tb.size] = _cumulative(knots, integrand)
    rows = inv.reshape(Te.shape)

    def upto(x):
        k = np.searchsorted(knots, x, side="right") - 1
        return C[rows, k] + _partial(model, lf, knots[k], x, Tu[rows])

    return np.maximum(upto(Te) - upto(t), 0.0)


def _fixed_knots(model: CrossAssetModel, lf: LogForward, top: float) -> np.ndarray:
    """0, whole years and every vol breakpoint, up to the first whole year >= top."""
    end = float(np.ceil(top)) if top > 0 else 1.0
    bps = [model.breakpoints()] + [np.asarray(pv.times, dtype=float) for _, pv, _ in lf.assets]
    knots = np.unique(np.concatenate([np.arange(0.0, end + 1.0)] + bps))
    return knots[(knots >= 0.0) & (knots <= end)]


def _partial(model: CrossAssetModel, lf: LogForward, a: np.ndarray, x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """int_a^x l(u, T)' R l(u, T) du elementwise over a, x, T (same shape; [a, x] within one piece)."""
    shape = np.shape(x)
    a, x, T = (np.asarray(v, dtype=np.float64).ravel() for v in (a, x, T))
    half = 0.5 * (x - a)
    u = 0.5 * (a + x)[:, None] + half[:, None] * _GL_X[None, :]  # (N, G)
    L = np.zeros(u.shape + (model.correlation.shape[0],))
    for f, pv, s in lf.assets:
        L[..., f] += s * _vol(pv, u)
    for c, s in lf.bonds:
        L[..., c] += s * _hw_B(float(model.hw[c].mean_reversion), T[:, None] - u) * _vol(model.ir_vols[c], u)
    vals = np.einsum("ngi,ij,ngj->ng", L, model.correlation, L)
    return (np.einsum("ng,g->n", vals, _GL_W) * half).reshape(shape)


def forward_variance_tangent(model: CrossAssetModel, lf: LogForward, t, T, dvols: dict, da: dict) -> tuple:
    """(v, dv): ``forward_variance`` v(t,T) and its derivative along a move of the model's vols and mean reversions,

        dv = int_t^T 2 l' R dl du,   dl = sum_assets s_a dsigma_a e_a + sum_bonds s_c (dB_c sigma_c + B_c dsigma_c) e_c,
        dB_c(tau) = (tau e^{-a_c tau} - B_c) da_c / a_c

    on forward_variance's own knots and nodes (they do not move with the model; dv = 0 where v is clipped at 0).
    dvols {factor index: d values of its piecewise vol}: an asset's (lf.assets' index), a currency c's Hull-White
    sigma at index c; da {currency index: d a_c}; absent keys do not move. R does not move. NumPy float64."""
    t, T = np.broadcast_arrays(np.asarray(t, dtype=np.float64), np.asarray(T, dtype=np.float64))
    t = np.maximum(t, 0.0)
    Te = np.maximum(T, t)
    if Te.size == 0:
        return np.zeros(Te.shape), np.zeros(Te.shape)
    R = model.correlation
    m = R.shape[0]

    def pair(u, T_):  # l' R l and 2 l' R dl at u, T_ broadcast
        shape = np.broadcast_shapes(np.shape(u), np.shape(T_))
        L, dL = np.zeros(shape + (m,)), np.zeros(shape + (m,))
        vols = [(f, pv, s, None) for f, pv, s in lf.assets] + [(c, model.ir_vols[c], s, c) for c, s in lf.bonds]
        for f, pv, s, c in vols:
            idx = np.searchsorted(np.asarray(pv.times), u, side="right")
            vol = np.asarray(pv.values, dtype=np.float64)[idx]
            dvol = np.asarray(dvols[f], dtype=np.float64)[idx] if f in dvols else 0.0
            if c is None:
                L[..., f] += s * vol
                dL[..., f] += s * dvol
                continue
            a, tau = float(model.hw[c].mean_reversion), T_ - u
            B = _hw_B(a, tau)
            dB = (tau * np.exp(-a * tau) - B) * (da.get(c, 0.0) / a)
            L[..., c] += s * B * vol
            dL[..., c] += s * (dB * vol + B * dvol)
        return np.einsum("...i,ij,...j->...", L, R, L), 2.0 * np.einsum("...i,ij,...j->...", L, R, dL)

    knots = _fixed_knots(model, lf, float(Te.max()))
    Tu, inv = np.unique(Te, return_inverse=True)
    C = np.concatenate([_cumulative(knots, lambda u, Tb=Tu[lo:lo + _EXPIRY_BLOCK]: np.concatenate(
        pair(u[None, :], Tb[:, None]))).reshape(2, -1, knots.size) for lo in range(0, Tu.size, _EXPIRY_BLOCK)], 1)
    rows = inv.reshape(Te.shape)

    def upto(x):
        k = np.searchsorted(knots, x, side="right") - 1
        lo, half = knots[k], 0.5 * (x - knots[k])
        u = 0.5 * (lo + x)[..., None] + half[..., None] * _GL_X
        part = [np.einsum("...g,g->...", p, _GL_W) * half for p in pair(u, Tu[rows][..., None])]
        return [C[j][rows, k] + part[j] for j in (0, 1)]

    (v1, dv1), (v0, dv0) = upto(Te), upto(t)
    return np.maximum(v1 - v0, 0.0), np.where(v1 - v0 > 0.0, dv1 - dv0, 0.0)


@dataclasses.dataclass(frozen=True)
class VolCalibrationReport:
    """One row per market pillar: the bootstrapped model vol and the repricing of w_mkt(T_i)."""

    factor: str
    rows: tuple  # dicts

    @property
    def max_abs_error(self) -> float:
        return max((abs(r["vol_error"]) for r in self.rows), default=0.0)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(list(self.rows))


def bootstrap_vol(model: CrossAssetModel, lf: LogForward, factor: int, pillars, total_variances, where: str):
    """(PiecewiseVol, sigmas (n,)) for the asset ``factor`` of ``lf`` so that v(0,T_i) = w_i at every pillar.

    ``lf`` must hold ``factor`` among its assets with sign +1 (its vol there is ignored)."""
    T = np.asarray(pillars, dtype=np.float64)
    w = np.asarray(total_variances, dtype=np.float64)
    rest = LogForward(tuple(a for a in lf.assets if a[0] != factor), lf.bonds)
    knots = _pieces(model, lf, T)
    R = model.correlation

    def h_and_g(u):
        r = _loadings(model, rest, u, T)
        return np.concatenate([r @ R[factor], np.sum((r @ R) * r, axis=-1)], axis=0)

    C = _cumulative(knots, h_and_g)
    n = T.size
    Ch, Cg = C[:n], C[n:]
    at = np.searchsorted(knots, np.concatenate([[0.0], T]))
    dT = np.diff(np.concatenate([[0.0], T]))
    sig = np.zeros(n)
    for i in range(n):
        H = Ch[i, at[1 : i + 2]] - Ch[i, at[: i + 1]]  # H_{k,i}, k = 0..i
        c = float(np.sum(sig[:i] ** 2 * dT[:i] + 2.0 * sig[:i] * H[:i]) + Cg[i, at[i + 1]] - w[i])
        a, b = dT[i], 2.0 * H[i]
        disc = b * b - 4.0 * a * c
        root = (-b + np.sqrt(disc)) / (2.0 * a) if disc >= 0.0 else np.nan
        if not np.isfinite(root) or root < 0.0:
            least = c + w[i] - (b * b / (4.0 * a) if b < 0.0 else 0.0)
            raise ConfigError(
                where,
                f"pillar {i} (T={T[i]:.6g}, vol {np.sqrt(w[i] / T[i]):.6g}): no non-negative model vol reproduces the "
                f"market variance {w[i]:.6g}; the rate vols and correlations alone give at least {least:.6g}. Lower "
                f"the Hull-White vols or the correlations, or set model.vol_calibration=market")
        sig[i] = root
    pv = PiecewiseVol(T.copy(), np.concatenate([sig, sig[-1:]]))
    return pv, sig


def calibrated_model(model: CrossAssetModel, market) -> tuple[CrossAssetModel, dict]:
    """The model with every FX and equity vol bootstrapped to the market's pillars, and one report per factor
    (``{"FX_EUR": VolCalibrationReport, "EQ_SPX": ...}``) repricing each pillar with the calibrated model."""
    n, base = model.n_ccy, model.currencies[0]
    fx, eq = list(model.fx_vol), list(model.equity_vol)
    fits = {}
    for k, c in enumerate(model.currencies[1:]):
        curve = market.fx_vols[c]
        fx[k], sig = bootstrap_vol(model, fx_log_forward(model, c, base), n + k, curve.times,
                                   curve.total_variances, f"market.fx_vols.{c}")
        fits[f"FX:{c}"] = (curve, sig, lambda m, c=c: fx_log_forward(m, c, base))
    for k, e in enumerate(model.equity_names):
        curve = market.equities[e].vol
        eq[k], sig = bootstrap_vol(model, equity_log_forward(model, k), 2 * n - 1 + k, curve.times,
                                   curve.total_variances, f"market.equities.{e}.vol")
        fits[f"EQ:{e}"] = (curve, sig, lambda m, k=k: equity_log_forward(m, k))
    out = dataclasses.replace(model, fx_vol=tuple(fx), equity_vol=tuple(eq))
    reports = {}
    for name, (curve, sig, log_forward) in fits.items():
        T = np.asarray(curve.times, dtype=np.float64)
        mkt = np.sqrt(np.asarray(curve.total_variances, dtype=np.float64) / T)
        mod = np.sqrt(forward_variance(out, log_forward(out), np.zeros_like(T), T) / T)
        rows = tuple(dict(factor=name, expiry=float(Ti), market_vol=float(a), model_vol=float(b),
                          vol_error=float(b - a), sigma=float(sg)) for Ti, a, b, sg in zip(T, mkt, mod, sig))
        reports[name.replace(":", "_")] = VolCalibrationReport(name, rows)
    return out, reports
