"""Par-quote curves by the implicit-function theorem (exposure.risk.setup_inputs) against the bootstrap itself.

Reference: central differences of the NumPy bootstrap (``curve_inputs.build_input_curves``, Brent to 1e-16 in
ln P) with one configured quote moved by +-h, h = 1e-5 (a quote unit: a rate, or a future's price): the
difference quotient's truncation is O(h^2) (~1e-10 here) and its rounding ~1e-16 / h = 1e-11 per pillar. The IFT
column dY/dq must equal it within 1e-8 of the column's largest entry (over every bootstrapped curve: a USD OIS
quote also moves the USD-LIBOR-3M curve bootstrapped on it). The market is conf/market/instruments.yaml (OIS
discount curves, IBOR curves from deposits, FRAs and swaps discounted on them, a fixed GBP zero curve) plus a
USD-LIBOR-6M curve by tenor-basis swaps (both spread legs) built here. Not checked here: the twins of futures
and cross-currency basis swaps.
"""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

import exposure
from exposure.dates import parse_date
from exposure.market.curve_inputs import build_input_curves
from exposure.market.snapshot import build_curve
from exposure.risk.setup_inputs import bootstrap_ift

H = 1e-5


def _market():
    cfg = exposure.compose(["market=instruments"])
    ci = OmegaConf.to_container(cfg.market.curve_inputs, resolve=True)
    # an index curve by tenor basis off USD-LIBOR-3M, futures on it, and GBP by cross-currency basis against USD
    ci["curves"]["USD-LIBOR-6M"] = {"discount": "USD", "instruments": [
        {"type": "deposit", "tenor": "6M", "quote": 0.0450},
        {"type": "tenor_basis", "tenor": "2Y", "other_index": "USD-LIBOR-3M", "quote": 0.0012},
        {"type": "tenor_basis", "tenor": "5Y", "other_index": "USD-LIBOR-3M", "quote": 0.0010, "spread_leg": "other"}]}
    m = OmegaConf.to_container(cfg.market, resolve=True)
    m["curve_inputs"] = ci
    return OmegaConf.create(m)  # plain (not the schema struct): a curve name the schema lacks


@pytest.fixture(scope="module")
def setup():
    mc = _market()
    ift = bootstrap_ift(mc)
    asof = parse_date(mc.asof, "market.asof")
    known = {c: build_curve(asof, cc, f"market.curves.{c}", c) for c, cc in mc.curves.items()}
    return mc, ift, asof, known


def _bootstrapped(mc, asof, known, name, i, e):
    ci = OmegaConf.to_container(mc.curve_inputs, resolve=True)
    ci["curves"][name]["instruments"][i]["quote"] += e
    return build_input_curves(asof, OmegaConf.create(ci), known).curves


CASES = [("USD", 0), ("USD", 4), ("USD", 9), ("USD-LIBOR-3M", 1), ("USD-LIBOR-3M", 6), ("EUR", 2),
         ("EUR-EURIBOR-6M", 1), ("USD-LIBOR-6M", 1), ("USD-LIBOR-6M", 2)]


@pytest.mark.parametrize("name,i", CASES)
def test_ift_equals_central_differences_of_the_bootstrap(setup, name, i):
    mc, ift, asof, known = setup
    up, down = (_bootstrapped(mc, asof, known, name, i, e) for e in (H, -H))
    d = ift.direction(name, i, 1.0)
    fd = {n: (np.asarray(up[n].log_dfs) - np.asarray(down[n].log_dfs)) / (2 * H) for n in ift.names}
    scale = max(np.abs(v).max() for v in fd.values())
    assert scale > 1e-3  # a live column (ln P moves by ~ t per unit quote; the 1D deposit: ~ 3 days)
    for n in ift.names:
        np.testing.assert_allclose(d[n], fd[n], rtol=0, atol=1e-8 * scale, err_msg=f"{name}[{i}] -> {n}")


def test_cross_curve_columns_and_the_triangular_structure(setup):
    mc, ift, asof, known = setup
    d = ift.direction("USD", 6, 1.0)  # an OIS quote moves the IBOR curves discounted on USD
    assert np.abs(d["USD-LIBOR-3M"]).max() > 1e-4 and np.abs(d["USD-LIBOR-6M"]).max() > 1e-4
    assert np.abs(d["EUR"]).max() == 0.0
    own = d["USD"]
    k = ift.column[("USD", 6)] - ift.offsets["USD"]
    assert np.all(own[:k] == 0.0) and own[k] != 0.0  # a later pillar never moves an earlier one
