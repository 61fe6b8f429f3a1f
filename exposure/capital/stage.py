"""The capital stage: a pure function of the results Dataset, the portfolio and the market.

    ds = add_capital(ds, portfolio, market, settings, npv)      # after the exposure measures (and XVA)

Per netting set (dim ``netting_set``, base currency): EAD_SACCR, RC_SACCR, PFE_addon_SACCR (multiplier x
AddOn), AddOn_SACCR, Multiplier_SACCR, EAD_IMM (alpha x EEPE), EEPE / BaselEEPE / BaselEPE recomputed over
min(1y, maturity) (CRE53.16), EAD (the ``approach``'s), M_effective, PD, LGD, RW, RWA = RW x EAD,
Capital = 8% RWA; profiles EAD_profile and Capital_profile on (netting_set, date).
Per counterparty (dim ``cpty``): EAD_cpty, RWA_cpty, Capital_cpty, BA_CVA_cpty (stand-alone DS SCVA_c).
Totals: BA_CVA_total (reduced, or full with CDS hedges), SA_CVA_total (``sacva_stage``: from the supplied
sensitivity table or the engine's ``sensitivity``; attrs sa_cva says which, or why it is missing).
Profile of the stand-alone BA-CVA capital per netting set: BA_CVA_profile (netting_set, date), for KVA.

Margin terms from the CSA (two_way / cpty_posts: margined with TH = threshold_cpty, MTA = mta_cpty, NICA =
independent_amount_held - independent_amount_posted, all in base currency; C = ExpectedCollateral at t0; MPoR
``mpor_days``); a bank_posts CSA or none: unmargined, C = the collateral held at t0 (<= 0). The margin table
overrides per netting set. Effective maturity M (CRE32.47-49): IMM, the EE-based formula; SA-CCR, the
notional-weighted residual maturity; IRB clips M to [1, 5], BA-CVA floors it at 1 (no cap, MAR50.15).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from exposure.aggregation.basel import basel_measures
from exposure.capital import bacva, imm, irb, sacva
from exposure.capital.saccr import MarginTerms, saccr_netting_set
from exposure.capital.sacva_stage import add_sa_cva
from exposure.capital.saccr_engine import map_portfolio
from exposure.capital.profile import imm_profile, saccr_profile
from exposure.capital.saccr_input import read_margin_table, read_trade_table
from exposure.errors import ConfigError


def engine_margin_terms(netting_set, market, collateral0: float, mpor_days: float) -> MarginTerms:
    csa = netting_set.csa
    if csa is None:
        return MarginTerms(False, collateral=collateral0, mpor_days=mpor_days)
    fx = market.fx_spot(csa.collateral_currency or market.base_currency)
    nica = (csa.independent_amount_held - csa.independent_amount_posted) * fx
    margined = csa.margining in ("two_way", "cpty_posts")
    return MarginTerms(margined, csa.threshold_cpty * fx if margined else 0.0, csa.mta_cpty * fx if margined else 0.0,
                       nica, collateral0, mpor_days)


def imm_effective_maturity(basel_ee, eee, times, dfs) -> np.ndarray:
    """CRE32.49: M = (sum_{t<=1y} EEE dt DF + sum_{t>1y} EE dt DF) / sum_{t<=1y} EEE dt DF (1 when empty)."""
    t = np.asarray(times)
    dt = np.diff(np.concatenate([[0.0], t]))
    first = t <= 1.0
    num = np.sum(np.where(first, eee, basel_ee) * dt * dfs, axis=-1)
    den = np.sum(np.where(first, eee, 0.0) * dt * dfs, axis=-1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)


def resolve_inputs(settings):
    """The settings with the trade table, margin table and sensitivities paths resolved (as given, else relative
    to the project root, as the portfolio files); ConfigError naming the key when a file is missing."""
    from exposure.portfolio.loader import resolve_input

    kw = {}
    for field, key in (("trade_table", "capital.trade_table"), ("margin_table", "capital.margin_table"),
                       ("sa_cva_sensitivities", "capital.sa_cva.sensitivities"),
                       ("eepe_stressed_run", "capital.eepe_stressed_run")):
        v = getattr(settings, field)
        if v:
            kw[field] = resolve_input(v, key)
    if kw.get("eepe_stressed_run"):  # explicit capital.eepe_stressed values win over the stressed run's
        run = stressed_eepe(kw["eepe_stressed_run"])
        kw["eepe_stressed"] = tuple({**run, **dict(settings.eepe_stressed)}.items())
        kw["eepe_stressed_run"] = None  # read once
    return dataclasses.replace(settings, **kw)


def stressed_eepe(path: str) -> dict:
    """{netting set: BaselEEPE} of a stressed-calibration run (a run folder or its results.h5): the IMM's
    EEPE_stressed (CRE53.9: the same book under model parameters calibrated to a stress period)."""
    import os

    h5 = os.path.join(path, "results.h5") if os.path.isdir(path) else path
    try:
        with xr.open_dataset(h5, engine="h5netcdf") as d:
            ids = [str(x) for x in d["netting_set"].values]
            eepe = np.asarray(d["BaselEEPE"].values, dtype=np.float64)
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError("capital.eepe_stressed_run", f"cannot read BaselEEPE per netting set: {exc}",
                          source=h5) from None
    if eepe.shape != (len(ids),) or not np.all(np.isfinite(eepe)) or np.any(eepe < 0):
        raise ConfigError("capital.eepe_stressed_run", "BaselEEPE must be one finite value >= 0 per netting set",
                          source=h5)
    return dict(zip(ids, eepe.tolist()))


def check_inputs(node, market, portfolio):
    """Parse the capital settings and every capital input file before any compute (called by setup/validate):
    a typo in a key, a bad row of the trade or margin table, a trade table netting set that is not in the
    portfolio, or a bad sensitivity row raises ConfigError naming the key / file, line and field."""
    from exposure.capital.settings import capital_settings

    st = resolve_inputs(capital_settings(node))
    if not st.enabled:
        return st
    ids = {n.id for n in portfolio.netting_sets} if portfolio is not None else set()
    if st.trade_table:
        for t in read_trade_table(st.trade_table, market.asof):
            if portfolio is not None and t.netting_set not in ids:
                raise ConfigError("capital.trade_table", f"trade '{t.trade_id}': netting set '{t.netting_set}' is not "
                                  f"in the portfolio ({', '.join(sorted(ids))}); price stand-alone sets with "
                                  "`python -m exposure.capital`", source=st.trade_table)
    if st.margin_table:
        for ns in read_margin_table(st.margin_table):
            if portfolio is not None and ns not in ids:
                raise ConfigError("capital.margin_table", f"netting set '{ns}' is not in the portfolio",
                                  source=st.margin_table)
    if st.sa_cva_sensitivities:
        sacva.read_sensitivities(st.sa_cva_sensitivities, market.base_currency)
    if portfolio is not None and getattr(node, "eepe_stressed_run", None):
        missing = sorted(ids - {n for n, _ in st.eepe_stressed})
        if missing:
            raise ConfigError("capital.eepe_stressed_run", f"the stressed run has no netting set {', '.join(missing)} "
                              "(run the same book under the stressed calibration)", source=str(node.eepe_stressed_run))
    return st


def add_capital(ds: xr.Dataset, portfolio, market, settings, npv: dict | None = None, addons=None) -> xr.Dataset:
    """The results Dataset with the capital variables added (see the module docstring). addons: the SA-CCR
    profile's AddOn(t) per netting set (``ahead.profile_addons``, computed while the paths ran), or None."""
    if not settings.enabled:
        return ds
    settings = resolve_inputs(settings)
    ns_ids = [str(x) for x in ds["netting_set"].values]
    cps = [str(x) for x in ds["counterparty"].values]
    times = np.asarray(ds["time"].values, dtype=np.float64)
    ns_by_id = {n.id: n for n in portfolio.netting_sets}

    trades = list(map_portfolio(portfolio, market, npv, settings.equity_indices))
    extra_ids = set()
    if settings.trade_table:
        extra = read_trade_table(settings.trade_table, market.asof)
        for t in extra:
            if t.netting_set not in ns_by_id:
                raise ConfigError("capital.trade_table", f"trade '{t.trade_id}': netting set '{t.netting_set}' is "
                                  f"not in the run (netting sets: {', '.join(ns_ids)}); price stand-alone sets with "
                                  "`python -m exposure.capital`", source=settings.trade_table)
        trades += extra
        extra_ids = {t.trade_id for t in extra}
    overrides = read_margin_table(settings.margin_table) if settings.margin_table else {}
    coll0 = ds["ExpectedCollateral"].values[:, 0] if "ExpectedCollateral" in ds else np.zeros(len(ns_ids))
    values = ds["NPV"].values if "NPV" in ds else None

    # IMM: EEPE over min(1y, maturity) (the defect of an uncapped BaselEEPE fixed here), alpha x max(EEPE, stressed)
    mats = imm.netting_set_maturities(portfolio, market)
    bm = basel_measures(ds["BaselEE"].values, times, 1.0, mats)
    stressed = dict(settings.eepe_stressed)
    eepe_s = np.array([stressed.get(n, 0.0) for n in ns_ids])
    ead_imm = imm.imm_ead(bm["BaselEEPE"], settings.alpha, eepe_s)
    dfs = ds["DiscountFactor"].values if "DiscountFactor" in ds else np.ones(len(times))
    m_imm = imm_effective_maturity(ds["BaselEE"].values, bm["BaselEEE"], times, dfs)

    n = len(ns_ids)
    res, terms_all = [], []
    for i, nid in enumerate(ns_ids):
        terms = overrides.get(nid) or engine_margin_terms(ns_by_id[nid], market, float(coll0[i]), settings.mpor_days)
        terms_all.append(terms)
        mine = [t for t in trades if t.netting_set == nid]
        # V: the run's netting-set NPV plus the MtM of the trade table's trades (engine trades are in NPV)
        v = sum(t.mtm for t in mine) if values is None else float(values[i]) + sum(
            t.mtm for t in mine if t.trade_id in extra_ids)
        res.append((mine, saccr_netting_set(nid, mine, terms, V=v, alpha=settings.alpha,
                                            floor=settings.multiplier_floor)))
    ead_sa = np.array([r.EAD for _, r in res])
    m_sa = np.array([sum(t.notional * t.maturity for t in m) / max(sum(t.notional for t in m), 1e-300) if m else 1.0
                     for m, _ in res])
    use_imm = settings.approach == "imm"
    ead = ead_imm if use_imm else ead_sa
    m_eff = m_imm if use_imm else m_sa

    pd, lgd, lf, pd_src = np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool), []
    for i, c in enumerate(cps):
        ct = settings.counterparty(c)
        if ct.pd is not None:
            pd[i], src = ct.pd, "override"
        elif c in market.credit:
            pd[i], src = float(1.0 - market.credit[c].survival_np(1.0)), "credit curve"
        else:
            pd[i], src = settings.default_pd, "default_pd"
        pd_src.append(f"{c}: {src}")
        lgd[i] = settings.lgd if ct.lgd is None else ct.lgd
        lf[i] = settings.large_financial if ct.large_financial is None else bool(ct.large_financial)
    rw = irb.risk_weight(pd, lgd, m_eff, pd_floor=settings.pd_floor, large_financial=lf, scaling=settings.irb_scaling)
    rwa = rw * ead
    cap = 0.08 * rwa

    out = ds
    new = {}  # added in one Dataset.assign (one merge, not one per variable)
    for k in ("BaselEPE", "BaselEEPE"):
        new[k] = ("netting_set", bm[k], {**ds[k].attrs, "maturity_capped": "min(1Y, netting-set maturity)"}
                  if k in ds else {})
    new["EEPE"] = ("netting_set", bm["BaselEEPE"].copy(), ds["EEPE"].attrs if "EEPE" in ds else {})
    nsv = {
        "EAD_SACCR": ead_sa, "RC_SACCR": np.array([r.RC for _, r in res]),
        "PFE_addon_SACCR": np.array([r.PFE for _, r in res]), "AddOn_SACCR": np.array([r.addon for _, r in res]),
        "Multiplier_SACCR": np.array([r.multiplier for _, r in res]),
        "EAD_SACCR_unmargined": np.array([r.EAD_unmargined for _, r in res]),
        "EAD_IMM": ead_imm, "EAD": ead, "Maturity": mats, "M_effective": m_eff, "PD": np.maximum(pd, settings.pd_floor),
        "LGD": lgd, "RW": rw, "RWA": rwa, "Capital": cap,
    }
    for ac in ("IR", "FX", "CR", "EQ", "CO"):
        nsv[f"AddOn_SACCR_{ac}"] = np.array([r.addons[ac] for _, r in res])
    units = {"PD": "1", "LGD": "1", "RW": "1", "Multiplier_SACCR": "1", "Maturity": "years", "M_effective": "years"}
    for k, v in nsv.items():
        new[k] = ("netting_set", np.asarray(v, dtype=np.float64), {"units": units.get(k, "base currency")})

    if settings.profile:
        prof = np.zeros((n, len(times)))
        for i in range(n):
            if use_imm:
                prof[i] = imm_profile(ds["BaselEE"].values[i], times, mats[i], settings.alpha)
                prof[i, 0] = ead_imm[i]
            else:
                prof[i] = saccr_profile(res[i][0], terms_all[i], ds["BaselEE"].values[i], times, settings,
                                        addon=None if addons is None else addons.get(ns_ids[i], times))
                prof[i, 0] = ead_sa[i]
        new["EAD_profile"] = (("netting_set", "date"), prof, {"units": "base currency"})
        new["Capital_profile"] = (("netting_set", "date"), 0.08 * rw[:, None] * prof, {"units": "base currency"})

    # per counterparty and BA-CVA
    names = list(dict.fromkeys(cps))
    idx = {c: [i for i, x in enumerate(cps) if x == c] for c in names}
    # MAR50.15: M of CRE32.47-49 without the 5y cap; kept within [1y, the set's longest residual maturity]
    m_ba = np.maximum(np.minimum(m_eff, np.maximum(mats, 1.0)), 1.0)
    df = bacva.discount_factor(m_ba, imm=use_imm)
    scvas = {}
    for c in names:
        ct = settings.counterparty(c)
        rwc = bacva.risk_weight(ct.sector, ct.investment_grade)
        scvas[c] = bacva.scva(rwc, m_ba[idx[c]], ead[idx[c]], df[idx[c]], settings.alpha)
    ba = bacva.ba_cva(scvas, settings.cds_hedges, full=settings.ba_cva == "full")
    # another stage (XVA) may have laid out the cpty dim already: keep its order, extend it only if it must
    if "cpty" in out.coords:
        order = [str(c) for c in out["cpty"].values]
        extra = [c for c in names if c not in order]
        if extra:
            out = out.reindex(cpty=order + extra, fill_value=0.0)
        names = order + extra
        for c in names:
            idx.setdefault(c, [])
            scvas.setdefault(c, 0.0)
    else:
        out = out.assign_coords(cpty=("cpty", np.array(names, dtype=object)))
    agg = lambda x: np.array([float(np.sum(x[idx[c]])) for c in names])  # noqa: E731
    new["EAD_cpty"] = ("cpty", agg(ead), {"units": "base currency"})
    new["RWA_cpty"] = ("cpty", agg(rwa), {"units": "base currency"})
    new["Capital_cpty"] = ("cpty", agg(cap), {"units": "base currency"})
    new["BA_CVA_cpty"] = ("cpty", np.array([bacva.DS * scvas[c] for c in names]),
                          {"units": "base currency", "description": "stand-alone BA-CVA capital DS x SCVA_c"})
    if settings.profile:
        # stand-alone BA-CVA per netting set at future dates (for KVA): 0.65 RW_c M(t) EAD(t) DF(M(t)) / alpha,
        # M(t) = max(1y, M - t) the residual effective maturity; 0 once the set has matured
        rw_ns = np.array([bacva.risk_weight(settings.counterparty(c).sector, settings.counterparty(c).investment_grade)
                          for c in cps])
        m_t = np.maximum(m_ba[:, None] - times[None, :], 1.0)
        df_t = bacva.discount_factor(m_t, imm=use_imm)
        prof_cva = bacva.DS * rw_ns[:, None] * m_t * prof * df_t / settings.alpha
        new["BA_CVA_profile"] = (("netting_set", "date"), prof_cva, {
            "units": "base currency", "description": "stand-alone BA-CVA capital of the netting set at each date"})
    new["BA_CVA_total"] = ((), ba["capital"], {"units": "base currency",
                                               "description": f"BA-CVA capital ({settings.ba_cva}) 0.65 K"})
    out = out.assign(new)
    out = add_sa_cva(out, market, settings)  # the table, or the engine's `sensitivity` when present
    out.attrs["capital_approach"] = settings.approach
    out.attrs["capital_pd_source"] = "; ".join(pd_src)
    return out
