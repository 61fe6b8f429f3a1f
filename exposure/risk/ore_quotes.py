"""The quotes of an ORE market file as risk factors: the file's inputs written into the config, labelled by quote.

    resolve(cfg) -> (cfg', OreQuotes | None)      cfg' = cfg with market.curve_inputs.ore_market read in
    labelled(factors, ore) -> factors             the factors the file gave, named and labelled by their quote

cfg' holds in ``market`` every input the file gives that the user's config does not (what ``build_market`` puts
underneath the user's entries: ``market.config_view.merged``) as if the user had written it, with ``ore_market``,
``ore_conventions`` and ``ore_curveconfig`` cleared, so build_market(cfg'.market) is the run's market and each of
the file's inputs is an ordinary config input: a par quote of a bootstrapped curve (deposit, FRA, future, OIS,
IBOR swap, tenor and cross-currency basis) moves every curve by the bootstrap's implicit-function theorem

    d measure / d q = g_Y dY/dq,     dY/dq = (dR/dY)^-1            (``setup_inputs``, ``setup_reverse_inputs``)

ZERO/RATE quotes are zero-rate pillars, FX/RATE an FX spot, FX_OPTION / EQUITY_OPTION / SWAPTION quotes vol
pillars (a swaption quote through the Hull-White calibration), CDS/CREDIT_SPREAD and RECOVERY_RATE the credit
inputs, EQUITY/PRICE an equity spot; risk=bump bumps the same entries of cfg'. Units are the factors' own
(``factors``): a par quote per 1bp, a CDS spread per 1bp (the file's decimal spread times 1e4 is the engine's
bp), a vol per 0.01 (normal swaption vols per 1bp), an FX spot per 1% of CCY/BASE, a recovery per 0.01.

Labels: every factor the file gave carries its quote key (``RiskFactor.quote``, the ``Quote`` column of
sensitivities.csv). A curve quote is named by its curve (``DiscountCurve`` USD: the OIS curve; ``IndexCurve``
USD-LIBOR-3M) with the quote's own pillar, as ORE buckets it: IR_SWAP/RATE/EUR/2D/6M/10Y -> IndexCurve
EUR-EURIBOR-6M pillar 10Y; MM/RATE its term; FRA/RATE/<CCY>/<start>/<term> '<start>x<end>' (3Mx6M); a future its
contract month (2027-03); BASIS_SWAP / CC_BASIS_SWAP their term. Two quotes of one curve with the same pillar
(a 1Y deposit and a 1Y swap) get the quote type appended: '1Y (MM)'. An FX spot quoted BASE/CCY in the file (e.g.
FX/RATE/USD/JPY with base USD) is still the factor JPY/USD: per 1% of the quote its sensitivity is minus the
reported one. Quotes the engine does not read (OreMarket.unused: unsupported types, curves without a convention)
are no factors; ``OreQuotes.unused_text`` lists them for the results' attrs. A mistyped line is the market's
ConfigError naming the file and line, raised here before any compute.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from exposure.confignode import ConfigNode, to_plain

CLEARED = {"ore_market": None, "ore_conventions": None, "ore_curveconfig": None}
GROUPS = ("curves", "fx_spots", "fx_vols", "equities", "swaption_vols", "credit")


@dataclasses.dataclass(frozen=True)
class OreQuotes:
    path: str  # the market file
    quotes: dict  # factor path ("market", ...) -> the quote key that set the input
    unused: dict  # quote type -> lines the engine does not read (no factor)

    def unused_text(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in sorted(self.unused.items()))


def resolve(cfg):
    """(cfg', OreQuotes) of a config with ``market.curve_inputs.ore_market`` (module docstring), (cfg, None)
    without one. Raises the market's ConfigError (file and line) for a bad file."""
    from exposure.market.config_view import merged
    from exposure.dates import parse_date
    from exposure.market.snapshot_sources import ore_market_of

    mc = cfg.market
    ci = getattr(mc, "curve_inputs", None)
    if ci is None or not getattr(ci, "ore_market", None):
        return cfg, None
    asof = parse_date(mc.asof, "market.asof")
    ore = ore_market_of(mc, asof, str(mc.base_currency))
    view = to_plain(merged(mc, ore.config))
    market = dict(to_plain(mc), **{g: view[g] for g in GROUPS})
    market["curve_inputs"] = dict(to_plain(ci), **view["curve_inputs"], **CLEARED)
    plain = to_plain(cfg)
    plain["market"] = market
    mine = {g: set(getattr(mc, g, None) or {}) for g in GROUPS}
    mine_curves = set(getattr(ci, "curves", None) or {})
    quotes = {}
    for path, key in ore.sources.items():
        group, name = path[0], path[1] if path[0] != "curve_inputs" else path[2]
        taken = name not in mine_curves and name not in mine["curves"] if group == "curve_inputs" else \
            name not in mine[group]
        if taken:  # the user's own entry of that name replaced the file's
            quotes[("market",) + tuple(path)] = key
    return ConfigNode(plain), OreQuotes(str(ci.ore_market), quotes, dict(ore.unused))


def _months(t: str):
    from exposure.market.ore_file import norm_tenor

    t = norm_tenor(t)
    n, u = int(t[:-1]), t[-1]
    return n * 12 if u == "Y" else n if u == "M" else None


def quote_pillar(key: str, asof: dt.date):
    """(pillar, pillar_time or None) of a curve quote key as ORE buckets it (module docstring); None: not a
    curve quote (keep the factor's own pillar)."""
    from exposure.dates import add_tenor, model_time
    from exposure.market.rate_futures import third_wednesday

    p = key.split("/")
    kind = "/".join(p[:2])
    if kind == "FRA/RATE":
        s, e = _months(p[3]), _months(p[4])
        if s is None or e is None:
            return f"{p[3]}+{p[4]}", None
        return f"{s}Mx{s + e}M", model_time(asof, add_tenor(asof, f"{s + e}M"))
    if kind in ("MM_FUTURE/PRICE", "OI_FUTURE/PRICE"):
        start = third_wednesday(int(p[3][:4]), int(p[3][5:7]))
        return p[3], model_time(asof, add_tenor(start, p[5]))
    if kind in ("MM/RATE", "IR_SWAP/RATE", "BASIS_SWAP/BASIS_SPREAD", "CC_BASIS_SWAP/BASIS_SPREAD"):
        return p[-1], None
    return None


def labelled(factors: list, ore: OreQuotes | None, asof: dt.date) -> list:
    """The factors with the quote key of each input the file gave and, for a curve quote, its ORE pillar
    (module docstring); the others unchanged."""
    if ore is None:
        return list(factors)
    out = []
    for f in factors:
        key = ore.quotes.get(tuple(f.path))
        if key is None:
            out.append(f)
            continue
        pt = quote_pillar(key, asof) if f.path[:3] == ("market", "curve_inputs", "curves") else None
        if pt is None:
            out.append(dataclasses.replace(f, quote=key))
        else:
            out.append(dataclasses.replace(f, quote=key, pillar=pt[0],
                                           pillar_time=f.pillar_time if pt[1] is None else float(pt[1])))
    seen: dict = {}
    for f in out:
        seen.setdefault((f.factor_type, f.name, f.pillar), []).append(f)
    clash = {k for k, v in seen.items() if len(v) > 1 and any(f.quote for f in v)}
    return [dataclasses.replace(f, pillar=f"{f.pillar} ({f.quote.split('/')[0]})")
            if (f.factor_type, f.name, f.pillar) in clash and f.quote else f for f in out]
