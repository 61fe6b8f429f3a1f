"""The set-up layer theta -> S: every array the path layer reads, rebuilt from a (bumped) config.

    S = {Phi (n, d, d), mu (n, d), L (n, d, d), y0 (d,)        the exact scheme Y_k = Phi_k Y_{k-1} + mu_k + L_k z_k
         log_num (K,)                                         int_0^t phi_base, the deterministic log numeraire
         pres [float leaves of every batch's prepare(ctx)]    deterministic pricing data on the simulated dates
         w {CVA, DVA, FCA, FBA} (n_ns, K_val)}                XVA date weights (credit, funding, discounting)

built exactly as ``pipeline.run_pipeline`` and ``pipeline.make_aggregator`` build them (market -> model with its
calibration -> grid -> prepared batches -> weights), in NumPy. Integer leaves of ``pres`` (schedules, indices)
are the ``Static`` part and must not move under a bump. The path layer (``reverse``) differentiates a run's
functionals with respect to S by reverse mode; a market input theta reaches S through this deterministic
set-up only, so dF/dtheta = <g_S, dS/dtheta> with dS/dtheta by a central difference of this layer (no Monte
Carlo noise; O(h^2), h = risk.setup_step units; README "Sensitivities" states and measures the compromise).

L comes from an eigendecomposition, whose eigenvector signs are arbitrary: ``aligned`` flips the columns of a
bumped L to the base L's signs so that L(theta) is followed continuously.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from exposure.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Static:
    """What the trace bakes in: batches, model layout, times, the pres tree with its integer leaves, the
    collateral layout, the netting-set count, the valuation indices and the measures' bases."""

    batches: tuple
    model: object
    times: np.ndarray
    treedef: object
    int_leaves: tuple  # (position, array, key path) of the non-float leaves of pres
    n_float: int
    n_ns: int
    layout: object  # exposure.aggregation.collateral_jax.CollateralLayout
    val_times: np.ndarray
    bridge: tuple | None = None  # (left, right, days, order) of the event-date bridge (simulation.bridge), ints


def split_leaves(pres):
    """(float leaves as float64 NumPy arrays, ((flat index, array, key path) of every integer / bool leaf), treedef)
    of the list of prepared trees ``pres``: S["pres"] is the float part, in this order."""
    with_paths, treedef = jax.tree_util.tree_flatten_with_path(list(pres))
    floats, ints = [], []
    for i, (path, x) in enumerate(with_paths):
        a = np.asarray(x)
        if np.issubdtype(a.dtype, np.floating):
            floats.append(np.asarray(a, dtype=np.float64))
        else:
            ints.append((i, a, jax.tree_util.keystr(path)))
    return floats, tuple(ints), treedef


# Integer set-up that only picks an approximation's accuracy, not what is priced: the linear pricer's series
# truncation order per date (chosen from the model's state bound, so a model parameter can move it). A bumped
# set-up keeps the base run's order (its float coefficients do not depend on it; the truncation error is below
# the expansion's tolerance by construction).
APPROXIMATION_ORDERS = ("order_k",)



def run_context(s, static, market, model):
    """The run's pricing context (its times, fixings, as-of + grid dates, reporting mask) at a (market, model):
    what ``prepare`` reads when the set-up differentiates or re-prepares a batch."""
    from exposure.pricing.view import PricingContext

    g = s.grid
    return PricingContext(market, model, static.times, s.portfolio.fixings, (market.asof,) + tuple(g.dates),
                          g.reporting_mask())


def batch_difference(batch, ints, markets, models, s, static, factor, step: float) -> list:
    """[(f(+h) - f(-h)) / 2h] of one batch's prepare float leaves f at the two moved (market, model) pairs
    (e = +-step), its integer leaves checked against the base run's ``ints`` ((index, array, name) of ``split_leaves``):
    a bump that changes the discrete set-up cannot be taken through the fixed path program."""
    pres = []
    for m, md in zip(markets, models):
        fl, it, _ = split_leaves([batch.prepare(run_context(s, static, m, md))])
        if len(it) != len(ints) or not all(
                a.shape == c.shape and (np.array_equal(a, c) or any(o in n for o in APPROXIMATION_ORDERS))
                for (_, a, n), (_, c, _) in zip(it, ints)):
            raise ConfigError("risk", f"moving {factor.label()} changes the discrete set-up of {batch!r}: its "
                                      "sensitivity cannot be taken through the fixed path program")
        pres.append(fl)
    return [(u - d) / (2.0 * step) for u, d in zip(*pres)]

def merge_pres(static: Static, floats):
    """The pres list from its float leaves (traced or not) and the static integer leaves."""
    n = static.n_float + len(static.int_leaves)
    leaves = [None] * n
    ints = {i: a for i, a, _ in static.int_leaves}
    it = iter(floats)
    for i in range(n):
        leaves[i] = ints[i] if i in ints else next(it)
    return jax.tree_util.tree_unflatten(static.treedef, leaves)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """The plain run's deterministic set-up of the same Setup (``pipeline``: its chunk job's), which ``path_state``
    takes instead of building it again: the batches (matched by identity) with their prepared data on the run's
    dates, the discretisation (``simulation.paths.Discretisation``) and the log numeraire (K,)."""

    batches: tuple
    pres: tuple
    disc: object
    log_num: np.ndarray


def _prepared(b, i: int, ctx, prepared: Prepared | None):
    """Batch i's prepare(ctx): the plain run's own where it prepared the same batch object on the same dates, less
    what only its context's ``option_tables`` adds (``TradeBatch.without_tables``: the two contexts differ in that
    flag and ``paths`` alone)."""
    if prepared is not None and i < len(prepared.batches) and prepared.batches[i] is b:
        return b.without_tables(prepared.pres[i])
    return b.prepare(ctx)


def path_state(cfg, s, measures=(), prepared: Prepared | None = None):
    """(S, Static) of the run configured by ``cfg`` with its Setup ``s`` (module docstring); S["w"] holds the
    weights of ``measures`` (empty: CVA, DVA and, with market.funding, FCA, FBA). ``prepared``: the plain run's
    set-up of this same ``s`` (``Prepared``), reused where it is the same (bumped set-ups pass None)."""
    from exposure.aggregation.collateral_jax import CollateralLayout
    from exposure.pricing.view import PricingContext
    from exposure.simulation.paths import Discretisation

    market, model, grid, pf = s.market, s.built.model, s.grid, s.portfolio
    times = np.concatenate([[0.0], grid.times])
    dates = (market.asof,) + tuple(grid.dates)
    ctx = PricingContext(market, model, times, pf.fixings, dates, grid.reporting_mask())
    pres = [_prepared(b, i, ctx, prepared) for i, b in enumerate(pf.batches)]
    floats, ints, treedef = split_leaves(pres)
    # The run's own scheme: reporting dates stepped exactly, event dates bridged (exposure.simulation.bridge).
    disc = Discretisation.build(model, grid) if prepared is None else prepared.disc
    valuation_index = np.concatenate([[0], 1 + grid.valuation_index])
    closeout_index = None if grid.closeout_index is None else np.concatenate([[0], 1 + grid.closeout_index])
    val_times = times[valuation_index]
    weights = xva_weight_arrays(cfg, market, pf.netting_sets, val_times, measures)
    S = {"Phi": np.asarray(disc.Phi, np.float64), "mu": np.asarray(disc.mu, np.float64),
         "L": np.asarray(disc.L, np.float64), "y0": np.asarray(disc.y0, np.float64),
         "log_num": np.asarray(ctx.numeraire_log_det() if prepared is None else prepared.log_num, np.float64),
         "pres": floats, "w": weights}
    br = disc.bridge
    if br is not None:
        S["bridge"] = {k: np.asarray(getattr(br, k), np.float64) for k in ("A", "B", "m", "L")}
    layout = CollateralLayout(pf.netting_sets, model.currencies, market.base_currency, valuation_index, closeout_index, 0)
    static = Static(tuple(pf.batches), model, times, treedef, ints, len(floats), len(pf.netting_sets), layout,
                    val_times, None if br is None else (br.left, br.right, br.days, br.order))
    return S, static


def xva_weight_arrays(cfg, market, netting_sets, val_times, measures=()) -> dict:
    """{measure: (n_ns, K_val)} date weights of CVA, DVA (and FCA, FBA with market.funding), as the run's
    aggregator gets them (``pipeline.make_aggregator``); ``measures`` empty: every one the run has."""
    from exposure.xva import FUNDING_VARIANTS, xva_settings, xva_weights

    xs = xva_settings(cfg, market.asof)
    if xs is None:
        raise ConfigError("risk.method", "XVA sensitivities need the xva stage (xva.enabled=true)")
    dfs = np.exp(market.curves[market.base_currency].log_discount_np(val_times))
    w = xva_weights(xs, market.credit, market.own_name, [n.id for n in netting_sets],
                    [n.counterparty for n in netting_sets], val_times, dfs)
    weights = {"CVA": w.cva, "DVA": w.dva}
    if w.funding:
        suffix = FUNDING_VARIANTS[xs.survival_weighting]
        weights.update(FCA=w.funding["FCA" + suffix], FBA=w.funding["FBA" + suffix])
    measures = tuple(measures) or tuple(weights)
    missing = [m for m in measures if m not in weights]
    if missing:
        raise ConfigError("risk.measures", f"{', '.join(missing)} need market.funding spreads (no FCA/FBA in this run)")
    return {m: np.asarray(weights[m], np.float64) for m in measures}


class _WithoutCredit:
    """A market config node seen without its credit curves (their CDS bootstrap is the slowest part of a market
    build, and only base-curve and credit inputs move them)."""

    def __init__(self, node):
        self._node = node

    def __getattr__(self, key):
        return {} if key == "credit" else getattr(self._node, key)


def rebuilt(cfg, s, factor=None, keep_credit: bool = False):
    """The Setup of a bumped config: market and model (calibration included) rebuilt, grid and portfolio kept
    (trade parsing reads the market for checks and dates only; ``check_same_static`` guards the rest). Credit
    curves are bootstrapped again only when the factor can move them (the base discount curve, par quotes);
    a model parameter keeps the market, and so does ``keep_credit`` (the caller takes the weights' tangent
    elsewhere) for the credit curves."""
    from exposure.models.build import build_model

    market = rebuilt_market(cfg, s, factor, keep_credit)
    return dataclasses.replace(s, market=market, built=build_model(market, cfg.model))


def rebuilt_market(cfg, s, factor=None, keep_credit: bool = False):
    """The market of ``rebuilt``: kept for a model parameter, rebuilt without the credit bootstraps unless the
    factor can move them and the caller does not take the weights' tangent elsewhere (``keep_credit``)."""
    from exposure.market.snapshot import build_market

    if factor is not None and factor.path[0] == "model":
        return s.market
    if factor is not None and factor.path[:2] != ("market", "curve_inputs") and (keep_credit or not (
            factor.factor_type == "DiscountCurve" and factor.name == s.market.base_currency)):
        return dataclasses.replace(build_market(_WithoutCredit(cfg.market)), credit=s.market.credit)
    return build_market(cfg.market)


def weights_only(factor) -> bool:
    """Credit and funding inputs reach S through the XVA weights alone."""
    return factor.path[:2] in (("market", "credit"), ("market", "funding"))


def bumped_state(cfg, s, factor, S, static, e: float, keep_credit: bool = False):
    """S at the factor moved by e units (``factors.bumped``), rebuilt as cheaply as exactness allows: funding
    moves the weights only, a credit input its own curve and the weights, anything else the market (credit
    kept unless the base curve moves) and the model."""
    from exposure.market.snapshot import build_credit
    from exposure.risk.factors import bumped

    c = bumped(cfg, factor, e)
    ns = s.portfolio.netting_sets
    if factor.path[:2] == ("market", "funding"):
        return dict(S, w=xva_weight_arrays(c, s.market, ns, static.val_times, tuple(S["w"])))
    if factor.path[:2] == ("market", "credit"):
        name = factor.path[2]
        m = s.market
        curve = build_credit(m.asof, c.market.credit[name], f"market.credit.{name}", name, m.curves[m.base_currency])
        market = dataclasses.replace(m, credit={**m.credit, name: curve})
        return dict(S, w=xva_weight_arrays(c, market, ns, static.val_times, tuple(S["w"])))
    Sb, st = path_state(c, rebuilt(c, s, factor, keep_credit), tuple(S["w"]))
    check_same_static(static, st, factor.label())
    return Sb


def aligned(L, L_base):
    """L with each column's sign flipped where it points against the base L's column (eigh's arbitrary signs)."""
    dots = np.sum(L * L_base, axis=-2, keepdims=True)
    return np.where(dots < 0.0, -L, L)


def check_same_static(static: Static, other: Static, label: str) -> None:
    """A bump must not change the integer set-up (schedules, indices, shapes): the path layer is traced once."""
    ok = (other.treedef == static.treedef and len(other.int_leaves) == len(static.int_leaves)
          and all(i == j and a.shape == b.shape and (np.array_equal(a, b)
                                                     or any(o in name for o in APPROXIMATION_ORDERS))
                  for (i, a, name), (j, b, _) in zip(static.int_leaves, other.int_leaves))
          and np.array_equal(other.times, static.times)
          and (other.bridge is None) == (static.bridge is None)
          and (static.bridge is None or all(np.array_equal(a, b) for a, b in zip(other.bridge, static.bridge))))
    if not ok:
        raise ConfigError("risk", f"bumping {label} changes the discrete set-up (dates, schedules or indices); "
                                  "its sensitivity cannot be taken through the fixed path program")


def difference(S_up, S_down, S_base, step: float):
    """dS/de = (S(+h) - S(-h)) / (2h), h = step units; L's columns aligned to the base first."""
    up = dict(S_up, L=aligned(S_up["L"], S_base["L"]))
    down = dict(S_down, L=aligned(S_down["L"], S_base["L"]))
    if "bridge" in S_base:  # the bridge's conditional factors come from eigh as well
        up["bridge"] = dict(S_up["bridge"], L=aligned(S_up["bridge"]["L"], S_base["bridge"]["L"]))
        down["bridge"] = dict(S_down["bridge"], L=aligned(S_down["bridge"]["L"], S_base["bridge"]["L"]))
    return jax.tree_util.tree_map(lambda a, b: (np.asarray(a) - np.asarray(b)) / (2.0 * step), up, down)
