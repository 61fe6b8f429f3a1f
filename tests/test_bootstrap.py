"""Curve bootstrap (exposure.market.bootstrap) against QuantLib's PiecewiseLogLinearDiscount on the same quotes
and conventions; every instrument reprices to 1e-10."""

import datetime as dt

import numpy as np
import pytest

ql = pytest.importorskip("QuantLib")

from exposure.market.bootstrap import CurveSpec, Quote, bootstrap  # noqa: E402
from exposure.market.conventions import default_swap, make_index  # noqa: E402
from exposure.market.rate_helpers import CrossCurrencyBasisSwap, Deposit, Swap, TenorBasisSwap  # noqa: E402

ASOF = dt.date(2026, 11, 20)
SOFR = [("1W", 0.0431), ("1M", 0.0428), ("3M", 0.0420), ("6M", 0.0410), ("1Y", 0.0395), ("2Y", 0.0372),
        ("3Y", 0.0361), ("5Y", 0.0356), ("7Y", 0.0359), ("10Y", 0.0367), ("15Y", 0.0379), ("20Y", 0.0383),
        ("30Y", 0.0372)]
LIBOR_FRA = [("3M", 0.0441), ("6M", 0.0430)]  # 3x6, 6x9
LIBOR_SWAP = [("2Y", 0.0398), ("3Y", 0.0388), ("5Y", 0.0383), ("7Y", 0.0386), ("10Y", 0.0394), ("15Y", 0.0405),
              ("20Y", 0.0409), ("30Y", 0.0398)]
ESTR = [("1M", 0.0193), ("3M", 0.0192), ("6M", 0.0190), ("1Y", 0.0188), ("2Y", 0.0195), ("5Y", 0.0215),
        ("10Y", 0.0245), ("20Y", 0.0262), ("30Y", 0.0250)]
EUR6M = [("1Y", 0.0215), ("2Y", 0.0221), ("3Y", 0.0228), ("5Y", 0.0243), ("7Y", 0.0257), ("10Y", 0.0273),
         ("15Y", 0.0287), ("20Y", 0.0290), ("30Y", 0.0279)]
EUR3M_BASIS = [("1Y", -0.0011), ("2Y", -0.0010), ("5Y", -0.0009), ("10Y", -0.0008), ("30Y", -0.0006)]
XCCY = [("1Y", -0.0012), ("2Y", -0.0014), ("5Y", -0.0017), ("10Y", -0.0019), ("20Y", -0.0016), ("30Y", -0.0013)]


def _specs():
    sofr, libor = make_index("USD-SOFR"), make_index("USD-LIBOR-3M")
    estr, e6, e3 = make_index("EUR-ESTER"), make_index("EUR-EURIBOR-6M"), make_index("EUR-EURIBOR-3M")
    q = []
    q.append(Quote(Deposit(sofr, "1D", 0.0433, ASOF), "USD", "USD", "ON"))
    q += [Quote(Swap(sofr, default_swap(sofr), t, r, ASOF), "USD", "USD", f"OIS {t}") for t, r in SOFR]
    lib = [Quote(Deposit(libor, "3M", 0.0445, ASOF), "USD-LIBOR-3M", "USD", "dep 3M")]
    lib += [Quote(Deposit(libor, "3M", r, ASOF, forward_start=s), "USD-LIBOR-3M", "USD", f"FRA {s}") for s, r in LIBOR_FRA]
    lib += [Quote(Swap(libor, default_swap(libor), t, r, ASOF), "USD-LIBOR-3M", "USD", f"swap {t}") for t, r in LIBOR_SWAP]
    eo = [Quote(Swap(estr, default_swap(estr), t, r, ASOF), "EUR-ESTER", "EUR-ESTER", f"OIS {t}") for t, r in ESTR]
    e6q = [Quote(Deposit(e6, "6M", 0.0212, ASOF), "EUR-EURIBOR-6M", "EUR-ESTER", "dep 6M")]
    e6q += [Quote(Swap(e6, default_swap(e6), t, r, ASOF), "EUR-EURIBOR-6M", "EUR-ESTER", f"swap {t}") for t, r in EUR6M]
    e3q = [Quote(Deposit(e3, "3M", 0.0205, ASOF), "EUR-EURIBOR-3M", "EUR-ESTER", "dep 3M")]
    e3q += [Quote(TenorBasisSwap(e3, e6, t, r, ASOF, 2, "TARGET", base_curve="EUR-EURIBOR-3M",
                                 other_curve="EUR-EURIBOR-6M"), "EUR-EURIBOR-3M", "EUR-ESTER", f"basis {t}")
            for t, r in EUR3M_BASIS]
    xq = [Quote(CrossCurrencyBasisSwap(e3, libor, t, r, ASOF, 2, "TARGET,US,UK", "EUR-EURIBOR-3M", "USD-LIBOR-3M",
                                       "USD"), "EUR-EURIBOR-3M", "EUR", f"xccy {t}") for t, r in XCCY]
    return {"USD": CurveSpec("USD", tuple(q)), "USD-LIBOR-3M": CurveSpec("USD-LIBOR-3M", tuple(lib)),
            "EUR-ESTER": CurveSpec("EUR-ESTER", tuple(eo)), "EUR-EURIBOR-6M": CurveSpec("EUR-EURIBOR-6M", tuple(e6q)),
            "EUR-EURIBOR-3M": CurveSpec("EUR-EURIBOR-3M", tuple(e3q)), "EUR": CurveSpec("EUR", tuple(xq))}


@pytest.fixture(scope="module")
def ours():
    return bootstrap(ASOF, _specs())


def _ql_curves():
    d = ql.Date(ASOF.day, ASOF.month, ASOF.year)
    ql.Settings.instance().evaluationDate = d
    A365, A360 = ql.Actual365Fixed(), ql.Actual360()
    us, uk = ql.UnitedStates(ql.UnitedStates.Settlement), ql.UnitedKingdom(ql.UnitedKingdom.Settlement)
    usuk = ql.JointCalendar(us, uk, ql.JoinHolidays)
    MF, F = ql.ModifiedFollowing, ql.Following

    def qh(x):
        return ql.QuoteHandle(ql.SimpleQuote(x))

    def curve(helpers):
        c = ql.PiecewiseLogLinearDiscount(d, helpers, A365)
        c.enableExtrapolation()
        return c

    sofr_h = ql.RelinkableYieldTermStructureHandle()
    sofr = ql.Sofr(sofr_h)
    hs = [ql.DepositRateHelper(qh(0.0433), ql.Period("1D"), 0, sofr.fixingCalendar(), F, False, A360)]
    hs += [ql.OISRateHelper(2, ql.Period(t), qh(r), sofr, ql.YieldTermStructureHandle(), True, 2, F, ql.Annual,
                            sofr.fixingCalendar(), ql.Period(0, ql.Days), 0.0, ql.Pillar.LastRelevantDate, ql.Date(),
                            ql.RateAveraging.Compound, False) for t, r in SOFR]
    usd = curve(hs)
    sofr_h.linkTo(usd)
    usd_h = ql.YieldTermStructureHandle(usd)
    lib_h = ql.RelinkableYieldTermStructureHandle()
    libor = ql.IborIndex("USD-LIBOR-3M", ql.Period("3M"), 2, ql.USDCurrency(), usuk, MF, True, A360, lib_h)
    hl = [ql.DepositRateHelper(qh(0.0445), ql.Period("3M"), 2, usuk, MF, True, A360)]
    hl += [ql.FraRateHelper(qh(r), int(s[:-1]), int(s[:-1]) + 3, 2, usuk, MF, True, A360) for s, r in LIBOR_FRA]
    hl += [ql.SwapRateHelper(qh(r), ql.Period(t), usuk, ql.Semiannual, MF, ql.Thirty360(ql.Thirty360.BondBasis),
                             libor, ql.QuoteHandle(), ql.Period(0, ql.Days), usd_h, 2, ql.Pillar.LastRelevantDate,
                             ql.Date(), False, False) for t, r in LIBOR_SWAP]
    lib = curve(hl)
    lib_h.linkTo(lib)
    target = ql.TARGET()
    estr_h = ql.RelinkableYieldTermStructureHandle()
    estr = ql.Estr(estr_h)
    he = [ql.OISRateHelper(2, ql.Period(t), qh(r), estr, ql.YieldTermStructureHandle(), True, 1, F, ql.Annual,
                           estr.fixingCalendar(), ql.Period(0, ql.Days), 0.0, ql.Pillar.LastRelevantDate, ql.Date(),
                           ql.RateAveraging.Compound, False) for t, r in ESTR]
    eo = curve(he)
    estr_h.linkTo(eo)
    eo_h = ql.YieldTermStructureHandle(eo)
    e6_h, e3_h = ql.RelinkableYieldTermStructureHandle(), ql.RelinkableYieldTermStructureHandle()
    e6 = ql.IborIndex("EUR6M", ql.Period("6M"), 2, ql.EURCurrency(), target, MF, True, A360, e6_h)
    e3 = ql.IborIndex("EUR3M", ql.Period("3M"), 2, ql.EURCurrency(), target, MF, True, A360, e3_h)
    h6 = [ql.DepositRateHelper(qh(0.0212), ql.Period("6M"), 2, target, MF, True, A360)]
    h6 += [ql.SwapRateHelper(qh(r), ql.Period(t), target, ql.Annual, MF, ql.Thirty360(ql.Thirty360.BondBasis), e6,
                             ql.QuoteHandle(), ql.Period(0, ql.Days), eo_h, 2, ql.Pillar.LastRelevantDate, ql.Date(),
                             False, False) for t, r in EUR6M]
    c6 = curve(h6)
    e6_h.linkTo(c6)
    h3 = [ql.DepositRateHelper(qh(0.0205), ql.Period("3M"), 2, target, MF, True, A360)]
    h3 += [ql.IborIborBasisSwapRateHelper(qh(r), ql.Period(t), 2, target, MF, False, e3, e6, eo_h, True, False)
           for t, r in EUR3M_BASIS]
    c3 = curve(h3)
    e3_h.linkTo(c3)
    cal = ql.JointCalendar(target, us, uk, ql.JoinHolidays)
    hx = [ql.ConstNotionalCrossCurrencyBasisSwapRateHelper(qh(r), ql.Period(t), 2, cal, MF, False, e3, libor, usd_h,
                                                            False, True, ql.NoFrequency, 0, ql.NoFrequency, False)
          for t, r in XCCY]
    cx = curve(hx)
    return {"USD": usd, "USD-LIBOR-3M": lib, "EUR-ESTER": eo, "EUR-EURIBOR-6M": c6, "EUR-EURIBOR-3M": c3, "EUR": cx}


def test_every_instrument_reprices(ours):
    for name, errs in ours.errors.items():
        for label, e in errs:
            assert abs(e) < 1e-10, (name, label, e)


def test_curves_agree_with_quantlib(ours):
    qlc = _ql_curves()
    days = np.arange(1, 365 * 32, 7)
    for name, qc in qlc.items():
        ref = np.array([qc.discount(ql.Date(ASOF.day, ASOF.month, ASOF.year) + int(k)) for k in days])
        mine = np.exp(ours.curves[name].log_discount_np(days / 365.0))
        # the same pillars, so also the same segments
        qp = np.array([(dt.date(p.year(), p.month(), p.dayOfMonth()) - ASOF).days / 365.0 for p in qc.dates()[1:]])
        np.testing.assert_array_equal(np.asarray(ours.curves[name].times), qp, err_msg=name)
        assert np.max(np.abs(mine / ref - 1.0)) < 1e-10, (name, np.max(np.abs(mine / ref - 1.0)))


def _market_cfg(extra=None):
    from omegaconf import OmegaConf

    from exposure.config.schema import MarketConfig

    d = {"asof": ASOF.isoformat(), "base_currency": "USD", "fx_spots": {}, "curve_inputs": {
        "curves": {
            "USD": {"index": "USD-SOFR", "instruments": [{"type": "deposit", "tenor": "1D", "quote": 0.0433}] + [
                {"type": "ois", "tenor": t, "quote": r} for t, r in SOFR]},
            "USD-LIBOR-3M": {"instruments": [{"type": "deposit", "tenor": "3M", "quote": 0.0445}] + [
                {"type": "fra", "start": s, "tenor": "3M", "quote": r} for s, r in LIBOR_FRA] + [
                {"type": "swap", "tenor": t, "quote": r} for t, r in LIBOR_SWAP]},
        }}}
    cfg = OmegaConf.merge(OmegaConf.structured(MarketConfig), d, extra or {})
    return cfg


def test_build_market_from_instrument_quotes(ours):
    from exposure.market.snapshot import build_market

    m = build_market(_market_cfg())
    assert set(m.curves) == {"USD"} and {"USD-SOFR", "USD-LIBOR-3M"} <= set(m.indices)
    for name, got in (("USD", m.curves["USD"]), ("USD-LIBOR-3M", m.indices["USD-LIBOR-3M"].curve)):
        np.testing.assert_array_equal(np.asarray(got.times), np.asarray(ours.curves[name].times))
        np.testing.assert_allclose(np.asarray(got.log_dfs), np.asarray(ours.curves[name].log_dfs), rtol=0, atol=1e-13)
    assert m.indices["USD-LIBOR-3M"].tenor == "3M" and m.indices["USD-LIBOR-3M"].day_count == "ACT/360"
    assert m.indices["USD-SOFR"].curve is m.curves["USD"]


@pytest.mark.parametrize("extra, key", [
    ({"curve_inputs": {"curves": {"USD": {"instruments": [{"type": "bond", "tenor": "1Y", "quote": 0.01}]}}}},
     "market.curve_inputs.curves.USD.instruments[0].type"),
    ({"curve_inputs": {"curves": {"USD-LIBOR-3M": {"instruments": [{"type": "swap", "tenor": "5X", "quote": 0.01}]}}}},
     "market.curve_inputs.curves.USD-LIBOR-3M.instruments[0].tenor"),
    ({"curve_inputs": {"curves": {"USD-LIBOR-3M": {"instruments": [{"type": "ois", "tenor": "5Y", "quote": 0.01}]}}}},
     "market.curve_inputs.curves.USD-LIBOR-3M.instruments[0].index"),
    ({"curve_inputs": {"curves": {"XYZ-IDX-3M": {"instruments": [{"type": "swap", "tenor": "5Y", "quote": 0.01}]}}}},
     "market.curve_inputs.curves.XYZ-IDX-3M.index"),
])
def test_bad_instrument_names_its_key(extra, key):
    from exposure.errors import ConfigError
    from exposure.market.snapshot import build_market

    with pytest.raises(ConfigError) as ei:
        build_market(_market_cfg(extra))
    assert ei.value.key == key, str(ei.value)


def test_bundled_instruments_market_composes_and_reprices():
    import exposure
    from exposure.market.curve_inputs import build_input_curves
    from exposure.market.snapshot import build_market

    cfg = exposure.compose(["market=instruments"])
    m = build_market(cfg.market)
    assert sorted(m.curves) == ["EUR", "GBP", "USD"]
    assert m.indices["USD-LIBOR-3M"].curve.name == "USD-LIBOR-3M" and m.indices["USD-SOFR"].curve is m.curves["USD"]
    res = build_input_curves(m.asof, cfg.market.curve_inputs, {})
    assert max(abs(e) for errs in res.errors.values() for _, e in errs) < 1e-10


def test_spread_on_the_other_leg_agrees_with_quantlib(ours):
    """Tenor basis with the spread on the known 6M leg (QuantLib: bootstrapBaseCurve=False) and cross-currency
    basis with the spread on the collateral (USD) leg (isBasisOnFxBaseCurrencyLeg=False)."""
    e6, e3, libor = make_index("EUR-EURIBOR-6M"), make_index("EUR-EURIBOR-3M"), make_index("USD-LIBOR-3M")
    known = {k: ours.curves[k] for k in ("USD", "USD-LIBOR-3M", "EUR-ESTER", "EUR-EURIBOR-6M")}
    b3 = [Quote(Deposit(e3, "3M", 0.0205, ASOF), "E3", "EUR-ESTER", "dep 3M")]
    b3 += [Quote(TenorBasisSwap(e6, e3, t, -r, ASOF, 2, "TARGET", base_curve="EUR-EURIBOR-6M", other_curve="E3"),
                 "E3", "EUR-ESTER", f"basis {t}") for t, r in EUR3M_BASIS]
    xq = [Quote(CrossCurrencyBasisSwap(e3, libor, t, -r, ASOF, 2, "TARGET,US,UK", "EUR-EURIBOR-3M", "USD-LIBOR-3M",
                                       "USD", spread_leg="other"), "EUR-EURIBOR-3M", "EURX", f"xccy {t}")
          for t, r in XCCY]
    res = bootstrap(ASOF, {"E3": CurveSpec("E3", tuple(b3)), "EURX": CurveSpec("EURX", tuple(xq))},
                    {**known, "EUR-EURIBOR-3M": ours.curves["EUR-EURIBOR-3M"]})
    assert max(abs(e) for errs in res.errors.values() for _, e in errs) < 1e-10

    qlc = _ql_curves()
    d0 = ql.Date(ASOF.day, ASOF.month, ASOF.year)
    A360, MF, target = ql.Actual360(), ql.ModifiedFollowing, ql.TARGET()
    us, uk = ql.UnitedStates(ql.UnitedStates.Settlement), ql.UnitedKingdom(ql.UnitedKingdom.Settlement)
    eo_h = ql.YieldTermStructureHandle(qlc["EUR-ESTER"])
    e6i = ql.IborIndex("EUR6M", ql.Period("6M"), 2, ql.EURCurrency(), target, MF, True, A360,
                       ql.YieldTermStructureHandle(qlc["EUR-EURIBOR-6M"]))
    h3 = ql.RelinkableYieldTermStructureHandle()
    e3i = ql.IborIndex("EUR3M", ql.Period("3M"), 2, ql.EURCurrency(), target, MF, True, A360, h3)
    helpers = [ql.DepositRateHelper(ql.QuoteHandle(ql.SimpleQuote(0.0205)), ql.Period("3M"), 2, target, MF, True, A360)]
    helpers += [ql.IborIborBasisSwapRateHelper(ql.QuoteHandle(ql.SimpleQuote(-r)), ql.Period(t), 2, target, MF, False,
                                               e6i, e3i, eo_h, False, False) for t, r in EUR3M_BASIS]
    c3 = ql.PiecewiseLogLinearDiscount(d0, helpers, ql.Actual365Fixed())
    c3.enableExtrapolation()
    e3k = ql.IborIndex("EUR3M", ql.Period("3M"), 2, ql.EURCurrency(), target, MF, True, A360,
                       ql.YieldTermStructureHandle(qlc["EUR-EURIBOR-3M"]))
    lib = ql.IborIndex("USD-LIBOR-3M", ql.Period("3M"), 2, ql.USDCurrency(), ql.JointCalendar(us, uk), MF, True, A360,
                       ql.YieldTermStructureHandle(qlc["USD-LIBOR-3M"]))
    cal = ql.JointCalendar(target, us, uk, ql.JoinHolidays)
    hx = [ql.ConstNotionalCrossCurrencyBasisSwapRateHelper(ql.QuoteHandle(ql.SimpleQuote(-r)), ql.Period(t), 2, cal, MF,
                                                            False, e3k, lib, ql.YieldTermStructureHandle(qlc["USD"]),
                                                            False, False, ql.NoFrequency, 0, ql.NoFrequency, False)
          for t, r in XCCY]
    cx = ql.PiecewiseLogLinearDiscount(d0, hx, ql.Actual365Fixed())
    cx.enableExtrapolation()
    days = np.arange(1, 365 * 31, 11)
    for name, qc in (("E3", c3), ("EURX", cx)):
        ref = np.array([qc.discount(d0 + int(k)) for k in days])
        mine = np.exp(res.curves[name].log_discount_np(days / 365.0))
        assert np.max(np.abs(mine / ref - 1.0)) < 1e-10, (name, np.max(np.abs(mine / ref - 1.0)))
