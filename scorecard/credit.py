"""Credit metrics from the exposure engine's SAVED results (never re-simulated) and a 1-10 credit score.

Per counterparty c (netting sets n in c, dates t):
  PFE_c(t) = sum_n PFE_n(t, q)   (no diversification across netting sets: conservative)
  pfe_peak = max_t PFE_c(t); utilisation = pfe_peak / pfe_limit_c (limit from counterparty reference data)
  epe_peak = max_t sum_n EPE_n(t); eepe = sum_n EEPE_n; cva, capital = sums over netting sets (when present)
  pd       = cumulative default probability at pd_horizon_years (linear in `time`), or 1 - survival
Sub-scores are linear from lo (-> 10) to hi (-> 1), clipped; pd on a log10 scale.
  credit_score = sum_k w_k sub_k / sum_{k present} w_k   in [1, 10], higher is better; inputs_used lists the k.
Amounts are in the file's base currency.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .errors import ScorecardInputError

REQUIRED_VARS = {"EPE": ("netting_set", "date"), "PFE": ("netting_set", "date", "quantile")}
USED_VARS = ("EPE", "PFE", "EEPE", "CVA", "capital", "default_probability", "survival_probability")


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
    for var in ("EPE", "PFE", "EEPE", "CVA", "capital"):
        if var in ds and not np.isfinite(ds[var].values).all():
            raise ScorecardInputError(src, f"variable '{var}'", "contains NaN or infinite values")
    ds.attrs["_source"] = src
    return ds


def _cp_labels(ds: xr.Dataset, var: str) -> list[str]:
    """Labels of the counterparty dim of a PD/survival variable: a coordinate along that dim if one exists,
    else the netting-set counterparties in order of first appearance (the engine's writing order)."""
    da = ds[var]
    dim = next(d for d in da.dims if d != "date")
    for name, c in ds.coords.items():
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


def credit_inputs(ds: xr.Dataset, limits: pd.Series, pfe_quantile: float, pd_horizon: float,
                  resolve=lambda n: n) -> pd.DataFrame:
    """One row per counterparty: pfe_peak, pfe_limit, utilisation, epe_peak, eepe, pd, cva, capital, inputs.
    ``resolve`` maps a results-file counterparty name to the canonical id (alias table)."""
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
    pfe_cp = pfe.groupby(grp).sum().transpose("cp", "date")
    epe_cp = ds["EPE"].groupby(grp).sum().transpose("cp", "date")
    out = pd.DataFrame(index=pd.Index([str(c) for c in pfe_cp["cp"].values], name="counterparty"))
    out["pfe_peak"] = pfe_cp.max("date").values
    out["epe_peak"] = epe_cp.max("date").values
    for var, col in (("EEPE", "eepe"), ("CVA", "cva"), ("capital", "capital")):
        if var in ds:
            out[col] = ds[var].groupby(grp).sum().sel(cp=out.index).values
    out["pfe_limit"] = limits.reindex(out.index).to_numpy(float)
    out["utilisation"] = out["pfe_peak"] / out["pfe_limit"]
    pds, pd_var = _pd_at(ds, pd_horizon)
    if pds:
        out["pd"] = [pds.get(c, np.nan) for c in out.index]
        # the PD file may use raw names: map them too
        by_id = {resolve(k) or k: v for k, v in pds.items()}
        out["pd"] = out["pd"].fillna(pd.Series(by_id)).astype(float)
    out.attrs["pd_source"] = pd_var
    return out


def _lin10(x, lo, hi):
    return np.clip(10.0 - 9.0 * (np.asarray(x, float) - lo) / (hi - lo), 1.0, 10.0)


def credit_scores(inputs: pd.DataFrame, cfg) -> pd.DataFrame:
    """Adds sub-scores, credit_score (1-10, higher better), capital_usage (capital / limit) and credit_inputs."""
    out = inputs.copy()
    subs = {}
    if "utilisation" in out:
        subs["utilisation"] = _lin10(out["utilisation"], cfg.utilisation_lo, cfg.utilisation_hi)
    if "pd" in out:
        subs["pd"] = _lin10(np.log10(np.clip(out["pd"], 1e-12, 1.0)), cfg.log10_pd_lo, cfg.log10_pd_hi)
    if "cva" in out:
        subs["cva"] = _lin10(out["cva"] / out["pfe_limit"], cfg.cva_to_limit_lo, cfg.cva_to_limit_hi)
    if "capital" in out:
        subs["capital"] = _lin10(out["capital"] / out["pfe_limit"], cfg.capital_to_limit_lo, cfg.capital_to_limit_hi)
        out["capital_usage"] = out["capital"] / out["pfe_limit"]
    w = {k: float(cfg.weights.get(k, 0.0)) for k in subs}
    num = np.zeros(len(out))
    den = np.zeros(len(out))
    used = [[] for _ in range(len(out))]
    for k, s in subs.items():
        out[f"credit_sub_{k}"] = s
        ok = np.isfinite(s) & (w[k] > 0)
        num += np.where(ok, w[k] * np.nan_to_num(s), 0.0)
        den += np.where(ok, w[k], 0.0)
        for i in np.flatnonzero(ok):
            used[i].append(k)
    out["credit_score"] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    out["credit_inputs"] = [",".join(u) for u in used]
    missing = out.index[den == 0].tolist()
    if missing:
        raise ScorecardInputError("exposure results", f"counterparties {missing}",
                                  "no usable credit input (PFE limit missing from reference data and no PD)")
    return out
