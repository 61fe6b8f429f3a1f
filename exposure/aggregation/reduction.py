"""The per-chunk exposure reduction as one jitted JAX program: values -> collateral -> block sums over paths.

For a chunk of paths, from the netting-set values V (K_all, n_ns, W), the numeraire N (K_all, W), the FX rates
(n_ccy, K_all, W) and (stochastic survival) per-path CVA weight factors M (r, K, W), the program computes

    X, F, C          collateralised value, funding value and collateral held (``collateral_jax``, the NumPy
                     recursion's operations in the same order)
    y                the deflated per-path amounts of ``accumulators.ExposureAccumulator``: max(X,0)/N,
                     max(-X,0)/N (as (max(X,0) - X)/N), C/N, max(F,0)/N, max(-F,0)/N, and 1/N
    F_f              the path functionals sum_k w_fk m_k y_b(k) (``path_functionals.PathFunctionalSums``) per
                     netting set, counterparty group and total, the date sum taken in date order
    block sums       S0 = sum y, and for EPE, ENE and the functionals S1 = sum (y - s), S2 = sum (y - s)^2
                     with s the block's first path, over blocks of B consecutive paths aligned on the global
                     path index (B a power of two). Inside a block the sum is a fixed pairwise tree of
                     elementwise adds (halves added, log2 B levels; padded or foreign paths are zeros), so the
                     bits depend neither on the chunk width nor on the array shapes XLA sees.
    pfe              the QuantileStore's input max(X,0) (or max(X,0)/N), (K, n_ns, W)

and returns the block sums of the whole blocks inside the chunk (plus the last, partial, block of the run).
The paths of a block cut by a chunk edge come back as raw inputs (V, N, fx, M of those paths): the host
(``BlockTotals``) assembles the block and runs the same program on it, width B. Chunks whose edges fall on
multiples of B (the memory plan's budget-limited chunks with jax) never need that. The host adds block sums in
path order (S0: sequentially; (S1, S2, s): Chan's pairwise update of mean and M2), so every total is the same
bits for any chunking, in one process, after a checkpoint replay or on Dask workers.

The traced body is ``reduction_program.build_program``. The program is jitted per chunk width (one compile per
run, plus width B when chunk edges cut blocks); the chunk start
enters as data (the traced offset of the first whole block), never as a shape.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from exposure.aggregation.collateral import csa_arrays
from exposure.aggregation.reduction_program import STAT_NAMES, build_program, unpack  # noqa: F401 - STAT_NAMES re-exported

_PROGRAMS: dict = {}  # compiled reductions by structure and width (CSA amounts and weights are arguments)
_MAX_PROGRAMS = 8


@dataclasses.dataclass
class ChunkSums:
    """What the reduction gives for paths [start, stop): ``blocks`` {name: (nb, ...)} block sums of the whole
    blocks from path start + lead (``counts`` (nb,) paths in each), ``head`` / ``tail`` raw inputs of the
    paths before / after them (None: none), ``pfe`` (K, n_ns, n) the quantile input, X and coll (K, n_ns, n)
    when asked (trade allocation, stored cube)."""

    start: int
    stop: int
    blocks: dict
    counts: np.ndarray
    head: dict | None
    tail: dict | None
    pfe: np.ndarray | None
    X: np.ndarray | None = None
    coll: np.ndarray | None = None


class ChunkReducer:
    """The reduction of one run (module docstring); picklable (a Dask worker rebuilds the compiled program).

    terms: per functional name, a list of (basis, weights (n_ns, K), key or None); groups (n_ns,) ints or None;
    path_weights: ``StochasticCvaWeights`` (NumPy, states at the valuation dates -> per-path factors) or None.
    """

    def __init__(self, netting_sets, n_paths: int, valuation_index, closeout_index, t0_index, fx_idx,
                 block: int, functionals: dict | None, groups, path_weights, pfe_discounted: bool,
                 want_x: bool = False, pfe: bool = True):
        if block < 1 or block & (block - 1):
            raise ValueError(f"block size must be a power of two (got {block})")
        self.n_ns = len(netting_sets)
        self.P = int(n_paths)
        self.B = int(block)
        self.vi = np.asarray(valuation_index, dtype=np.int64)
        self.ci = None if closeout_index is None else np.asarray(closeout_index, dtype=np.int64)
        self.t0 = t0_index
        self.K = self.vi.size
        self.csa_idx = np.array([j for j, ns in enumerate(netting_sets) if ns.csa is not None], dtype=np.int64)
        self.csas = [netting_sets[j].csa for j in self.csa_idx]
        self.fx_idx = list(fx_idx)
        self.names = list(functionals or {})
        self.terms = [list(functionals[f]) for f in self.names]
        self.groups = None if groups is None else np.asarray(groups, dtype=np.int64).reshape(-1)
        self.n_groups = 0 if self.groups is None or not self.n_ns else int(self.groups.max()) + 1
        self.path_weights = path_weights
        self.pfe_discounted = bool(pfe_discounted)
        self.want_x = bool(want_x)
        self.pfe = bool(pfe)
        self.params = program_params(self)
        # The program's structure (module reduction_program): switches and the functionals' bases, never the
        # number of netting sets, their CSA terms, dates or groups (arrays in ``params``).
        self.key = (self.B, bool(self.csa_idx.size), any(f is not None for f in self.fx_idx),
                    None if self.ci is None else self.ci.ndim, self.t0 is None,
                    len(self.names), tuple((i, b, k is not None) for i, ts in enumerate(self.terms) for b, _, k in ts),
                    self.pfe_discounted, self.want_x, self.pfe)

    @property
    def with_collateral(self) -> bool:
        return bool(self.csa_idx.size)

    def profile_names(self) -> tuple:
        return ("EPE", "ENE") + (("ExpectedCollateral", "FundingEPE", "FundingENE") if self.with_collateral else ())

    # -- the compiled program ----------------------------------------------------------------------------------

    def _fn(self, width: int):
        key = self.key + (int(width),)
        if key not in _PROGRAMS:
            import jax

            while len(_PROGRAMS) >= _MAX_PROGRAMS:
                _PROGRAMS.pop(next(iter(_PROGRAMS)))
            _PROGRAMS[key] = jax.jit(self._program(width))
        program = _PROGRAMS[key]
        return lambda *args: program(*args, self.params)

    def _program(self, W: int):
        return build_program(self, W)

    def _run(self, W: int, values, numeraire, fx, M, lead: int, n_end: int) -> dict:
        """The program's outputs as host arrays by name (``reduction_program.unpack``)."""
        out = self._fn(W)(values, numeraire, fx, M, np.int32(lead), np.int32(n_end))
        return unpack({k: None if v is None else np.asarray(v) for k, v in out.items()}, self.with_collateral)

    # -- per chunk ---------------------------------------------------------------------------------------------

    def weights(self, states, n: int):
        """Per-path CVA factors M (r, K, n) from states (K_all, d, >= n) (NumPy), or None."""
        if self.path_weights is None:
            return None
        if states is None:
            raise ValueError("path_weights (stochastic survival) need the model states in add_chunk")
        st = np.asarray(states)[self.vi][..., :n]
        return _factors(self.path_weights, st)

    def __call__(self, start: int, stop: int, values, numeraire, fx=None, states=None) -> ChunkSums:
        """Paths [start, stop) of arrays whose path axis holds at least stop - start paths (device arrays or
        NumPy; a padded chunk's extra paths are ignored)."""
        n = stop - start
        B = self.B
        if isinstance(values, np.ndarray):  # host arrays (a replay, a stored cube): padded to a few widths
            values, numeraire, fx, states = (None if a is None else _to_width(np.asarray(a), n, host_width(n, B))
                                             for a in (values, numeraire, fx, states))
        W = int(values.shape[-1])
        lead = (-start) % B
        if lead >= n:
            n_end = lead
        elif stop == self.P:
            n_end = n
        else:
            n_end = lead + (n - lead) // B * B
        if fx is None and any(f is not None for f in self.fx_idx):
            raise ValueError("a CSA has a non-base collateral currency: add_chunk needs fx (n_ccy, K_all, P)")
        M = self.weights(states, n)
        fx_in = fx if fx is not None else np.zeros((0,) + tuple(values.shape[:1]) + (W,))
        M_in = None if M is None else np.pad(M, ((0, 0), (0, 0), (0, W - n)))
        out = self._run(W, values, numeraire, fx_in, M_in, lead, n_end)
        nb = -(-(n_end - lead) // B) if n_end > lead else 0
        blocks = {k: np.moveaxis(np.asarray(v)[..., :nb], -1, 0) for k, v in out.items()
                  if k not in ("pfe", "X", "coll")}
        counts = np.full(nb, B, dtype=np.int64)
        if nb:
            counts[-1] = n_end - lead - (nb - 1) * B
        raw = None
        if lead or n_end < n:
            raw = {"values": np.asarray(values), "numeraire": np.asarray(numeraire),
                   "fx": None if fx is None else np.asarray(fx), "M": M}
        head = _cut(raw, 0, min(lead, n)) if lead else None
        tail = _cut(raw, n_end, n) if n_end < n else None
        pfe = np.asarray(out["pfe"])[..., :n] if "pfe" in out else None
        X = np.asarray(out["X"])[..., :n] if "X" in out else None
        coll = np.asarray(out["coll"])[..., :n] if out.get("coll") is not None else None
        return ChunkSums(start, stop, blocks, counts, head, tail, pfe, X, coll)

    def block(self, raw: dict, count: int) -> ChunkSums:
        """The sums of one block assembled on the host from raw inputs of ``count`` <= B paths."""
        B = self.B
        pad = lambda a: None if a is None else np.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, B - a.shape[-1])])
        vals = pad(raw["values"])
        fx = pad(raw["fx"]) if raw["fx"] is not None else np.zeros((0,) + vals.shape[:1] + (B,))
        out = self._run(B, vals, pad(raw["numeraire"]), fx, pad(raw["M"]), 0, count)
        blocks = {k: np.moveaxis(np.asarray(v)[..., :1], -1, 0) for k, v in out.items()
                  if k not in ("pfe", "X", "coll")}
        return ChunkSums(0, 0, blocks, np.array([count]), None, None, None)


def program_params(r: ChunkReducer) -> dict:
    """The numbers of the reduction program, passed as arguments (a what-if with other CSA terms, credit curves,
    dates or books of the same shape reuses the compiled program): per netting set (n rows; zeros for the sets
    without a CSA) the CSA terms (n, 1), ``is_csa``, independent amount ``ia`` and start balance ``ib`` / ``has_ib``
    (n, 1), the collateral currency ``fx_sel`` (n,) (0: base, 1 + its fx row); date indices ``vi`` (K,), ``ci``
    (K,) or (K, n), ``t0``; functional weights ``w`` (K, T, n) and each set's survival-factor row
    ``m_sel`` (n,) (0: none, 1 + its row); the group sums' ``member`` (n, n_groups + 1) mask (the last column:
    the total); the row lists ``csa_rows`` and ``plain_rows`` (the program's tiles, ``reduction_program``)."""
    n = r.n_ns
    slot = np.zeros(n, np.int64)
    is_csa = np.zeros(n, bool)
    slot[r.csa_idx], is_csa[r.csa_idx] = np.arange(r.csa_idx.size), True

    def rows(a):  # (m,) per CSA -> (n, 1), zeros for the sets without one
        a = np.asarray(a, np.float64)
        return np.where(is_csa, a[slot] if a.size else 0.0, 0.0)[:, None]

    csas = r.csas
    ib = [0.0 if c.initial_balance is None else float(c.initial_balance) for c in csas]
    fx_sel = np.zeros(n, np.int32)
    for j, f in zip(r.csa_idx, r.fx_idx):
        fx_sel[j] = 0 if f is None else 1 + int(f)
    flat = [(b, np.asarray(w, np.float64), key) for ts in r.terms for b, w, key in ts]
    m_sel = np.zeros(n, np.int32)
    if r.path_weights is not None:
        for q, j in enumerate(r.path_weights.rows):
            m_sel[int(j)] = q + 1
    groups = np.zeros(n, np.int64) if r.groups is None else r.groups
    G = r.n_groups
    member = np.zeros((n, G + 1), bool)
    member[np.arange(n), groups] = G > 0
    member[:, G] = True
    return {"csa": {k: rows(a) for k, a in csa_arrays(csas).items()},
            "is_csa": is_csa[:, None],
            "ia": rows([c.independent_amount_held - c.independent_amount_posted for c in csas]),
            "ib": rows(ib), "has_ib": rows([c.initial_balance is not None for c in csas]) > 0,
            "fx_sel": fx_sel,
            "vi": r.vi.astype(np.int32), "ci": None if r.ci is None else r.ci.astype(np.int32),
            "t0": np.int32(0 if r.t0 is None else r.t0),
            "w": np.stack([w.T for _, w, _ in flat], axis=1) if flat else np.zeros((r.K, 0, n)),
            "m_sel": m_sel,
            "member": member,
            "csa_rows": np.flatnonzero(is_csa).astype(np.int32),
            "plain_rows": np.flatnonzero(~is_csa).astype(np.int32)}


def host_width(n: int, B: int) -> int:
    """Width the host pads n paths to: a multiple of B with at most ~25% padding (few compiled widths)."""
    g = max(B, 1 << max(0, n.bit_length() - 3))
    return -(-n // g) * g


def _to_width(a: np.ndarray, n: int, W: int) -> np.ndarray:
    a = a[..., :n]
    return np.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, W - n)]) if W > n else a


def _factors(path_weights, states) -> np.ndarray:
    (_, M), = path_weights(states).values()
    return np.asarray(M, np.float64)


def _cut(raw, a: int, b: int) -> dict:
    return {k: None if v is None else np.array(v[..., a:b]) for k, v in raw.items()}
