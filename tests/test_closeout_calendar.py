"""Close-out dates on the netting set's calendar: a netting set with a calendar closes out on d + MPoR rolled to
its next business day (following), simulated as an extra date with its own close-out index; a netting set
without a calendar keeps the unadjusted d + MPoR, and a run whose netting sets have no calendar simulates the
same dates as before.

Reference for the dates: QuantLib's TARGET calendar (Following adjustment)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import yaml

import exposure
from exposure.aggregation.measures import ExposureAggregator
from exposure.portfolio.netting import Csa, NettingSet
from exposure.simulation.grid import TimeGrid

ASOF = dt.date(2026, 11, 20)
GRID = "2026-12-04,2026-12-11,2027-01-15"  # 11 Dec + 2W = Fri 25 Dec 2026 (a TARGET holiday)


def test_grid_adds_each_netting_sets_rolled_closeout_date():
    ql = pytest.importorskip("QuantLib")
    g = TimeGrid.build(ASOF, GRID, "2W")
    assert g.with_netting_calendars([None, None]) is g  # no calendar: the grid as before
    g2 = g.with_netting_calendars(["TARGET", None, "UK"])
    co = [[g2.dates[i] for i in row] for row in g2.set_closeout_index]
    unadjusted = [g.dates[i] for i in g.closeout_index]
    for d, row in zip(unadjusted, co):
        q = ql.TARGET().adjust(ql.Date(d.day, d.month, d.year), ql.Following)
        assert row[0] == dt.date(q.year(), q.month(), q.dayOfMonth())
        assert row[1] == d
        assert row[2] == NettingSet("N", "C", None, "UK").close_out_date(d - dt.timedelta(days=14), "2W")
    assert co[1] == [dt.date(2026, 12, 28), dt.date(2026, 12, 25), dt.date(2026, 12, 29)]  # UK: 28 Dec Boxing Day sub.
    assert set(g.dates) < set(g2.dates) and [g2.dates[i] for i in g2.valuation_index] == g.valuation_dates
    assert g2.event_dates() == []  # the added close-out dates are not event dates
    # event dates added afterwards keep every index on its date
    g3 = g2.with_events([dt.date(2026, 12, 20)])
    assert [[g3.dates[i] for i in row] for row in g3.set_closeout_index] == co
    assert g3.event_dates() == [dt.date(2026, 12, 20)]


def test_aggregator_reads_each_netting_set_at_its_own_closeout():
    """Two collateralised sets with per-set close-out indices give, set by set, what a shared index equal to
    that set's column gives."""
    rng = np.random.default_rng(3)
    K_all, P = 5, 64
    vals = rng.normal(size=(K_all, 2, P)) * 1e6
    csa = Csa(threshold_cpty=1e5, threshold_bank=2e5)
    sets = (NettingSet("A", "C", csa, "TARGET"), NettingSet("B", "C", csa))
    vi, ci = np.array([0, 1, 3]), np.array([[0, 0], [2, 4], [4, 4]])
    times = np.array([0.0, 0.1, 0.2])
    both = ExposureAggregator(sets, P, times, valuation_index=vi, closeout_index=ci, t0_index=0)
    X, coll, V_exp, _ = both.collateralise(vals)
    for j in range(2):
        one = ExposureAggregator(sets, P, times, valuation_index=vi, closeout_index=ci[:, j], t0_index=0)
        Xj, collj, Vj, _ = one.collateralise(vals)
        np.testing.assert_array_equal(X[:, j], Xj[:, j])
        np.testing.assert_array_equal(V_exp[:, j], Vj[:, j])
    assert np.array_equal(V_exp[1, 0], vals[2, 0]) and np.array_equal(V_exp[1, 1], vals[4, 1])
    with pytest.raises(ValueError, match="closeout_index"):
        ExposureAggregator(sets, P, times, valuation_index=vi, closeout_index=np.zeros((3, 3), int))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("closeout")
    swap = {"type": "Swap", "currency": "EUR", "notional": 1e7, "start": "0D", "maturity": "3Y", "fixed_rate": 0.024,
            "payer": True, "calendar": "TARGET"}
    book = {"netting_sets": {"NS_T": {"counterparty": "CP", "calendar": "TARGET", "csa": {"threshold_cpty": 0.0}},
                             "NS_N": {"counterparty": "CP", "csa": {"threshold_cpty": 0.0}}},
            "trades": [{"id": "S_T", "netting_set": "NS_T", **swap}, {"id": "S_N", "netting_set": "NS_N", **swap}]}
    (d / "book.yaml").write_text(yaml.safe_dump(book))
    cfg = exposure.compose([f"portfolio.trades={d / 'book.yaml'}", "portfolio.fixings=null",
                            f"simulation.grid='{GRID}'", "simulation.mpor=2W", "simulation.paths=256",
                            "simulation.chunk_size=256", f"output.dir={d / 'out'}", "output.csv=false",
                            "output.store_cube=true"])
    ds = exposure.run(cfg).dataset
    ds.attrs["run_dir"] = str(d / "out")
    return ds


@pytest.mark.slow
def test_netting_set_on_target_closes_out_on_the_next_business_day(run):
    """Same trade and CSA in both sets: the collateralised exposure agrees path by path except on 11 Dec, whose
    close-out is Mon 28 Dec for the TARGET set and Fri 25 Dec (a TARGET holiday) for the other."""
    X = np.asarray(run["cube_exposure"].values, dtype=np.float64)  # (netting_set, date, path)
    ids = list(run["netting_set"].values)
    t, n = ids.index("NS_T"), ids.index("NS_N")
    dates = [str(x)[:10] for x in run["date"].values]
    k = dates.index("2026-12-11")
    for j in range(len(dates)):
        if j == k:
            assert np.abs(X[t, j] - X[n, j]).max() > 1.0
        else:
            np.testing.assert_array_equal(X[t, j], X[n, j])


@pytest.mark.slow
def test_reaggregation_rebuilds_the_netting_set_closeout_dates(run):
    """exposure aggregate re-reads the stored cube on the same dates (the rolled close-out dates included)."""
    from exposure.api import aggregate

    again = aggregate(run.attrs["run_dir"]).dataset
    np.testing.assert_array_equal(again["EPE"].values, run["EPE"].values)
