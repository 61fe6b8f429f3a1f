"""ORE ``netting.xml`` -> the portfolio file's netting-set mapping ({id: {csa: {...}}}).

NettingSetId; with ActiveCSAFlag true, CSADetails: Bilateral (Bilateral -> two_way, CallOnly -> cpty_posts,
PostOnly -> bank_posts); ThresholdPay/Receive -> threshold_bank/_cpty; MinimumTransferAmountPay/Receive ->
mta_bank/_cpty; IndependentAmountHeld > 0 held, < 0 posted; CSACurrency -> collateral_currency. The margin period
of risk is the run's ``simulation.mpor``; MarginingFrequency is the simulation grid; other fields are not read.
ORE names no counterparty here: the loader takes the first trade's envelope CounterParty.
"""

from __future__ import annotations

from exposure.errors import ConfigError
from exposure.portfolio.ore_xml_reader import _parse, _t

_MARGINING = {"bilateral": "two_way", "callonly": "cpty_posts", "postonly": "bank_posts"}


def read_netting(path: str) -> dict:
    """netting set id -> {csa: {...}} (the portfolio file's netting-set mapping) from an ORE netting.xml."""
    root = _parse(path, "portfolio.netting_sets")
    out = {}
    for ns in root.iter("NettingSet"):
        nid = _t(ns, "NettingSetId")
        if nid is None:
            raise ConfigError("NettingSet", "missing <NettingSetId>", source=path)
        key = f"netting_sets.{nid}"
        entry: dict = {}
        if (_t(ns, "ActiveCSAFlag") or "false").lower() == "true":
            c = ns.find("CSADetails")
            if c is None:
                raise ConfigError(f"{key}.CSADetails", "ActiveCSAFlag is true but <CSADetails> is missing", source=path)
            m = (_t(c, "Bilateral") or "Bilateral").lower()
            if m not in _MARGINING:
                raise ConfigError(f"{key}.Bilateral", f"'{m}' (Bilateral, CallOnly or PostOnly)", source=path)

            def num(tag, default=0.0):
                v = _t(c, tag)
                try:
                    return default if v is None else float(v)
                except ValueError:
                    raise ConfigError(f"{key}.{tag}", f"'{v}' is not a number", source=path) from None

            ia = num("IndependentAmount/IndependentAmountHeld")
            csa = {"margining": _MARGINING[m], "threshold_bank": num("ThresholdPay"),
                   "threshold_cpty": num("ThresholdReceive"), "mta_bank": num("MinimumTransferAmountPay"),
                   "mta_cpty": num("MinimumTransferAmountReceive"),
                   "independent_amount_held": max(ia, 0.0), "independent_amount_posted": max(-ia, 0.0)}
            if _t(c, "CSACurrency"):
                csa["collateral_currency"] = _t(c, "CSACurrency")
            entry["csa"] = csa
        out[nid] = entry
    return out
