"""The results contract: one labelled xarray Dataset, written to and read from HDF5 (ORE-style CSVs: ``results_csv``).

Dimensions: netting_set, date, quantile; trade (trade-level results only); path (the optional cube only).
Coordinates: netting_set (str), counterparty (str, along netting_set), date (datetime64[ns]), time (float
years ACT/365F, along date), quantile (float), trade (str), path (int).

Data variables (units: base currency; "discounted" = deflated by the numeraire to today, see
``exposure.aggregation.measures`` for the formulas):

    EPE, ENE, ExpectedCollateral, EE_stderr          (netting_set, date)   discounted
    BaselEE, BaselEEE                                (netting_set, date)   non-discounted (EPE / P(0, t))
    TimeWeightedBaselEPE, TimeWeightedBaselEEPE      (netting_set, date)   running time averages
    PFE                                              (netting_set, date, quantile)  basis: attrs pfe_basis
    optional (newer runs): ENE_stderr, FundingEPE, FundingENE, ExpectedIM (netting_set, date); PFE_lower, PFE_upper
    (netting_set, date, quantile), the order-statistic interval of PFE at attrs pfe_ci_level; the XVA stage's
    CVA, DVA, FCA, FBA, FVA, MVA, KVA (+ _stderr) on netting_set, *_cpty on cpty, *_total (exposure.xva);
    with xva.wwr.model=stochastic_intensity CVA_independent, CVA_WWR_effect (+ _stderr) on netting_set, attrs xva_wwr;
    with risk=ad|bump (exposure.risk): sensitivity (netting_set, xva_measure, risk_factor) with factor_type,
    factor_name, pillar, pillar_time, unit, quote (an ORE market file's quote key) along risk_factor,
    sensitivity_base_value (netting_set, xva_measure),
    and with risk.profiles EPE_sensitivity, ENE_sensitivity (netting_set, date, risk_factor)
    BaselEPE, BaselEEPE, EEPE (= BaselEEPE)          (netting_set)         one-year Basel averages
    PeakPFE, PeakPFEDate                             (netting_set, quantile)
    DiscountFactor                                   (date)                P(0, t) used for the Basel measures
    trade level (optional): trade_EPE, trade_ENE, AllocatedEPE, AllocatedENE, trade_BaselEE, trade_BaselEEE,
    trade_TimeWeightedBaselEPE, trade_TimeWeightedBaselEEPE (trade, date); trade_BaselEPE, trade_BaselEEPE
    (trade); trade_netting_set (trade); trade_PFE (trade, date, quantile) when computed
    cube (optional): cube_exposure (netting_set, date, path) the collateralised value X (undiscounted),
    cube_numeraire (date, path), cube_collateral (netting_set, date, path) when any CSA is present

Attributes: seed (int, -1 when unknown), config (YAML string), package_version, base_currency, asof (ISO date),
n_paths, quantile_method, pfe_basis, results_schema.

Every file is written to a temporary name in the target folder and renamed, so an exception never leaves a
half-written file behind (an older complete file stays as it was).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Sequence

import numpy as np
import xarray as xr

from exposure.checkpoint import failpoint  # SIGKILL test hook (XPOSURE_FAILPOINT), a no-op otherwise
from exposure.confignode import config_yaml
from exposure.files import fsync_path, write_netcdf
from exposure.xarray_dask import defer_dask_probe

defer_dask_probe()  # building a Dataset imports no dask.array (0.35 s) while no dask array can exist

RESULTS_SCHEMA = "xposure-results/1"

NETTING_DATE_VARS = ("EPE", "ENE", "BaselEE", "BaselEEE", "ExpectedCollateral", "EE_stderr")
OPTIONAL_NETTING_DATE_VARS = ("ENE_stderr", "FundingEPE", "FundingENE", "ExpectedIM")
REQUIRED_VARS = NETTING_DATE_VARS + ("PFE", "BaselEPE", "BaselEEPE", "EEPE", "PeakPFE", "PeakPFEDate")
REQUIRED_ATTRS = ("seed", "config", "package_version", "base_currency", "asof")

_DESCRIPTIONS = {
    "EPE": "E[max(X(t),0)/N(t)]: expected positive exposure, discounted to today (= EE)",
    "ENE": "E[max(-X(t),0)/N(t)]: expected negative exposure, discounted to today",
    "BaselEE": "EPE(t)/P(0,t): non-discounted expected exposure",
    "BaselEEE": "running maximum of BaselEE (effective EE)",
    "ExpectedCollateral": "E[Coll(t)/N(t)], Coll = net collateral held at close-out (VM + IA held - IA posted)",
    "EE_stderr": "Monte Carlo standard error of EPE: sd(max(X,0)/N)/sqrt(n_paths)",
    "ENE_stderr": "Monte Carlo standard error of ENE: sd(max(-X,0)/N)/sqrt(n_paths)",
    "FundingEPE": "E[max(F,0)/N], F = V(t) - variation margin held at t (funding exposure, no MPoR lag)",
    "FundingENE": "E[max(-F,0)/N], F = V(t) - variation margin held at t",
    "ExpectedIM": "E[IM/N]: regression dynamic initial margin, discounted (exposure.aggregation.dim)",
    "PFE_lower": "lower end of the distribution-free (order-statistic) confidence interval of PFE",
    "PFE_upper": "upper end of the distribution-free (order-statistic) confidence interval of PFE",
    "TimeWeightedBaselEPE": "running time average of BaselEE up to the date",
    "TimeWeightedBaselEEPE": "running time average of BaselEEE up to the date",
    "PFE": "q-quantile of max(X(t),0) over paths (basis: attrs pfe_basis; method: attrs quantile_method)",
    "BaselEPE": "time-weighted average of BaselEE over min(1Y, maturity)",
    "BaselEEPE": "time-weighted average of BaselEEE over min(1Y, maturity) (effective EPE)",
    "EEPE": "same as BaselEEPE",
    "PeakPFE": "max over dates of PFE",
    "PeakPFEDate": "first date at which PFE reaches PeakPFE",
    "DiscountFactor": "P(0,t), base currency, used for the Basel (non-discounted) measures",
    "AllocatedEPE": "E[a+(t)/N(t)]: netting-set EPE allocated pro rata v_i/V per path (Euler without collateral)",
    "AllocatedENE": "E[a-(t)/N(t)]: netting-set ENE allocated pro rata v_i/V per path",
    "trade_netting_set": "netting set of the trade",
    "cube_exposure": "collateralised netting-set value X per path, base currency, undiscounted",
    "cube_numeraire": "numeraire N per path at the valuation dates",
    "cube_collateral": "net collateral held per path at the exposure date, base currency",
}


def _iso(d) -> str:
    if d is None:
        return ""
    if isinstance(d, (dt.date, dt.datetime)):
        return d.isoformat()[:10]
    return str(np.datetime64(d, "D"))


def _var(dims, data, name: str, units: str | None = "base currency"):
    attrs = {"description": _DESCRIPTIONS.get(name.removeprefix("trade_"), name)}
    if units:
        attrs["units"] = units
    return (dims, data, attrs)


def build_results(measures, netting_set_ids: Sequence[str], counterparties: Sequence[str], dates, *,
                  trade_ids: Sequence[str] | None = None, seed: int | None = None, config=None,
                  base_currency: str = "", asof=None, include_cube: bool = True,
                  extra_attrs: dict | None = None) -> xr.Dataset:
    """The results Dataset from ``ExposureMeasures`` (exposure.aggregation.measure_set).

    dates: (K,) valuation dates (datetime.date or datetime64) matching measures.times; counterparties one per
    netting set; trade_ids required when measures holds trade-level results; config: YAML string, mapping or
    config node (stored as YAML); include_cube: add measures.cube when present.
    """
    from exposure import __version__

    ns_ids = [str(s) for s in netting_set_ids]
    cps = [str(c) for c in counterparties]
    n, K = len(ns_ids), len(measures.times)
    if len(cps) != n:
        raise ValueError(f"{len(cps)} counterparties for {n} netting sets")
    date_arr = np.array([np.datetime64(_iso(d) if isinstance(d, (dt.date, dt.datetime)) else d, "ns") for d in dates],
                        dtype="datetime64[ns]")
    if date_arr.shape != (K,):
        raise ValueError(f"{date_arr.size} dates for {K} measure dates")
    N = measures.netting
    if N["EPE"].shape != (n, K):
        raise ValueError(f"measures are for {N['EPE'].shape[0]} netting sets, got {n} ids")

    ns_date = ("netting_set", "date")
    data = {name: _var(ns_date, N[name], name) for name in NETTING_DATE_VARS}
    for name in ("TimeWeightedBaselEPE", "TimeWeightedBaselEEPE"):
        data[name] = _var(ns_date, N[name], name)
    data["PFE"] = _var(("netting_set", "date", "quantile"), N["PFE"], "PFE")
    for name in OPTIONAL_NETTING_DATE_VARS:
        if name in N:
            data[name] = _var(ns_date, N[name], name)
    for name in ("PFE_lower", "PFE_upper"):
        if name in N:
            data[name] = _var(("netting_set", "date", "quantile"), N[name], name)
    data["BaselEPE"] = _var(("netting_set",), N["BaselEPE"], "BaselEPE")
    data["BaselEEPE"] = _var(("netting_set",), N["BaselEEPE"], "BaselEEPE")
    data["EEPE"] = _var(("netting_set",), N["BaselEEPE"].copy(), "EEPE")
    nq = len(measures.quantiles)
    peak = N.get("PeakPFE", np.full((n, nq), np.nan))
    peak_idx = N.get("PeakPFEIndex")
    peak_date = (date_arr[peak_idx] if peak_idx is not None and K
                 else np.full((n, nq), np.datetime64("NaT"), dtype="datetime64[ns]"))
    data["PeakPFE"] = _var(("netting_set", "quantile"), peak, "PeakPFE")
    data["PeakPFEDate"] = _var(("netting_set", "quantile"), peak_date, "PeakPFEDate", units=None)
    data["DiscountFactor"] = _var(("date",), np.asarray(measures.discount_factors, dtype=np.float64),
                                  "DiscountFactor", units="1")

    coords = {
        "netting_set": np.array(ns_ids, dtype=object),
        "counterparty": ("netting_set", np.array(cps, dtype=object)),
        "date": date_arr,
        "time": ("date", np.asarray(measures.times, dtype=np.float64)),
        "quantile": np.asarray(measures.quantiles, dtype=np.float64),
    }

    T = measures.trade
    if T is not None:
        if trade_ids is None:
            raise ValueError("measures hold trade-level results: pass trade_ids")
        t_ids = [str(t) for t in trade_ids]
        if T["trade_EPE"].shape != (len(t_ids), K):
            raise ValueError(f"trade results are for {T['trade_EPE'].shape[0]} trades, got {len(t_ids)} ids")
        coords["trade"] = np.array(t_ids, dtype=object)
        td = ("trade", "date")
        for name in ("trade_EPE", "trade_ENE", "AllocatedEPE", "AllocatedENE", "trade_BaselEE", "trade_BaselEEE",
                     "trade_TimeWeightedBaselEPE", "trade_TimeWeightedBaselEEPE", "trade_EE_stderr"):
            data[name] = _var(td, T[name], name)
        data["trade_BaselEPE"] = _var(("trade",), T["trade_BaselEPE"], "trade_BaselEPE")
        data["trade_BaselEEPE"] = _var(("trade",), T["trade_BaselEEPE"], "trade_BaselEEPE")
        idx = measures.trade_netting_index
        data["trade_netting_set"] = _var(("trade",), np.array([ns_ids[i] for i in idx], dtype=object),
                                         "trade_netting_set", units=None)
        if nq and T["trade_PFE"].shape[-1] == nq and np.all(np.isfinite(T["trade_PFE"])):
            data["trade_PFE"] = _var(("trade", "date", "quantile"), T["trade_PFE"], "trade_PFE")

    if include_cube and measures.cube is not None:
        cube = measures.cube
        coords["path"] = np.arange(measures.n_paths, dtype=np.int64)
        data["cube_exposure"] = _var(("netting_set", "date", "path"), cube["exposure"], "cube_exposure")
        data["cube_numeraire"] = _var(("date", "path"), cube["numeraire"], "cube_numeraire", units="1")
        if "collateral" in cube:
            data["cube_collateral"] = _var(("netting_set", "date", "path"), cube["collateral"], "cube_collateral")

    attrs = {
        "seed": int(seed) if seed is not None else -1,
        "config": config_yaml(config),
        "package_version": str(__version__),
        "base_currency": str(base_currency or ""),
        "asof": _iso(asof),
        "n_paths": int(measures.n_paths),
        "quantile_method": str(measures.quantile_method),
        "pfe_basis": str(measures.pfe_basis),
        "pfe_ci_level": float(getattr(measures, "pfe_ci_level", None) or 0.0),  # 0: no PFE interval
        "results_schema": RESULTS_SCHEMA,
    }
    for k, v in (extra_attrs or {}).items():
        attrs[k] = _iso(v) if isinstance(v, (dt.date, dt.datetime)) else ("" if v is None else v)
    return xr.Dataset(data, coords=coords, attrs=attrs)


def validate_results(ds: xr.Dataset) -> xr.Dataset:
    """Raise ValueError naming what is missing from the results contract; returns ds."""
    # a measure undefined for this run (a standard error with one path) is omitted and named in attrs 'omitted'
    omitted = {n.strip() for part in str(ds.attrs.get("omitted", "")).split(";") if ":" in part
               for n in part.split(":", 1)[0].split(",")}
    missing = [v for v in REQUIRED_VARS if v not in ds.variables and v not in omitted]
    missing += [c for c in ("netting_set", "counterparty", "date", "time", "quantile") if c not in ds.coords]
    missing += [f"attrs.{a}" for a in REQUIRED_ATTRS if a not in ds.attrs]
    if missing:
        from exposure.errors import ResultsFileError  # a ValueError too

        raise ResultsFileError(f"not an exposure results dataset; missing: {', '.join(missing)}")
    return ds


def _atomic(path: str, write) -> str:
    """Call write(tmp_path), then rename tmp_path -> path; the temporary file is removed on any exception."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        write(tmp)
        fsync_path(tmp)
        failpoint(f"write:{os.path.basename(path)}")  # tests: a SIGKILL while the results are written
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_results(ds: xr.Dataset, path: str) -> str:
    """Write the results Dataset to HDF5 (h5netcdf engine) atomically; returns path."""
    return _atomic(path, lambda tmp: write_netcdf(ds, tmp))


def read_results(path: str, validate: bool = True) -> xr.Dataset:
    """Load a results file fully into memory (the file is closed on return)."""
    from exposure.errors import ResultsFileError

    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            out = ds.load()
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError) as exc:  # not HDF5, truncated, or not written by xarray
        raise ResultsFileError(f"{path}: not a readable results file ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    return validate_results(out) if validate else out


__all__ = [
    "RESULTS_SCHEMA",
    "build_results",
    "read_results",
    "validate_results",
    "write_results",
]
