"""t0 prices of a run's batches on the host, in NumPy float64: no compiled program.

    npv0_i = V_i(0) = the batch's pricer at t = 0 on today's state y0, evaluated by ``batch.today_values(pre0,
                      state)`` from the coefficients ``pre0 = batch.prepare(t0 context)``

At t = 0 every pricer is a closed form on one date and one path (linear flows: the moment sum at x(0), which is
m_0 since x(0) = 0; FX and equity options: Garman-Kohlhagen / Black on the spot and the prepared total variance;
caps/floors: Hull-White zero-bond options and fixed caplets; swaptions: Jamshidian's sum of zero-bond options),
so each batch class evaluates its prepared coefficients in NumPy (``today_linear``, ``today_options``,
``today_swaption``): the same formulas as the path pricers (``values`` on ``PathView.today``), equal to rounding
(bundled example, bench-1k, desk: <= 1.2e-15 of a trade's notional, <= 1.7e-13 of its value; test_today_prices),
in milliseconds, without tracing, lowering or compiling anything (in the chunk program they were a second copy of
every pricer: about 40% of its StableHLO). A batch class without ``today_values`` (a product added without one) is
priced by its own path code in a small compiled program of its own, only when such a batch is present.

Returns (n_trades,) values in base currency, batches in order, trades in batch order.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from exposure.pricing.view import PathView


@dataclasses.dataclass(frozen=True)
class TodayState:
    """Today's market state as the view's t0 column, NumPy float64: x (n_ccy,) rate states, fx (n_ccy,) base
    units per unit of each currency (1 for the base), eq (n_eq,) equity spots; ``currencies`` and
    ``equity_names`` give the indices (as ``PathView``)."""

    x: np.ndarray
    fx: np.ndarray
    eq: np.ndarray
    currencies: tuple
    equity_names: tuple

    @staticmethod
    def of(model, y0=None) -> "TodayState":
        """The state of ``PathView.today(model, y0)``: the same rows of y0 (d,) (default the model's)."""
        y0 = np.asarray(model.initial_state() if y0 is None else y0, dtype=np.float64)
        n = model.n_ccy
        x = np.array([y0[model.ir_state(c)] for c in range(n)])
        fx = np.array([1.0] + [np.exp(y0[model.fx_state(c)]) for c in range(1, n)])
        eq = np.array([np.exp(y0[model.eq_state(e)]) for e in range(len(model.equity_names))])
        return TodayState(x, fx, eq, tuple(model.currencies), tuple(model.equity_names))

    def ccy_index(self, ccy: str) -> int:
        return self.currencies.index(ccy)


def today_values(batches, pres0, model, y0=None) -> np.ndarray:
    """(n_trades,) t0 values in base currency of ``batches`` from their t0 prepared data ``pres0`` (module
    docstring); y0 (d,) the initial state (default the model's)."""
    state = TodayState.of(model, y0)
    parts = []
    for b, pre in zip(batches, pres0):
        host = getattr(b, "today_values", None)
        v = host(pre, state) if host is not None else None
        parts.append(np.asarray(v if v is not None else _compiled_today(b, pre, model, y0), dtype=np.float64))
    return np.concatenate(parts) if parts else np.zeros(0)


def _compiled_today(batch, pre, model, y0) -> np.ndarray:
    """(n,) t0 values of a batch with no host formula: its path code on today's view, compiled on its own."""
    y = np.asarray(model.initial_state() if y0 is None else y0, dtype=np.float64)
    fn = jax.jit(lambda p, y: batch.values(p, PathView.today(model, y))[0, :, 0])
    return np.asarray(fn(pre, y))
