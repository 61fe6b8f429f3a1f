"""Event dates by the exact Gaussian bridge (``exposure/simulation/bridge.py``).

1. The reporting-date states are the same bit for bit with or without event dates, every event's state is the
   same whatever other event dates the grid holds, and when unrelated options with off-grid dates are added to
   a book (what-if, run comparisons, incremental CVA) every trade of the book keeps its values bit for bit on
   the reporting dates, its own off-grid options included (netting-set sums to the last bit or two: another
   compiled pricing program, as for any added trade).
2. The bridged states have the model's exact joint law: mean, covariance and cross-covariance with every other
   date, against the moments composed from the model's exact transitions (Van Loan, ``model.transitions``) on
   the full grid, within 4 standard errors; and against states simulated directly on a grid holding the
   event dates (same law, other draws). Also on a model with a zero vol and a unit correlation (singular
   covariances) and on events a day away from a reporting date (near-singular bridges).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
import yaml

import exposure  # noqa: F401  (float64)
from exposure.models.cross_asset import PiecewiseVol
from exposure.simulation.bridge import build_bridge, bridge_coefficients, compose, reporting_positions
from exposure.simulation.grid import TimeGrid
from exposure.simulation.paths import Discretisation, PathGenerator
from tests.conftest import make_model

ASOF = dt.date(2026, 1, 2)
# Before the first reporting date (left end t0), three in one interval, a day after a close-out date and a day
# before a valuation date (near-singular bridges).
EVENTS = [dt.date(2026, 4, 1), dt.date(2027, 4, 1), dt.date(2027, 7, 1), dt.date(2027, 1, 17), dt.date(2028, 1, 1)]
P = 20_000


def _grids():
    rep = TimeGrid.build(ASOF, "1Y,2Y,3Y", "2W")
    return rep, rep.with_events(EVENTS)


def _singular_model():
    """A unit correlation between two rate factors and a zero equity vol: singular step covariances."""
    m = make_model()
    R = np.eye(6)
    R[0, 1] = R[1, 0] = 1.0
    R[3, 4] = R[4, 3] = 0.5
    return dataclasses.replace(m, correlation=R, equity_vol=(PiecewiseVol(np.zeros(0), np.array([0.0])),))


def _exact_moments(model, times):
    """Means (n+1, d) and covariances Cov(Y_i, Y_j) (n+1, n+1, d, d) of the states on [0] + times."""
    Phi, mu, Sig = model.transitions(times)
    n, d = len(times), model.dim
    mean, var = [model.initial_state()], [np.zeros((d, d))]
    for k in range(n):
        mean.append(Phi[k] @ mean[-1] + mu[k])
        var.append(Phi[k] @ var[-1] @ Phi[k].T + Sig[k])
    cov = np.zeros((n + 1, n + 1, d, d))
    for i in range(n + 1):
        P_ji = np.eye(d)
        for j in range(i, n + 1):  # Cov(Y_j, Y_i) = Phi(j, i) Var(Y_i) for j >= i
            if j > i:
                P_ji = Phi[j - 1] @ P_ji
            cov[j, i] = P_ji @ var[i]
            cov[i, j] = cov[j, i].T
    return np.stack(mean), cov


def _centred(y):
    return y - y.mean(axis=-1, keepdims=True)


def _cov_z(x, y, exact):
    """z-scores of the sample Cov(x, y) (d, d) against ``exact``; an entry with no spread must match to 1e-12."""
    prod = _centred(x)[:, None, :] * _centred(y)[None, :, :]
    est, se = prod.mean(axis=2), prod.std(axis=2, ddof=1) / np.sqrt(x.shape[-1])
    zero = se <= 1e-15 * max(1.0, np.abs(exact).max())
    assert np.all(np.abs(est - exact)[zero] <= 1e-12), "a deterministic covariance entry is off"
    return np.where(zero, 0.0, (est - exact) / np.where(zero, 1.0, se))


def test_reporting_states_are_bit_identical_with_or_without_event_dates():
    model = make_model()
    rep, full = _grids()
    assert full.n_event_dates == len(EVENTS)
    plain = PathGenerator(Discretisation.build(model, rep), 600, 600, seed=5).all_states()
    disc = Discretisation.build(model, full)
    bridged = PathGenerator(disc, 600, 600, seed=5).all_states()
    rows = np.concatenate([[0], 1 + reporting_positions(full)])
    assert bridged.shape[0] == len(full.dates) + 1
    assert np.array_equal(plain, bridged[rows])
    # Chunk-size invariant, event dates included.
    assert np.array_equal(bridged, PathGenerator(disc, 600, 97, seed=5).all_states())
    # Each event's state does not depend on the other event dates either, even in the same interval: only one
    # of the five events, then all five plus three more around it.
    for alone in EVENTS:
        more = EVENTS + [alone - dt.timedelta(days=1), alone + dt.timedelta(days=2), dt.date(2027, 10, 9)]
        for grid in (rep.with_events([alone]), rep.with_events(more)):
            other = PathGenerator(Discretisation.build(model, grid), 600, 600, seed=5).all_states()
            assert np.array_equal(bridged[1 + full.dates.index(alone)], other[1 + grid.dates.index(alone)]), alone
    # Antithetic pairs mirror each other about the mean on event dates too (their normals are negated).
    anti = PathGenerator(disc, 600, 600, seed=5, antithetic=True).all_states()
    mean, _ = _exact_moments(model, full.times)
    pair_mean = 0.5 * (anti[..., 0::2] + anti[..., 1::2])
    np.testing.assert_allclose(pair_mean, np.broadcast_to(mean[..., None], pair_mean.shape), rtol=0, atol=1e-9)


@pytest.mark.parametrize("which", ["correlated", "singular"])
def test_bridged_states_have_the_exact_joint_law(which):
    model = make_model() if which == "correlated" else _singular_model()
    _, full = _grids()
    y = PathGenerator(Discretisation.build(model, full), P, 5000, seed=7).all_states()
    mean, cov = _exact_moments(model, full.times)
    is_rep = full.reporting_mask()
    worst = 0.0
    for i in np.flatnonzero(~is_rep):
        x = y[i]
        se = x.std(axis=1, ddof=1) / np.sqrt(P)
        zm = np.where(se > 0, (x.mean(axis=1) - mean[i]) / np.where(se > 0, se, 1.0), 0.0)
        worst = max(worst, np.abs(zm).max())
        # Its own covariance and its covariance with every other date: the neighbours it is bridged between
        # (a bridge ignoring the right end would get Cov(Y_e, Y_b) wrong) and the other events.
        for j in range(1, len(full.dates) + 1):
            worst = max(worst, np.abs(_cov_z(x, y[j], cov[i, j])).max())
    assert worst < 4.0, worst


def test_bridged_states_agree_with_states_simulated_on_the_event_dates():
    """Independent check: the same dates simulated step by step (events as grid dates, other normals)."""
    model = make_model()
    _, full = _grids()
    direct_grid = TimeGrid.build(ASOF, [d.isoformat() for d in full.dates])
    assert direct_grid.n_event_dates == 0
    a = PathGenerator(Discretisation.build(model, full), P, 5000, seed=7).all_states()
    b = PathGenerator(Discretisation.build(model, direct_grid), P, 5000, seed=8).all_states()
    worst = 0.0
    rows = 1 + np.arange(len(full.dates))
    for i in np.flatnonzero(~full.reporting_mask()):
        se = np.sqrt(a[i].var(axis=1, ddof=1) / P + b[i].var(axis=1, ddof=1) / P)
        worst = max(worst, np.abs((a[i].mean(axis=1) - b[i].mean(axis=1)) / se).max())
        for j in rows:
            pa, pb = (_centred(s[i])[:, None, :] * _centred(s[j])[None, :, :] for s in (a, b))
            se = np.sqrt(pa.var(axis=2, ddof=1) / P + pb.var(axis=2, ddof=1) / P)
            worst = max(worst, np.abs((pa.mean(axis=2) - pb.mean(axis=2)) / se).max())
    assert worst < 4.0, worst


@pytest.mark.parametrize("which", ["correlated", "singular"])
def test_conditional_covariances_are_psd_on_short_intervals(which):
    """A day, an hour-scale and a year between the ends: finite coefficients, PSD conditional covariance,
    and the conditional law reproduces the unconditional one: A S_l A' + ... = Sigma(e, l) composed."""
    model = make_model() if which == "correlated" else _singular_model()
    for l_, e_, b_ in [(1.0, 1.0 + 1 / 365, 1.0 + 2 / 365), (1.0, 1.0 + 1 / 365, 2.0), (1.0, 2.0 - 1 / 365, 2.0),
                       (0.0, 0.5, 1.0)]:
        Phi, mu, Sig = model.transitions(np.array([t for t in (l_, e_, b_) if t > 0]))
        first, rest = ((Phi[k], mu[k], Sig[k]) for k in (-2, -1))
        A, B, m, V = bridge_coefficients(first, rest)
        assert all(np.all(np.isfinite(x)) for x in (A, B, m, V))
        w = np.linalg.eigvalsh(V)
        assert w.min() >= -1e-12 * max(w.max(), 1e-300), (l_, e_, b_, w)
        # Law of total variance: Var(Y_e | Y_l) = B Var(Y_b | Y_l) B' + V with B = C; and the cross term
        # Cov(Y_e, Y_b | Y_l) = B Var(Y_b | Y_l). On the correlation scale: to 1e-12 with a regular covariance;
        # the singular model's near-null directions (rates driven by one Brownian motion over a day) carry
        # eigenvalues at rounding level, which limits it to about 1e-6 there, far below Monte Carlo noise.
        _, _, S_bl = compose(rest, first)
        sd_e, sd_b = (np.sqrt(np.where(np.diag(S) > 0, np.diag(S), 1.0)) for S in (first[2], S_bl))
        tol = 1e-12 if which == "correlated" else 1e-5
        assert np.abs((B @ S_bl @ B.T + V - first[2]) / np.outer(sd_e, sd_e)).max() < tol, (l_, e_, b_)
        assert np.abs((B @ S_bl - first[2] @ rest[0].T) / np.outer(sd_e, sd_b)).max() < tol, (l_, e_, b_)


def test_bridge_layout():
    model = make_model()
    _, full = _grids()
    times, br = build_bridge(model, full)
    rep = reporting_positions(full)
    assert np.array_equal(times, full.times[rep])
    n_r = rep.size + 1
    rows = np.arange(n_r, n_r + br.n_nodes)
    # Every node is sampled after both ends of its bracket, and brackets are nested (parents first).
    assert np.all(br.left < rows) and np.all(br.right < rows)
    # Every event day is a node; a node costs at most log2(days between reporting dates) per event.
    assert {d.toordinal() for d in EVENTS} <= set(br.days.tolist())
    assert br.n_nodes <= len(EVENTS) * int(np.ceil(np.log2(366)))
    assert sorted(br.order.tolist())[: n_r] == list(range(n_r)) and len(br.order) == len(full.dates) + 1
    for d in EVENTS:
        assert br.order[1 + full.dates.index(d)] == n_r + br.days.tolist().index(d.toordinal())


# ---- pipeline: an added option changes nothing on the reporting dates ------------------------------------
def _job(tmp_path, name, own, extra, trade_level=False):
    from exposure import api
    from exposure.chunks import ChunkJob
    from exposure.pricing.view import PricingContext
    from exposure.setup import path_generator

    book = yaml.safe_load(open("examples/portfolio/example.yaml"))
    book["trades"] += own
    if extra:
        book["netting_sets"]["NS_NEW"] = {"counterparty": "CP_A"}
        book["trades"] += [dict(t, netting_set="NS_NEW") for t in extra]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(book))
    cfg = api.compose([f"portfolio.trades={path}", "simulation.paths=128", "simulation.chunk_size=128",
                       f"output.dir={tmp_path / name}"])
    s = api.setup(cfg)
    market, model, grid, pf = s.market, s.built.model, s.grid, s.portfolio
    times = np.concatenate([[0.0], grid.times])
    ctx = PricingContext(market, model, times, pf.fixings, (market.asof,) + tuple(grid.dates), grid.reporting_mask())
    b = tuple(pf.batches)
    job = ChunkJob(path_generator(cfg, s), model, b, tuple(x.prepare(ctx) for x in b), times, ctx.numeraire_log_det(),
                   len(pf.netting_sets), trade_level)
    return (grid, job.run(0, 128)) if not trade_level else (grid, job.run(0, 128), [i for x in b for i in x.ids])


# The book's own off-grid options: a caplet fixing at 20M (between the 18M and 21M grid dates) and an FX option
# expiring at 17M; their values after the event read the event's state.
OWN = [{"id": "CAPLET_OWN", "type": "CapFloor", "netting_set": "NS_CP_A", "index": "USD-LIBOR-3M", "notional": 1.0e7,
        "start": "20M", "maturity": "26M", "tenor": "6M", "strike": 0.0385, "cap": True},
       {"id": "FXO_OWN", "type": "FxOption", "netting_set": "NS_CP_B", "foreign_currency": "EUR",
        "domestic_currency": "USD", "notional": 1.0e7, "strike": 1.09, "expiry": "17M", "call": True}]
# Added in a new netting set: USD 3M caps whose fixings fall between grid dates, one of them on the fixing dates
# of the book's seasoned USD swap (whose coupons, fixed between grid dates and unpaid at the next, would
# otherwise read its event states), a physical swaption expiring off the grid, and an FX option expiring at
# 19M, in the same interval as the book's caplet fixing.
EXTRA = [{"id": "CAP_SEASONED", "type": "CapFloor", "index": "USD-LIBOR-3M", "notional": 1.0e7,
          "start": "2026-12-14", "maturity": "2030-03-14", "tenor": "3M", "strike": 0.04, "cap": True},
         {"id": "CAP_NEW", "type": "CapFloor", "index": "USD-LIBOR-3M", "notional": 1.0e7, "start": "0D",
          "maturity": "5Y", "tenor": "3M", "strike": 0.04, "cap": True},
         {"id": "SWO_NEW", "type": "Swaption", "currency": "USD", "notional": 1.0e7, "expiry": "28M",
          "maturity": "6Y", "fixed_rate": 0.037, "payer": True, "float_index": "USD-LIBOR-3M",
          "settlement": "physical"},
         {"id": "FXO_NEW", "type": "FxOption", "foreign_currency": "EUR", "domestic_currency": "USD",
          "notional": 1.0e7, "strike": 1.12, "expiry": "19M", "call": False}]


@pytest.mark.slow
def test_an_added_option_changes_no_reporting_date_value(tmp_path):
    g1, a, ids1 = _job(tmp_path, "before", OWN, [], trade_level=True)
    g2, b, ids2 = _job(tmp_path, "after", OWN, EXTRA, trade_level=True)
    assert g1.n_event_dates >= 2 and g2.n_event_dates > g1.n_event_dates + 10
    r1, r2 = np.flatnonzero(g1.reporting_mask()), np.flatnonzero(g2.reporting_mask())
    assert np.array_equal(a.states[r1], b.states[r2])
    # Every trade of the book, its own off-grid options included, bit for bit.
    pos = [ids2.index(t) for t in ids1]
    assert np.array_equal(a.trades[r1], b.trades[r2][:, pos])
    # The book's netting sets: the same sums of the same values, in another compiled program: equal to the last
    # bit or two. (Adding any trade, even one with no event date, so with the same dates, changes the one
    # compiled pricing program, and XLA's fusion then moves some netting-set sums by an ulp: not the events.)
    n_ns = a.values.shape[1]
    scale = np.abs(a.values[r1]).max(axis=(0, 2), keepdims=True)
    assert np.all(np.abs(a.values[r1] - b.values[r2][:, :n_ns]) <= 4 * np.finfo(float).eps * scale)
    assert np.abs(b.values[r2][:, n_ns:]).max() > 0  # the new netting set is priced
