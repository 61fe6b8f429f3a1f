"""The market view every pricer sees: today's market or a chunk of simulated paths, same interface.

    P_c(t_k, T) = exp(lnA_c(t_k, T) - B_c(t_k, T) x_c[k, p])       zero bond in currency c
    X_c[k, p]   = units of base currency per unit of c (1 for the base)
    S_e[k, p]   = equity spot in its own currency
    N[k, p]     = base-currency bank account (numeraire); N = 1 at t = 0

Shapes: K valuation dates (t_0 = 0 allowed), P paths. Today's market is the view with K = 1, P = 1,
times = [0] and the initial state, so the same pricer code produces t0 prices and path values.
Deterministic quantities (lnA, B, vols over [t_k, T]) are precomputed in NumPy by each batch's
``prepare`` from ``PricingContext``; the view carries only the stochastic state.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from exposure._pytree import pytree_dataclass, static_field
from exposure.models.cross_asset import CrossAssetModel


@pytree_dataclass
class PathView:
    """x: (n_ccy, K, P); fx: (n_ccy, K, P); eq: (n_eq, K, P); numeraire: (K, P); times: (K,)."""

    times: jnp.ndarray
    x: jnp.ndarray
    fx: jnp.ndarray
    eq: jnp.ndarray
    numeraire: jnp.ndarray
    currencies: tuple = static_field(default=())
    equity_names: tuple = static_field(default=())

    @property
    def n_paths(self) -> int:
        return self.x.shape[-1]

    def ccy_index(self, ccy: str) -> int:
        return self.currencies.index(ccy)

    @staticmethod
    def from_states(model: CrossAssetModel, states, times, numeraire_log_det) -> "PathView":
        """View of simulated states (K, d, P) at model ``times`` (K,); numeraire_log_det = int_0^t phi_0 (K,)."""
        n = model.n_ccy
        x = jnp.stack([states[:, model.ir_state(c), :] for c in range(n)])
        ones = jnp.ones_like(states[:, 0, :])
        fx = jnp.stack([ones] + [jnp.exp(states[:, model.fx_state(c), :]) for c in range(1, n)])
        neq = len(model.equity_names)
        eq = (
            jnp.stack([jnp.exp(states[:, model.eq_state(e), :]) for e in range(neq)])
            if neq
            else jnp.zeros((0,) + ones.shape, ones.dtype)
        )
        num = jnp.exp(jnp.asarray(numeraire_log_det, ones.dtype)[:, None] + states[:, 1, :])
        return PathView(jnp.asarray(times), x, fx, eq, num, tuple(model.currencies), tuple(model.equity_names))

    @staticmethod
    def today(model: CrossAssetModel, y0=None) -> "PathView":
        """The t0 market as a one-date, one-path view; y0 (d,): the initial state (default the model's; a
        traced argument keeps market data out of a compiled program)."""
        y0 = jnp.asarray(model.initial_state() if y0 is None else y0)[None, :, None]
        return PathView.from_states(model, y0, np.zeros(1), np.zeros(1))


@dataclasses.dataclass(frozen=True)
class PricingContext:
    """What ``prepare`` may use: the t0 market, the model, the valuation times (K,), and the fixings.

    ``bond_coefficients(ccy, T)`` gives lnA (K, *T.shape) and B (K, *T.shape) for the view's dates, with
    the convention that a bond with T <= t_k is not alive (lnA = B = 0; callers mask it).
    """

    market: object  # MarketSnapshot
    model: CrossAssetModel
    times: np.ndarray
    fixings: object = None  # exposure.portfolio.fixings.Fixings or None
    dates: tuple = ()  # calendar dates of ``times`` (t0 = market.asof)
    # (K,) bool: the dates whose state any trade may read (t0, valuation and close-out dates; see
    # ``TimeGrid.reporting_mask``); the others are event dates, read only by the trades they belong to. None: all.
    readable: np.ndarray | None = None
    # Options prepare netting-set tables of their smooth pre-expiry terms (``opt_tables``): the plain run's
    # chunk program only (the AD twins and what-if price without them).
    option_tables: bool = False
    paths: int = 0  # the run's path count for the tables' size rule (``opt_tables.worth_tabulating``); 0: unknown

    def ccy_index(self, ccy: str) -> int:
        return self.model.currencies.index(ccy)

    def last_readable(self, T, own=None) -> np.ndarray:
        """Index of the last readable view date with time <= T (to 1e-10 years), -1 if none; shape of T.

        own: bool (shape of T), True where T is the trade's own event date: a view date at T itself is then
        read even if it is an event date (it is simulated for this trade). A state read off the reporting dates
        for another trade's event would make this trade's values depend on the rest of the portfolio."""
        t = np.asarray(self.times, dtype=np.float64)
        T = np.asarray(T, dtype=np.float64)
        idx = np.arange(t.size) if self.readable is None else np.flatnonzero(self.readable)
        pos = np.searchsorted(t[idx], T + 1e-10, side="right") - 1
        out = np.where(pos >= 0, idx[np.maximum(pos, 0)], -1)
        if own is not None:
            hit = np.searchsorted(t, T + 1e-10, side="right") - 1
            exact = (hit >= 0) & (np.abs(t[np.maximum(hit, 0)] - T) <= 1e-10) & np.asarray(own, dtype=bool)
            out = np.where(exact, hit, out)
        return out

    def rate_model(self, ccy: str):
        """The currency's rate model (``models.rate_model.RateModel``): all a pricer asks of the rates."""
        return self.model.rate_model(self.ccy_index(ccy))

    def bond_coefficients(self, ccy: str, T, t=None):
        """lnA, B of P(t, T) = exp(lnA - B x(t)) in ``ccy``; T < t is clamped to t (lnA = B = 0, P = 1).

        Default t: the context's times, giving (K, *T.shape); otherwise t and T broadcast. NumPy on purpose:
        set-up code that compiled one XLA program per array shape cost about 12 s per bench-1k run."""
        T = np.asarray(T, dtype=np.float64)
        if t is None:
            lnA, B, inv = self.bond_grid(ccy, T)
            shape = (lnA.shape[0],) + T.shape
            return lnA[:, inv].reshape(shape), B[:, inv].reshape(shape)
        return self.rate_model(ccy).bond_coefficients(t, T)

    def bond_grid(self, ccy: str, T):
        """(lnA (K, U), B (K, U), col (T.size,)): ``bond_coefficients`` at the context's times on the U distinct
        maturities of T (flattened), and each T's column: ``bond_coefficients(ccy, T)[i][:, j] = grid[i][:, col[j]]``.
        Portfolios repeat payment dates across trades (and pad with them): each distinct T is evaluated once, and
        a caller that reads a few dates per T gathers those alone (the formula is elementwise: the same values)."""
        Tu, inv = np.unique(np.asarray(T, dtype=np.float64), return_inverse=True)
        lnA, B = self.rate_model(ccy).bond_coefficients(np.asarray(self.times, dtype=np.float64)[:, None], Tu[None, :])
        return lnA, B, inv.reshape(-1)

    def numeraire_log_det(self) -> np.ndarray:
        """int_0^t phi_base at the context's times: the deterministic part of the log numeraire."""
        return self.model.rate_model(0).integrated_drift(self.times)

    def basis_ratio(self, index: str | None, ccy: str, T):
        """D(T) = P_f(0,T) / P_d(0,T): the deterministic multiplicative basis of a forwarding curve."""
        fwd = self.market.forward_curve(index, ccy)
        disc = self.market.curves[ccy]
        return np.exp(np.asarray(fwd.log_discount(T)) - np.asarray(disc.log_discount(T)))


class TradeBatch:
    """A batch of same-type trades. Subclasses set ``ids``, ``netting_set`` and implement two methods.

    ids: tuple of trade ids (n,); netting_set: (n,) int index into the portfolio's netting sets.
    prepare(ctx) -> a pytree of deterministic arrays for these valuation times.
    values(pre, view) -> (K, n, P) trade values in the BASE currency at t_k, undiscounted
    (divide by view.numeraire for discounted values). Values of matured trades are 0.
    """

    ids: tuple = ()
    netting_set: np.ndarray = np.zeros(0, dtype=int)
    # The keys prepare adds only with ``PricingContext.option_tables`` (the plain run's netting tables; nothing else
    # it prepares reads the flag or ``paths``): ``without_tables`` drops them.
    table_keys: tuple = ()

    def __init__(self, specs, netting_index):
        """specs: the batch's trade specs (each with ``.id``); netting_index: (n,) netting-set index per trade."""
        self.specs = tuple(specs)
        self.ids = tuple(s.id for s in self.specs)
        self.netting_set = np.asarray(netting_index, dtype=np.int64).reshape(-1)

    def event_dates(self) -> tuple:
        """Calendar dates on which the batch's trades observe the market (option fixings and exercises):
        the pipeline simulates them as extra, unreported dates so that every such event reads the state at
        its own date whatever the reporting grid. None for trades whose values need no state off the grid."""
        return ()

    def prepare(self, ctx: PricingContext):  # pragma: no cover - interface
        raise NotImplementedError

    def without_tables(self, pre):
        """prepare(ctx) of a context without ``option_tables`` from ``pre`` = prepare(ctx) with them (the AD run's
        set-up takes the plain run's, ``risk.state.path_state``): pre less ``table_keys``."""
        return {k: v for k, v in pre.items() if k not in self.table_keys} if self.table_keys else pre

    def values(self, pre, view: PathView):  # pragma: no cover - interface
        raise NotImplementedError

    def netting_values(self, pre, view: PathView, n_netting_sets: int):
        """(K, n_netting_sets, P): the batch's values summed per netting set; linear batches override this
        with an aggregation before the path dimension."""
        return netting_sum(self.values(pre, view), self.netting_set, n_netting_sets)


def netting_sum(v, seg, n: int):
    """(K, n, P): out[:, s] = sum of v[:, r] over the rows r with seg[r] = s, in row order; v (K, m, P), seg (m,)
    static ints (NumPy).

    Written as masked gathers of static rows (one per rank of a row within its netting set), not a scatter:
    XLA's CPU scatter is a loop over elements that cannot fuse, whereas these gathers fuse with the sum over
    batches into one pass that writes the (K, n, P) netting values once (bench-1k: ~1.5 s less per chunk).
    The same additions in the same order as a sequential scatter-add into zeros."""
    seg = np.asarray(seg, dtype=np.int64).reshape(-1)
    rank = np.zeros(seg.size, dtype=np.int64)
    seen: dict = {}
    for r, s in enumerate(seg):
        rank[r] = seen.get(int(s), 0)
        seen[int(s)] = rank[r] + 1
    out = None
    for j in range(int(rank.max(initial=-1)) + 1):
        rows = np.flatnonzero(rank == j)
        pos = np.zeros(n, dtype=np.int32)
        pos[seg[rows]] = rows
        mask = np.zeros(n, dtype=bool)
        mask[seg[rows]] = True
        term = jnp.where(jnp.asarray(mask)[None, :, None], jnp.take(v, jnp.asarray(pos), axis=1), 0.0)
        out = term if out is None else out + term
    if out is None:
        return jnp.zeros((v.shape[0], n, v.shape[2]), v.dtype)
    return out
