"""Credit metrics read from the exposure engine's saved results (contract fixture written with xarray)."""

import numpy as np
import pandas as pd
import pytest

from scorecard import ScorecardInputError
from scorecard.credit import credit_inputs, credit_scores, load_exposure_results
from scorecard.outputs import atomic_write_dataset
from scorecard.synthetic_exposure import exposure_fixture
from scorecard_testlib import compose

ROWS = [{"counterparty": "CP_A", "pfe_utilisation": 0.5, "pd_1y": 0.001},
        {"counterparty": "CP_B", "pfe_utilisation": 0.9, "pd_1y": 0.03}]
LIMITS = pd.Series({"CP_A": 100e6, "CP_B": 100e6})


def _read(tmp_path, ds, name="x.h5"):
    atomic_write_dataset(ds, tmp_path / name)
    return load_exposure_results(tmp_path / name)


def test_full_contract(tmp_path):
    ds = _read(tmp_path, exposure_fixture(ROWS))
    cin = credit_inputs(ds, LIMITS, 0.95, 1.0)
    np.testing.assert_allclose(cin["pfe_peak"], [50e6, 90e6])
    np.testing.assert_allclose(cin["utilisation"], [0.5, 0.9])
    np.testing.assert_allclose(cin["pd"], [0.001, 0.03], rtol=1e-12)  # exact at t = 1y grid point
    sc = credit_scores(cin, compose().credit)
    assert sc.loc["CP_A", "credit_score"] > sc.loc["CP_B", "credit_score"]
    # utilisation 0.5 -> 10 - 9 * 0.3 / 0.8 = 6.625 ; pd 1e-3 -> 10 - 9 * 1/3 = 7
    assert sc.loc["CP_A", "credit_sub_utilisation"] == pytest.approx(6.625)
    assert sc.loc["CP_A", "credit_sub_pd"] == pytest.approx(7.0)
    assert sc.loc["CP_A", "credit_inputs"] == "utilisation,pd,cva,fva,ead,capital"
    assert sc.loc["CP_A", "credit_missing"] == "rating_pd: not in the exposure results or reference data"


def test_optional_variables_absent(tmp_path):
    ds = _read(tmp_path, exposure_fixture(ROWS, include=()))
    sc = credit_scores(credit_inputs(ds, LIMITS, 0.99, 1.0), compose().credit)
    assert list(sc["credit_inputs"]) == ["utilisation", "utilisation"]
    np.testing.assert_allclose(sc["pfe_peak"], [50e6 * 1.41, 90e6 * 1.41])
    assert sc["credit_score"].notna().all()
    assert "pd" not in sc and "cva" not in sc
    # every weighted input that is absent is reported per counterparty
    for k in ("pd", "rating_pd", "cva", "fva", "ead", "capital"):
        assert all(f"{k}: not in the exposure results" in m for m in sc["credit_missing"])


def test_survival_probability_and_unlabelled_counterparty_dim(tmp_path):
    ds = _read(tmp_path, exposure_fixture(ROWS, include=("survival_probability",), label_dim=False))
    cin = credit_inputs(ds, LIMITS, 0.95, 0.5)
    lam = -np.log(1 - np.array([0.001, 0.03]))
    t = ds["time"].values
    expected = np.interp(0.5, t, 1 - np.exp(-lam[1] * t))
    assert cin.loc["CP_B", "pd"] == pytest.approx(expected)
    assert cin.attrs["pd_source"] == "survival_probability"


def test_contract_violations(tmp_path):
    ds = exposure_fixture(ROWS).drop_vars("PFE")
    with pytest.raises(ScorecardInputError, match=r"variable 'PFE': missing from exposure results"):
        _read(tmp_path, ds)
    ds = exposure_fixture(ROWS)
    ds["EPE"][0, 3] = np.nan
    with pytest.raises(ScorecardInputError, match=r"variable 'EPE': contains NaN or infinite"):
        _read(tmp_path, ds, "nan.h5")
    good = _read(tmp_path, exposure_fixture(ROWS), "good.h5")
    with pytest.raises(ScorecardInputError, match=r"no PFE at 0.9 "):
        credit_inputs(good, LIMITS, 0.9, 1.0)
    with pytest.raises(ScorecardInputError, match=r"names not in the alias table: \['CP_B'\]"):
        credit_inputs(good, LIMITS, 0.95, 1.0, resolve=lambda n: n if n == "CP_A" else None)
    with pytest.raises(ScorecardInputError, match="does not exist"):
        load_exposure_results(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(ScorecardInputError, match="not a readable HDF5"):
        load_exposure_results(tmp_path / "junk.h5")


def test_monte_carlo_errors_propagate_and_cpty_variables_win(tmp_path):
    """se(CVA_c) = sum of the netting sets' CVA_stderr (upper bound); se(sub-score) = slope x se; a `*_cpty`
    variable on dim `cpty`, when the engine writes one, is read instead of the netting-set sum."""
    base = exposure_fixture(ROWS)
    cfg = compose().credit
    cin = credit_inputs(_read(tmp_path, base), LIMITS, 0.95, 1.0)
    cva_a = float(base["CVA"][:2].sum())
    assert cin.loc["CP_A", "cva"] == pytest.approx(cva_a)
    assert cin.loc["CP_A", "cva_se"] == pytest.approx(0.02 * cva_a)
    sc = credit_scores(cin, cfg)
    slope = 9.0 / (cfg.cva_to_limit_hi - cfg.cva_to_limit_lo)
    assert sc.loc["CP_A", "credit_sub_cva_se"] == pytest.approx(slope * 0.02 * cva_a / 100e6)
    assert 0 < sc.loc["CP_A", "credit_score_se"] < 1
    cpty = base.assign(CVA_cpty=("cpty", [1e5, 2e5]), CVA_cpty_stderr=("cpty", [1e3, 3e3])).assign_coords(
        cpty=["CP_A", "CP_B"])
    cin2 = credit_inputs(_read(tmp_path, cpty, "cpty.h5"), LIMITS, 0.95, 1.0)
    assert list(cin2["cva"]) == [1e5, 2e5] and list(cin2["cva_se"]) == [1e3, 3e3]
    assert cin2.attrs["sources"]["cva"] == "CVA_cpty"


def test_ead_falls_back_to_alpha_eepe_and_unknown_weight_is_error(tmp_path):
    ds = _read(tmp_path, exposure_fixture(ROWS, include=("EEPE",)))
    cin = credit_inputs(ds, LIMITS, 0.95, 1.0)
    np.testing.assert_allclose(cin["ead"], 1.4 * cin["eepe"])
    assert "1.4 x EEPE" in cin.attrs["sources"]["ead"]
    cfg = compose("+credit.weights.colour=1").credit
    with pytest.raises(ScorecardInputError, match=r"credit.weights: unknown sub-scores \['colour'\]"):
        credit_scores(cin, cfg)


def test_external_ratings(tmp_path):
    from scorecard.ratings import rating_to_pd

    assert rating_to_pd("BBB-") == rating_to_pd("Baa3") == pytest.approx(0.0018)
    assert rating_to_pd("AAA") == 0.0003  # Basel floor
    assert np.isnan(rating_to_pd(""))
    with pytest.raises(ScorecardInputError, match="counterparty 'X' column 'rating': unknown rating 'ZZ'"):
        rating_to_pd("ZZ", cp="X")
    ds = _read(tmp_path, exposure_fixture(ROWS, include=()))
    cin = credit_inputs(ds, LIMITS, 0.95, 1.0, ratings=pd.Series({"CP_A": "A+", "CP_B": None}))
    sc = credit_scores(cin, compose().credit)
    assert sc.loc["CP_A", "rating_pd"] == pytest.approx(0.0006)
    assert "rating_pd" in sc.loc["CP_A", "credit_inputs"]
    assert "rating_pd: no value for this counterparty" in sc.loc["CP_B", "credit_missing"]
