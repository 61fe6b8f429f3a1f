"""The sensitivities stage: d(CVA, DVA, FCA, FBA) / d(every market input and model parameter), labelled.

    sensitivity[j, m, f] = d measure_m(j) / d e_f      base currency per the factor's unit (``factors``)

risk.method=ad: one reverse pass over the run's paths gives g_S = d measure / d S for every measure and
netting set (``reverse``); each factor's set-up tangent dS/de_f is contracted with it: the XVA weights by AD
(``setup_market``), the model arrays by jvp and the Hull-White calibration by the implicit-function theorem
(``setup_tangent``), a curve pillar or FX spot without a market build and the linear batches' pricing data by
jvp (``setup_curves``, ``setup_pres``), the rest of the deterministic set-up by central differences (``state``);
with risk.reverse_setup (and no profiles) curve pillars and FX spots instead take one vjp of g_S back through
the set-up to all of them at once, plus a per-factor remainder for what has no jnp twin (``setup_reverse``).
risk.method=bump: central bump and full revaluation (the same seed) per factor, the reference. Profiles
(risk.profiles): EPE_sensitivity, ENE_sensitivity (netting_set, date, risk_factor) by forward mode along the same
tangents.

For the bump method ``revalue(cfg) -> results Dataset`` is given by the caller (the pipeline), so this stage
imports nothing above it.
"""

from __future__ import annotations

import concurrent.futures
import time

import jax
import numpy as np
import xarray as xr

from exposure.gc_pause import gc_paused
from exposure.risk.factors import bumped, enumerate_factors
from exposure.risk.reverse import contract, forward_profiles, reverse_pass
from exposure.risk.settings import RiskSettings
from exposure.risk.setup_market import market_tangents
from exposure.risk.setup_reverse import ReverseSetup, reverse_covered
from exposure.risk.setup_tangent import model_direction, model_state_tangent
from exposure.risk.state import bumped_state, difference, path_state, weights_only


def credit_names(s) -> list:
    return list(dict.fromkeys([ns.counterparty for ns in s.portfolio.netting_sets] + [s.market.own_name]))


def factor_list(cfg, s, settings: RiskSettings) -> list:
    return enumerate_factors(cfg, s.market.asof, s.market.base_currency, credit_names(s), settings.factor_types)


def tangent(cfg, factor, S, static, s, step: float, market=None, full: bool = True):
    """dS/de of one factor: the components that ``market`` (``setup_market.MarketTangents``) gives by AD (all of
    them for credit and funding inputs: nothing is rebuilt), the model arrays by jvp and the calibration by the
    implicit-function theorem where the factor moves the market or the model (``setup_tangent``), the rest by a
    central difference of the set-up layer with e = +-step units. full=False: a credit or funding input's dS is
    those components alone (the rest is 0; ``contract_tangent``), not S's size in zeros."""
    parts, complete = market.parts(factor) if market is not None else ({}, False)
    if complete:
        return dict(parts) if not full else dict(jax.tree_util.tree_map(np.zeros_like, S), **parts)
    keep = "w" in parts  # the weights' tangent is AD: the bumped set-up need not bootstrap credit again
    if not weights_only(factor):
        return dict(model_state_tangent(cfg, s, factor, S, static, step, keep_credit=keep), **parts)
    up = bumped_state(cfg, s, factor, S, static, step, keep_credit=keep)
    down = bumped_state(cfg, s, factor, S, static, -step, keep_credit=keep)
    return dict(difference(up, down, S, step), **parts)


def contract_tangent(G, dS, n_out: int) -> np.ndarray:
    """``reverse.contract`` over dS's own components (a part left out of dS is 0: ``tangent(full=False)``)."""
    return contract({k: G[k] for k in dS}, dS) if dS else np.zeros(n_out)


def _tangent_factors(rev, vols, market, factors) -> list:
    """[(factor, keep_credit)] of the factors that ``ad_sensitivities``' loop takes through ``tangent`` into
    ``model_state_tangent``'s moved markets and models (neither rev nor vols takes them, not weights only), with
    the keep_credit that ``tangent`` passes."""
    return [(f, market is not None and market.direction(f) is not None) for f in factors
            if not rev.covers(f) and not vols.taken(f) and not weights_only(f)]


def _host_ahead(cfg, s, S, static, settings: RiskSettings) -> dict:
    """{batch index: ``setup_amounts.amount_jacobian``} of the linear twins whose amounts read a curve, with the
    run's tangent context and twins (``setup_tangent.context``, ``PresTangents``) and the linear twins' G-free
    backward parts (``twin_linear_backward.prepare``) built on the way: host work
    (NumPy and Python, no device program) that needs no G, done while the reverse pass runs on the device (XLA:CPU
    runs the step's blocks one after another on one core: the other is free; a device program called here would
    wait for them). Empty where ``ReverseSetup`` takes no factor (it then builds nothing of this)."""
    if not settings.reverse_setup or settings.profiles:
        return {}
    from exposure.risk.setup_amounts import amount_jacobian
    from exposure.risk.setup_pres import LinearPresTwin
    from exposure.risk.setup_pres_tangents import PresTangents
    from exposure.risk.setup_tangent import context
    from exposure.risk.twin_linear_backward import prepare

    ctx = context(cfg, s, S, static)
    if ctx.pres is None:
        ctx.pres = PresTangents(s, static, S)
    linear = {i: tw for i, tw in ctx.pres._linear().items() if isinstance(tw, LinearPresTwin)}
    for tw in linear.values():  # the linear twins' backward pass's parts that need no G (``twin_linear_backward``)
        prepare(tw)
    return {i: amount_jacobian(tw.batch, s.market, tw.cf) for i, tw in linear.items() if tw.amount_curves}


def ad_sensitivities(cfg, s, settings: RiskSettings, n_paths: int, seed: int, antithetic: bool, factors=None,
                     prepared=None):
    """(factors, measures, sens (n_ns, n_meas, n_f), values (n_meas, n_ns), profiles (n_f, 2, K, n_ns) or None,
    timings {stage: seconds}). prepared: the plain run's set-up of ``s`` (``state.Prepared``) or None."""
    factors = factor_list(cfg, s, settings) if factors is None else factors
    t0 = time.perf_counter()
    S, static = path_state(cfg, s, settings.measures, prepared)
    measures = tuple(S["w"])
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="xposure-risk-ahead") as pool:
        host = pool.submit(_host_ahead, cfg, s, S, static, settings)  # on the core the device pass leaves free
        G, values = reverse_pass(S, static, n_paths, seed, antithetic, measures, settings.block_paths,
                                 settings.mta_smoothing)
        amounts = host.result()
    t1 = time.perf_counter()
    n_meas, n_ns = len(measures), static.n_ns
    sens = np.zeros((n_ns, n_meas, len(factors)))
    tangents = []
    market = market_tangents(cfg, s, measures, static.val_times)
    rev = None  # curve pillars and FX spots in reverse (``setup_reverse``); profiles need each factor's tangent
    vols = None  # FX/equity vols and model parameters against the same one-time twin cotangents (``twin_reverse``)
    if settings.reverse_setup and not settings.profiles and any(reverse_covered(cfg, s, market, f) for f in factors):
        from exposure.risk.twin_reverse import VolReverse

        held = []

        def ahead(rev_):  # every model direction the loop asks for, in the calibrated sigma's program calls
            held.append(VolReverse(rev_, G))
            return held[0].directions([f for f in factors if not rev_.covers(f)]) + [
                model_direction(cfg, s, f, S, static, settings.setup_step, keep_credit=keep)
                for f, keep in _tangent_factors(rev_, held[0], market, factors)]

        rev = ReverseSetup(cfg, s, S, static, G, market, settings.setup_step, ahead=ahead, amounts=amounts)
        vols = held[0]
    if rev is not None:
        from exposure.risk.setup_vols import covered
        from exposure.risk.setup_vols_reverse import VOL_OPTION_TYPES
        from exposure.risk.twins import sigma_only

        vols.prefetch([f for f in factors if not rev.covers(f)])  # kept: nothing left to fetch
        # the factors that take the option twins' part: picks its form (``twin_basis.choose``)
        rev.option_factors = sum(1 for f in factors if rev.covers(f) or sigma_only(f))
        # the FX / equity vol and correlation factors: their option twins' cotangents serve the curves' too
        rev.vol_option_factors = sum(1 for f in factors if f.factor_type in VOL_OPTION_TYPES and covered(cfg, f))
    for i, f in enumerate(factors):
        if rev is not None and rev.covers(f):
            sens[:, :, i] = rev.sensitivity(f).reshape(n_meas, n_ns).T
            continue
        v = None if vols is None else vols.sensitivity(f)
        if v is not None:
            sens[:, :, i] = v.reshape(n_meas, n_ns).T
            continue
        dS = tangent(cfg, f, S, static, s, settings.setup_step, market, full=settings.profiles)
        sens[:, :, i] = contract_tangent(G, dS, n_meas * n_ns).reshape(n_meas, n_ns).T
        if settings.profiles:
            tangents.append(dS)
    if rev is not None:
        rev.ctx.moved.clear()  # builds of a factor the loop did not take as ``_tangent_factors`` expected
    t2 = time.perf_counter()
    prof = None
    if settings.profiles and factors:
        prof = forward_profiles(S, static, tangents, n_paths, seed, antithetic, settings.block_paths,
                                settings.mta_smoothing)
    t3 = time.perf_counter()
    timings = {"paths_reverse_s": t1 - t0, "setup_tangents_s": t2 - t1, "profiles_s": t3 - t2}
    return factors, measures, sens, values, prof, timings


def bump_sensitivities(cfg, s, settings: RiskSettings, revalue, factors=None, measures=None):
    """(factors, measures, sens (n_ns, n_meas, n_f)) by central bump and revalue: revalue(cfg) -> results
    Dataset of the bumped run (same seed)."""
    factors = factor_list(cfg, s, settings) if factors is None else factors
    measures = measures or settings.measures or tuple(
        m for m in ("CVA", "DVA", "FCA", "FBA") if m in ("CVA", "DVA") or getattr(cfg.market.funding, "tenors", None))
    n_ns = len(s.portfolio.netting_sets)
    sens = np.zeros((n_ns, len(measures), len(factors)))
    h = settings.bump_step
    for i, f in enumerate(factors):
        up, down = revalue(bumped(cfg, f, h)), revalue(bumped(cfg, f, -h))
        for k, m in enumerate(measures):
            sens[:, k, i] = (up[m].values - down[m].values) / (2.0 * h)
    return factors, measures, sens


def sensitivity_dataset(netting_set_ids, measures, factors, sens, profiles=None, dates=None,
                        attrs: dict | None = None) -> xr.Dataset:
    """The results-contract variables (README "Sensitivities"): sensitivity (netting_set, xva_measure,
    risk_factor) and, with profiles (n_f, 2, K, n_ns), EPE_sensitivity / ENE_sensitivity (netting_set, date,
    risk_factor)."""
    coords = {
        "netting_set": ("netting_set", np.array(list(netting_set_ids), dtype=object)),
        "xva_measure": ("xva_measure", np.array(list(measures), dtype=object)),
        "risk_factor": ("risk_factor", np.arange(len(factors))),
        "factor_type": ("risk_factor", np.array([f.factor_type for f in factors], dtype=object)),
        "factor_name": ("risk_factor", np.array([f.name for f in factors], dtype=object)),
        "pillar": ("risk_factor", np.array([f.pillar for f in factors], dtype=object)),
        "pillar_time": ("risk_factor", np.array([f.pillar_time for f in factors], dtype=np.float64)),
        "unit": ("risk_factor", np.array([f.unit for f in factors], dtype=object)),
        "quote": ("risk_factor", np.array([f.quote for f in factors], dtype=object)),
    }
    ds = xr.Dataset(coords=coords)
    ds["sensitivity"] = (("netting_set", "xva_measure", "risk_factor"), np.asarray(sens, np.float64),
                         {"units": "base currency per factor unit"})
    if profiles is not None:
        p = np.asarray(profiles, np.float64)  # (n_f, 2, K, n_ns)
        ds = ds.assign_coords(date=("date", np.asarray(dates)))
        ds["EPE_sensitivity"] = (("netting_set", "date", "risk_factor"), np.transpose(p[:, 0], (2, 1, 0)),
                                 {"units": "base currency (discounted) per factor unit"})
        ds["ENE_sensitivity"] = (("netting_set", "date", "risk_factor"), np.transpose(p[:, 1], (2, 1, 0)),
                                 {"units": "base currency (discounted) per factor unit"})
    ds.attrs.update(attrs or {})
    return ds


def add_sensitivities(ds: xr.Dataset, sens: xr.Dataset) -> xr.Dataset:
    """ds with the sensitivity variables, coordinates and attrs merged (dates must be the results' dates)."""
    out = ds.copy()
    extra = {k: v for k, v in sens.coords.items() if k not in ("netting_set", "date")}
    out = out.assign_coords(extra)
    for name in sens.data_vars:  # by position: netting sets and dates are the run's own, in its order
        v = sens[name]
        for d in v.dims:
            if d in out.dims and out.sizes[d] != v.sizes[d]:
                raise ValueError(f"{name}: {v.sizes[d]} entries along '{d}', the results have {out.sizes[d]}")
        out[name] = (v.dims, v.values, v.attrs)
    out.attrs.update(sens.attrs)
    return out


def sensitivities_csv_text(ds: xr.Dataset) -> str:
    """sensitivities.csv: NettingSetId, Measure, RiskFactorType, Name, Pillar, PillarTime, Value, Unit, Quote (the
    ORE market file's quote key of the input, empty for the config's own)."""
    from exposure.files import csv_text

    s = ds["sensitivity"]
    vals = s.values
    # the factor columns once (an xarray lookup per row cost seconds on bench-1k's 8,950 rows)
    cols = [(str(t), str(n), str(p), f"{float(pt):.6g}", str(u)) for t, n, p, pt, u in zip(
        ds["factor_type"].values, ds["factor_name"].values, ds["pillar"].values, ds["pillar_time"].values,
        ds["unit"].values)]
    rows = []
    quote = ds["quote"].values if "quote" in ds.coords else [""] * s.shape[2]  # a results file of an older run
    for j, ns in enumerate(ds["netting_set"].values):
        for k, m in enumerate(s["xva_measure"].values):
            for i in range(s.shape[2]):
                t, n, p, pt, u = cols[i]
                rows.append((str(ns), str(m), t, n, p, pt, f"{float(vals[j, k, i]):.10g}", u, str(quote[i])))
    return csv_text(("NettingSetId", "Measure", "RiskFactorType", "Name", "Pillar", "PillarTime", "Value", "Unit",
                     "Quote"), rows)


NOTES = ("reverse mode (jax.vjp) through simulation, pricing, collateral and XVA sums on the run's paths; set-up "
         "layer: XVA weights by forward-mode AD (CDS bootstrap by the implicit-function theorem; credit and funding "
         "factors end to end), model discretisation (transitions, bridge, L, y0, numeraire) by jax.jvp, Hull-White "
         "calibration by the implicit-function theorem; curve pillars and FX spots move the built market in place "
         "and the linear and option batches' prepared data by jax.jvp of jnp twins (risk.reverse_setup: all of them "
         "at once by one jax.vjp of g_S through the model layer, the calibration, the twins and the weights; the "
         "cash-flow amounts by their dual-number Jacobian, once; vol and model factors against the same twin "
         "cotangents); FX/equity "
         "vol bootstraps by the implicit-function theorem (vol pillars and model parameters build no market or "
         "model); the rest (cash-flow amounts, prepared data of batches a model parameter moves) by central "
         "differences of the deterministic NumPy set-up (step risk.setup_step factor units, no Monte Carlo noise); "
         "kinks: max() and thresholds pathwise, rounding straight-through, MTA pathwise or smoothed "
         "(risk.mta_smoothing), exercise decisions pathwise, PFE not differentiated")


def run_sensitivities(cfg, s, settings: RiskSettings, n_paths: int, seed: int, antithetic: bool, revalue,
                      dates, prepared=None) -> xr.Dataset:
    """The sensitivities Dataset of a run (``sensitivity_dataset``) by settings.method; revalue(cfg) -> results
    Dataset (bump method only), dates: the results' valuation dates (profiles); prepared: the plain run's
    set-up of ``s`` (``state.Prepared``: the AD set-up takes what it shares instead of building it again)."""
    from exposure.risk.ore_quotes import labelled, resolve

    ids = [ns.id for ns in s.portfolio.netting_sets]
    t0 = time.perf_counter()
    cfg, ore = resolve(cfg)  # an ORE market file's inputs written into the config: its quotes are factors
    factors = labelled(factor_list(cfg, s, settings), ore, s.market.asof)
    if settings.method == "bump":
        factors, measures, sens = bump_sensitivities(cfg, s, settings, revalue, factors)
        out = sensitivity_dataset(ids, measures, factors, sens, attrs={
            "risk_method": f"central bump and revalue, step {settings.bump_step} factor units, same seed"})
    else:
        # bounded host work that allocates and keeps (cotangents, tangents, twins): no full collection over the
        # process's heap inside (``exposure.gc_pause``); the bump method's revaluations are whole runs, not paused
        with gc_paused():
            factors, measures, sens, values, prof, timings = ad_sensitivities(cfg, s, settings, n_paths, seed,
                                                                              antithetic, factors, prepared)
            out = sensitivity_dataset(ids, measures, factors, sens, prof, dates, attrs={
                "risk_method": NOTES, "risk_block_paths": settings.block_paths,
                "risk_setup_step": settings.setup_step,
                "risk_timings": "; ".join(f"{k}={v:.3f}" for k, v in timings.items())})
        out["sensitivity_base_value"] = (("netting_set", "xva_measure"), np.asarray(values).T,
                                         {"units": "base currency", "description": "the measures on the AD pass"})
    if ore is not None:
        out.attrs["risk_ore_market"] = ore.path
        out.attrs["risk_ore_quotes_not_factors"] = ore.unused_text()  # lines the engine does not read
    out.attrs["risk_seconds"] = time.perf_counter() - t0
    out.attrs["risk_n_factors"] = len(factors)
    return out
