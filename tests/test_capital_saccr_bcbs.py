"""SA-CCR against the worked examples of BCBS 279 (March 2014), Annex 4a, Examples 1-5.

Examples 1, 2 and 5: the printed figures and the full-precision column of shared/reference/saccr_bcbs279.md.
Example 3 (three commodity forwards, unmargined; also reproduced as "Illustration 3" of the CBUAE SA-CCR
guidance): RC = 20, AddOn = 3,841 (crude oil -2,041, silver 1,800), EAD = 5,406.
Example 4 (the trades of Examples 1 and 2 in one unmargined netting set): RC = 40, multiplier 1,
AddOn = 347 + 282 = 629, EAD = 936.
"""

import math

import pytest

from exposure.capital.saccr import MarginTerms, option_delta, saccr_netting_set
from exposure.capital.saccr_tables import SaccrTrade, supervisory_duration


def ex1():
    return [
        SaccrTrade("1", "NS", "IR", 10_000, 10.0, 30.0, long=True, hedging_set="USD", end=10.0),
        SaccrTrade("2", "NS", "IR", 10_000, 4.0, -20.0, long=False, hedging_set="USD", end=4.0),
        SaccrTrade("3", "NS", "IR", 5_000, 11.0, 50.0, long=True, hedging_set="EUR", start=1.0, end=11.0,
                   option="put", price=0.06, strike=0.05, expiry=1.0),
    ]


def ex2():
    return [
        SaccrTrade("4", "NS", "CR", 10_000, 3.0, 20.0, long=True, risk_factor="Firm A", sub_class="AA", end=3.0),
        SaccrTrade("5", "NS", "CR", 10_000, 6.0, -40.0, long=False, risk_factor="Firm B", sub_class="BBB", end=6.0),
        SaccrTrade("6", "NS", "CR", 10_000, 5.0, 0.0, long=True, risk_factor="CDX.IG", sub_class="IG",
                   is_index=True, end=5.0),
    ]


def ex3():
    return [
        SaccrTrade("7", "NS", "CO", 10_000, 0.75, -50.0, long=True, risk_factor="crude oil", sub_class="oil_gas"),
        SaccrTrade("8", "NS", "CO", 20_000, 2.0, -30.0, long=False, risk_factor="crude oil", sub_class="oil_gas"),
        SaccrTrade("9", "NS", "CO", 10_000, 5.0, 100.0, long=True, risk_factor="silver", sub_class="metals"),
    ]


def test_example1_interest_rates():
    assert supervisory_duration(0, 10) == pytest.approx(7.86938680575, abs=1e-10)
    assert supervisory_duration(0, 4) == pytest.approx(3.62538493844, abs=1e-10)
    assert supervisory_duration(1, 11) == pytest.approx(7.4855922824, abs=1e-9)
    assert option_delta(ex1()[2]) == pytest.approx(-0.269395217711, abs=1e-11)
    r = saccr_netting_set("NS", ex1())
    assert r.addons["IR"] == pytest.approx(346.764386384, abs=1e-8)
    assert r.RC == 60 and r.multiplier == 1.0
    assert r.EAD == pytest.approx(569.470140937, abs=1e-8)
    assert round(r.addons["IR"]) == 347 and round(r.EAD) == 569


def test_example2_credit():
    r = saccr_netting_set("NS", ex2())
    assert r.addons["CR"] == pytest.approx(282.12883186, abs=1e-7)
    assert r.RC == 0
    assert r.multiplier == pytest.approx(0.965208280998, abs=1e-11)
    assert r.EAD == pytest.approx(381.238318747, abs=1e-8)
    assert round(r.multiplier, 3) == 0.965 and round(r.EAD) == 381


def test_example3_commodities():
    r = saccr_netting_set("NS", ex3())
    crude = 0.18 * (10_000 * math.sqrt(0.75) - 20_000)
    assert r.RC == 20 and r.multiplier == 1.0
    assert r.addons["CO"] == pytest.approx(abs(crude) + 1_800, abs=1e-9)
    assert round(crude) == -2041 and round(r.addons["CO"]) == 3841
    assert round(r.EAD) == 5406


def test_example4_interest_rates_and_credit():
    r = saccr_netting_set("NS", ex1() + ex2())
    assert r.RC == 40 and r.multiplier == 1.0
    assert round(r.addon) == 629
    assert r.EAD == pytest.approx(1.4 * (40 + 346.764386384 + 282.12883186), abs=1e-7)
    assert round(r.EAD) == 936


def test_example5_margined_ir_and_commodities():
    terms = MarginTerms(margined=True, threshold=0.0, mta=5.0, nica=150.0, collateral=200.0, mpor_days=14)
    r = saccr_netting_set("NS", ex1() + ex3(), terms)
    assert r.V == 80 and r.RC == 0
    assert r.addons["IR"] == pytest.approx(123.089146547, abs=1e-8)
    assert r.addons["CO"] == pytest.approx(1277.87323315, abs=1e-7)
    assert r.addon == pytest.approx(1400.9623797, abs=1e-6)
    assert r.multiplier == pytest.approx(0.958123327393, abs=1e-11)
    assert r.EAD == pytest.approx(1879.2126315, abs=1e-6)
    assert r.EAD < r.EAD_unmargined  # the cap at the unmargined EAD does not bind here
    assert round(r.EAD) == 1879 and round(r.addon) == 1401


def test_margined_ead_is_capped_at_the_unmargined_ead():
    # A short-dated trade: margined MF 1.5 sqrt(10/250) = 0.3 > unmargined sqrt(0.05) = 0.224, and a large
    # threshold makes the margined RC exceed the unmargined one.
    t = [SaccrTrade("a", "NS", "FX", 1_000_000, 0.05, 0.0, hedging_set="EURUSD")]
    terms = MarginTerms(margined=True, threshold=50_000, mta=0.0, nica=0.0, collateral=0.0, mpor_days=10)
    r = saccr_netting_set("NS", t, terms)
    un = 1.4 * 0.04 * 1_000_000 * math.sqrt(0.05)
    mg = 1.4 * (50_000 + 0.04 * 1_000_000 * 0.3)
    assert r.EAD_unmargined == pytest.approx(un, rel=1e-14)
    assert r.EAD == pytest.approx(min(un, mg), rel=1e-14) and un < mg and r.capped
    assert r.EAD == pytest.approx(1.4 * (r.RC + r.PFE), rel=1e-14) and r.RC == 0.0


def test_shifted_lognormal_delta_for_negative_rates():
    # CRE52.41: lambda = max(-L, 0) + 0.1%, L the lowest P or K of the currency; P = -0.2%, K = 0.1%
    t = SaccrTrade("o", "NS", "IR", 1.0, 3.0, hedging_set="EUR", end=3.0, option="call", price=-0.002,
                   strike=0.001, expiry=1.0)
    r = saccr_netting_set("NS", [t])
    lam = 0.002 + 0.001
    d1 = (math.log((-0.002 + lam) / (0.001 + lam)) + 0.5 * 0.25) / 0.5
    from scipy.stats import norm
    assert r.trades[0].delta == pytest.approx(norm.cdf(d1), abs=1e-14)


def test_basis_and_volatility_hedging_sets():
    a = SaccrTrade("b", "NS", "IR", 1000.0, 2.0, hedging_set="USD", end=2.0, basis=True, risk_factor="SOFR/LIBOR")
    v = SaccrTrade("v", "NS", "IR", 1000.0, 2.0, hedging_set="USD", end=2.0, volatility=True)
    p = SaccrTrade("p", "NS", "IR", 1000.0, 2.0, hedging_set="USD", end=2.0, long=False)
    sd = supervisory_duration(0, 2)
    r = saccr_netting_set("NS", [a, v, p])
    # three hedging sets, no offset between them
    assert r.addons["IR"] == pytest.approx(1000 * sd * (0.0025 + 0.025 + 0.005), rel=1e-13)
