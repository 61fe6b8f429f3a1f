"""Risk factors: every market input and model parameter of a config, as it is given, with its bump.

    RiskFactor(factor_type, name, pillar, pillar_time, unit, size, path, mode)

``path`` locates the input in the config (keys and list positions), ``size`` is the reporting unit in the
input's own units and ``mode`` how a move of e units changes the input x:

    add  x + e size            zero rates, par quotes, vols, spreads (bp inputs in bp: size 1), recoveries, rho
    rel  x (1 + e size)        FX and equity spots (size 0.01: per 1% relative)
    df   x exp(-e size t)      a curve given as discount factors: its zero rate moves by e size at pillar t

so a sensitivity is d(measure)/de at e = 0, in base currency per unit (the results contract, README
"Sensitivities"). The inputs are those of the config as the user gives it (zero or par quotes, CDS spreads
or hazards, swaption vol quotes, not the calibrated model vols): a calibrated Hull-White sigma is not a factor,
its swaption quotes are, and every sensitivity runs through the calibration. The inputs of an ORE market file
(market.curve_inputs.ore_market) are enumerated on the config with the file read in (``ore_quotes.resolve``,
done by the stage), which labels them by quote; on a config that still names the file they are not listed.

``bumped(cfg, factor, e)`` returns a deep copy of the config with the input moved; nothing here imports
OmegaConf (nodes are read and written by item access).
"""

from __future__ import annotations

import copy
import dataclasses
import math

from exposure.dates import tenor_time

FACTOR_TYPES = ("DiscountCurve", "IndexCurve", "FXSpot", "FXVol", "EquitySpot", "EquityVol", "SwaptionVol",
                "CDSSpread", "HazardRate", "Recovery", "FundingSpread", "MeanReversion", "HWSigma", "Correlation")


@dataclasses.dataclass(frozen=True)
class RiskFactor:
    factor_type: str
    name: str
    pillar: str
    pillar_time: float
    unit: str
    size: float
    path: tuple
    mode: str = "add"
    quote: str = ""  # the ORE market file's quote key of the input ("" for the config's own; ``ore_quotes``)

    def label(self) -> str:
        return f"{self.factor_type}/{self.name}/{self.pillar}"


def _get(node, key):
    return node[key]


def value_at(cfg, path):
    node = cfg
    for k in path:
        node = _get(node, k)
    return node


def bumped(cfg, factor: RiskFactor, e: float):
    """A copy of ``cfg`` with the factor's input moved by e units (module docstring); a frozen ConfigNode
    gives a new ConfigNode."""
    from exposure.confignode import ConfigNode, to_plain

    frozen = isinstance(cfg, ConfigNode)
    out = to_plain(cfg) if frozen else copy.deepcopy(cfg)
    node = out
    for k in factor.path[:-1]:
        node = _get(node, k)
    x = float(node[factor.path[-1]])
    if factor.mode == "add":
        new = x + e * factor.size
    elif factor.mode == "rel":
        new = x * (1.0 + e * factor.size)
    elif factor.mode == "df":
        new = x * math.exp(-e * factor.size * factor.pillar_time)
    else:  # pragma: no cover - the modes are the three above
        raise ValueError(f"unknown bump mode '{factor.mode}'")
    node[factor.path[-1]] = new
    return ConfigNode(out) if frozen else out


def _items(node):
    if node is None:
        return []
    return [(str(k), node[k]) for k in node]


def _tenor_t(asof, tenor, key):
    try:
        return float(tenor_time(asof, str(tenor), key))
    except Exception:  # noqa: BLE001 - an ISO date or unusual label: the label is kept, the time is 0
        return 0.0


def _curve(out, asof, ftype, name, node, path):
    kind = str(getattr(getattr(node, "kind", "zero"), "value", getattr(node, "kind", "zero")))
    for i, (tenor, _) in enumerate(zip(node.tenors, node.quotes)):
        t = _tenor_t(asof, tenor, ".".join(map(str, path)))
        if kind == "discount":
            out.append(RiskFactor(ftype, name, str(tenor), t, "zero rate 1bp", 1e-4, path + ("quotes", i), "df"))
        else:
            out.append(RiskFactor(ftype, name, str(tenor), t, "zero rate 1bp", 1e-4, path + ("quotes", i)))


def enumerate_factors(cfg, asof, base_currency: str, credit_names=(), factor_types=()) -> list:
    """Every risk factor of ``cfg.market`` and ``cfg.model`` (module docstring); credit factors only for
    ``credit_names`` (the counterparties of the netting sets and the bank); ``factor_types`` filters (empty:
    all)."""
    m, md = cfg.market, cfg.model
    out: list = []
    for ccy, node in _items(getattr(m, "curves", None)):
        _curve(out, asof, "DiscountCurve", ccy, node, ("market", "curves", ccy))
    for name, node in _items(getattr(m, "indices", None)):
        if getattr(node, "curve", None) is not None:
            _curve(out, asof, "IndexCurve", name, node.curve, ("market", "indices", name, "curve"))
    ci = getattr(m, "curve_inputs", None)
    for name, node in _items(getattr(ci, "curves", None) if ci is not None else None):
        ftype = "DiscountCurve" if len(name) == 3 and name.isupper() else "IndexCurve"
        for i, inst in enumerate(node.instruments):
            label = f"{inst.type}:{inst.start + 'x' if getattr(inst, 'start', None) else ''}{inst.tenor}"
            out.append(RiskFactor(ftype, name, label, _tenor_t(asof, inst.tenor, name), "par quote 1bp", 1e-4,
                                  ("market", "curve_inputs", "curves", name, "instruments", i, "quote")))
    for ccy, _ in _items(getattr(m, "fx_spots", None)):
        out.append(RiskFactor("FXSpot", f"{ccy}/{base_currency}", "", 0.0, "1% relative", 0.01,
                              ("market", "fx_spots", ccy), "rel"))
    for ccy, node in _items(getattr(m, "fx_vols", None)):
        _vols(out, asof, "FXVol", f"{ccy}/{base_currency}", node, ("market", "fx_vols", ccy))
    for name, node in _items(getattr(m, "equities", None)):
        out.append(RiskFactor("EquitySpot", name, "", 0.0, "1% relative", 0.01, ("market", "equities", name, "spot"),
                              "rel"))
        _vols(out, asof, "EquityVol", name, node.vol, ("market", "equities", name, "vol"))
    for ccy, node in _items(getattr(m, "swaption_vols", None)):
        kind = str(getattr(node.kind, "value", node.kind))
        size, unit = (1e-4, "normal vol 1bp") if kind == "normal" else (0.01, "lognormal vol 0.01")
        for e, exp in enumerate(node.expiries):
            for j, ten in enumerate(node.tenors):
                out.append(RiskFactor("SwaptionVol", ccy, f"{exp}x{ten}", _tenor_t(asof, exp, ccy), unit, size,
                                      ("market", "swaption_vols", ccy, "vols", e, j)))
    names = set(credit_names)
    for name, node in _items(getattr(m, "credit", None)):
        if name not in names:
            continue
        path = ("market", "credit", name)
        if getattr(node, "flat_hazard", None) is not None and not list(node.tenors):
            out.append(RiskFactor("HazardRate", name, "", 0.0, "hazard 1bp", 1e-4, path + ("flat_hazard",)))
        else:
            for i, tenor in enumerate(node.tenors):
                out.append(RiskFactor("CDSSpread", name, str(tenor), _tenor_t(asof, tenor, name), "spread 1bp", 1.0,
                                      path + ("spreads_bp", i)))
        out.append(RiskFactor("Recovery", name, "", 0.0, "recovery 0.01", 0.01, path + ("recovery",)))
    fund = getattr(m, "funding", None)
    if fund is not None:
        for side in ("borrowing", "lending"):
            for i, tenor in enumerate(getattr(fund, "tenors", []) or []):
                out.append(RiskFactor("FundingSpread", side, str(tenor), _tenor_t(asof, tenor, side), "spread 1bp", 1.0,
                                      ("market", "funding", f"{side}_bp", i)))
    for ccy, node in _items(getattr(md, "ir", None)):
        out.append(RiskFactor("MeanReversion", ccy, "", 0.0, "0.01", 0.01, ("model", "ir", ccy, "mean_reversion")))
        strip = str(getattr(node.calibrate, "value", node.calibrate))
        if strip == "none":
            times = ["0"] + [str(x) for x in node.volatility_times]
            for i, _ in enumerate(node.volatility):
                out.append(RiskFactor("HWSigma", ccy, times[i], 0.0 if i == 0 else _tenor_t(asof, times[i], ccy),
                                      "0.0001", 1e-4, ("model", "ir", ccy, "volatility", i)))
    for i, c in enumerate(getattr(md, "correlations", []) or []):
        out.append(RiskFactor("Correlation", f"{c.a}~{c.b}", "", 0.0, "0.01", 0.01, ("model", "correlations", i, "rho")))
    if factor_types:
        out = [f for f in out if f.factor_type in factor_types]
    return out


def _vols(out, asof, ftype, name, node, path):
    tenors = list(getattr(node, "tenors", []) or [])
    for i, _ in enumerate(node.vols):
        pillar = str(tenors[i]) if tenors else ""
        out.append(RiskFactor(ftype, name, pillar, _tenor_t(asof, pillar, name) if pillar else 0.0, "vol 0.01", 0.01,
                              path + ("vols", i)))
