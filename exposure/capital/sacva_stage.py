"""SA-CVA in the results Dataset: ``SA_CVA_total`` (scalar, base currency) from the supplied sensitivity table
or from the engine's own CVA sensitivities (``sensitivity``), and why not when neither is there.

    ds = add_sa_cva(ds, market, settings)     # after the stage that writes ``sensitivity`` (called by add_capital)

``capital.sa_cva.source``: ``table`` the CSV ``capital.sa_cva.sensitivities`` (hedges included); ``engine``
the ``sensitivity`` variable mapped by ``sacva_from_sensitivities`` (unhedged); ``auto`` (default) the table
when one is configured, else ``sensitivity`` when the Dataset has it. K = sacva.capital (MAR50.53); attrs:
``sa_cva`` (where the inputs came from, or why SA-CVA is missing), ``sa_cva_breakdown`` (K per risk class and
type), ``sa_cva_omitted`` (engine sensitivities left out, and why).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from exposure.capital import sacva
from exposure.capital.sacva_from_sensitivities import default_index_currency, market_vol_level, sacva_rows

NO_SENSITIVITY = ("no `sensitivity` in the results (the engine's AD sensitivities stage did not run or an older "
                  "results file)")


def engine_rows(ds: xr.Dataset, market, settings) -> tuple:
    """(rows, notes) from ds['sensitivity'] with the counterparties, credit terms and recoveries of the run."""
    cps = [str(c) for c in ds["counterparty"].values] if "counterparty" in ds.coords or "counterparty" in ds else []
    recovery = {}
    if "recovery_rate" in ds:
        recovery = {str(n): float(r) for n, r in zip(ds["credit_name"].values, ds["recovery_rate"].values)}
    for name, curve in getattr(market, "credit", {}).items():
        recovery.setdefault(str(name), float(np.asarray(curve.recovery)))

    indices = getattr(market, "indices", {}) or {}

    def index_currency(name):
        return indices[name].currency if name in indices else default_index_currency(name)

    def terms(name):
        t = settings.counterparty(name)
        return t.sector, bool(t.investment_grade)

    return sacva_rows(ds["sensitivity"], base_currency=market.base_currency, counterparties=cps,
                      own_name=str(getattr(market, "own_name", "") or ""), credit_terms=terms, recovery=recovery,
                      vol_level=market_vol_level(market), equity_buckets=dict(settings.sa_cva_equity_buckets),
                      index_currency=index_currency)


def add_sa_cva(ds: xr.Dataset, market, settings) -> xr.Dataset:
    """ds with SA_CVA_total and the sa_cva attrs (see the module docstring); a copy, ds is not changed."""
    if not settings.enabled:
        return ds
    out = ds.copy()
    source = settings.sa_cva_source
    table = settings.sa_cva_sensitivities
    notes: tuple = ()
    if table and source in ("auto", "table"):
        rows = sacva.read_sensitivities(table, market.base_currency)
        origin = "from supplied sensitivities: " + table
    elif "sensitivity" in ds and source in ("auto", "engine"):
        rows, notes = engine_rows(ds, market, settings)
        origin = "from the engine's CVA sensitivities (`sensitivity`, xva_measure CVA; unhedged)"
    else:
        why = NO_SENSITIVITY if source == "engine" else (
            "no CVA sensitivities supplied (capital.sa_cva.sensitivities) and " + NO_SENSITIVITY)
        out.attrs["sa_cva"] = f"not computed: {why}"
        if "SA_CVA_total" in out:
            out = out.drop_vars("SA_CVA_total")
        return out
    k = sacva.capital(rows, m_cva=settings.m_cva, base_currency=market.base_currency,
                      rho=dict(settings.sa_cva_rho), gamma=dict(settings.sa_cva_gamma))
    out["SA_CVA_total"] = ((), float(k["K"]), {"units": "base currency",
                                               "description": "SA-CVA capital, MAR50.42-77"})
    out.attrs["sa_cva"] = origin
    out.attrs["sa_cva_breakdown"] = "; ".join(f"{rc} {kind} {v:.6g}" for key, v in k.items() if key != "K"
                                              for rc, kind in [key])
    out.attrs["sa_cva_omitted"] = "; ".join(notes) if notes else "none"
    return out
