"""SA-CVA from the engine's own CVA sensitivities (the ``sensitivity`` results variable of the sensitivities
contract): a hand-built DataArray for two counterparties, mapped onto MAR50's risk factors and aggregated, against
the same capital computed by hand here with the MAR50 weights and correlations typed in this file.

Scalings checked (MAR50.49-51: sensitivity = change of the aggregate CVA / size of the shift): rates and
spreads per 1bp -> x 1e4; FX and equity per 1% relative -> x 100; vega per vol point (0.01) of a vol sigma ->
sigma x 100 (the 1% relative shift of MAR50); hazard-rate sensitivities / (1 - R) (credit triangle).
"""

import dataclasses
import math
import types

import numpy as np
import pytest
import xarray as xr

from exposure.capital.sacva import capital
from exposure.capital.sacva_from_sensitivities import allocate, sacva_rows
from exposure.capital.sacva_stage import add_sa_cva
from exposure.capital.settings import CounterpartyTerms, capital_settings
from exposure.errors import ConfigError, ResultsFileError
from exposure.market.vols import BlackVolCurve
from test_capital_sacva_classes import _k  # the hand formula of K over buckets, shared

R = 0.01
FACTORS = [  # factor_type, factor_name, pillar, pillar_time, unit
    ("DiscountCurve", "USD", "1Y", 1.0, "per 1bp"),
    ("DiscountCurve", "USD", "3Y", 3.0, "per 1bp"),
    ("DiscountCurve", "USD", "7Y", 7.0, "per 1bp"),
    ("IndexCurve", "USD-SOFR", "40Y", 40.0, "per 1bp"),
    ("DiscountCurve", "NOK", "2Y", 2.0, "per 1bp"),
    ("DiscountCurve", "NOK", "10Y", 10.0, "per 1bp"),
    ("FXSpot", "EUR/USD", "", 0.0, "per 1% relative"),
    ("CDSSpread", "A", "2Y", 2.0, "per 1bp"),
    ("CDSSpread", "A", "5Y", 5.0, "per 1bp"),
    ("HazardRate", "B", "1Y", 1.0, "per 1bp"),
    ("CDSSpread", "BANK", "5Y", 5.0, "per 1bp"),
    ("CDSSpread", "REF", "5Y", 5.0, "per 1bp"),
    ("FXVol", "EUR/USD", "1Y", 1.0, "per 1 vol point (0.01)"),
    ("Recovery", "A", "", 0.0, "per 0.01"),
    ("EquitySpot", "SPX", "", 0.0, "per 1% relative"),
]
# CVA sensitivities of the three netting sets (NS1, NS3: counterparty A; NS2: B), base currency per unit
CVA = np.array([
    [-3.0, -5.0, -8.0, -1.0, 2.0, 1.5, 120.0, 40.0, 90.0, 0.0, 7.0, 3.0, 25.0, -50.0, 30.0],
    [-1.0, -2.0, -4.0, 0.0, 0.0, 0.0, -30.0, 0.0, 0.0, 60.0, 2.0, 0.0, 5.0, 0.0, 0.0],
    [-0.5, -1.0, 0.0, -0.5, 0.5, 0.0, 10.0, 10.0, 20.0, 0.0, 1.0, 0.0, 0.0, 0.0, -10.0]])


def _sensitivity():
    vals = np.stack([CVA, 1e6 * np.ones_like(CVA)], axis=1)  # DVA: must not enter
    ft, fn, pl, pt, un = zip(*FACTORS)
    return xr.DataArray(vals, dims=("netting_set", "xva_measure", "risk_factor"), coords={
        "netting_set": ["NS1", "NS2", "NS3"], "xva_measure": ["CVA", "DVA"],
        "factor_type": ("risk_factor", list(ft)), "factor_name": ("risk_factor", list(fn)),
        "pillar": ("risk_factor", list(pl)), "pillar_time": ("risk_factor", np.array(pt)),
        "unit": ("risk_factor", list(un))}, name="sensitivity")


def _kb(ws, corr=None):
    ws = np.asarray(ws, dtype=float)
    c = np.eye(len(ws)) if corr is None else np.asarray(corr, dtype=float)
    k = math.sqrt(float(ws @ c @ ws))
    return k, max(min(float(ws.sum()), k), -k)


def _by_hand():
    v = CVA.sum(axis=0)
    # IR, USD (specified): 3Y -> 2/3 on 2y, 1/3 on 5y; 7Y -> 0.6 on 5y, 0.4 on 10y; 40Y -> 30y; per 1bp -> x 1e4
    s = 1e4 * np.array([v[0], 2 / 3 * v[1], v[1] / 3 + 0.6 * v[2], 0.4 * v[2], v[3]])
    ws = np.array([0.0111, 0.0093, 0.0074, 0.0074, 0.0074]) * s
    rho = [[1, 0.91, 0.72, 0.55, 0.31], [0.91, 1, 0.87, 0.72, 0.45], [0.72, 0.87, 1, 0.91, 0.68],
           [0.55, 0.72, 0.91, 1, 0.83], [0.31, 0.45, 0.68, 0.83, 1]]
    usd = _kb(ws, rho)
    nok = _kb([0.0158 * 1e4 * (v[4] + v[5])])  # not specified: one parallel factor, RW 1.58%
    k_ir = _k([usd, nok], [[1, 0.5], [0.5, 1]])
    k_fx = 0.11 * abs(v[6] * 100)  # EUR, RW 11%
    k_fxv = 1.0 * abs(0.10 * v[12] * 100)  # EUR vol 10%, RW 100%
    # CCS: A financial IG (bucket 2, 5%): 2Y -> half 1y, half 3y; 5Y -> 5y; same name, tenors differ: 90%
    b2 = _kb(0.05 * 1e4 * np.array([v[7] / 2, v[7] / 2, v[8]]), [[1, 0.9, 0.9], [0.9, 1, 0.9], [0.9, 0.9, 1]])
    b3 = _kb([0.07 * 1e4 * v[9] / (1 - 0.4)])  # B basic materials HY (bucket 3, 7%), hazard / (1 - R)
    k_ccs = _k([b2, b3], [[1, 0.05], [0.05, 1]])  # gamma(2, 3) = 5%
    k_rcs = 0.02 * abs(1e4 * v[11])  # REF technology IG: RCS bucket 6, 2%
    k_eq = 0.15 * abs(100 * v[14])  # SPX in bucket 12 (advanced-economy indices), 15%
    return {("IR", "delta"): k_ir, ("FX", "delta"): k_fx, ("FX", "vega"): k_fxv, ("CCS", "delta"): k_ccs,
            ("RCS", "delta"): k_rcs, ("EQ", "delta"): k_eq}


def _terms(name):
    return {"A": ("financial", True), "B": ("basic_materials", False), "REF": ("technology", True)}.get(
        name, ("other", False))


def _vol(ft, name, pillar, t):
    return 0.10 if ft == "FXVol" else None


def test_allocation_is_linear_and_keeps_the_sum():
    assert allocate(3.0, (1.0, 2.0, 5.0, 10.0, 30.0)) == [(1, pytest.approx(2 / 3)), (2, pytest.approx(1 / 3))]
    assert allocate(0.25, (0.5, 1.0, 3.0)) == [(0, 1.0)] and allocate(50.0, (1.0, 30.0)) == [(1, 1.0)]
    assert allocate(5.0, (1.0, 2.0, 5.0, 10.0)) == [(2, 1.0)]
    for t in np.linspace(0.0, 40.0, 97):
        assert sum(w for _, w in allocate(float(t), (1.0, 2.0, 5.0, 10.0, 30.0))) == pytest.approx(1.0, abs=1e-15)


def test_two_counterparties_by_hand():
    rows, notes = sacva_rows(_sensitivity(), base_currency="USD", counterparties=["A", "B", "A"], own_name="BANK",
                             credit_terms=_terms, recovery={"B": 0.4}, vol_level=_vol, equity_buckets={"SPX": "12"})
    want = _by_hand()
    got = capital(rows)
    for key, k in want.items():
        assert got[key] == pytest.approx(k, rel=1e-12), key
    assert set(got) == set(want) | {"K"}
    assert got["K"] == pytest.approx(sum(want.values()), rel=1e-12)
    assert any("own credit" in n and "BANK" in n for n in notes)  # regulatory CVA: no own default (MAR50.3)
    assert any("no SA-CVA risk factor" in n and "Recovery" in n for n in notes)
    # no vol level: the vega row is left out and said so
    rows2, notes2 = sacva_rows(_sensitivity(), base_currency="USD", counterparties=["A", "B"], own_name="BANK",
                               credit_terms=_terms, recovery={"B": 0.4}, equity_buckets={"SPX": "12"})
    assert ("FX", "vega") not in capital(rows2) and any("FXVol EUR/USD 1Y" in n for n in notes2)


def test_the_stage_uses_the_engine_sensitivities_when_no_table_is_given(tmp_path):
    ds = xr.Dataset({"sensitivity": _sensitivity(), "recovery_rate": ("credit_name", [0.4, 0.4])},
                    coords={"counterparty": ("netting_set", ["A", "B", "A"]), "credit_name": ["A", "B"]})
    market = types.SimpleNamespace(base_currency="USD", own_name="BANK", credit={},
                                   fx_vols={"EUR": BlackVolCurve.flat(0.10)}, equities={}, swaption_vols={})
    st = dataclasses.replace(capital_settings(None), sa_cva_equity_buckets=(("SPX", "12"),), counterparties=(
        ("A", CounterpartyTerms("financial", True)), ("B", CounterpartyTerms("basic_materials", False)),
        ("REF", CounterpartyTerms("technology", True))))
    out = add_sa_cva(ds, market, st)
    assert float(out["SA_CVA_total"]) == pytest.approx(sum(_by_hand().values()), rel=1e-12)
    assert "engine" in out.attrs["sa_cva"] and "BANK" in out.attrs["sa_cva_omitted"]
    # an index named without its currency: the market's index definition tells it
    sofr = ds.copy(deep=True)
    sofr["factor_name"].values[3] = "SOFR"
    with pytest.raises(ResultsFileError, match="IndexCurve 'SOFR'"):
        add_sa_cva(sofr, market, st)
    m2 = types.SimpleNamespace(**vars(market), indices={"SOFR": types.SimpleNamespace(currency="USD")})
    assert float(add_sa_cva(sofr, m2, st)["SA_CVA_total"]) == pytest.approx(float(out["SA_CVA_total"]), rel=1e-15)
    # m_CVA scales it
    out125 = add_sa_cva(ds, market, dataclasses.replace(st, m_cva=1.25))
    assert float(out125["SA_CVA_total"]) == pytest.approx(1.25 * float(out["SA_CVA_total"]), rel=1e-14)
    # a supplied table wins under source=auto
    p = tmp_path / "s.csv"
    p.write_text("risk_class,type,bucket,risk_factor,s_cva,s_hedge\nFX,delta,EUR,EUR,300,0\n")
    tab = add_sa_cva(ds, market, dataclasses.replace(st, sa_cva_sensitivities=str(p)))
    assert float(tab["SA_CVA_total"]) == pytest.approx(0.11 * 300, rel=1e-14)
    assert "supplied" in tab.attrs["sa_cva"]
    eng = add_sa_cva(ds, market, dataclasses.replace(st, sa_cva_sensitivities=str(p), sa_cva_source="engine"))
    assert float(eng["SA_CVA_total"]) == pytest.approx(float(out["SA_CVA_total"]), rel=1e-15)
    # without `sensitivity`: today's behaviour, and the output says why
    none = add_sa_cva(ds.drop_vars("sensitivity"), market, st)
    assert "SA_CVA_total" not in none and "not computed" in none.attrs["sa_cva"]
    assert "sensitivity" in none.attrs["sa_cva"] and "capital.sa_cva.sensitivities" in none.attrs["sa_cva"]


def test_bad_settings_and_inputs_are_named():
    with pytest.raises(ConfigError, match="capital.sa_cva.source"):
        capital_settings({"sa_cva": types.SimpleNamespace(source="table", sensitivities=None)})
    with pytest.raises(ConfigError, match="capital.sa_cva.source"):
        capital_settings({"sa_cva": types.SimpleNamespace(source="both", sensitivities=None)})
    with pytest.raises(ConfigError, match="equity_buckets.SPX"):
        capital_settings({"sa_cva": types.SimpleNamespace(equity_buckets={"SPX": "14"})})
    bad = _sensitivity().copy()
    bad.values[1, 0, 3] = np.nan
    with pytest.raises(ResultsFileError, match="NS2.*IndexCurve USD-SOFR 40Y"):
        sacva_rows(bad, base_currency="USD", counterparties=["A", "B"])
    with pytest.raises(ResultsFileError, match="coordinate 'pillar_time'"):
        sacva_rows(_sensitivity().drop_vars("pillar_time"), base_currency="USD", counterparties=["A", "B"])
    fx = _sensitivity()
    fx["factor_name"].values[6] = "EURUSD"
    with pytest.raises(ResultsFileError, match="FXSpot 'EURUSD': expected 'CCY/USD'"):
        sacva_rows(fx, base_currency="USD", counterparties=["A", "B"], recovery={"B": 0.4})
    with pytest.raises(ResultsFileError, match="recovery"):
        sacva_rows(_sensitivity(), base_currency="USD", counterparties=["A", "B"], credit_terms=_terms)
