"""Counterparty PFE and the PFE limit check, as labelled additions to the results Dataset.

Counterparty exposure: netting sets do not net against each other, so a counterparty c's exposure on a path is

    E_c(t) = sum_{n in c} max(X_n(t), 0)        (base currency; / N(t) when attrs pfe_basis = "discounted")

and its PFE is the q-quantile of E_c(t) over paths (the results' own quantile method). A counterparty with one
netting set has exactly that netting set's PFE; one with several needs the stored path cube
(``output.store_cube=true``, X kept in the cube's dtype) and gets, without it, the sum of its netting sets' PFEs
(an upper estimate in practice, not a bound; attrs ``PFE_cpty_method`` says which).

Limit check of ``LimitSpec(c, bucket, L)`` over the exposure dates d in the bucket:
    peak = max_d PFE_c(d), utilisation = peak / L, breach on every d with PFE_c(d) > L, excess = PFE_c(d) - L.
Status ``breach`` when any date breaches; ``cannot decide`` when a PFE in the bucket is not finite or the bucket
holds no exposure date; ``no trades`` when the counterparty has no netting set in the results (a shared limits
file names counterparties of other books); ``ok`` only otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from exposure.aggregation.quantiles import exposure_quantiles

STATUS_OK, STATUS_BREACH, STATUS_UNDECIDED, STATUS_NO_LIMIT = "ok", "breach", "cannot decide", "no limit"
STATUS_NO_TRADES = "no trades"  # a limit whose counterparty has no netting set in this run (listed, never "ok")


def counterparties(ds: xr.Dataset) -> list:
    """The ``cpty`` coordinate when the results have one, else counterparties in netting-set order."""
    if "cpty" in ds.coords:
        names = [str(c) for c in ds["cpty"].values]
        extra = [str(c) for c in ds["counterparty"].values if str(c) not in names]
        return names + list(dict.fromkeys(extra))
    return list(dict.fromkeys(str(c) for c in ds["counterparty"].values))


def quantile_index(ds: xr.Dataset, q: float) -> int:
    qs = np.asarray(ds["quantile"].values, dtype=np.float64)
    hit = np.flatnonzero(np.isclose(qs, q, rtol=0.0, atol=1e-12))
    if not hit.size:
        raise ValueError(f"quantile {q} is not in the results (quantiles: {qs.tolist()})")
    return int(hit[0])


def counterparty_pfe(ds: xr.Dataset, q: float) -> tuple[np.ndarray, str]:
    """(PFE_c(t) as (n_cpty, K) in ``counterparties(ds)`` order, method label)."""
    names = counterparties(ds)
    owner = np.array([str(c) for c in ds["counterparty"].values])
    K = ds.sizes["date"]
    out = np.full((len(names), K), np.nan)
    pfe = np.asarray(ds["PFE"].values[:, :, quantile_index(ds, q)], dtype=np.float64)
    multi = any(int((owner == c).sum()) > 1 for c in names)
    if "cube_exposure" in ds and multi:
        x = np.maximum(np.asarray(ds["cube_exposure"].values, dtype=np.float64), 0.0)
        if str(ds.attrs.get("pfe_basis", "undiscounted")) == "discounted":
            x = x / np.asarray(ds["cube_numeraire"].values, dtype=np.float64)[None]
        method = str(ds.attrs.get("quantile_method", "ore"))
        for i, c in enumerate(names):
            rows = np.flatnonzero(owner == c)
            if rows.size == 1:  # the netting set's own PFE (float64; the cube may be stored in float32)
                out[i] = pfe[rows[0]]
            elif rows.size:
                out[i] = exposure_quantiles(x[rows].sum(axis=0), [q], method=method)[:, 0]
        return out, "quantile of the summed netting-set exposures (path cube)"
    multi = False
    for i, c in enumerate(names):
        rows = np.flatnonzero(owner == c)
        if rows.size:
            out[i] = pfe[rows].sum(axis=0)
            multi |= rows.size > 1
    return out, ("sum of netting-set PFEs (no path cube; an approximation where a counterparty has several "
                 "netting sets)" if multi else "netting-set PFE (one netting set per counterparty)")


def bucket_mask(ds: xr.Dataset, bucket) -> np.ndarray:
    """(K,) bool: exposure dates d with asof + lo < d <= asof + hi (d = asof included when lo = 0)."""
    dates = pd.DatetimeIndex(ds["date"].values)
    asof = pd.Timestamp(ds.attrs.get("asof") or dates[0])
    if bucket.hi is None and bucket.lo == (0, 0):
        return np.ones(len(dates), dtype=bool)

    def shift(off):
        return asof + pd.DateOffset(months=off[0], days=off[1])

    lo = shift(bucket.lo)
    mask = dates > lo if bucket.lo != (0, 0) else dates >= asof
    if bucket.hi is not None:
        mask &= dates <= shift(bucket.hi)
    return np.asarray(mask)


def apply_limits(ds: xr.Dataset, settings) -> xr.Dataset:
    """ds with ``cpty`` (coordinate), ``PFE_cpty`` (cpty, date), ``PeakPFE_cpty`` (cpty) at
    settings.pfe_quantile, and on a ``limit`` dimension: limit_counterparty, limit_bucket (coordinates),
    PFE_limit, PFE_limit_peak, PFE_limit_peak_date, PFE_limit_utilisation, PFE_limit_status,
    PFE_limit_reason, PFE_limit_breach_count, PFE_limit_first_breach_date, PFE_limit_max_excess,
    PFE_limit_max_excess_date (base currency). Earlier limit variables of ds are replaced."""
    q = float(settings.pfe_quantile)
    names = counterparties(ds)
    pfe_c, method = counterparty_pfe(ds, q)
    drop = [v for v in ds.variables if str(v).startswith("PFE_limit") or v in ("PFE_cpty", "PeakPFE_cpty")]
    drop += [c for c in ("limit", "limit_counterparty", "limit_bucket") if c in ds.variables]
    out = ds.drop_vars(drop)
    if "cpty" not in out.coords or [str(c) for c in out["cpty"].values] != names:
        out = out.reindex(cpty=np.array(names, dtype=object)) if "cpty" in out.coords else \
            out.assign_coords(cpty=("cpty", np.array(names, dtype=object)))
    label = f"PFE {100 * q:g}%"
    peak = np.where(np.isfinite(pfe_c).any(axis=1), np.nanmax(np.where(np.isfinite(pfe_c), pfe_c, -np.inf), axis=1),
                    np.nan) if pfe_c.size else np.zeros(len(names))
    new = {}  # added in one Dataset.assign (one merge, not one per variable)
    new["PFE_cpty"] = (("cpty", "date"), pfe_c, {"description": f"counterparty {label}: {method}",
                                                  "units": "base currency", "quantile": q})
    new["PeakPFE_cpty"] = (("cpty",), peak, {"description": f"max over dates of the counterparty {label}",
                                             "units": "base currency", "quantile": q})
    out = out.assign(new)
    out.attrs["PFE_cpty_method"] = method
    out.attrs["report_pfe_quantile"] = q
    out.attrs["limits_source"] = getattr(settings, "limits_source", "")

    rows = [_check(out, spec, names, pfe_c) for spec in settings.limits]
    cols = {k: [r[k] for r in rows] for k in ("limit", "peak", "peak_date", "util", "status", "reason", "count",
                                              "first", "excess", "excess_date")}
    n = len(rows)
    dt = lambda v: np.array(v if n else [], dtype="datetime64[ns]")  # noqa: E731
    out = out.assign_coords(limit=np.arange(n), limit_counterparty=("limit", np.array([s.counterparty for s in settings.limits], dtype=object)),
                            limit_bucket=("limit", np.array([s.bucket.label for s in settings.limits], dtype=object)))
    base = {"units": "base currency", "quantile": q}
    new = {}
    new["PFE_limit"] = ("limit", np.array(cols["limit"], dtype=float), {**base, "description": f"{label} limit"})
    # Undefined peaks (no netting set, no date in the bucket) are stored as 0 beside a mask, never as NaN.
    peak = np.array(cols["peak"], dtype=float)
    defined = np.isfinite(peak)
    new["PFE_limit_defined"] = ("limit", defined, {"description": "peak and utilisation defined (false: see PFE_limit_status and PFE_limit_reason; the values hold 0)"})
    new["PFE_limit_peak"] = ("limit", np.where(defined, peak, 0.0), {**base, "description": f"peak counterparty {label} in the bucket (0 where PFE_limit_defined is false)"})
    new["PFE_limit_peak_date"] = ("limit", dt(cols["peak_date"]), {"description": "date of the peak"})
    util = np.array(cols["util"], dtype=float)
    new["PFE_limit_utilisation"] = ("limit", np.where(defined & np.isfinite(util), util, 0.0), {"units": "1", "description": "peak / limit (0 where PFE_limit_defined is false)"})
    new["PFE_limit_status"] = ("limit", np.array(cols["status"], dtype=object), {"description": "ok | breach | cannot decide"})
    new["PFE_limit_reason"] = ("limit", np.array(cols["reason"], dtype=object), {"description": "why the status"})
    new["PFE_limit_breach_count"] = ("limit", np.array(cols["count"], dtype=np.int64), {"description": "dates in breach"})
    new["PFE_limit_first_breach_date"] = ("limit", dt(cols["first"]), {"description": "first date with PFE > limit"})
    new["PFE_limit_max_excess"] = ("limit", np.array(cols["excess"], dtype=float), {**base, "description": "max of PFE - limit over breached dates (0 when none)"})
    new["PFE_limit_max_excess_date"] = ("limit", dt(cols["excess_date"]), {"description": "date of the max excess"})
    out = out.assign(new)
    return out


def _check(ds, spec, names, pfe_c) -> dict:
    nat = np.datetime64("NaT", "ns")
    row = {"limit": spec.limit, "peak": np.nan, "peak_date": nat, "util": np.nan, "status": STATUS_UNDECIDED,
           "reason": "", "count": 0, "first": nat, "excess": 0.0, "excess_date": nat}
    if spec.counterparty not in names:
        row.update(status=STATUS_NO_TRADES, reason="no netting set of this counterparty in the results")
        return row
    mask = bucket_mask(ds, spec.bucket)
    if not mask.any():
        row["reason"] = f"no exposure date in bucket {spec.bucket.label}"
        return row
    dates = ds["date"].values[mask]
    p = pfe_c[names.index(spec.counterparty)][mask]
    finite = np.isfinite(p)
    if finite.any():
        k = int(np.argmax(np.where(finite, p, -np.inf)))
        row.update(peak=float(p[k]), peak_date=dates[k], util=float(p[k]) / spec.limit)
    over = finite & (p > spec.limit)
    if over.any():
        idx = np.flatnonzero(over)
        k = idx[int(np.argmax(p[idx]))]
        row.update(status=STATUS_BREACH, count=int(idx.size), first=dates[idx[0]], excess=float(p[k] - spec.limit),
                   excess_date=dates[k], reason=f"{idx.size} date(s) above the limit")
        if not finite.all():
            row["reason"] += f"; PFE not finite on {int((~finite).sum())} date(s)"
    elif not finite.all():
        row["reason"] = f"PFE not finite on {int((~finite).sum())} date(s)"
    else:
        row.update(status=STATUS_OK, reason="")
    return row


def limit_values(ds: xr.Dataset, name: str) -> np.ndarray:
    """PFE_limit_peak or PFE_limit_utilisation as float with NaN where undefined (``PFE_limit_defined`` false;
    older runs stored NaN there themselves)."""
    v = np.asarray(ds[name].values, dtype=float)
    if "PFE_limit_defined" in ds:
        v = np.where(np.asarray(ds["PFE_limit_defined"].values, dtype=bool), v, np.nan)
    return v


def limits_frame(ds: xr.Dataset) -> pd.DataFrame:
    """One row per limit (the limits.csv table); empty frame when ds has no limit variables."""
    cols = ["Counterparty", "Bucket", "Limit", "PeakPFE", "PeakDate", "Utilisation", "Status", "BreachDates",
            "FirstBreach", "MaxExcess", "MaxExcessDate", "Reason"]
    if "PFE_limit" not in ds:
        return pd.DataFrame(columns=cols)
    d = lambda v: [("" if pd.isna(x) else str(np.datetime64(x, "D"))) for x in ds[v].values]  # noqa: E731
    return pd.DataFrame({
        "Counterparty": [str(x) for x in ds["limit_counterparty"].values],
        "Bucket": [str(x) for x in ds["limit_bucket"].values],
        "Limit": ds["PFE_limit"].values, "PeakPFE": limit_values(ds, "PFE_limit_peak"), "PeakDate": d("PFE_limit_peak_date"),
        "Utilisation": limit_values(ds, "PFE_limit_utilisation"), "Status": [str(x) for x in ds["PFE_limit_status"].values],
        "BreachDates": ds["PFE_limit_breach_count"].values, "FirstBreach": d("PFE_limit_first_breach_date"),
        "MaxExcess": ds["PFE_limit_max_excess"].values, "MaxExcessDate": d("PFE_limit_max_excess_date"),
        "Reason": [str(x) for x in ds["PFE_limit_reason"].values],
    }, columns=cols)


def breaches_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Every (limit, date) with counterparty PFE > limit: Counterparty, Bucket, Date, PFE, Limit, Excess."""
    cols = ["Counterparty", "Bucket", "Date", "PFE", "Limit", "Excess"]
    if "PFE_limit" not in ds or "PFE_cpty" not in ds:
        return pd.DataFrame(columns=cols)
    from exposure.report.settings import parse_bucket

    names = [str(c) for c in ds["cpty"].values]
    rows = []
    for j in range(ds.sizes["limit"]):
        cp, label, lim = str(ds["limit_counterparty"].values[j]), str(ds["limit_bucket"].values[j]), float(ds["PFE_limit"].values[j])
        if cp not in names:
            continue
        mask = bucket_mask(ds, parse_bucket(label, "limit_bucket"))
        p = ds["PFE_cpty"].values[names.index(cp)]
        for k in np.flatnonzero(mask & np.isfinite(p) & (p > lim)):
            rows.append([cp, label, str(np.datetime64(ds["date"].values[k], "D")), float(p[k]), lim, float(p[k] - lim)])
    return pd.DataFrame(rows, columns=cols)
