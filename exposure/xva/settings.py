"""XVA settings: one frozen dataclass built from the ``xva`` config group and ``market.funding``.

    xva.enabled               bool    run the stage (default true)
    xva.bilateral             bool    false: unilateral CVA/DVA (ORE's xva.csv); true: first-to-default
    xva.discretisation        str     "ore" (right end point) or "midpoint" (exposure interpolated)
    xva.survival_weighting    str     FCA/FBA/KVA survival factor: "full" S_c S_b, "ex_own_sp" S_c, "ex_all_sp" 1
    xva.missing_credit        str     a netting set whose counterparty has no credit curve: "zero" (CVA 0,
                                      listed in attrs xva_missing_credit) or "fail" (ConfigError before compute)
    xva.cost_of_capital       float   KVA hurdle rate per year (decimal)
    xva.capital_ratio, xva.risk_weight, xva.alpha    the EEPE capital proxy of KVA (``kva``)
    xva.mva, xva.dim_quantile, xva.dim_order   regression DIM and MVA (``exposure.aggregation.dim``)
    xva.wwr.model             wrong-way risk: "none"; "hull_white_2012" (CVA_WWR with an exposure-driven
                              intensity, strength xva.wwr.b, ``wwr``); "stochastic_intensity" (CVA pathwise
                              with the model.credit intensities correlated with the market factors,
                              ``stochastic_cva``)
    xva.wwr_b                 older spelling of xva.wwr.model=hull_white_2012 with b = wwr_b
    market.funding            tenors, borrowing_bp, lending_bp: zero spreads over the base discount curve (bp)

Nothing here imports Hydra or OmegaConf: the config node is read through getattr only.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from exposure.errors import ConfigError

DISCRETISATIONS = ("ore", "midpoint")
SURVIVAL_WEIGHTINGS = ("full", "ex_own_sp", "ex_all_sp")
MISSING_CREDIT = ("zero", "fail")
WWR_MODELS = ("none", "hull_white_2012", "stochastic_intensity")


@dataclasses.dataclass(frozen=True)
class FundingSpreads:
    """Borrowing / lending zero spreads s(t) over the base discount curve, decimals per year, linear in t between
    the pillars and flat outside; funding curves P_f(0, t) = P(0, t) exp(-s_f(t) t)."""

    times: np.ndarray
    borrowing: np.ndarray
    lending: np.ndarray

    def integrated(self, t, side: str) -> np.ndarray:
        """s_side(t) t for t of any shape (side "borrowing" or "lending")."""
        t = np.asarray(t, dtype=np.float64)
        s = np.interp(t, self.times, getattr(self, side))
        return s * t


@dataclasses.dataclass(frozen=True)
class XvaSettings:
    enabled: bool = True
    bilateral: bool = False
    discretisation: str = "ore"
    survival_weighting: str = "full"
    missing_credit: str = "zero"
    cost_of_capital: float = 0.10
    capital_ratio: float = 0.08
    risk_weight: float = 1.0
    alpha: float = 1.4
    funding: FundingSpreads | None = None
    mva: bool = False
    dim_quantile: float = 0.99
    dim_order: int = 2
    wwr_b: float | None = None  # hull_white_2012 strength (None unless that model is chosen)
    wwr_model: str = "none"
    wwr_names: tuple = ()  # stochastic_intensity: the model.credit names whose CVA is pathwise
    wwr_params: tuple = ()  # ((name, a, sigmas), ...) as configured, for the results' attrs

    def describe(self) -> str:
        return (f"bilateral={self.bilateral}; discretisation={self.discretisation}; "
                f"survival_weighting={self.survival_weighting}; missing_credit={self.missing_credit}; "
                f"cost_of_capital={self.cost_of_capital}; funding={'yes' if self.funding is not None else 'none'}; "
                f"wwr={self.wwr_model}")


def _choice(node, name: str, allowed: tuple, default: str) -> str:
    v = getattr(node, name, default)
    v = str(getattr(v, "value", v))
    if v not in allowed:
        raise ConfigError(f"xva.{name}", f"'{v}' is not one of {', '.join(allowed)}")
    return v


def _number(node, name: str, default: float, lo: float = 0.0) -> float:
    v = getattr(node, name, default)
    try:
        x = float(v)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"xva.{name}", f"'{v}' is not a number") from exc
    if not np.isfinite(x) or x < lo:
        raise ConfigError(f"xva.{name}", f"must be finite and >= {lo} (got {x})")
    return x


def funding_spreads(node, asof) -> FundingSpreads | None:
    """FundingSpreads from a ``market.funding`` node (tenors, borrowing_bp, lending_bp); None without one or
    with no tenors (no FVA)."""
    if node is None:
        return None
    from exposure.dates import tenor_time

    tenors = list(getattr(node, "tenors", []) or [])
    b = [float(x) for x in (getattr(node, "borrowing_bp", []) or [])]
    le = [float(x) for x in (getattr(node, "lending_bp", []) or [])]
    if not tenors:
        if b or le:
            raise ConfigError("market.funding.tenors", f"{len(b)} borrowing / {len(le)} lending spreads but no tenors")
        return None
    for name, vals in (("borrowing_bp", b), ("lending_bp", le)):
        if len(vals) != len(tenors):
            raise ConfigError(f"market.funding.{name}", f"{len(vals)} spreads for {len(tenors)} tenors")
        if not all(np.isfinite(vals)):
            raise ConfigError(f"market.funding.{name}", "spreads must be finite")
    t = np.array([tenor_time(asof, x, f"market.funding.tenors[{i}]") for i, x in enumerate(tenors)])
    if np.any(np.diff(t) <= 0) or t[0] <= 0:
        raise ConfigError("market.funding.tenors", "tenors must be increasing and after the as-of date")
    return FundingSpreads(t, np.array(b) * 1e-4, np.array(le) * 1e-4)


def xva_settings(cfg, asof) -> XvaSettings | None:
    """XvaSettings from the whole config (reads ``cfg.xva`` and ``cfg.market.funding``); None when the group
    is absent or ``xva.enabled`` is false. asof: the market's as-of date (for the funding tenors)."""
    node = getattr(cfg, "xva", None)
    if node is None or not bool(getattr(node, "enabled", True)):
        return None
    q = float(getattr(node, "dim_quantile", 0.99))
    if not 0.5 < q < 1.0:
        raise ConfigError("xva.dim_quantile", f"must lie in (0.5, 1) (got {q})")
    market = getattr(cfg, "market", None)
    wwr_model, wwr_b, wwr_names, wwr_params = _wwr(node, cfg)
    return XvaSettings(
        enabled=True,
        bilateral=bool(getattr(node, "bilateral", False)),
        discretisation=_choice(node, "discretisation", DISCRETISATIONS, "ore"),
        survival_weighting=_choice(node, "survival_weighting", SURVIVAL_WEIGHTINGS, "full"),
        missing_credit=_choice(node, "missing_credit", MISSING_CREDIT, "zero"),
        cost_of_capital=_number(node, "cost_of_capital", 0.10),
        capital_ratio=_number(node, "capital_ratio", 0.08),
        risk_weight=_number(node, "risk_weight", 1.0),
        alpha=_number(node, "alpha", 1.4),
        funding=funding_spreads(getattr(market, "funding", None) if market is not None else None, asof),
        mva=bool(getattr(node, "mva", False)),
        dim_quantile=_number(node, "dim_quantile", 0.99),
        dim_order=int(_number(node, "dim_order", 2)),
        wwr_b=wwr_b,
        wwr_model=wwr_model,
        wwr_names=wwr_names,
        wwr_params=wwr_params,
    )


def _wwr(node, cfg) -> tuple:
    """(model, b, names, params) of the wrong-way risk choice; ConfigError for an inconsistent one."""
    w = getattr(node, "wwr", None)
    model = "none" if w is None else getattr(w, "model", "none")
    model = str(getattr(model, "value", model))
    if model not in WWR_MODELS:
        raise ConfigError("xva.wwr.model", f"'{model}' is not one of {', '.join(WWR_MODELS)}")
    legacy = getattr(node, "wwr_b", None)
    b = None if w is None else getattr(w, "b", None)
    if model == "none" and legacy is not None:  # the older key alone still selects Hull-White 2012
        model, b = "hull_white_2012", legacy
    if model == "hull_white_2012":
        if b is None:
            b = legacy
        if b is None:
            raise ConfigError("xva.wwr.b", "xva.wwr.model=hull_white_2012 needs the strength b")
        try:
            b = float(b)
        except (TypeError, ValueError) as exc:
            raise ConfigError("xva.wwr.b", f"'{b}' is not a number") from exc
        if not np.isfinite(b):
            raise ConfigError("xva.wwr.b", f"must be finite (got {b})")
        return model, b, (), ()
    if model == "stochastic_intensity":
        entries = getattr(getattr(cfg, "model", None), "credit", None) or {}
        names = tuple(str(k) for k in entries)
        if not names:
            raise ConfigError("xva.wwr.model", "stochastic_intensity needs at least one name in model.credit "
                                               "(its intensity's mean reversion and volatility)")
        params = tuple((n, float(getattr(entries[n], "mean_reversion", 0.0)), _sigmas(entries[n])) for n in names)
        return model, None, names, params
    return model, None, (), ()


def _sigmas(entry) -> str:
    n = len(getattr(entry, "option_vols", None) or [])
    if n:
        return f"calibrated to {n} CDS option vol(s), calibration_CR_<name>_options.csv"
    return str([float(v) for v in getattr(entry, "volatility", [])])

