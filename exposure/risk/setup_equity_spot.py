"""An equity spot's pricing-data tangent: exactly 0 for every batch, no prepare again (no step).

    d pres_b / de = d prepare_b(market(S0), model(S0)) / dS0 . dS0/de = 0          every batch b

An EquitySpot factor moves the equity's spot S0 (units: ``factors``): in the market ``equities[name].spot``, in
the model ``equity_spot`` (the path state's y0 = ln S0, ``models.cross_asset``, whose tangent ``setup_model``
takes). No batch's ``prepare`` reads either (an equity option's and an equity leg's prepared data are built from
the dividend yield, the vol and the curves: ``opt_equity``, ``cashflows``; the spot is read by the path state
only), so when the moved markets and models at +-h equal the base run's in everything but those two spot fields
(checked, value by value: the dividend yield, the vol curve and the model's bootstrapped equity vol pieces
included), the tangent of every pres leaf is exactly 0 (the central difference this replaces gave 0 bit for bit:
tests/test_risk_equity_spot.py). A moved set-up that differs anywhere else (a model whose other parts read the
spot) is not this case: None, and the caller differentiates every batch (``setup_tangent.model_state_tangent``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import jax
import numpy as np

MARKET_EQUITY = ("equities", "credit")  # compared apart (equities) or read by no batch (credit: the XVA weights')
MODEL_SPOT = ("equity_spot",)  # the model's only field an equity spot may move


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


def spot_only(market, base_market, model, base_model) -> bool:
    """Whether a moved (market, model) equals the base run's in everything but the equities' spots (the credit
    curves aside: no batch reads them; the XVA weights' tangent is taken elsewhere)."""
    if not (_fields_same(market, base_market, MARKET_EQUITY) and _fields_same(model, base_model, MODEL_SPOT)):
        return False
    eqs, base = market.equities, base_market.equities
    return eqs.keys() == base.keys() and all(_fields_same(eqs[k], base[k], ("spot",)) for k in eqs)


def equity_spot_pres(s, static, pres, factor, markets, models, step: float) -> list | None:
    """d S["pres"]/de of an EquitySpot factor (module docstring: exactly 0, each leaf's shape) given the moved
    (markets, models) at +-step, or None where more than the spot moved. pres: the run's S["pres"] (float leaves)."""
    if factor.factor_type != "EquitySpot":
        return None
    if not all(spot_only(m, s.market, md, s.built.model) for m, md in zip(markets, models)):
        return None
    return [np.zeros(np.shape(x)) for x in pres]
