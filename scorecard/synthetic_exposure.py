"""SYNTHETIC exposure-results fixture in the engine's results contract (for tests and the example only).

Per counterparty c with planted PFE utilisation u_c, limit L_c and one-year PD p_c, on a quarterly 5y grid:
  EPE_c(t) = 0.4 u_c L_c sqrt(t / T) exp(1/2 - t / (2 T)) ... hump peaking at T = 1y with peak 0.4 u_c L_c
  PFE_c(t, q) = EPE_c(t) k_q / k_0.95 * 2.5, so that max_t PFE_c(t, 0.95) = u_c L_c
  default_probability_c(t) = 1 - exp(-lambda_c t), lambda_c = -ln(1 - p_c)
Netting sets split each counterparty 60/40. CVA = 0.6 sum_t EPE dPD (stderr 2%); FVA = 0.005 sum_t EPE dt;
EAD = 1.4 EEPE; Capital = 0.08 EAD (100% risk weight); each with a `_stderr` of 2% of the value.
Nothing here is a model of a real portfolio.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .outputs import atomic_write_dataset

K = {0.95: 1.0, 0.975: 1.19, 0.99: 1.41}


def exposure_fixture(planted_rows: list[dict], asof: str = "2024-03-01", seed: int = 0,
                     include: tuple = ("EEPE", "CVA", "FVA", "EAD", "Capital", "default_probability"),
                     limit: float = 100e6,
                     label_dim: bool = True) -> xr.Dataset:
    """Build the Dataset. planted_rows: dicts with counterparty, pfe_utilisation, pd_1y (e.g. asdict(Planted))."""
    t = np.arange(0, 21) * 0.25
    dates = pd.Timestamp(asof) + pd.to_timedelta((t * 365.25).round().astype(int), unit="D")
    ns_ids, ns_cp, shares = [], [], []
    for r in planted_rows:
        for j, sh in enumerate((0.6, 0.4)):
            ns_ids.append(f"{r['counterparty']}_NS{j + 1}")
            ns_cp.append(r["counterparty"])
            shares.append((r, sh))
    shape = np.sqrt(t) * np.exp(0.5 - t / 2.0)  # peak 1 at t = 1
    epe = np.array([0.4 * r["pfe_utilisation"] * limit * sh * shape for r, sh in shares])
    qs = np.array(sorted(K))
    pfe = np.stack([epe / 0.4 * K[q] for q in qs], axis=-1)
    lam = {r["counterparty"]: -np.log(1 - r["pd_1y"]) for r in planted_rows}
    cps = list(dict.fromkeys(ns_cp))
    pd_arr = np.array([1 - np.exp(-lam[c] * t) for c in cps])
    dt = np.diff(t, prepend=0.0)
    eepe = (epe * dt).sum(1) / dt.sum()
    dpd = np.diff(pd_arr, axis=1, prepend=0.0)
    cp_row = [cps.index(c) for c in ns_cp]
    cva = 0.6 * (epe * dpd[cp_row]).sum(1)
    data = {
        "EPE": (("netting_set", "date"), epe), "ENE": (("netting_set", "date"), -0.5 * epe),
        "BaselEE": (("netting_set", "date"), epe), "BaselEEE": (("netting_set", "date"), np.maximum.accumulate(epe, 1)),
        "PFE": (("netting_set", "date", "quantile"), pfe),
    }
    if "EEPE" in include:
        data["EEPE"] = (("netting_set",), eepe)
    amounts = {"CVA": cva, "FVA": 0.005 * (epe * dt).sum(1), "EAD": 1.4 * eepe, "Capital": 0.08 * 1.4 * eepe}
    for name, v in amounts.items():
        if name in include:
            data[name] = (("netting_set",), v)
            data[f"{name}_stderr"] = (("netting_set",), 0.02 * v)
    if "default_probability" in include:
        data["default_probability"] = (("counterparty", "date"), pd_arr)
    if "survival_probability" in include:
        data["survival_probability"] = (("counterparty", "date"), 1 - pd_arr)
    coords = {"netting_set": ns_ids, "counterparty": ("netting_set", ns_cp), "date": dates.values,
              "time": ("date", t), "quantile": qs}
    ds = xr.Dataset(data, coords=coords, attrs={"base_currency": "USD", "asof": asof, "seed": seed,
                                                 "package_version": "synthetic-fixture", "synthetic": 1})
    if label_dim and ("default_probability" in include or "survival_probability" in include):
        ds = ds.assign_coords(counterparty_id=("counterparty", cps))
    return ds


def write_exposure_fixture(path, planted_rows: list[dict], **kw) -> str:
    return atomic_write_dataset(exposure_fixture(planted_rows, **kw), path)
