"""Sequential bootstrap of log-linear discount curves from instrument quotes (multi-curve).

A curve is ln P(0, t) piecewise linear in t = ACT/365F years from the as-of date through (0, 0) and one pillar
per instrument (its last relevant date), flat forward beyond the last pillar: exactly ``DiscountCurve`` and
QuantLib's PiecewiseLogLinearDiscount with an Actual365Fixed day counter. Instruments are sorted by pillar and
solved one at a time: with pillars 1..k-1 fixed, ln P_k is the root (Brent, |quote error| < 1e-13) of

    implied_k(curves with ln P_k) - quote_k = 0

which is QuantLib's iterative bootstrap for a local interpolation (a later pillar never moves an earlier
segment). Curves are solved in dependency order: an OIS curve first, forwarding curves discounted on it
(``discount``), tenor-basis curves off a solved index curve, a foreign discount curve from cross-currency
basis swaps against the collateral currency's discount and both index curves. A cycle is an error.

``bootstrap(asof, specs, known)``: specs name -> CurveSpec; known: name -> DiscountCurve (zero-rate curves given
directly). Returns name -> DiscountCurve and the repricing error of every instrument (``BootstrapResult``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import jax.numpy as jnp
import numpy as np
from scipy.optimize import brentq

from exposure.dates import model_times
from exposure.errors import MarketDataError
from exposure.market.curves import DiscountCurve


@dataclasses.dataclass(frozen=True)
class Quote:
    """One instrument of a curve: the rate helper, the names of its forwarding and discount curves, a label."""

    helper: object
    fwd: str
    disc: str
    label: str


@dataclasses.dataclass(frozen=True)
class CurveSpec:
    name: str
    quotes: tuple  # Quote
    drop_duplicate_pillars: bool = False  # keep the first instrument of a pillar (else an error)

    def depends_on(self) -> set:
        out = set()
        for q in self.quotes:
            out |= {q.fwd, q.disc}
            for attr in ("base_curve", "other_curve", "this_fwd", "other_fwd", "other_disc"):
                v = getattr(q.helper, attr, None)
                if v:
                    out.add(v)
        return out - {self.name}


@dataclasses.dataclass(frozen=True)
class BootstrapResult:
    curves: dict  # name -> DiscountCurve
    errors: dict  # name -> tuple of (label, implied - quote)


class _Curves:
    """Discount factors of named log-linear curves (pillar arrays in NumPy) for the rate helpers."""

    def __init__(self, asof: dt.date, known: dict):
        self.asof = asof
        self.knots = {}
        for n, c in known.items():
            self.set(n, np.asarray(c.times, dtype=np.float64), np.asarray(c.log_dfs, dtype=np.float64))

    def set(self, name, times, log_dfs):
        self.knots[name] = (np.concatenate([[0.0], times]), np.concatenate([[0.0], log_dfs]))

    def time(self, dates) -> np.ndarray:
        return model_times(self.asof, dates)

    def df(self, name, dates) -> np.ndarray:
        if name not in self.knots:
            raise MarketDataError(f"curve '{name}' is needed but not built (no zero rates nor instruments)")
        kt, ky = self.knots[name]
        t = self.time(dates)
        inner = np.interp(t, kt, ky)
        last = -(ky[-1] - ky[-2]) / (kt[-1] - kt[-2])
        y = np.where(t > kt[-1], ky[-1] - last * (t - kt[-1]), inner)
        return np.exp(y)


def _order(specs: dict, known: dict) -> list:
    done, order = set(known), []
    pending = dict(specs)
    while pending:
        ready = [n for n, s in pending.items() if s.depends_on() <= done | set(pending) and
                 not (s.depends_on() & set(pending))]
        if not ready:
            missing = {n: sorted(s.depends_on() - done - set(pending)) for n, s in pending.items()}
            bad = {n: m for n, m in missing.items() if m}
            if bad:
                n, m = next(iter(bad.items()))
                raise MarketDataError(f"curve '{n}' needs curve(s) {', '.join(m)}, which nothing defines")
            raise MarketDataError(f"curves {', '.join(sorted(pending))} depend on each other in a cycle "
                                  "(set 'discount' to an OIS curve that needs none of them)")
        for n in sorted(ready):
            order.append(n)
            done.add(n)
            del pending[n]
    return order


def _solve_curve(spec: CurveSpec, curves: _Curves, asof: dt.date):
    quotes = sorted(spec.quotes, key=lambda q: q.helper.pillar)  # stable: the first listed stays first
    if spec.drop_duplicate_pillars:
        quotes = [q for i, q in enumerate(quotes) if i == 0 or q.helper.pillar != quotes[i - 1].helper.pillar]
    pillars = [q.helper.pillar for q in quotes]
    for a, b, qa, qb in zip(pillars[:-1], pillars[1:], quotes[:-1], quotes[1:]):
        if a == b:
            raise MarketDataError(f"curve '{spec.name}': instruments {qa.label} and {qb.label} share the pillar "
                                  f"{a.isoformat()}; drop one")
    times = curves.time(pillars)
    if times[0] <= 0.0:
        raise MarketDataError(f"curve '{spec.name}': instrument {quotes[0].label} ends on {pillars[0]}, not after "
                              f"the as-of date {asof}")
    ys: list = []
    for k, q in enumerate(quotes):
        t = times[: k + 1]

        def err(y, t=t, q=q):
            curves.set(spec.name, t, np.array(ys + [y]))
            return q.helper.implied(curves, q.fwd, q.disc) - q.helper.quote

        # bracket ln P_k by zero rates from -50% to +100%, widened around the previous pillar's forward
        lo, hi = -1.0 * t[-1], 0.5 * t[-1]
        try:
            if err(lo) * err(hi) > 0:
                raise ValueError("no sign change")
            y = brentq(err, lo, hi, xtol=1e-16, rtol=4 * np.finfo(float).eps, maxiter=200)
        except ValueError as exc:
            raise MarketDataError(f"curve '{spec.name}': cannot fit instrument {q.label} (quote {q.helper.quote:g}): "
                                  f"{exc}") from None
        ys.append(y)
    curves.set(spec.name, times, np.array(ys))
    return DiscountCurve(jnp.asarray(times), jnp.asarray(np.array(ys)), name=spec.name)


def _used(spec: CurveSpec) -> list:
    qs = sorted(spec.quotes, key=lambda q: q.helper.pillar)
    if not spec.drop_duplicate_pillars:
        return qs
    return [q for i, q in enumerate(qs) if i == 0 or q.helper.pillar != qs[i - 1].helper.pillar]


def bootstrap(asof: dt.date, specs: dict, known: dict | None = None) -> BootstrapResult:
    """Solve every curve in ``specs`` (name -> CurveSpec) given the ``known`` curves; see module docstring."""
    known = dict(known or {})
    curves = _Curves(asof, known)
    out = {}
    for name in _order(specs, known):
        out[name] = _solve_curve(specs[name], curves, asof)
    errors = {n: tuple((q.label, q.helper.implied(curves, q.fwd, q.disc) - q.helper.quote) for q in _used(s))
              for n, s in specs.items()}
    return BootstrapResult(out, errors)
