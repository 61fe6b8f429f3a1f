"""Option fixings and exercises happen on their own dates whatever the reporting grid.

On a coarse grid the options below fix or expire between grid dates. With the event dates simulated
(``simulation.events=options``, the default) the discounted value of each trade must stay a martingale
around its t0 price at every reporting date before its first payment: E[V(t_k)/N(t_k)] = V(0) within 4
standard errors. The old behaviour (``events=none``: fixings and exercises read at the previous grid date)
is shown to fail the same check, so the test can tell the two apart. The reference is the t0 price from the closed forms, which the
t0 pricing tests tie to QuantLib.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import exposure  # noqa: F401  (float64)
from exposure import api
from exposure.pricing.view import PathView, PricingContext

# Each trade has an event between two reporting dates and no payment before the reporting date after it, so
# E[V/N] = V(0) must hold there: a value read at the previous grid date fails it (Jensen: optionality lost, or
# an exercise decided with information from after the expiry).
PAYOFF_TRADES = [
    # One caplet fixing at 20M (8 months after the 1Y grid date), paid at 26M: fixed, unpaid at 2Y.
    {"id": "CAPLET_20M", "type": "CapFloor", "index": "USD-LIBOR-3M", "notional": 1.0e7, "start": "20M",
     "maturity": "26M", "tenor": "6M", "strike": 0.0385, "cap": True},
    # A floorlet fixing at 40M (4 months after 3Y), paid at 46M: fixed, unpaid at 45M.
    {"id": "FLOORLET_40M", "type": "CapFloor", "index": "EUR-EURIBOR-6M", "notional": 1.0e7, "start": "40M",
     "maturity": "46M", "tenor": "6M", "strike": 0.0255, "cap": False},
    # Physically settled, exercised on its expiry (57M); the first payment of the swap is at 60M.
    {"id": "SWO_PHYS", "type": "Swaption", "currency": "USD", "notional": 1.0e7, "expiry": "57M", "maturity": "9Y",
     "fixed_rate": 0.037, "payer": True, "fixed_tenor": "1Y", "float_index": "USD-LIBOR-3M", "float_tenor": "3M",
     "settlement": "physical"},
    # Cash settled at expiry (30M): a martingale before it either way; its expiry is simulated too.
    {"id": "FXO_30M", "type": "FxOption", "foreign_currency": "EUR", "domestic_currency": "USD", "notional": 1.0e7,
     "strike": 1.09, "expiry": "30M", "call": True},
]
GRID = "1Y,2Y,3Y,45M,4Y,59M"
PATHS = 8000


def _setup(tmp_path, events: str):
    pf = {"netting_sets": {"NS": {"counterparty": "CP_A"}}, "trades": [dict(t, netting_set="NS") for t in PAYOFF_TRADES]}
    path = tmp_path / "events.yaml"
    path.write_text(yaml.safe_dump(pf))
    cfg = api.compose([f"portfolio.trades={path}", "portfolio.fixings=null", f"simulation.grid='{GRID}'",
                       f"simulation.paths={PATHS}", "simulation.chunk_size=6000", f"simulation.events={events}",
                       f"output.dir={tmp_path / 'out'}"])
    return cfg, api.setup(cfg)


def _discounted_values(cfg, s):
    """(K, n_trades, P) V/N at the reporting dates, t0 prices (n_trades,), and the trade ids."""
    market, model, grid = s.market, s.built.model, s.grid
    times = np.concatenate([[0.0], grid.times])
    ctx = PricingContext(market, model, times, s.portfolio.fixings, (market.asof,) + tuple(grid.dates))
    states = api.path_generator(cfg, s).all_states()
    view = PathView.from_states(model, states, times, ctx.numeraire_log_det())
    t0 = PathView.today(model)
    t0_ctx = PricingContext(market, model, np.zeros(1), s.portfolio.fixings, (market.asof,))
    vals, npv0, ids = [], [], []
    for b in s.portfolio.batches:
        vals.append(np.asarray(b.values(b.prepare(ctx), view)))
        npv0.append(np.asarray(b.values(b.prepare(t0_ctx), t0))[0, :, 0])
        ids += list(b.ids)
    v = np.concatenate(vals, axis=1) / np.asarray(view.numeraire)[:, None, :]
    report = 1 + grid.valuation_index
    return v[report], np.concatenate(npv0), ids


def _z_scores(v, npv0):
    """(K, n) z of E[V/N] - V(0), standard errors from the paths."""
    mean = v.mean(axis=2)
    se = v.std(axis=2, ddof=1) / np.sqrt(v.shape[2])
    return (mean - npv0[None, :]) / np.where(se > 0, se, np.inf)


@pytest.mark.slow
def test_options_between_grid_dates_stay_martingales(tmp_path):
    cfg, s = _setup(tmp_path, "options")
    assert s.grid.n_event_dates == 4  # two fixings, two expiries
    v, npv0, ids = _discounted_values(cfg, s)
    z = _z_scores(v, npv0)
    for j, tid in enumerate(ids):
        alive = np.abs(v[:, j, :]).max(axis=1) > 0  # dates before the last payment
        assert np.all(np.abs(z[alive, j]) < 4.0), (tid, z[:, j])


@pytest.mark.slow
def test_without_event_dates_a_long_cap_loses_its_optionality(tmp_path):
    cfg, s = _setup(tmp_path, "none")
    assert s.grid.n_event_dates == 0
    v, npv0, ids = _discounted_values(cfg, s)
    z = _z_scores(v, npv0)
    # The caplet's fixing is read at 1Y: at 2Y its E[V/N] falls short of V(0) (optionality over 8 months lost).
    assert z[1, ids.index("CAPLET_20M")] < -4.0, z[:, ids.index("CAPLET_20M")]
    # (The swaption's look-ahead over two months, exercise decided at 59M, is too small to show at 8,000 paths.)


def test_event_dates_are_added_unreported():
    import datetime as dt

    from exposure.simulation.grid import TimeGrid

    g = TimeGrid.build(dt.date(2026, 1, 2), "1Y,3Y", "2W")
    e = g.with_events([dt.date(2027, 6, 1), dt.date(2027, 1, 2), dt.date(2025, 1, 1), dt.date(2040, 1, 1)])
    assert e.valuation_dates == g.valuation_dates  # reporting dates unchanged
    assert [e.dates[i] for i in e.closeout_index] == [g.dates[i] for i in g.closeout_index]
    assert dt.date(2027, 6, 1) in e.dates and dt.date(2025, 1, 1) not in e.dates and dt.date(2040, 1, 1) not in e.dates
    assert e.n_event_dates == 1 and g.n_event_dates == 0
    assert np.all(np.diff(e.times) > 0)
