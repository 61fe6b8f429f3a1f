"""The model layer of the set-up, theta -> (Phi, mu, L, y0, log_num, bridge), in jax.numpy, and its tangents.

    Phi_k, mu_k, Sigma_k = exact transitions over the reporting steps   (``models.cross_asset_jax``)
    A_e = Phi(e,l) - C Phi(r,l),  B_e = C,  m_e = mu(e,l) - C mu(r,l),  V_e = Sigma(e,l) - C Phi(r,e) Sigma(e,l),
        C = Sigma(e,l) Phi(r,e)' Sigma(r,l)^-                          (the event-date bridge, ``simulation.bridge``)
    y0 = (ln X_c, ln S_e),   log_num_k = int_0^{t_k} phi_base
    L = V diag(sqrt w)  with Sigma = V diag(w) V' (eigh, the run's ``factor_matrix``),

dS = J_theta S . dtheta by jax.linearize at the base theta and the linear map mapped over a stack of directions,
so the heavy part of the set-up (dozens of matrix exponentials per step) is differentiated exactly, in one compiled
program whose primal runs once per BATCH directions (not once per factor), instead of being rebuilt twice per
factor. A factor that moves no model parameter (dtheta = 0: 38 of bench-1k's 93) takes dS = 0 without a call. The jvp computes only the
Pade degree and squarings expm picks at the base theta (``planned``, ``models.planned_expm``). L's tangent follows
the base run's eigenvectors (the run's L is the NumPy one, and the paths must stay the run's own):

    dw_j = v_j' dSigma v_j,   dv_j = sum_{i != j} v_i (v_i' dSigma v_j) / (w_j - w_i),
    dL_j = dv_j sqrt(w_j) + v_j dw_j / (2 sqrt(w_j))                   (0 where w_j <= 0: a clipped direction)

with the (w_j - w_i) terms of (numerically) equal eigenvalues left out (relative gap < EIG_GAP), where the
eigenvectors, and the central difference of ``state.difference`` too, are not defined. Columns are followed
with the base L's signs (``state.aligned``'s convention).
"""

from __future__ import annotations

import dataclasses
import hashlib

import jax
import jax.numpy as jnp
import numpy as np

from exposure.dates import DAYS_PER_YEAR
from exposure.models import cross_asset_jax as caj
from exposure.risk.kept import digest, kept
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
    expm_plan: tuple | None = None  # the exponentials' plan at the base theta (``planned_expm``; None: expm)


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


def transition_times(lay: ModelLayout):
    """(starts, ends) of every transition ``model_arrays`` takes: the steps', then the bridge's l -> e and e -> r
    (in the same program as the steps')."""
    if lay.lo is None:
        return lay.starts, lay.ends
    return np.concatenate([lay.starts, lay.lo, lay.node]), np.concatenate([lay.ends, lay.node, lay.hi])


def planned(lay: ModelLayout, theta) -> ModelLayout:
    """lay with the exponentials' plan at theta (``caj.transition_plan``): ``model_arrays`` then computes only
    the Pade degree and squarings expm picks there, so its derivatives at theta (not its values elsewhere) are
    expm's at a fraction of the cost."""
    return dataclasses.replace(lay, expm_plan=caj.transition_plan(lay.model, theta, *transition_times(lay)))


def model_arrays(theta, lay: ModelLayout) -> dict:
    """{Phi, mu, Sigma, y0, log_num[, bridge {A, B, m, V}]} of the run's discretisation at theta (lay.expm_plan:
    theta must be the point it was made at)."""
    m = lay.model
    ns = lay.starts.size
    starts, ends = transition_times(lay)
    P, M, S = caj.step_transitions(m, theta, lay.phi_times, starts, ends, lay.expm_plan)
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


def _direction_key(dtheta) -> bytes:
    """A dtheta's cache key: its leaves' shapes and float64 bytes (the same direction, the same tangent)."""
    h = hashlib.sha256()
    for x in jax.tree_util.tree_leaves(dtheta):
        a = np.ascontiguousarray(np.asarray(x, np.float64))
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.digest()


class ModelTangent:
    """dS (Phi, mu, L, y0, log_num, bridge) = J S . dtheta at the run's base model: one compiled program that
    linearises the jnp set-up at the base once and applies the linear map to BATCH directions at a time (lax.map;
    its primal fixes the eigenvectors L's tangent follows). ``prefetch`` takes every direction a caller will ask
    for in one call (chunks of BATCH, padded with zero directions: one program shape); ``__call__`` then reads
    the cache, and runs a direction it does not hold on its own (one chunk)."""

    BATCH = 16  # directions per program call (memory: BATCH x the model arrays' tangent)

    def __init__(self, model, grid, static, S):
        self.layout = model_layout(model, grid, static)  # expm's (any theta: ``theta_of``, the cotangent)
        self.theta = caj.model_theta(model, self.layout.phi_times)
        # The primal is always the base theta: only the Pade degree and squarings expm picks there
        # (``planned``; the plan is made in NumPy on the host, no eager program), the same function near the base.
        lay = planned(self.layout, self.theta)
        self._L = (np.asarray(S["L"]), np.asarray(S["bridge"]["L"]) if "bridge" in S else None)
        self._eig = self._base = None
        self._cache = {}
        self._pending = {}  # directions ``defer``red to the next program calls (key -> dtheta)
        self._span = None  # (``model_span.Span``, its basis' keys, the basis): directions taken as combinations

        # theta is an argument, not a constant of the program. Kept as an executable (``kept``) under the layout and
        # the model by content (the sub-steps follow its mean reversions): another model is a miss, compiled once.
        # lax.map, not vmap: a vmapped chunk's intermediates (BATCH copies of every expm power) cost ~4x the CPU
        def jvps(th, dths):  # dths: theta's leaves with a leading axis of BATCH directions
            base, lin = jax.linearize(lambda x: model_arrays(x, lay), th)
            return base, jax.lax.map(lin, dths)

        self._jvps = jax.jit(jvps)
        self._key = digest(lay)

    def theta_of(self, model) -> dict:
        """theta of another (bumped) model on this run's layout."""
        return caj.model_theta(model, self.layout.phi_times)

    def zero(self) -> dict:
        return jax.tree_util.tree_map(jnp.zeros_like, self.theta)

    def _batch(self, dthetas: list) -> list:
        """[tangent of ``model_arrays`` along each dtheta] (NumPy), BATCH directions per program call."""
        out, B = [], self.BATCH
        for lo in range(0, len(dthetas), B):
            part = list(dthetas[lo:lo + B])
            part += [jax.tree_util.tree_map(np.zeros_like, part[0])] * (B - len(part))
            stack = jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x, np.float64) for x in xs]), *part)
            base, d = jax.tree_util.tree_map(np.asarray, kept(self._jvps, "ad_model_jvps", self._key,
                                                              (self.theta, stack)))
            if self._base is None:
                self._base = base
                self._eig = (eig_base(base["Sigma"], self._L[0]),
                             None if self._L[1] is None else eig_base(base["bridge"]["V"], self._L[1]))
            out += [jax.tree_util.tree_map(lambda x, j=j: x[j], d) for j in range(min(B, len(dthetas) - lo))]
        return out

    def arrays(self, dtheta):
        """(base arrays of ``model_arrays``, their tangent along dtheta), NumPy; a dtheta of zeros (a factor that
        moves no model parameter) has the tangent 0 exactly: no program call once the base is known."""
        if self._base is not None and not any(np.any(np.asarray(x)) for x in jax.tree_util.tree_leaves(dtheta)):
            return self._base, jax.tree_util.tree_map(np.zeros_like, self._base)
        d = self._batch([dtheta])[0]
        return self._base, d

    def _components(self, d, L=factor_tangent) -> dict:
        out = {"Phi": d["Phi"], "mu": d["mu"], "L": L(*self._eig[0], d["Sigma"]), "y0": d["y0"],
               "log_num": d["log_num"]}
        if self.layout.lo is not None:
            b = d["bridge"]
            out["bridge"] = {"A": b["A"], "B": b["B"], "m": b["m"], "L": L(*self._eig[1], b["V"])}
        return out

    def _new(self, dthetas, into: dict) -> dict:
        """into with every nonzero dtheta not yet kept, by key (the first of equal ones)."""
        for th in dthetas:
            if any(np.any(np.asarray(x)) for x in jax.tree_util.tree_leaves(th)):
                k = _direction_key(th)
                if k not in self._cache:
                    into.setdefault(k, th)
        return into

    def defer(self, dthetas) -> None:
        """Hold dthetas for the next ``prefetch`` (or uncached ``__call__``): directions that callers will ask
        for later share its program calls (BATCH directions each, padded with zeros) instead of each caller
        padding its own last chunk."""
        self._new(dthetas, self._pending)

    def span(self, basis) -> None:
        """Directions in the span of basis (``model_span``: e.g. a swaption quote's, in the calibrated sigma
        pieces') take their tangent as the combination of the basis' tangents, in no program slot of their own."""
        from exposure.risk.model_span import Span

        basis = [b for b in basis if any(np.any(np.asarray(x)) for x in jax.tree_util.tree_leaves(b))]
        self._span = (Span(basis), [_direction_key(b) for b in basis], basis) if basis else None

    def _spanned(self, todo: dict) -> dict:
        """{key: c} of todo's directions in the span (removed from todo; the basis added to it where not kept)."""
        sp, keys, basis = self._span or (None, (), ())
        combos = {k: c for k, th in todo.items() if sp and k not in keys and (c := sp.coords(th)) is not None}
        for k in combos:
            del todo[k]
        if combos:
            todo.update((k, b) for k, b in zip(keys, basis) if k not in todo and k not in self._cache)
        return combos

    def prefetch(self, dthetas) -> None:
        """Compute and keep the model components of dS along every dtheta given and every ``defer``red one
        (``__call__`` then reads them): one program call per BATCH directions, the primal once per call; L's
        tangent (``factor_tangent``, linear in dSigma) once over the whole stack. Zero and already kept directions
        are skipped."""
        todo = self._new(dthetas, {})
        todo.update((k, th) for k, th in self._pending.items() if k not in todo and k not in self._cache)
        self._pending = {}
        combos = self._spanned(todo)
        if todo:
            ds = self._batch(list(todo.values()))
            stacked = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *ds)
            comps = self._components(stacked)
            for j, k in enumerate(todo):
                self._cache[k] = jax.tree_util.tree_map(lambda x, j=j: x[j], comps)
        if combos:
            from exposure.risk.model_span import combined

            basis = [self._cache[k] for k in self._span[1]]
            for k, c in combos.items():
                self._cache[k] = combined(basis, c)

    def __call__(self, dtheta) -> dict:
        """The model components of dS (NumPy) along dtheta (a theta-shaped pytree)."""
        if not any(np.any(np.asarray(x)) for x in jax.tree_util.tree_leaves(dtheta)):
            if self._base is None:
                self._batch([dtheta])
            d = jax.tree_util.tree_map(np.zeros_like, self._base)
            # factor_tangent is linear in dS: L's tangent is 0 too, with no eigen-solve to pay for it
            return self._components(d, L=lambda w, V, dS: np.zeros_like(dS))
        k = _direction_key(dtheta)
        if k not in self._cache:
            self.prefetch([dtheta])
        return dict(self._cache[k])  # callers add their own components (pres, w) to it
