"""An equity spot's pricing-data tangent: only the batches that can read an equity are prepared again.

    d pres_b / de = (prepare_b(market+, model+) - prepare_b(market-, model-)) / 2h     b reads an equity
                  = 0                                                                 every other batch

An EquitySpot factor rebuilds the market and the model at +-h (``setup_tangent.model_state_tangent``); what
moves there is the equity's spot (and whatever the model derives from the equities). A batch that reads no
equity (swaptions, caps/floors, FX options, linear trades without an equity leg) prepares from the rest, and
when the moved markets and models equal the base run's outside their equity parts (checked, value by value),
its two prepares are equal: its difference is exactly 0, as the full central difference gives it. Any other
difference (a model whose other parts read the equity) falls back to every batch (None).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import jax
import numpy as np

MARKET_EQUITY = ("equities", "credit")  # market fields no equity-free batch reads (credit: the XVA weights')
MODEL_EQUITY = ("equity_spot", "equity_div", "equity_vol")


def same(a, b) -> bool:
    """Whether two set-up objects hold the same values (dataclasses, dicts, sequences, arrays, scalars); False for
    anything else (the caller then takes the safe path)."""
    if a is b:
        return True
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)) and type(a) is type(b):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (str, dt.date, type(None))) or isinstance(b, (str, dt.date, type(None))):
        return type(a) is type(b) and a == b
    num = (np.ndarray, np.generic, float, int, jax.Array)
    if isinstance(a, num) and isinstance(b, num):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.array_equal(a, b))
    return False


def _fields_same(a, b, skip) -> bool:
    return type(a) is type(b) and all(same(getattr(a, f.name), getattr(b, f.name))
                                      for f in dataclasses.fields(a) if f.name not in skip)


def equity_free(batch) -> bool:
    """A batch whose prepare reads no equity (spot, dividend, vol)."""
    from exposure.pricing.linear import LinearBatch
    from exposure.pricing.linear_specs import EquityLeg
    from exposure.pricing.opt_capfloor import CapFloorBatch
    from exposure.pricing.opt_fx import FxOptionBatch
    from exposure.pricing.opt_swaption import SwaptionBatch

    if type(batch) in (SwaptionBatch, CapFloorBatch, FxOptionBatch):
        return True
    if type(batch) is LinearBatch:
        return not any(isinstance(leg, EquityLeg) for spec in batch.specs for leg in spec.legs)
    return False


def layout(static) -> list:
    """Per batch: (first float leaf in S["pres"], number of float leaves, its integer leaves)."""
    from exposure.risk.state import split_leaves, merge_pres

    out, at = [], 0
    for tree in merge_pres(static, [np.zeros(0)] * static.n_float):
        floats, ints, _ = split_leaves([tree])
        out.append((at, len(floats), ints))
        at += len(floats)
    return out


def equity_spot_pres(s, static, pres, factor, markets, models, step: float) -> list | None:
    """d S["pres"]/de of an EquitySpot factor (module docstring) at the moved (markets, models) (+-step), or None
    where the shortcut does not hold. pres: the run's S["pres"] (float leaves)."""
    from exposure.risk.state import batch_difference

    if factor.factor_type != "EquitySpot":
        return None
    base_m, base_md = s.market, s.built.model
    if not all(_fields_same(m, base_m, MARKET_EQUITY) and _fields_same(md, base_md, MODEL_EQUITY)
               for m, md in zip(markets, models)):
        return None
    out = [np.zeros(np.shape(x)) for x in pres]
    for b, (at, k, ints) in zip(s.portfolio.batches, layout(static)):
        if equity_free(b):
            continue
        out[at:at + k] = batch_difference(b, ints, markets, models, s, static, factor, step)
    return out
