"""ORE market data (``market.txt``: ``<date> <quote key> <value>`` per line) -> the engine's market config.

Quote keys read (ORE's MarketDatum spellings; everything else is counted in ``OreMarket.unused``):

    MM/RATE/<CCY>/<fixDays>D/<term>              deposit (term 1D or fixDays+term overnight: the OIS curve)
    FRA/RATE/<CCY>/<start>/<term>                FRA start x start+term on the <CCY> IBOR index of tenor <term>
    MM_FUTURE/PRICE/<CCY>/<YYYY-MM>/<contract>/<term>   IMM future on the <CCY> IBOR index of tenor <term>
    OI_FUTURE/PRICE/<CCY>/<YYYY-MM>/<contract>/<term>   overnight-index future (IMM to IMM) on the OIS curve
        (futures: no convexity adjustment; a contract whose IMM start is not after the as-of date is unused)
    IR_SWAP/RATE/<CCY>/<fwdStart>/<idxTenor>/<term>   OIS (index tenor 1D) or IBOR swap (fwdStart must be 0D/2D)
    BASIS_SWAP/BASIS_SPREAD/<flatTenor>/<spreadTenor>/<CCY>/<term>   tenor basis, spread on the spreadTenor leg
    CC_BASIS_SWAP/BASIS_SPREAD/<flatCCY>/<flatTenor>/<spreadCCY>/<spreadTenor>/<term>   xccy basis; builds the
        spread currency's discount curve when the flat currency is the collateral (base) currency
    ZERO/RATE/<CCY>/<curveId>/A365/<tenor>       zero rates (continuous, ACT/365F) of the currency's curve
    FX/RATE/<CCY1>/<CCY2>                         units of CCY2 per CCY1 (the base currency's spots are derived)
    FX_OPTION/RATE_LNVOL/<CCY1>/<CCY2>/<T>/ATM    FX ATM vol term structure
    SWAPTION/RATE_NVOL|RATE_LNVOL/<CCY>/<E>/<T>/ATM   swaption ATM matrix (normal or lognormal)
    CDS/CREDIT_SPREAD/<name>/<seniority>/<CCY>/<T>    CDS par spreads (decimal in ORE, bp in the engine)
    RECOVERY_RATE/RATE/<name>[/<seniority>/<CCY>]     recovery
    EQUITY/PRICE/<name>/<CCY>;  EQUITY_OPTION/RATE_LNVOL/<name>/<CCY>/<T>/ATMF;  EQUITY_DIVIDEND/RATE/<name>/<CCY>/<T>
        (the engine's dividend yield is flat: the longest tenor's quote)

Curves follow the per-currency defaults of ``exposure.market.conventions`` (ORE users with other conventions
override ``market.curve_inputs.conventions``). Overnight index per currency: ``ON_INDEX`` (EUR-EONIA before
2 Oct 2019, USD-FedFunds before 3 Apr 2018); IBOR indices are
``<CCY>-<IBOR>-<tenor>`` with ``IBOR`` below. FX quotes are taken as today's rates (ORE reads them as spot,
T+2). A bad line is a MarketDataError naming the file and line. ``OreMarket.sources`` names the quote behind each
input of the config (the risk factors' labels, ``exposure.risk.ore_quotes``); the file reader is ``ore_file``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter, defaultdict

from exposure.errors import MarketDataError
from exposure.market.rate_futures import third_wednesday
from exposure.market.ore_file import TENOR, norm_tenor, read_quotes, tenor_days
from exposure.market.schedule import parse_tenor

ON_INDEX = {"EUR": "EUR-ESTER", "USD": "USD-SOFR", "GBP": "GBP-SONIA", "CHF": "CHF-SARON", "JPY": "JPY-TONAR"}
# before the risk-free rates were published, the overnight index of the OIS curve is the old one
_ON_BEFORE = {"EUR": (dt.date(2019, 10, 2), "EUR-EONIA"), "USD": (dt.date(2018, 4, 3), "USD-FedFunds")}


def on_index(ccy: str, asof: dt.date) -> str:
    """The overnight index of ``ccy``'s OIS curve on ``asof`` (EONIA before ESTER, Fed funds before SOFR)."""
    first, old = _ON_BEFORE.get(ccy, (dt.date.min, None))
    return old if asof < first else ON_INDEX[ccy]
IBOR = {"EUR": "EURIBOR", "USD": "LIBOR", "GBP": "LIBOR", "CHF": "LIBOR", "JPY": "LIBOR"}


@dataclasses.dataclass(frozen=True)
class OreMarket:
    config: dict  # a MarketConfig-shaped plain dict (curves, curve_inputs, fx_spots, fx_vols, ...)
    unused: dict  # quote type -> count of lines not used
    # the quote key behind each input of ``config``: its path below ``market`` -> key, e.g. ("fx_spots", "EUR"),
    # ("curve_inputs", "curves", "USD", "instruments", 3, "quote"), ("credit", "CP_A", "recovery")
    sources: dict = dataclasses.field(default_factory=dict)


def market_from_ore(path: str, asof: dt.date, base: str, conventions=None) -> OreMarket:
    """The market config of the ORE quotes of ``asof`` in ``path``; see the module docstring. ``conventions``:
    an ``ore_conventions.OreConventions`` (ORE's conventions.xml) whose Swap/OIS conventions override the
    instruments' defaults and whose index conventions become ``curve_inputs.conventions``."""
    conv_fields = (lambda kind, index, key: conventions.fields(kind, index, key)) if conventions is not None \
        else (lambda kind, index, key: {})
    conv_indices = dict(conventions.indices) if conventions is not None else {}
    quotes = read_quotes(path, asof)
    if not quotes:
        raise MarketDataError(f"{path}: no quote dated {asof.isoformat()}")
    unused: Counter = Counter()
    curves: dict = defaultdict(list)  # curve name -> instrument dicts
    zero: dict = defaultdict(dict)
    fx, fxvol, swv, cds, rec, eq, eqvol, eqdiv = {}, defaultdict(dict), defaultdict(dict), defaultdict(dict), {}, {}, \
        defaultdict(dict), defaultdict(dict)
    xccy_collateral = {}

    keys: dict = {}  # (tag, entry) -> the quote key that set the entry (OreMarket.sources)

    def put(d, k, tag):
        d[k], keys[(tag, k)] = q.value, q.key

    def bad(q, msg):
        raise MarketDataError(f"{path}:{q.line}: {q.key}: {msg}")

    for q in quotes:
        p = [norm_tenor(x) for x in q.key.split("/")]
        kind = "/".join(p[:2])
        try:
            if kind == "MM/RATE" and len(p) == 5:
                ccy, fix, term = p[2], int(parse_tenor(p[3])[0]), p[4]
                if term in ("1D", "ON") or (fix + tenor_days(term, asof) <= 3 and term.endswith("D")):
                    if term in ("1D", "ON") and fix == 0 and ccy in ON_INDEX:
                        curves[ccy].append({"type": "deposit", "tenor": "1D", "quote": q.value, "_key": q.key})
                    else:
                        unused[kind + " (TN/SN)"] += 1
                elif ccy in IBOR:
                    curves[f"{ccy}-{IBOR[ccy]}-{term}"].append({"type": "deposit", "tenor": term, "quote": q.value,
                                                                 "_key": q.key})
                else:
                    unused[kind] += 1
            elif kind == "FRA/RATE" and len(p) == 5 and p[2] in IBOR:
                curves[f"{p[2]}-{IBOR[p[2]]}-{p[4]}"].append({"type": "fra", "start": p[3], "tenor": p[4],
                                                               "quote": q.value, "_key": q.key})
            elif kind == "IR_SWAP/RATE" and len(p) == 6:
                ccy, fwd, idx_t, term = p[2], p[3], p[4], p[5]
                if fwd not in ("0D", "1D", "2D"):
                    unused[kind + " (forward start)"] += 1
                elif idx_t == "1D" and ccy in ON_INDEX:
                    if tenor_days(term, asof) >= 7:
                        curves[ccy].append({"type": "ois", "tenor": term, "quote": q.value, "_key": q.key,
                                            **conv_fields("ois", on_index(ccy, asof), q.key)})
                    else:
                        unused[kind + " (OIS < 1W)"] += 1
                elif ccy in IBOR:
                    name = f"{ccy}-{IBOR[ccy]}-{idx_t}"
                    curves[name].append({"type": "swap", "tenor": term, "quote": q.value, "_key": q.key,
                                         **conv_fields("swap", name, q.key)})
                else:
                    unused[kind] += 1
            elif kind in ("MM_FUTURE/PRICE", "OI_FUTURE/PRICE") and len(p) == 6:
                ccy, month, term = p[2], p[3], p[5]
                if not re.match(r"^\d{4}-\d{2}$", month):
                    unused[kind + " (contract not YYYY-MM)"] += 1
                elif third_wednesday(int(month[:4]), int(month[5:])) <= asof:
                    unused[kind + " (started contract)"] += 1
                elif kind == "MM_FUTURE/PRICE" and ccy in IBOR:
                    curves[f"{ccy}-{IBOR[ccy]}-{term}"].append({"type": "future", "start": month, "tenor": term,
                                                                 "quote": q.value, "_key": q.key})
                elif kind == "OI_FUTURE/PRICE" and ccy in ON_INDEX:
                    curves[ccy].append({"type": "future", "start": month, "tenor": term, "quote": q.value,
                                        "_key": q.key})
                else:
                    unused[kind] += 1
            elif kind == "BASIS_SWAP/BASIS_SPREAD" and len(p) == 6 and p[4] in IBOR:
                flat, spr, ccy, term = p[2], p[3], p[4], p[5]
                name = f"{ccy}-{IBOR[ccy]}-{spr}"
                curves.setdefault("__basis__" + name, []).append(
                    {"type": "tenor_basis", "tenor": term, "quote": q.value, "_key": q.key,
                     "other_index": f"{ccy}-{IBOR[ccy]}-{flat}" if flat != "1D" else on_index(ccy, asof)})
            elif kind == "CC_BASIS_SWAP/BASIS_SPREAD" and len(p) == 7:
                fc, ft, sc, st, term = p[2], p[3], p[4], p[5], p[6]
                if fc == base and sc in IBOR:
                    xccy_collateral[sc] = fc
                    curves["__xccy__" + sc].append({"type": "xccy_basis", "tenor": term, "quote": q.value,
                                                    "_key": q.key, "index": f"{sc}-{IBOR[sc]}-{st}",
                                                    "other_index": f"{fc}-{IBOR[fc]}-{ft}"})
                else:
                    unused[kind + " (not against the base currency)"] += 1
            elif kind == "ZERO/RATE" and len(p) == 6:
                if p[4] not in ("A365", "A365F", "ACT/365"):
                    unused[kind + " (day count not A365)"] += 1
                else:
                    put(zero[(p[2], p[3])], p[5], ("zero", p[2], p[3]))
            elif kind == "FX/RATE" and len(p) == 4:
                put(fx, (p[2], p[3]), "fx")
            elif kind == "FX_OPTION/RATE_LNVOL" and len(p) == 6 and p[5] == "ATM":
                put(fxvol[(p[2], p[3])], p[4], ("fxvol", p[2], p[3]))
            elif kind in ("SWAPTION/RATE_NVOL", "SWAPTION/RATE_LNVOL") and len(p) == 6 and p[5] == "ATM":
                sk = (p[2], "normal" if kind.endswith("NVOL") else "lognormal")
                put(swv[sk], (p[3], p[4]), ("swv",) + sk)
            elif kind == "CDS/CREDIT_SPREAD" and len(p) == 6:
                put(cds[p[2]], p[5], ("cds", p[2]))
            elif kind == "RECOVERY_RATE/RATE" and len(p) >= 3:
                put(rec, p[2], "rec")
            elif kind == "EQUITY/PRICE" and len(p) == 4:
                eq[p[2]], keys[("eq", p[2])] = (p[3], q.value), q.key
            elif kind in ("EQUITY_OPTION/RATE_LNVOL", "FX_OPTION/RATE_LNVOL") and len(p) == 6 \
                    and not TENOR.match(p[4]):
                unused[kind + " (expiry date, not tenor)"] += 1
            elif kind == "EQUITY_OPTION/RATE_LNVOL" and len(p) == 6 and p[5] in ("ATMF", "ATM"):
                put(eqvol[p[2]], p[4], ("eqvol", p[2]))
            elif kind == "EQUITY_DIVIDEND/RATE" and len(p) == 5:
                eqdiv[p[2]][p[4]] = q.value
            else:
                unused[kind] += 1
        except (ValueError, KeyError) as exc:
            bad(q, f"cannot read the quote ({exc})")

    src: dict = {}  # OreMarket.sources
    cfg: dict = {"curves": {}, "fx_spots": {}, "fx_vols": {}, "equities": {}, "swaption_vols": {}, "credit": {}}
    ci: dict = {}
    for name, insts in curves.items():
        if name.startswith("__basis__"):
            target = name[len("__basis__"):]
            own = curves.get(target, [])
            if any(i["type"] == "swap" for i in own):  # the index has its own swaps: basis quotes not needed
                unused["BASIS_SWAP/BASIS_SPREAD (index has swaps)"] += len(insts)
                continue
            ci[target] = {"discount": target[:3], "instruments": list(own) + insts}
        elif name.startswith("__xccy__"):
            ccy = name[len("__xccy__"):]
            if ccy in curves:
                unused["CC_BASIS_SWAP/BASIS_SPREAD (currency has an OIS curve)"] += len(insts)
                continue
            ci[ccy] = {"collateral": xccy_collateral[ccy], "instruments": insts}
        elif len(name) == 3:
            ci[name] = {"index": on_index(name, asof), "instruments": insts}
        elif "__basis__" + name in curves and not any(i["type"] == "swap" for i in insts):
            continue  # built with its basis swaps above
        else:
            ci[name] = {"discount": name[:3], "instruments": insts}
    from exposure.market.conventions import DEFAULT_INDICES

    # ZERO quotes make a currency's curve only when it has no OIS curve and one zero curve id
    ids = defaultdict(list)
    for ccy, cid in zero:
        ids[ccy].append(cid)
    for (ccy, cid), pts in zero.items():
        if ccy in ci or len(ids[ccy]) > 1:
            unused[f"ZERO/RATE ({ccy} has an OIS curve or several zero curves)"] += len(pts)
            continue
        ts = sorted(pts, key=lambda t: tenor_days(t, asof))
        cfg["curves"][ccy] = {"tenors": ts, "quotes": [pts[t] for t in ts], "kind": "zero"}
        src.update({("curves", ccy, "quotes", i): keys[(("zero", ccy, cid), t)] for i, t in enumerate(ts)})

    for name in list(ci):  # only indices with a known convention (a default or one of conventions.xml)
        if len(name) != 3 and name not in DEFAULT_INDICES and name not in conv_indices:
            unused[f"curve {name} (no default convention for the index)"] += len(ci.pop(name)["instruments"])
    for name in list(ci):  # an IBOR curve needs a discount curve: drop those whose currency has none
        d = ci[name].get("discount")
        if d and d not in ci and d not in cfg["curves"]:
            unused[f"curve {name} (no {d} discount curve)"] += len(ci.pop(name)["instruments"])
    for name, c in ci.items():
        c["instruments"] = [dict(i) for i in c["instruments"]]
        src.update({("curve_inputs", "curves", name, "instruments", k, "quote"): i.pop("_key")
                    for k, i in enumerate(c["instruments"])})
    if ci:
        cfg["curve_inputs"] = {"curves": ci}
        used = {n for n in ci if len(n) != 3} | {c["index"] for c in ci.values() if c.get("index")} | \
            {i.get(k) for c in ci.values() for i in c["instruments"] for k in ("index", "other_index")}
        if any(n in conv_indices for n in used):
            cfg["curve_inputs"]["conventions"] = {n: conv_indices[n] for n in sorted(used - {None}) if n in conv_indices}
    ccys = set(cfg["curves"]) | {n for n in ci if len(n) == 3}
    for (c1, c2), v in list(fx.items()):
        if (c1 != base and c1 not in ccys) or (c2 != base and c2 not in ccys):
            unused["FX/RATE (currency without a curve)"] += 1
            del fx[(c1, c2)]
    for (c1, c2), pts in list(fxvol.items()):
        if (c1 != base and c1 not in ccys) or (c2 != base and c2 not in ccys):
            unused["FX_OPTION/RATE_LNVOL (currency without a curve)"] += len(pts)
            del fxvol[(c1, c2)]
    for (ccy, kind) in list(swv):
        if ccy not in ccys:
            unused["SWAPTION (currency without a curve)"] += len(swv.pop((ccy, kind)))
    for (c1, c2), v in fx.items():
        if c2 == base and c1 != base:
            cfg["fx_spots"][c1], src[("fx_spots", c1)] = v, keys[("fx", (c1, c2))]
        elif c1 == base and c2 != base and c2 not in cfg["fx_spots"]:  # a direct quote wins over the inverse
            cfg["fx_spots"][c2], src[("fx_spots", c2)] = 1.0 / v, keys[("fx", (c1, c2))]
    for (c1, c2), pts in fxvol.items():
        ccy = c1 if c2 == base else c2 if c1 == base else None
        if ccy is None:
            unused["FX_OPTION/RATE_LNVOL (cross)"] += len(pts)
            continue
        ts = sorted(pts, key=lambda t: tenor_days(t, asof))
        cfg["fx_vols"][ccy] = {"tenors": ts, "vols": [pts[t] for t in ts]}
        src.update({("fx_vols", ccy, "vols", i): keys[(("fxvol", c1, c2), t)] for i, t in enumerate(ts)})
    for (ccy, kind), pts in swv.items():
        if ccy in cfg["swaption_vols"]:
            unused[f"SWAPTION ({kind}, a {cfg['swaption_vols'][ccy]['kind']} matrix is used)"] += len(pts)
            continue
        es = sorted({e for e, _ in pts}, key=lambda t: tenor_days(t, asof))
        ts = sorted({t for _, t in pts}, key=lambda t: tenor_days(t, asof))
        if any((e, t) not in pts for e in es for t in ts):
            unused[f"SWAPTION/{kind} (incomplete matrix)"] += len(pts)
            continue
        cfg["swaption_vols"][ccy] = {"kind": kind, "expiries": es, "tenors": ts,
                                     "vols": [[pts[(e, t)] for t in ts] for e in es]}
        src.update({("swaption_vols", ccy, "vols", i, j): keys[(("swv", ccy, kind), (e, t))]
                    for i, e in enumerate(es) for j, t in enumerate(ts)})
    for name, pts in cds.items():
        ts = sorted(pts, key=lambda t: tenor_days(t, asof))
        cfg["credit"][name] = {"tenors": ts, "spreads_bp": [pts[t] * 1e4 for t in ts], "recovery": rec.get(name, 0.4)}
        src.update({("credit", name, "spreads_bp", i): keys[(("cds", name), t)] for i, t in enumerate(ts)})
        if name in rec:
            src[("credit", name, "recovery")] = keys[("rec", name)]
    for name, (ccy, spot) in eq.items():
        vols = eqvol.get(name, {})
        ts = sorted(vols, key=lambda t: tenor_days(t, asof))
        div = eqdiv.get(name, {})
        dts = sorted((t for t in div if not t.isdigit()), key=lambda t: tenor_days(t, asof))
        if not ts:
            unused["EQUITY/PRICE (no EQUITY_OPTION ATM vol)"] += 1
            continue
        cfg["equities"][name] = {"currency": ccy, "spot": spot, "dividend_yield": div[dts[-1]] if dts else 0.0,
                                 "vol": {"tenors": ts, "vols": [vols[t] for t in ts]}}
        src[("equities", name, "spot")] = keys[("eq", name)]
        src.update({("equities", name, "vol", "vols", i): keys[(("eqvol", name), t)] for i, t in enumerate(ts)})
    return OreMarket(cfg, dict(unused), src)
