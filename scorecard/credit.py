"""Credit metrics from the exposure engine's SAVED results (never re-simulated), with Monte Carlo errors, and a
1-10 credit score.

Per counterparty c (netting sets n in c via the `counterparty` coordinate, dates t):
  PFE_c(t) = sum_n PFE_n(t, q)   (no diversification across netting sets: conservative)
  pfe_peak = max_t PFE_c(t); utilisation = pfe_peak / pfe_limit_c (limit from counterparty reference data)
  epe_peak = max_t sum_n EPE_n(t); eepe = sum_n EEPE_n
  X_c = X_cpty[c] when the engine wrote the per-counterparty variable (dim `cpty`), else sum_n X_n,
        for X in CVA, FVA, EAD, Capital (results contract names; base currency); without EAD, ead = 1.4 eepe
  se(X_c) = X_cpty_stderr[c] when written, else sum_n X_stderr_n: the netting sets of one counterparty share the
        same paths, so their errors are correlated; the plain sum is the upper bound (perfect correlation).
  se(eepe) ~ sum_n mean_{t <= 1y} EE_stderr_n(t) / P(0, t): the SE of a time average is at most the average SE
        (the running maximum inside EEPE is ignored).
  pd = cumulative default probability at pd_horizon_years (linear in `time`), or 1 - survival; rating_pd from
        an external rating (scorecard.ratings) when the counterparty reference data has a `rating` column.
Sub-scores s_k are linear from lo (-> 10) to hi (-> 1), clipped; pd and rating_pd on a log10 scale; ratios are
per unit of the counterparty's PFE limit. se(s_k) = |ds_k/dx| se(x) (0 where clipped).
  credit_score = sum_k w_k s_k / sum_{k present} w_k in [1, 10], higher is better;
  se(credit_score) = sum_k w_k se(s_k) / sum w_k (errors of one simulation: added linearly, an upper bound).
A weighted sub-score that cannot be computed for a counterparty is listed in `credit_missing` (never dropped
silently); inputs used are listed in `credit_inputs`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .errors import ScorecardInputError
from .ratings import rating_to_pd

ALPHA = 1.4
REQUIRED_VARS = {"EPE": ("netting_set", "date"), "PFE": ("netting_set", "date", "quantile")}
AMOUNTS = {"CVA": "cva", "FVA": "fva", "EAD": "ead", "Capital": "capital"}  # contract name -> column
USED_VARS = ("EPE", "PFE", "EEPE", "EE_stderr", "DiscountFactor", "default_probability", "survival_probability",
             *[f"{v}{s}" for v in AMOUNTS for s in ("", "_stderr", "_cpty", "_cpty_stderr")])
# sub-score -> (input column, ratio to the PFE limit?, log10?)
SUBSCORES = {"utilisation": ("utilisation", False, False), "pd": ("pd", False, True),
             "rating_pd": ("rating_pd", False, True), "cva": ("cva", True, False), "fva": ("fva", True, False),
             "ead": ("ead", True, False), "capital": ("capital", True, False)}


def load_exposure_results(path) -> xr.Dataset:
    """Open and check the results contract (dims, coords, required variables); loads into memory."""
    path = Path(path)
    src = str(path)
    if not path.exists():
        raise ScorecardInputError(src, "file", "exposure results file does not exist")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            # only what the credit score uses: the optional path cube can be far larger than memory needs
            ds = ds[[v for v in USED_VARS if v in ds.data_vars]].load()
    except Exception as exc:  # h5py/netCDF raise OSError, ValueError, KeyError...: all mean unreadable
        raise ScorecardInputError(src, "file", f"not a readable HDF5/netCDF file ({type(exc).__name__}: "
                                  f"{str(exc)[:200]})") from None
    for var, dims in REQUIRED_VARS.items():
        if var not in ds:
            raise ScorecardInputError(src, f"variable '{var}'", "missing from exposure results")
        if set(dims) - set(ds[var].dims):
            raise ScorecardInputError(src, f"variable '{var}'", f"dims {ds[var].dims}, expected {dims}")
    for c in ("counterparty", "time"):
        if c not in ds.coords:
            raise ScorecardInputError(src, f"coordinate '{c}'", "missing from exposure results")
    for var in ds.data_vars:
        if ds[var].dtype.kind == "f" and not np.isfinite(ds[var].values).all():
            raise ScorecardInputError(src, f"variable '{var}'", "contains NaN or infinite values")
    ds.attrs["_source"] = src
    return ds


def _cp_labels(ds: xr.Dataset, var: str) -> list[str]:
    """Labels of the counterparty dim of a PD/survival variable: a coordinate along that dim if one exists,
    else the netting-set counterparties in order of first appearance (the engine's writing order)."""
    dim = next(d for d in ds[var].dims if d != "date")
    for _, c in ds.coords.items():
        if c.dims == (dim,) and c.dtype.kind in "UOS":
            return [str(x) for x in c.values]
    order = list(dict.fromkeys(str(x) for x in ds["counterparty"].values))
    if len(order) != ds.sizes[dim]:
        raise ScorecardInputError(ds.attrs.get("_source", "exposure"), f"variable '{var}'",
                                  f"{ds.sizes[dim]} counterparties but no labels and {len(order)} in netting sets")
    return order


def _pd_at(ds: xr.Dataset, horizon: float) -> tuple[dict[str, float], str | None]:
    for var, transform in (("default_probability", lambda p: p), ("survival_probability", lambda s: 1.0 - s)):
        if var in ds:
            labels = _cp_labels(ds, var)
            t = ds["time"].values.astype(float)
            vals = np.asarray(ds[var].transpose(..., "date").values, dtype=float)
            return {lab: float(transform(np.interp(horizon, t, row))) for lab, row in zip(labels, vals)}, var
    return {}, None


def _per_cpty(ds: xr.Dataset, var: str, grp: xr.DataArray, index: pd.Index, resolve) -> tuple[np.ndarray, str]:
    """var per counterparty (NaN where absent) and where it came from: `var_cpty` or the netting-set sum."""
    cv = f"{var}_cpty"
    if cv in ds and "cpty" in ds[cv].dims:
        labels = [resolve(str(x)) or str(x) for x in ds["cpty"].values]
        return pd.Series(ds[cv].values.astype(float), index=labels).reindex(index).to_numpy(), cv
    if var in ds and ds[var].dims == ("netting_set",):
        return ds[var].groupby(grp).sum().to_series().reindex(index).to_numpy(float), f"sum of {var}"
    return np.full(len(index), np.nan), ""


def _se_per_cpty(ds, var, how, grp, index, resolve) -> np.ndarray:
    """Standard error matching _per_cpty's source: `var_cpty_stderr`, else the sum of netting-set `var_stderr`
    (an upper bound, see the module docstring); NaN where the engine wrote none."""
    if how.endswith("_cpty") and f"{var}_cpty_stderr" in ds:
        labels = [resolve(str(x)) or str(x) for x in ds["cpty"].values]
        return pd.Series(ds[f"{var}_cpty_stderr"].values.astype(float), index=labels).reindex(index).to_numpy()
    if how.startswith("sum") and f"{var}_stderr" in ds and ds[f"{var}_stderr"].dims == ("netting_set",):
        return ds[f"{var}_stderr"].groupby(grp).sum().to_series().reindex(index).to_numpy(float)
    return np.full(len(index), np.nan)


def _eepe_se(ds: xr.Dataset, grp: xr.DataArray, index: pd.Index) -> np.ndarray:
    if "EE_stderr" not in ds:
        return np.full(len(index), np.nan)
    t = ds["time"].values.astype(float)
    first = (t > 0) & (t <= 1.0 + 1e-9)
    if not first.any():
        first = t > 0
    df = ds["DiscountFactor"].values if "DiscountFactor" in ds else np.ones_like(t)
    se_ns = (ds["EE_stderr"] / xr.DataArray(df, dims="date")).isel(date=np.flatnonzero(first)).mean("date")
    return se_ns.groupby(grp).sum().to_series().reindex(index).to_numpy(float)


def credit_inputs(ds: xr.Dataset, limits: pd.Series, pfe_quantile: float, pd_horizon: float,
                  resolve=lambda n: n, ratings: pd.Series | None = None, rating_pds=None) -> pd.DataFrame:
    """One row per counterparty of the reference data (limits.index): pfe_peak, pfe_limit, utilisation,
    epe_peak, eepe(+_se), cva/fva/ead/capital (+_se), pd, rating, rating_pd and credit_sources; NaN where the
    results do not cover the counterparty (reported by credit_scores)."""
    src = ds.attrs.get("_source", "exposure")
    qs = ds["quantile"].values.astype(float)
    if not np.isclose(qs, pfe_quantile).any():
        raise ScorecardInputError(src, "coordinate 'quantile'", f"no PFE at {pfe_quantile} (have {list(qs)})")
    pfe = ds["PFE"].isel(quantile=int(np.argmin(abs(qs - pfe_quantile))))
    names = [str(x) for x in ds["counterparty"].values]
    ids = [resolve(n) for n in names]
    unknown = sorted({n for n, i in zip(names, ids) if i is None})
    if unknown:
        raise ScorecardInputError(src, "coordinate 'counterparty'", f"names not in the alias table: {unknown}")
    grp = xr.DataArray(ids, dims="netting_set", name="cp")
    index = pd.Index([str(c) for c in limits.index], name="counterparty")
    out = pd.DataFrame(index=index)
    out["in_results"] = index.isin(ids)
    out["pfe_peak"] = pfe.groupby(grp).sum().max("date").to_series().reindex(index).to_numpy(float)
    out["epe_peak"] = ds["EPE"].groupby(grp).sum().max("date").to_series().reindex(index).to_numpy(float)
    sources = {}
    if "EEPE" in ds:
        out["eepe"] = ds["EEPE"].groupby(grp).sum().to_series().reindex(index).to_numpy(float)
        out["eepe_se"] = _eepe_se(ds, grp, index)
        sources["eepe"] = "sum of EEPE"
    for var, col in AMOUNTS.items():
        vals, how = _per_cpty(ds, var, grp, index, resolve)
        if how:
            out[col] = vals
            out[f"{col}_se"] = _se_per_cpty(ds, var, how, grp, index, resolve)
            sources[col] = how
    if "ead" not in out and "eepe" in out:  # EAD = alpha EEPE (Basel IMM, alpha = 1.4) until the engine writes EAD
        out["ead"], out["ead_se"] = ALPHA * out["eepe"], ALPHA * out["eepe_se"]
        sources["ead"] = f"{ALPHA} x EEPE (no EAD in the results)"
    out["pfe_limit"] = limits.reindex(index).to_numpy(float)
    out["utilisation"] = out["pfe_peak"] / out["pfe_limit"]
    pds, pd_var = _pd_at(ds, pd_horizon)
    if pds:
        by_id = {(resolve(k) or k): v for k, v in pds.items()}
        out["pd"] = [by_id.get(c, np.nan) for c in index]
        sources["pd"] = pd_var
    if ratings is not None:
        out["rating"] = ratings.reindex(index)
        out["rating_pd"] = [rating_to_pd(r, rating_pds, src="counterparties", cp=cp) for cp, r in out["rating"].items()]
        sources["rating_pd"] = "external rating"
    out.attrs["pd_source"] = pd_var
    out.attrs["sources"] = sources
    return out


def _lin10(x, lo, hi):
    x = np.asarray(x, float)
    s = np.clip(10.0 - 9.0 * (x - lo) / (hi - lo), 1.0, 10.0)
    slope = np.where((s > 1.0) & (s < 10.0), 9.0 / abs(hi - lo), 0.0)
    return s, slope


def credit_scores(inputs: pd.DataFrame, cfg) -> pd.DataFrame:
    """Adds credit_sub_<k> (+_se), credit_score (+_se, 1-10, higher better), capital_usage (Capital / limit),
    credit_inputs (sub-scores used) and credit_missing (weighted sub-scores that could not be computed, and why)."""
    out = inputs.copy()
    weights = {str(k): float(v) for k, v in dict(cfg.weights).items() if float(v) > 0}
    unknown = sorted(set(weights) - set(SUBSCORES))
    if unknown:
        raise ScorecardInputError("config", "credit.weights", f"unknown sub-scores {unknown} (have {list(SUBSCORES)})")
    n = len(out)
    num, den, se_num = np.zeros(n), np.zeros(n), np.zeros(n)
    used, missing = [[] for _ in range(n)], [[] for _ in range(n)]
    limit = out["pfe_limit"].to_numpy(float)
    for k, w in weights.items():
        col, ratio, log = SUBSCORES[k]
        if col not in out:
            x, xse, why = np.full(n, np.nan), np.zeros(n), f"{k}: not in the exposure results or reference data"
        else:
            x = out[col].to_numpy(float) / (limit if ratio else 1.0)
            xse = np.nan_to_num(out[f"{col}_se"].to_numpy(float) / (limit if ratio else 1.0)) \
                if f"{col}_se" in out else np.zeros(n)
            why = f"{k}: no value for this counterparty"
        if log:
            s, slope = _lin10(np.log10(np.clip(x, 1e-12, 1.0)), getattr(cfg, f"log10_{col}_lo", cfg.log10_pd_lo),
                              getattr(cfg, f"log10_{col}_hi", cfg.log10_pd_hi))
            sse = np.zeros(n)
        else:
            key = k if not ratio else f"{k}_to_limit"
            s, slope = _lin10(x, getattr(cfg, f"{key}_lo"), getattr(cfg, f"{key}_hi"))
            sse = slope * xse
        ok = np.isfinite(s)
        out[f"credit_sub_{k}"] = np.where(ok, s, np.nan)
        out[f"credit_sub_{k}_se"] = np.where(ok, sse, np.nan)
        num += np.where(ok, w * np.nan_to_num(s), 0.0)
        se_num += np.where(ok, w * np.nan_to_num(sse), 0.0)
        den += np.where(ok, w, 0.0)
        for i in range(n):
            (used[i] if ok[i] else missing[i]).append(k if ok[i] else why)
    out["credit_score"] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    out["credit_score_se"] = np.where(den > 0, se_num / np.where(den > 0, den, 1.0), np.nan)
    if "capital" in out:
        out["capital_usage"] = out["capital"] / out["pfe_limit"]
        out["capital_usage_se"] = out.get("capital_se", 0.0) / out["pfe_limit"]
    out["credit_inputs"] = [",".join(u) for u in used]
    out["credit_missing"] = ["; ".join(m) for m in missing]
    return out
