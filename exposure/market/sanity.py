"""Inputs outside a sane range: warn (default) or fail, naming the key (``market.sanity: warn | fail | off``).

    Black vol        sigma(T_i) = sqrt(w(T_i) / T_i)  > MAX_VOL = 200%     market.fx_vols.<ccy>, market.equities.<n>.vol
    zero rate        z(t) = -ln P(0, t) / t, |z| > MAX_RATE = 50%           market.curves.<ccy>, market.indices.<n>
    average hazard   h(t) = -ln S(t) / t         > MAX_HAZARD = 100%       market.credit.<name>

at t in CHECK_TIMES (years). Such inputs are legal but usually a units error (500 for 5.00, 0.5 for 50 bp); a
500% FX vol gives exposures that collapse towards zero without any other sign. Read from the built market, so
quotes in any form (zero rates, discount factors, bootstrapped instruments, ORE files) are checked alike.
"""

from __future__ import annotations

import logging

import numpy as np

from exposure.errors import ConfigError

MAX_VOL, MAX_RATE, MAX_HAZARD = 2.0, 0.5, 1.0
CHECK_TIMES = np.array([0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0])
log = logging.getLogger("exposure")


def findings(market) -> list[tuple[str, str]]:
    """[(config key, problem)] for every input outside the sane range."""
    out = []
    t = CHECK_TIMES
    for ccy, curve in market.curves.items():
        z = -np.asarray(curve.log_discount_np(t), dtype=np.float64) / t
        i = int(np.argmax(np.abs(z)))
        if not abs(z[i]) <= MAX_RATE:
            out.append((f"market.curves.{ccy}", f"zero rate {100 * z[i]:.4g}% at {t[i]:g}Y is beyond "
                                                 f"+-{100 * MAX_RATE:g}% (quotes in percent instead of decimals?)"))
    for name, idx in market.indices.items():
        z = -np.asarray(idx.curve.log_discount_np(t), dtype=np.float64) / t
        i = int(np.argmax(np.abs(z)))
        if not abs(z[i]) <= MAX_RATE:
            out.append((f"market.indices.{name}", f"forward curve zero rate {100 * z[i]:.4g}% at {t[i]:g}Y is "
                                                  f"beyond +-{100 * MAX_RATE:g}%"))
    vols = [(f"market.fx_vols.{c}", v) for c, v in market.fx_vols.items()]
    vols += [(f"market.equities.{n}.vol", e.vol) for n, e in market.equities.items()]
    for key, v in vols:
        times = np.asarray(v.times, dtype=np.float64)
        sig = np.sqrt(np.maximum(np.asarray(v.total_variances, dtype=np.float64), 0.0) / times)
        i = int(np.argmax(sig))
        if not sig[i] <= MAX_VOL:
            out.append((key, f"Black vol {100 * sig[i]:.4g}% at {times[i]:g}Y is above {100 * MAX_VOL:g}% "
                             "(vols in percent instead of decimals?)"))
    for name, c in market.credit.items():
        h = -np.log(np.asarray(c.survival_np(t), dtype=np.float64)) / t
        i = int(np.argmax(h))
        if not h[i] <= MAX_HAZARD:
            out.append((f"market.credit.{name}", f"average hazard rate {100 * h[i]:.4g}% to {t[i]:g}Y is above "
                                                 f"{100 * MAX_HAZARD:g}% (spreads_bp in bp? flat_hazard in decimals?)"))
    return out


def check_sanity(market, mode: str = "warn") -> list[tuple[str, str]]:
    """Warn (logger 'exposure') or, with mode 'fail', raise ConfigError for the first finding; 'off': nothing."""
    mode = str(getattr(mode, "value", mode)).lower()
    if mode == "off":
        return []
    if mode not in ("warn", "fail"):
        raise ConfigError("market.sanity", f"must be warn, fail or off (got '{mode}')")
    found = findings(market)
    if found and mode == "fail":
        key, problem = found[0]
        raise ConfigError(key, problem + " (market.sanity=fail; market.sanity=warn lets it through)")
    for key, problem in found:
        log.warning("warning: %s: %s", key, problem)
    return found
