"""Pre-trade limit check with the engine's what-if: the proposed trades priced on a stored engine run.

  dPFE_c   = max_t sum_{n in c} PFE_n^after(t, q) - max_t sum_{n in c} PFE_n^before(t, q)   (q = exposure.pfe_quantile)
  dCVA_c   = CVA_c^after - CVA_c^before                                                      (base currency)
  proposed = pfe_peak_c + max(dPFE_c, 0)     then scorecard.limits.limit_check (effective limit, headroom)

The trades are added to the counterparty's netting set of the run (``exposure.api.whatif``, run folder written
with ``output.store_cube=true``), so the increment includes netting and collateral. A risk-reducing trade
(dPFE < 0) is counted as 0: the check never loosens a limit on a what-if. Every decision fails closed: no run,
no netting set (or several, none named) for the counterparty, a what-if error, a missing quantile or a
non-finite increment give ``ok = False`` with the reason.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from .errors import ScorecardInputError
from .limits import limit_check


def run_netting_sets(run_dir: str) -> dict[str, list[str]]:
    """{engine counterparty name: [netting set ids]} of a stored run (its results.h5)."""
    import xarray as xr

    path = os.path.join(str(run_dir), "results.h5")
    if not os.path.exists(path):
        raise ScorecardInputError("pre-trade request", "whatif.run", f"no results.h5 in {run_dir}")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        ns = [str(x) for x in ds["netting_set"].values]
        cps = [str(x) for x in ds["counterparty"].values]
    out: dict[str, list[str]] = {}
    for n, c in zip(ns, cps):
        out.setdefault(c, []).append(n)
    return out


def _peak_cpty_pfe(ds, cp: str, q: float) -> float:
    qs = ds["quantile"].values.astype(float)
    if not np.isclose(qs, q).any():
        raise KeyError(f"no PFE at quantile {q} in the run (have {list(qs)})")
    mine = [str(c) == cp for c in ds["counterparty"].values]
    pfe = ds["PFE"].values[np.flatnonzero(mine), :, int(np.argmin(abs(qs - q)))]
    return float(pfe.sum(axis=0).max())


def _cpty_cva(ds, cp: str) -> float | None:
    if "CVA" not in ds:
        return None
    mine = [str(c) == cp for c in ds["counterparty"].values]
    return float(ds["CVA"].values[np.flatnonzero(mine)].sum())


def whatif_increment(run_dir: str, netting_set: str, trades: list, pfe_quantile: float, whatif=None) -> dict:
    """{netting_set, engine_counterparty, incremental_pfe, incremental_cva (None without CVA in the run)} of
    adding ``trades`` to ``netting_set`` of the stored run; raises what the engine raises."""
    if whatif is None:
        from exposure.api import whatif
    res = whatif(str(run_dir), str(netting_set), list(trades))
    cp = res.counterparty
    before, after = res.before_cpty, res.after_cpty  # the counterparty's netting sets: all its figures need
    d_pfe = _peak_cpty_pfe(after, cp, pfe_quantile) - _peak_cpty_pfe(before, cp, pfe_quantile)
    cb, ca = _cpty_cva(before, cp), _cpty_cva(after, cp)
    d_cva = None if cb is None or ca is None else ca - cb
    return {"netting_set": str(netting_set), "engine_counterparty": cp, "incremental_pfe": d_pfe,
            "incremental_cva": d_cva, "trade_ids": list(res.trade_ids)}


def whatif_limit_checks(scorecard: pd.DataFrame, multipliers, run_dir: str, trades: list, candidates=None,
                        netting_sets: dict | None = None, pfe_quantile: float = 0.99, resolve=lambda n: n,
                        whatif=None) -> dict[str, dict]:
    """{counterparty: limit_check decision + incremental_pfe, incremental_cva, netting_set} for each candidate
    (default: every row of ``scorecard``). netting_sets: {counterparty: netting set id of the run}; a
    counterparty not named there uses its only netting set in the run. resolve: engine counterparty name ->
    scorecard id (the alias table)."""
    if not isinstance(trades, list) or not trades or not all(isinstance(t, dict) for t in trades):
        raise ScorecardInputError("pre-trade request", "whatif.trades", "expected a non-empty list of trades")
    cands = list(dict.fromkeys(candidates or list(scorecard.index)))
    unknown = [c for c in cands if c not in scorecard.index]
    if unknown:  # before any pricing
        raise ScorecardInputError("pre-trade request", "candidates", f"unknown counterparties {unknown}")
    try:
        by_cp = run_netting_sets(run_dir)
        run_error = None
    except Exception as exc:  # noqa: BLE001 -- fail closed: any unreadable run refuses every candidate
        by_cp, run_error = {}, f"{type(exc).__name__}: {exc}"
    sets: dict[str, list[str]] = {}
    for name, ids in by_cp.items():
        sets.setdefault(str(resolve(name) or name), []).extend(ids)
    out = {}
    for cp in cands:
        named = (netting_sets or {}).get(cp)
        have = sets.get(cp, [])
        reason, inc = None, None
        if run_error:
            reason = f"what-if not possible: the run {run_dir} cannot be read ({run_error})"
        elif named is not None and named not in have:
            reason = f"what-if not possible: netting set '{named}' is not one of {cp}'s in the run ({have or 'none'})"
        elif named is None and len(have) != 1:
            reason = (f"what-if not possible: {cp} has no netting set in the run" if not have else
                      f"what-if not possible: {cp} has netting sets {have}; name one (whatif.netting_sets)")
        else:
            try:
                inc = whatif_increment(run_dir, named or have[0], trades, pfe_quantile, whatif)
                if not (math.isfinite(inc["incremental_pfe"])
                        and (inc["incremental_cva"] is None or math.isfinite(inc["incremental_cva"]))):
                    reason, inc = "what-if gave a non-finite increment: refused", None
            except Exception as exc:  # noqa: BLE001 -- fail closed with the engine's message
                reason = f"what-if failed: {type(exc).__name__}: {exc}"
        if inc is None:
            d = limit_check(scorecard.loc[cp], multipliers, 0.0)
            d.update(ok=False, reason=reason, incremental_pfe=None, incremental_cva=None, netting_set=None,
                     effective_limit=d["effective_limit"], proposed_pfe=None, headroom=None)
        else:
            d = limit_check(scorecard.loc[cp], multipliers, max(inc["incremental_pfe"], 0.0))
            d.update(incremental_pfe=inc["incremental_pfe"], incremental_cva=inc["incremental_cva"],
                     netting_set=inc["netting_set"], trade_ids=inc["trade_ids"])
        out[cp] = d
    return out


__all__ = ["run_netting_sets", "whatif_increment", "whatif_limit_checks"]
