"""Interest-rate futures in the bootstrap (``type: future``): IMM IBOR futures as QuantLib's FuturesRateHelper and
quarterly compounded SOFR futures as QuantLib's SofrFutureRateHelper, with convexity adjustments; the curves
bootstrapped with them equal QuantLib's PiecewiseLogLinearDiscount on the same quotes (same pillars, discount
factors within 1e-10; measured ~2e-13)."""

import datetime as dt

import numpy as np
import pytest

ql = pytest.importorskip("QuantLib")

from exposure.market.bootstrap import CurveSpec, Quote, bootstrap  # noqa: E402
from exposure.market.conventions import default_swap, make_index  # noqa: E402
from exposure.market.rate_futures import Future, third_wednesday  # noqa: E402
from exposure.market.rate_helpers import Deposit, Swap  # noqa: E402

ASOF = dt.date(2026, 11, 20)
# (contract year, month), price, convexity adjustment
FUT = [((2026, 12), 95.62, 0.0), ((2027, 3), 95.80, 0.00005), ((2027, 6), 95.95, 0.0001), ((2027, 9), 96.05, 0.00016)]
SW = [("2Y", 0.0398), ("3Y", 0.0388), ("5Y", 0.0383), ("10Y", 0.0394)]
_MONTHS = {m: getattr(ql, n) for m, n in enumerate(["January", "February", "March", "April", "May", "June", "July",
                                                     "August", "September", "October", "November", "December"], 1)}


def _ours():
    libor, sofr = make_index("USD-LIBOR-3M"), make_index("USD-SOFR")
    q = [Quote(Deposit(sofr, "1D", 0.0433, ASOF), "USD", "USD", "ON")]
    q += [Quote(Future(sofr, third_wednesday(*ym), "3M", p, ASOF, c), "USD", "USD", f"fut {ym}") for ym, p, c in FUT]
    q += [Quote(Swap(sofr, default_swap(sofr), t, r, ASOF), "USD", "USD", f"OIS {t}") for t, r in SW]
    lib = [Quote(Deposit(libor, "3M", 0.0445, ASOF), "L", "USD", "dep")]
    lib += [Quote(Future(libor, third_wednesday(*ym), "3M", p - 0.1, ASOF, c), "L", "USD", f"fut {ym}")
            for ym, p, c in FUT]
    lib += [Quote(Swap(libor, default_swap(libor), t, r, ASOF), "L", "USD", f"swap {t}") for t, r in SW]
    return bootstrap(ASOF, {"USD": CurveSpec("USD", tuple(q)), "L": CurveSpec("L", tuple(lib))})


def _quantlib():
    d = ql.Date(ASOF.day, ASOF.month, ASOF.year)
    ql.Settings.instance().evaluationDate = d
    A365, A360 = ql.Actual365Fixed(), ql.Actual360()

    def qh(x):
        return ql.QuoteHandle(ql.SimpleQuote(x))

    sofr_h = ql.RelinkableYieldTermStructureHandle()
    sofr = ql.Sofr(sofr_h)
    hs = [ql.DepositRateHelper(qh(0.0433), ql.Period("1D"), 0, sofr.fixingCalendar(), ql.Following, False, A360)]
    hs += [ql.SofrFutureRateHelper(qh(p), _MONTHS[m], y, ql.Quarterly, qh(c)) for (y, m), p, c in FUT]
    hs += [ql.OISRateHelper(2, ql.Period(t), qh(r), sofr, ql.YieldTermStructureHandle(), True, 2, ql.Following,
                            ql.Annual, sofr.fixingCalendar(), ql.Period(0, ql.Days), 0.0, ql.Pillar.LastRelevantDate,
                            ql.Date(), ql.RateAveraging.Compound, False) for t, r in SW]
    usd = ql.PiecewiseLogLinearDiscount(d, hs, A365)
    usd.enableExtrapolation()
    sofr_h.linkTo(usd)
    usuk = ql.JointCalendar(ql.UnitedStates(ql.UnitedStates.Settlement), ql.UnitedKingdom(ql.UnitedKingdom.Settlement),
                            ql.JoinHolidays)
    lib_h = ql.RelinkableYieldTermStructureHandle()
    li = ql.IborIndex("USD-LIBOR-3M", ql.Period("3M"), 2, ql.USDCurrency(), usuk, ql.ModifiedFollowing, True, A360, lib_h)
    hl = [ql.DepositRateHelper(qh(0.0445), ql.Period("3M"), 2, usuk, ql.ModifiedFollowing, True, A360)]
    hl += [ql.FuturesRateHelper(qh(p - 0.1), ql.Date(third_wednesday(y, m).day, m, y), li, qh(c), ql.Futures.IMM)
           for (y, m), p, c in FUT]
    hl += [ql.SwapRateHelper(qh(r), ql.Period(t), usuk, ql.Semiannual, ql.ModifiedFollowing,
                             ql.Thirty360(ql.Thirty360.BondBasis), li, ql.QuoteHandle(), ql.Period(0, ql.Days),
                             ql.YieldTermStructureHandle(usd), 2, ql.Pillar.LastRelevantDate, ql.Date(), False, False)
           for t, r in SW]
    lc = ql.PiecewiseLogLinearDiscount(d, hl, A365)
    lc.enableExtrapolation()
    return d, {"USD": usd, "L": lc}


def test_futures_curves_agree_with_quantlib():
    res = _ours()
    assert max(abs(e) for errs in res.errors.values() for _, e in errs) < 1e-10
    d, qc = _quantlib()
    days = np.arange(1, 365 * 12, 3)
    for name, c in qc.items():
        ref = np.array([c.discount(d + int(k)) for k in days])
        mine = np.exp(res.curves[name].log_discount_np(days / 365.0))
        qp = [(dt.date(p.year(), p.month(), p.dayOfMonth()) - ASOF).days / 365.0 for p in c.dates()[1:]]
        np.testing.assert_array_equal(np.asarray(res.curves[name].times), qp, err_msg=name)
        assert np.max(np.abs(mine / ref - 1.0)) < 1e-10, name


def test_future_dates_and_convexity():
    sofr, libor = make_index("USD-SOFR"), make_index("USD-LIBOR-3M")
    f = Future(sofr, third_wednesday(2027, 3), "3M", 96.0, ASOF)
    assert (f.start, f.end) == (dt.date(2027, 3, 17), dt.date(2027, 6, 16))  # IMM to IMM
    assert Future(libor, dt.date(2027, 3, 17), "3M", 96.0, ASOF).end == dt.date(2027, 6, 17)  # + 3M, US,UK, MF
    res = _ours()

    class Curves:  # the bootstrapped curves as the helpers read them
        @staticmethod
        def df(name, dates):
            return np.exp(res.curves[name].log_discount_np(np.array([(x - ASOF).days / 365.0 for x in dates])))

    a = Future(sofr, third_wednesday(2027, 3), "3M", 0.0, ASOF).implied(Curves, "USD", "USD")
    b = Future(sofr, third_wednesday(2027, 3), "3M", 0.0, ASOF, 0.001).implied(Curves, "USD", "USD")
    assert a - b == pytest.approx(0.1, abs=1e-12)  # 10bp of convexity lowers the price by 0.10


def _cfg(instruments):
    from omegaconf import OmegaConf

    from exposure.config.schema import MarketConfig

    return OmegaConf.merge(OmegaConf.structured(MarketConfig), {
        "asof": ASOF.isoformat(), "base_currency": "USD", "fx_spots": {}, "curve_inputs": {"curves": {
            "USD": {"index": "USD-SOFR", "instruments": [{"type": "deposit", "tenor": "1D", "quote": 0.0433}]
                    + instruments + [{"type": "ois", "tenor": t, "quote": r} for t, r in SW]}}}})


def test_futures_from_config_equal_the_helpers():
    from exposure.market.snapshot import build_market

    insts = [{"type": "future", "start": f"{y}-{m:02d}", "quote": p, "convexity": c} for (y, m), p, c in FUT]
    m = build_market(_cfg(insts))
    ref = _ours().curves["USD"]
    np.testing.assert_array_equal(np.asarray(m.curves["USD"].times), np.asarray(ref.times))
    np.testing.assert_allclose(np.asarray(m.curves["USD"].log_dfs), np.asarray(ref.log_dfs), rtol=0, atol=1e-14)
    by_date = [{"type": "future", "start": third_wednesday(y, mo).isoformat(), "tenor": "3M", "quote": p,
                "convexity": c} for (y, mo), p, c in FUT]
    np.testing.assert_array_equal(np.asarray(build_market(_cfg(by_date)).curves["USD"].log_dfs),
                                  np.asarray(m.curves["USD"].log_dfs))


@pytest.mark.parametrize("inst, msg", [
    ({"type": "future", "quote": 96.0}, "contract month"),
    ({"type": "future", "start": "2027-03-18", "quote": 96.0}, "not an IMM date"),
    ({"type": "future", "start": "2026-11", "quote": 96.0}, "not after the as-of date"),
    ({"type": "future", "start": "2027-13", "quote": 96.0}, "month must be"),
])
def test_bad_future_names_its_key(inst, msg):
    from exposure.errors import ConfigError
    from exposure.market.snapshot import build_market

    with pytest.raises(ConfigError, match=msg) as ei:
        build_market(_cfg([inst]))
    assert ei.value.key == "market.curve_inputs.curves.USD.instruments[1].start"


def test_ore_mm_and_oi_future_quotes_build_the_same_curves(tmp_path):
    """ORE's market.txt: OI_FUTURE (SOFR) on the USD OIS curve, MM_FUTURE on USD-LIBOR-3M; started contracts and
    other spellings are counted unused; the curves equal the helper-built ones (no convexity in ORE quotes)."""
    from exposure.market.ore_market import market_from_ore
    from exposure.market.snapshot import build_market

    a = "20261120"
    lines = [f"{a} MM/RATE/USD/0D/1D 0.0433", f"{a} MM/RATE/USD/2D/3M 0.0445"]
    lines += [f"{a} OI_FUTURE/PRICE/USD/{y}-{m:02d}/XCME:SR3/3M {p!r}" for (y, m), p, _ in FUT]
    lines += [f"{a} MM_FUTURE/PRICE/USD/{y}-{m:02d}/XCME:ED/3M {p - 0.1!r}" for (y, m), p, _ in FUT]
    lines += [f"{a} IR_SWAP/RATE/USD/2D/1D/{t} {r!r}" for t, r in SW] + [f"{a} IR_SWAP/RATE/USD/2D/3M/{t} {r!r}" for t, r in SW]
    lines += [f"{a} MM_FUTURE/PRICE/USD/2026-11/XCME:ED/3M 95.5", f"{a} MM_FUTURE/PRICE/USD/Z6/XCME:ED/3M 95.5"]
    path = tmp_path / "market.txt"
    path.write_text("\n".join(lines) + "\n")
    ore = market_from_ore(str(path), ASOF, "USD")
    assert ore.unused == {"MM_FUTURE/PRICE (started contract)": 1, "MM_FUTURE/PRICE (contract not YYYY-MM)": 1}
    from omegaconf import OmegaConf

    from exposure.config.schema import MarketConfig

    m = build_market(OmegaConf.merge(OmegaConf.structured(MarketConfig), {
        "asof": ASOF.isoformat(), "base_currency": "USD", "fx_spots": {}, "curve_inputs": {"ore_market": str(path)}}))
    libor, sofr = make_index("USD-LIBOR-3M"), make_index("USD-SOFR")
    q = [Quote(Deposit(sofr, "1D", 0.0433, ASOF), "USD", "USD", "ON")]
    q += [Quote(Future(sofr, third_wednesday(*ym), "3M", p, ASOF), "USD", "USD", f"fut {ym}") for ym, p, _ in FUT]
    q += [Quote(Swap(sofr, default_swap(sofr), t, r, ASOF), "USD", "USD", f"OIS {t}") for t, r in SW]
    lib = [Quote(Deposit(libor, "3M", 0.0445, ASOF), "L", "USD", "dep")]
    lib += [Quote(Future(libor, third_wednesday(*ym), "3M", p - 0.1, ASOF), "L", "USD", f"fut {ym}") for ym, p, _ in FUT]
    lib += [Quote(Swap(libor, default_swap(libor), t, r, ASOF), "L", "USD", f"swap {t}") for t, r in SW]
    ref = bootstrap(ASOF, {"USD": CurveSpec("USD", tuple(q)), "L": CurveSpec("L", tuple(lib))}).curves
    for got, want in ((m.curves["USD"], ref["USD"]), (m.indices["USD-LIBOR-3M"].curve, ref["L"])):
        np.testing.assert_array_equal(np.asarray(got.times), np.asarray(want.times))
        np.testing.assert_allclose(np.asarray(got.log_dfs), np.asarray(want.log_dfs), rtol=0, atol=1e-14)


def test_monthly_sofr_futures_average_the_daily_rates_as_quantlib():
    """1M SOFR futures (arithmetic average of the daily rates of the month, QuantLib SofrFutureRateHelper with
    Monthly frequency) in front of quarterly ones and OIS: same pillars and discount factors within 1e-10."""
    sofr = make_index("USD-SOFR")
    monthly = [((2026, 12), 95.66, 0.0), ((2027, 1), 95.71, 0.00002), ((2027, 2), 95.75, 0.00003)]
    quarterly = FUT[1:]
    q = [Quote(Deposit(sofr, "1D", 0.0433, ASOF), "USD", "USD", "ON")]
    q += [Quote(Future(sofr, dt.date(*ym, 1), "1M", p, ASOF, c), "USD", "USD", f"1M {ym}") for ym, p, c in monthly]
    q += [Quote(Future(sofr, third_wednesday(*ym), "3M", p, ASOF, c), "USD", "USD", f"3M {ym}") for ym, p, c in quarterly]
    q += [Quote(Swap(sofr, default_swap(sofr), t, r, ASOF), "USD", "USD", f"OIS {t}") for t, r in SW]
    res = bootstrap(ASOF, {"USD": CurveSpec("USD", tuple(q))})
    # The December contract's last daily rate runs from Thu 31 Dec to Mon 4 Jan, past its pillar (1 Jan, the end
    # of its reference period, QuantLib's pillar too): it is solved on the curve extrapolated beyond its pillar,
    # as QuantLib's one-pass bootstrap does, and the next pillar then moves P(4 Jan) a little.
    errs = dict(res.errors["USD"])
    assert max(abs(e) for k, e in errs.items() if k != "1M (2026, 12)") < 1e-10, errs
    assert abs(errs["1M (2026, 12)"]) < 5e-3
    jan = Future(sofr, dt.date(2027, 1, 1), "1M", 0.0, ASOF)  # starts on a holiday: fixes on 31 Dec, accrues from 1 Jan
    assert jan.end == dt.date(2027, 2, 1) and jan._days[0][0] == dt.date(2026, 12, 31)

    d = ql.Date(ASOF.day, ASOF.month, ASOF.year)
    ql.Settings.instance().evaluationDate = d

    def qh(x):
        return ql.QuoteHandle(ql.SimpleQuote(x))

    h = ql.RelinkableYieldTermStructureHandle()
    qs = ql.Sofr(h)
    hs = [ql.DepositRateHelper(qh(0.0433), ql.Period("1D"), 0, qs.fixingCalendar(), ql.Following, False,
                               ql.Actual360())]
    hs += [ql.SofrFutureRateHelper(qh(p), _MONTHS[m], y, ql.Monthly, qh(c)) for (y, m), p, c in monthly]
    hs += [ql.SofrFutureRateHelper(qh(p), _MONTHS[m], y, ql.Quarterly, qh(c)) for (y, m), p, c in quarterly]
    hs += [ql.OISRateHelper(2, ql.Period(t), qh(r), qs, ql.YieldTermStructureHandle(), True, 2, ql.Following,
                            ql.Annual, qs.fixingCalendar(), ql.Period(0, ql.Days), 0.0, ql.Pillar.LastRelevantDate,
                            ql.Date(), ql.RateAveraging.Compound, False) for t, r in SW]
    c = ql.PiecewiseLogLinearDiscount(d, hs, ql.Actual365Fixed())
    c.enableExtrapolation()
    h.linkTo(c)
    days = np.arange(1, 365 * 12, 3)
    ref = np.array([c.discount(d + int(k)) for k in days])
    qp = [(dt.date(p.year(), p.month(), p.dayOfMonth()) - ASOF).days / 365.0 for p in c.dates()[1:]]
    np.testing.assert_array_equal(np.asarray(res.curves["USD"].times), qp)
    mine = np.exp(res.curves["USD"].log_discount_np(days / 365.0))
    assert np.max(np.abs(mine / ref - 1.0)) < 1e-10
    assert hs[1].impliedQuote() - hs[1].quote().value() == pytest.approx(errs["1M (2026, 12)"], abs=1e-9)
