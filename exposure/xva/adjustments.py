"""The XVA stage: CVA, DVA, FCA, FBA, FVA, KVA per netting set, per counterparty and in total.

    CVA_j = sum_k w^CVA_{j,k} EPE_j(t_k)          DVA_j = sum_k w^DVA_{j,k} ENE_j(t_k)
    FCA_j = sum_k w^FCA_{j,k} FundingEPE_j(t_k)   FBA_j = sum_k w^FBA_{j,k} FundingENE_j(t_k)
    FVA_j = FCA_j - FBA_j                          KVA_j (``kva``)

(weights: ``weights``; profiles discounted, base currency). Sign convention as ORE's xva.csv: every figure is
reported as a non-negative magnitude; CVA, FCA, KVA are costs to the bank, DVA and FBA benefits, so the
bank's total adjustment to the risk-free value is -CVA + DVA - FCA + FBA - KVA, and FVA = FCA - FBA is the net
funding cost (FVA = FCA + FBA when FBA is counted with its sign, as a negative cost).

Per counterparty (dim ``cpty``): sums over its netting sets; totals: sums over all netting sets. Standard errors
(``<name>_stderr``, ``<name>_cpty_stderr``, ``<name>_total_stderr``) come from the per-path sums streamed during
the simulation (``path_functionals``), so netting sets of one counterparty carry their path correlation. A
stored results file re-run through ``add_xva`` without them gets the figures but no standard errors (attrs
``xva_stderr`` says so).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from exposure.errors import ConfigError
from exposure.xva.settings import XvaSettings
from exposure.xva.weights import credit_weights, funding_weights, survival_factors

FUNDING_VARIANTS = {"full": "", "ex_own_sp": "_exOwnSP", "ex_all_sp": "_exAllSP"}


def counterparty_groups(counterparties) -> tuple[list, np.ndarray]:
    """(names in order of first appearance, group index (n,) of each netting set)."""
    names = list(dict.fromkeys(str(c) for c in counterparties))
    pos = {c: i for i, c in enumerate(names)}
    return names, np.array([pos[str(c)] for c in counterparties], dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class XvaWeights:
    """Date weights (n_ns, K) of each adjustment on its profile; ``funding`` maps "FCA", "FBA",
    "FCA_exOwnSP", ... to weights (absent without market.funding); ``missing`` lists netting sets whose
    counterparty (or the bank) has no credit curve."""

    cva: np.ndarray
    dva: np.ndarray
    funding: dict
    missing: tuple


def check_credit(settings: XvaSettings | None, credit: dict, own_name: str, netting_set_ids, counterparties) -> None:
    """With xva.missing_credit = "fail": ConfigError naming the first netting set whose counterparty (or the
    bank, for DVA) has no credit curve. Run by ``setup`` (and so by ``exposure validate``) before any compute."""
    if settings is None or settings.missing_credit != "fail":
        return
    if own_name not in credit:
        raise ConfigError("market.own_name", f"no credit curve '{own_name}' in market.credit (needed for DVA)")
    for ns, cp in zip(netting_set_ids, counterparties):
        if str(cp) not in credit:
            raise ConfigError(f"market.credit.{cp}",
                              f"no credit curve for counterparty '{cp}' of netting set '{ns}' (needed for CVA)")


def xva_weights(settings: XvaSettings, credit: dict, own_name: str, netting_set_ids, counterparties, times,
                discount) -> XvaWeights:
    """All weights, before any simulation; raises ConfigError for a missing credit curve when
    settings.missing_credit == "fail"."""
    check_credit(settings, credit, own_name, netting_set_ids, counterparties)
    t = np.asarray(times, dtype=np.float64)
    n = len(counterparties)
    own = credit.get(own_name)
    missing = []
    if own is None:
        missing.append(f"bank '{own_name}' (no DVA)")
    cva, dva = np.zeros((n, t.size)), np.zeros((n, t.size))
    fund = {}
    if settings.funding is not None:
        fund = {f"{kind}{suffix}": np.zeros((n, t.size)) for kind in ("FCA", "FBA")
                for suffix in FUNDING_VARIANTS.values()}
    for j, (ns, cp) in enumerate(zip(netting_set_ids, counterparties)):
        c = credit.get(str(cp))
        if c is None:
            missing.append(f"netting set '{ns}' (counterparty '{cp}')")
        if c is not None:
            cva[j] = credit_weights(1.0 - float(c.recovery), c, t, own if settings.bilateral else None,
                                    settings.discretisation)
        if own is not None:
            dva[j] = credit_weights(1.0 - float(own.recovery), own, t, c if settings.bilateral else None,
                                    settings.discretisation)
        if settings.funding is not None:
            for variant, suffix in FUNDING_VARIANTS.items():
                for kind, side in (("FCA", "borrowing"), ("FBA", "lending")):
                    fund[kind + suffix][j] = funding_weights(settings.funding, side, t, discount, c, own, variant,
                                                             settings.discretisation)
    return XvaWeights(cva, dva, fund, tuple(missing))


def path_functionals(settings: XvaSettings | None, credit: dict, own_name: str, netting_sets, times,
                     discount, model=None) -> dict:
    """Keyword arguments for ``ExposureAggregator`` (path_functionals, functional_groups[, path_weights]) that
    stream the standard errors of CVA, DVA, FCA, FBA and FVA = FCA - FBA; {} when the stage is off. With
    xva.wwr.model=stochastic_intensity, ``model`` (the CrossAssetModel with its credit intensities) gives the
    per-path CVA weights (``stochastic_cva``)."""
    if settings is None:
        return {}
    ids = [ns.id for ns in netting_sets]
    cps = [ns.counterparty for ns in netting_sets]
    w = xva_weights(settings, credit, own_name, ids, cps, times, discount)
    spec = {"CVA": ("EPE", w.cva), "DVA": ("ENE", w.dva)}
    if w.funding:
        suffix = FUNDING_VARIANTS[settings.survival_weighting]
        fca, fba = w.funding["FCA" + suffix], w.funding["FBA" + suffix]
        spec.update(FCA=("FundingEPE", fca), FBA=("FundingENE", fba),
                    FVA=[("FundingEPE", fca), ("FundingENE", -fba)])
    out = {"path_functionals": spec, "functional_groups": counterparty_groups(cps)[1]}
    from exposure.xva.stochastic_cva import functional_spec, stochastic_cva_weights

    sw = stochastic_cva_weights(settings, model, credit, own_name, cps, times)
    if sw is not None:  # wrong-way risk: CVA with survival simulated on the paths
        spec.update(functional_spec(w.cva, sw))
        out["path_weights"] = sw
    if settings.mva and w.funding:
        out.update(mva_weights=w.funding["FCA" + FUNDING_VARIANTS[settings.survival_weighting]],
                   dim_quantile=settings.dim_quantile, dim_order=settings.dim_order)
    return out


def _profile(ds: xr.Dataset, name: str, fallback: str, notes: list) -> np.ndarray:
    if name in ds:
        return ds[name].values
    notes.append(f"{name} absent (older run): {fallback} used")
    return ds[fallback].values


def add_xva(ds: xr.Dataset, credit: dict, own_name: str, settings: XvaSettings | None, functionals=None,
            capital_profile=None) -> xr.Dataset:
    """The results Dataset with the XVA variables added (module docstring); ds unchanged when settings is None.

    credit: {name: CreditCurve}; functionals: ``ExposureMeasures.functionals`` of the same run (standard
    errors), or None; capital_profile: (netting_set, date) expected capital (base currency, undiscounted) for
    KVA, else ds["Capital_profile"] when present, else the EEPE proxy (``kva``).
    """
    if settings is None:
        return ds
    from exposure.xva.allocation import trade_adjustments
    from exposure.xva.kva import kva_from_profile

    notes: list = []
    ids = [str(x) for x in ds["netting_set"].values]
    cps = [str(x) for x in ds["counterparty"].values]
    t = ds["time"].values
    df = ds["DiscountFactor"].values
    w = xva_weights(settings, credit, own_name, ids, cps, t, df)
    cp_names, groups = counterparty_groups(cps)
    out = ds.assign_coords(cpty=("cpty", np.array(cp_names, dtype=object)))
    profiles = {"EPE": ds["EPE"].values, "ENE": ds["ENE"].values,
                "FundingEPE": _profile(ds, "FundingEPE", "EPE", notes),
                "FundingENE": _profile(ds, "FundingENE", "ENE", notes)}

    values = {"CVA": np.sum(w.cva * profiles["EPE"], axis=1), "DVA": np.sum(w.dva * profiles["ENE"], axis=1)}
    wwr_note, functionals = _stochastic_cva(values, settings, functionals,
                                            [c in settings.wwr_names and c in credit for c in cps])
    for name, wt in w.funding.items():
        values[name] = np.sum(wt * profiles["FundingEPE" if name.startswith("FCA") else "FundingENE"], axis=1)
    if w.funding:
        suffix = FUNDING_VARIANTS[settings.survival_weighting]
        values["FCA"], values["FBA"] = values["FCA" + suffix], values["FBA" + suffix]
        values["FVA"] = values["FCA"] - values["FBA"]
        if "ExpectedIM" in ds:  # MVA: the borrowing cost of the initial margin the bank posts
            values["MVA"] = np.sum(w.funding["FCA" + suffix] * ds["ExpectedIM"].values, axis=1)
    surv = np.stack([survival_factors(credit.get(cp), credit.get(own_name), t, settings.survival_weighting)
                     for cp in cps]) if cps else np.zeros((0, t.size))
    kva, kva_source = kva_from_profile(ds, settings, surv, capital_profile)
    values["KVA"] = kva

    new = {}  # added in one Dataset.assign (one merge, not one per variable)
    units = {"units": "base currency"}
    for name, v in values.items():
        desc = _DESCRIPTIONS.get(name, _DESCRIPTIONS.get(name.split("_")[0], name))
        new[name] = ("netting_set", v, {**units, "description": desc})
    for name in ("CVA", "DVA", "FCA", "FBA", "FVA", "MVA", "KVA"):
        if name not in values:
            continue
        by_cp = np.zeros(len(cp_names))
        np.add.at(by_cp, groups, values[name])
        new[f"{name}_cpty"] = ("cpty", by_cp, units)
        if name in ("CVA", "DVA", "FVA"):
            new[f"{name}_total"] = ((), float(np.sum(values[name])), units)
    if functionals:
        for name, res in functionals.items():
            if name not in values:
                continue
            new[f"{name}_stderr"] = ("netting_set", np.asarray(res["entity"][1]), units)
            new[f"{name}_cpty_stderr"] = ("cpty", np.asarray(res["group"][1]), units)
            if name in ("CVA", "DVA", "FVA"):
                new[f"{name}_total_stderr"] = ((), float(res["total"][1]), units)
        stderr_note = "from per-path sums streamed in the simulation (PathFunctionalSums)"
    else:
        stderr_note = "not available: no per-path sums (stage re-run on stored profiles)"
    out = out.assign(new)
    out = trade_adjustments(out, w)
    if settings.wwr_model == "hull_white_2012" or (settings.wwr_model == "none" and settings.wwr_b is not None):
        from exposure.xva.wwr import add_wrong_way_cva

        out = add_wrong_way_cva(out, credit, settings.wwr_b)
    else:
        out.attrs["xva_wwr"] = wwr_note or "none: CVA with the deterministic credit curves (independent defaults)"
    out.attrs.update({
        "xva_settings": settings.describe(),
        "xva_sign_convention": "magnitudes as ORE xva.csv: CVA, FCA, KVA costs; DVA, FBA benefits; FVA = FCA - FBA",
        "xva_cva_type": "bilateral (first to default)" if settings.bilateral else "unilateral",
        "xva_own_name": str(own_name),
        "xva_missing_credit": "; ".join(w.missing) or "none",
        "xva_stderr": stderr_note,
        "xva_notes": "; ".join(notes) or "none",
        "xva_funding": ("market.funding spreads over the base curve" if w.funding
                        else "no market.funding: FCA, FBA, FVA not computed"),
        "xva_mva": ("regression DIM (exposure.aggregation.dim): sum_k s_k dcf^B_k ExpectedIM(t_k)" if "MVA" in values
                    else "not computed (needs xva.mva=true, simulation.mpor and market.funding)"),
        "KVA_capital_source": kva_source,
    })
    return out


def _stochastic_cva(values: dict, settings: XvaSettings, functionals, stochastic):
    """With xva.wwr.model=stochastic_intensity: CVA += the streamed CVA_WWR_effect on the netting sets whose
    counterparty has a stochastic intensity (``stochastic`` (n_ns,) bools; 0 elsewhere), CVA_independent and
    CVA_WWR_effect added; returns (the attrs line or None, functionals with the effect's rounding noise on
    the deterministic rows set to 0)."""
    if settings.wwr_model != "stochastic_intensity":
        return None, functionals
    from exposure.xva.stochastic_cva import describe

    if not functionals or "CVA_WWR_effect" not in functionals:
        return ("stochastic_intensity: NOT applied, no per-path sums (stage re-run on stored profiles): "
                "CVA uses the deterministic credit curves"), functionals
    mask = np.asarray(stochastic, dtype=bool)
    effect = np.where(mask, np.asarray(functionals["CVA_WWR_effect"]["entity"][0], dtype=np.float64), 0.0)
    se = functionals["CVA_WWR_effect"]["entity"][1]
    functionals = dict(functionals)
    functionals["CVA_WWR_effect"] = dict(functionals["CVA_WWR_effect"], entity=(effect, np.where(mask, se, 0.0)))
    values["CVA_independent"] = values["CVA"]
    values["CVA"] = values["CVA"] + effect
    values["CVA_WWR_effect"] = effect
    return describe(settings), functionals


_DESCRIPTIONS = {
    "CVA_independent": "CVA with the deterministic credit curves (no wrong-way risk), on the same paths",
    "CVA_WWR_effect": "CVA - CVA_independent: the wrong-way (> 0) or right-way (< 0) effect, same paths",
    "CVA": ("sum_k w_k EPE(t_k), w = (1-R_c) x counterparty default probability per interval (attrs xva_cva_type); "
            "pathwise with a stochastic intensity (attrs xva_wwr)"),
    "DVA": "sum_k w_k ENE(t_k), w = (1-R_b) x own default probability per interval (attrs xva_cva_type)",
    "FCA": "sum_k s_k dcf^B_k FundingEPE(t_k): funding cost of the positive funding exposure",
    "FBA": "sum_k s_k dcf^L_k FundingENE(t_k): funding benefit of the negative funding exposure",
    "FVA": "FCA - FBA (net funding cost)",
    "MVA": "sum_k s_k dcf^B_k ExpectedIM(t_k): borrowing cost of the posted regression DIM",
    "KVA": "cost_of_capital x sum_k s_k Capital(t_{k-1}) (t_k - t_{k-1}) P(0, t_k) (attrs KVA_capital_source)",
}
