"""Model directions that are exact linear combinations of a few basis directions: their tangent by the chain rule.

The model-array map S(theta) is linearised at the base, so its tangent is linear in the direction:

    dtheta = sum_k c_k b_k   =>   J_theta S . dtheta = sum_k c_k (J_theta S . b_k)

A swaption quote of a calibrated currency (bench-1k: 10 of the 55 directions) moves theta only through its
calibrated sigma pieces (the calibration's implicit-function theorem) and the FX / equity vol bootstraps'
response to them, which is linear in dsigma: its direction lies in the span of the pieces' own directions
dtheta/dsigma_k (``setup_reverse.sigma_direction``), whose tangents the run computes anyway. Such a direction
takes its tangent as sum_k c_k (tangent of b_k): no program slot of its own.

Membership is read, not assumed: each basis direction has a pivot coordinate that it alone of the basis moves
(sigma_k's unit entry in theta["ir_vol"]), c_k = dtheta[pivot_k] / b_k[pivot_k], and dtheta is taken as in the
span only where the residual dtheta - sum_k c_k b_k is zero to rounding (RTOL of dtheta's largest entry), else
it is propagated as before. Shapes: a direction is theta's pytree; flattened, (n,) float64.
"""

from __future__ import annotations

import jax
import numpy as np

# Largest residual |dtheta - sum c_k b_k| relative to max |dtheta| taken as rounding (the bootstraps' response is
# one compiled jvp per direction: linear in dsigma to a few ulps, not bit for bit).
RTOL = 1e-12


def flat(dtheta) -> tuple:
    """(treedef, the leaves concatenated as one float64 vector)."""
    leaves, tree = jax.tree_util.tree_flatten(dtheta)
    return tree, np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in leaves]) if leaves else np.zeros(0)


class Span:
    """The basis directions' flattened matrix B (m, n), their pivot coordinates, and ``coords`` of a direction."""

    def __init__(self, basis: list):
        flats = [flat(b) for b in basis]
        self.tree = flats[0][0] if flats else None
        ok = bool(flats) and all(t == self.tree for t, _ in flats)
        self.B = np.stack([v for _, v in flats]) if ok else np.zeros((0, 0))
        self.pivots = self._pivots() if ok else None

    def _pivots(self):
        """[pivot of b_k]: the coordinate where b_k is largest among those no other basis direction moves; None
        where some b_k has none (the span is then not used)."""
        nz = self.B != 0.0
        alone = nz & (nz.sum(axis=0) == 1)[None, :]
        out = []
        for k in range(self.B.shape[0]):
            if not alone[k].any():
                return None
            out.append(int(np.argmax(np.where(alone[k], np.abs(self.B[k]), -1.0))))
        return np.asarray(out)

    def coords(self, dtheta):
        """c (m,) with dtheta = c @ B to rounding (``RTOL``), else None (not in the span, or no usable basis)."""
        if self.pivots is None:
            return None
        tree, v = flat(dtheta)
        if tree != self.tree or v.size != self.B.shape[1]:
            return None
        c = v[self.pivots] / self.B[np.arange(self.B.shape[0]), self.pivots]
        scale = np.max(np.abs(v)) if v.size else 0.0
        if scale == 0.0 or np.max(np.abs(v - c @ self.B)) > RTOL * scale:
            return None
        return c


def combined(tangents: list, c: np.ndarray):
    """sum_k c_k tangents[k] over the tangents' (equal) pytrees."""
    return jax.tree_util.tree_map(lambda *xs: np.tensordot(c, np.stack(xs), axes=1), *tangents)
