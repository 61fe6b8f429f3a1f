"""Settings of the capital stage: a frozen dataclass built from the ``capital`` config node.

``capital_settings(node)`` reads attributes (getattr works on an OmegaConf node and on a plain object); no
Hydra/OmegaConf import here. Keys (conf/capital/default.yaml documents them):

    enabled, approach (saccr | imm: the EAD used for RWA and BA-CVA), alpha, multiplier_floor, mpor_days,
    trade_table, margin_table (CSV paths), equity_indices, pd_floor, lgd, default_pd, irb_scaling,
    large_financial, default_sector, default_investment_grade, counterparties {name: {sector,
    investment_grade, pd, lgd, large_financial}}, ba_cva (reduced | full), cds_hedges [{counterparty (null:
    index), sector, investment_grade, maturity, notional, r, diversified}], eepe_stressed {netting set: EEPE},
    sa_cva {source (auto | table | engine), sensitivities, m_cva, rho {class: rho}, gamma {class: gamma},
    equity_buckets {equity: MAR50 bucket}}, profile (bool), csv (bool)
"""

from __future__ import annotations

import dataclasses
import math

from exposure.capital.bacva import INDEX_DIVERSIFICATION, SECTORS, risk_weight
from exposure.capital.bacva import CdsHedge
from exposure.capital import sacva_tables as tb
from exposure.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class CounterpartyTerms:
    sector: str = "other"
    investment_grade: bool = False
    pd: float | None = None  # None: the 1y default probability of the counterparty's credit curve
    lgd: float | None = None  # None: CapitalSettings.lgd
    large_financial: bool | None = None


@dataclasses.dataclass(frozen=True)
class CapitalSettings:
    enabled: bool = True
    approach: str = "saccr"
    alpha: float = 1.4
    multiplier_floor: float = 0.05
    mpor_days: float = 10.0
    trade_table: str | None = None
    margin_table: str | None = None
    equity_indices: tuple = ()
    pd_floor: float = 0.0005
    lgd: float = 0.45
    default_pd: float = 0.01
    irb_scaling: float = 1.0
    large_financial: bool = False
    default_sector: str = "other"
    default_investment_grade: bool = False
    counterparties: tuple = ()  # ((name, CounterpartyTerms), ...)
    ba_cva: str = "reduced"
    cds_hedges: tuple = ()  # CdsHedge
    eepe_stressed: tuple = ()  # ((netting set, EEPE), ...)
    eepe_stressed_run: str | None = None  # results of a stressed-calibration run (BaselEEPE per netting set)
    sa_cva_sensitivities: str | None = None
    m_cva: float = 1.0
    sa_cva_rho: tuple = ()
    sa_cva_gamma: tuple = ()
    sa_cva_source: str = "auto"  # auto: the table if given, else the engine's ``sensitivity``; table; engine
    sa_cva_equity_buckets: tuple = ()  # ((equity name, MAR50 equity bucket), ...); others: 11
    profile: bool = True
    csv: bool = True

    def counterparty(self, name: str) -> CounterpartyTerms:
        d = dict(self.counterparties)
        return d.get(name, CounterpartyTerms(self.default_sector, self.default_investment_grade))


def _get(node, key, default):
    if isinstance(node, dict):
        v = node.get(key, default)
    else:
        v = getattr(node, key, default) if node is not None else default
    return default if v is None else v


def _num(node, key, default, lo=None, hi=None, prefix="capital"):
    v = _get(node, key, default)
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"{prefix}.{key}", f"must be a number (got {v!r})") from None
    if not math.isfinite(x) or (lo is not None and x < lo) or (hi is not None and x > hi):
        raise ConfigError(f"{prefix}.{key}", f"must be in [{lo}, {hi}] (got {x})")
    return x


def _items(node, key):
    v = _get(node, key, {})
    return list(v.items()) if hasattr(v, "items") else []


def capital_settings(node) -> CapitalSettings:
    """Validated CapitalSettings from the ``capital`` config node (None: the defaults)."""
    if node is None:
        return CapitalSettings()
    approach = str(_get(node, "approach", "saccr"))
    if approach not in ("saccr", "imm"):
        raise ConfigError("capital.approach", f"must be saccr or imm (got '{approach}')")
    ba = str(_get(node, "ba_cva", "reduced"))
    if ba not in ("reduced", "full"):
        raise ConfigError("capital.ba_cva", f"must be reduced or full (got '{ba}')")
    sector = str(_get(node, "default_sector", "other"))
    if sector not in SECTORS:
        raise ConfigError("capital.default_sector", f"'{sector}' is not one of {', '.join(SECTORS)}")
    cps = []
    for name, c in _items(node, "counterparties"):
        key = f"capital.counterparties.{name}"
        sec = str(_get(c, "sector", sector))
        if sec not in SECTORS:
            raise ConfigError(f"{key}.sector", f"'{sec}' is not one of {', '.join(SECTORS)}")
        pd = getattr(c, "pd", None)
        lgd = getattr(c, "lgd", None)
        cps.append((str(name), CounterpartyTerms(
            sec, bool(_get(c, "investment_grade", _get(node, "default_investment_grade", False))),
            None if pd is None else _num(c, "pd", 0, 0.0, 1.0, key),
            None if lgd is None else _num(c, "lgd", 0, 0.0, 1.0, key), getattr(c, "large_financial", None))))
    hedges = []
    for i, h in enumerate(list(_get(node, "cds_hedges", []))):
        key = f"capital.cds_hedges[{i}]"
        sec = str(_get(h, "sector", "other"))
        if sec not in SECTORS:
            raise ConfigError(f"{key}.sector", f"'{sec}' is not one of {', '.join(SECTORS)}")
        cp = getattr(h, "counterparty", None)
        rw = risk_weight(sec, bool(_get(h, "investment_grade", False)))
        if cp is None and bool(_get(h, "diversified", True)):
            rw *= INDEX_DIVERSIFICATION
        r = _num(h, "r", 1.0, 0.0, 1.0, key)
        if cp is not None and r not in (1.0, 0.8, 0.5):
            raise ConfigError(f"{key}.r", "must be 1.0 (the name), 0.8 (legally related) or 0.5 (sector/region), "
                              f"got {r}")
        hedges.append(CdsHedge(None if cp is None else str(cp), rw, _num(h, "maturity", None, 0.0, None, key),
                               _num(h, "notional", None, 0.0, None, key), r))
    sa = _get(node, "sa_cva", None)
    sens = getattr(sa, "sensitivities", None) if sa is not None else None
    source = str(_get(sa, "source", "auto")) if sa is not None else "auto"
    if source not in ("auto", "table", "engine"):
        raise ConfigError("capital.sa_cva.source", f"must be auto, table or engine (got '{source}')")
    if source == "table" and sens is None:
        raise ConfigError("capital.sa_cva.source", "is 'table' but capital.sa_cva.sensitivities is not set")
    eq_buckets = tuple((str(k), str(v)) for k, v in _items(sa, "equity_buckets")) if sa is not None else ()
    for k, v in eq_buckets:
        if v not in tb.buckets("EQ"):
            raise ConfigError(f"capital.sa_cva.equity_buckets.{k}", f"'{v}' is not a MAR50 equity bucket (1-13)")
    return CapitalSettings(
        enabled=bool(_get(node, "enabled", True)), approach=approach, alpha=_num(node, "alpha", 1.4, 1.0, 10.0),
        multiplier_floor=_num(node, "multiplier_floor", 0.05, 0.0, 1.0), mpor_days=_num(node, "mpor_days", 10.0, 1.0),
        trade_table=None if getattr(node, "trade_table", None) is None else str(node.trade_table),
        margin_table=None if getattr(node, "margin_table", None) is None else str(node.margin_table),
        equity_indices=tuple(str(x) for x in _get(node, "equity_indices", [])),
        pd_floor=_num(node, "pd_floor", 0.0005, 0.0, 1.0), lgd=_num(node, "lgd", 0.45, 0.0, 1.0),
        default_pd=_num(node, "default_pd", 0.01, 0.0, 1.0), irb_scaling=_num(node, "irb_scaling", 1.0, 0.0, 2.0),
        large_financial=bool(_get(node, "large_financial", False)), default_sector=sector,
        default_investment_grade=bool(_get(node, "default_investment_grade", False)), counterparties=tuple(cps),
        ba_cva=ba, cds_hedges=tuple(hedges),
        eepe_stressed=tuple((str(k), _num({str(k): v}, str(k), 0.0, 0.0, None, "capital.eepe_stressed"))
                            for k, v in _items(node, "eepe_stressed")),
        eepe_stressed_run=None if getattr(node, "eepe_stressed_run", None) is None else str(node.eepe_stressed_run),
        sa_cva_sensitivities=None if sens is None else str(sens),
        m_cva=_num(sa, "m_cva", 1.0, 0.0, 10.0, "capital.sa_cva") if sa is not None else 1.0,
        sa_cva_rho=tuple((str(k), float(v)) for k, v in _items(sa, "rho")) if sa is not None else (),
        sa_cva_gamma=tuple((str(k), float(v)) for k, v in _items(sa, "gamma")) if sa is not None else (),
        sa_cva_source=source, sa_cva_equity_buckets=eq_buckets,
        profile=bool(_get(node, "profile", True)), csv=bool(_get(node, "csv", True)))
