"""capital.csv and the run-summary lines, read from the results Dataset (absent variables give blank cells)."""

from __future__ import annotations

import numpy as np
import xarray as xr

CSV_COLUMNS = ("Level", "NettingSet", "Counterparty", "Approach", "NPV", "Collateral", "RC_SACCR", "AddOn_SACCR",
               "Multiplier_SACCR", "PFE_addon_SACCR", "EAD_SACCR", "EEPE", "EAD_IMM", "EAD", "M_effective", "PD",
               "LGD", "RW", "RWA", "Capital", "BA_CVA", "SA_CVA")


def capital_rows(ds: xr.Dataset):
    """capital.csv rows: one per netting set, one per counterparty, one total (see ``CSV_COLUMNS``)."""
    f = lambda x: repr(float(x))  # noqa: E731
    appr = str(ds.attrs.get("capital_approach", ""))
    coll = ds["ExpectedCollateral"].values[:, 0] if "ExpectedCollateral" in ds else np.zeros(ds.sizes["netting_set"])
    rows = []
    for i, nid in enumerate(ds["netting_set"].values):
        g = lambda k: f(ds[k].values[i]) if k in ds else ""  # noqa: E731
        rows.append(["netting_set", str(nid), str(ds["counterparty"].values[i]), appr, g("NPV"), f(coll[i]),
                     g("RC_SACCR"), g("AddOn_SACCR"), g("Multiplier_SACCR"), g("PFE_addon_SACCR"), g("EAD_SACCR"),
                     g("EEPE"), g("EAD_IMM"), g("EAD"), g("M_effective"), g("PD"), g("LGD"), g("RW"), g("RWA"),
                     g("Capital"), "", ""])
    cps = list(ds["counterparty"].values)
    for j, c in enumerate(ds["cpty"].values):
        sel = [i for i, x in enumerate(cps) if x == c]
        s = lambda k: f(np.sum(ds[k].values[sel])) if k in ds else ""  # noqa: E731
        rows.append(["counterparty", "", str(c), appr, s("NPV"), f(np.sum(coll[sel])), "", "", "",
                     s("PFE_addon_SACCR"), s("EAD_SACCR"), s("EEPE"), s("EAD_IMM"), f(ds["EAD_cpty"].values[j]), "",
                     "", "", "", f(ds["RWA_cpty"].values[j]), f(ds["Capital_cpty"].values[j]),
                     f(ds["BA_CVA_cpty"].values[j]), ""])
    tot = lambda k: f(np.sum(ds[k].values)) if k in ds else ""  # noqa: E731
    rows.append(["total", "", "", appr, tot("NPV"), f(np.sum(coll)), "", "", "", tot("PFE_addon_SACCR"),
                 tot("EAD_SACCR"), tot("EEPE"), tot("EAD_IMM"), tot("EAD"), "", "", "", "", tot("RWA"), tot("Capital"),
                 f(ds["BA_CVA_total"].values) if "BA_CVA_total" in ds else "",
                 f(ds["SA_CVA_total"].values) if "SA_CVA_total" in ds else ""])
    return rows


def capital_csv_text(ds: xr.Dataset) -> str:
    from exposure.files import csv_text

    return csv_text(CSV_COLUMNS, capital_rows(ds))


def capital_summary(ds: xr.Dataset) -> str:
    """Lines of the run summary: EAD, RWA and capital per netting set and the CVA capital totals."""
    appr = str(ds.attrs.get("capital_approach", ""))
    lines = [f"{'capital':<14}{'cpty':<8}{'EAD_SACCR':>14}{'EAD_IMM':>14}{'EAD (' + appr + ')':>16}{'RWA':>14}"
             f"{'Capital':>14}"]
    for i, ns in enumerate(ds["netting_set"].values):
        lines.append(f"{str(ns):<14}{str(ds['counterparty'].values[i]):<8}{float(ds['EAD_SACCR'].values[i]):>14,.0f}"
                     f"{float(ds['EAD_IMM'].values[i]):>14,.0f}{float(ds['EAD'].values[i]):>16,.0f}"
                     f"{float(ds['RWA'].values[i]):>14,.0f}{float(ds['Capital'].values[i]):>14,.0f}")
    tail = f"BA-CVA capital {float(ds['BA_CVA_total'].values):,.0f}" if "BA_CVA_total" in ds else "BA-CVA: absent"
    tail += (f"; SA-CVA capital {float(ds['SA_CVA_total'].values):,.0f}" if "SA_CVA_total" in ds
             else "; SA-CVA not computed (no sensitivities supplied)")
    lines.append(tail)
    return "\n".join(lines)
