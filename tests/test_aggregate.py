"""`exposure aggregate RUN_DIR` (re-aggregation from the stored netting-set values) gives the numbers of a full
run with the changed inputs: other CSA terms, quantiles, credit curve and limits; scenario changes are refused."""

from __future__ import annotations

import numpy as np
import pytest

from exposure import api
from exposure.cli import main
from exposure.errors import ConfigError
from exposure.results import read_results

BOOK = """
netting_sets:
  NS_A: {counterparty: CP_A, csa: {margining: two_way, threshold_cpty: 1.0e+6, threshold_bank: 1.0e+6,
                                   mta_cpty: 1.0e+5, mta_bank: 1.0e+5}}
  NS_A2: {counterparty: CP_A}
  NS_E: {counterparty: CP_E}
trades:
  - {id: SWP_A, type: Swap, netting_set: NS_A, currency: USD, notional: 5.0e+7, maturity: 5Y, fixed_rate: 0.036,
     payer: true, float_index: USD-LIBOR-3M}
  - {id: SWP_A2, type: Swap, netting_set: NS_A2, currency: EUR, notional: 2.0e+7, maturity: 3Y, fixed_rate: 0.022,
     payer: false, float_index: EUR-EURIBOR-6M}
  - {id: FXF_E, type: FxForward, netting_set: NS_E, buy_currency: USD, buy_amount: 1.1e+7, sell_currency: EUR,
     sell_amount: 1.0e+7, maturity: 2Y}
"""
# new CSA terms: NS_A one-way with a lower threshold and an independent amount, NS_E gets a CSA in EUR
NEW_CSA = """
NS_A: {counterparty: CP_A, csa: {margining: cpty_posts, threshold_cpty: 2.0e+5, mta_cpty: 5.0e+4,
                                 independent_amount_held: 1.0e+5}}
NS_E: {counterparty: CP_E, csa: {margining: two_way, threshold_cpty: 0.0, collateral_currency: EUR}}
"""
COMMON = ["portfolio.fixings=null", "simulation.paths=384", "simulation.chunk_size=160", "simulation.mpor=2W",
          "simulation.grid='1M,3M,6M,1Y,18M,2Y,3Y,4Y,5Y'", "output.store_cube=true", "report.plots=false",
          "report.html=false"]
CHANGES = ["output.quantiles=[0.9,0.99]", "report.pfe_quantile=0.9", "market.credit.CP_E.recovery=0.1",
           "report.limits_file=null"]


@pytest.mark.slow
def test_aggregate_equals_a_full_run_with_the_changed_inputs(tmp_path, capsys):
    book, csa = tmp_path / "book.yaml", tmp_path / "csa.yaml"
    book.write_text(BOOK)
    csa.write_text(NEW_CSA)
    run = tmp_path / "run"
    assert main(["run", f"portfolio.trades={book}", f"output.dir={run}", *COMMON]) == 0
    assert (run / "netting_values.h5").exists()
    agg_dir = tmp_path / "agg"
    changes = [f"portfolio.netting_sets={csa}", *CHANGES, "+report.limits={CP_A: 1.0e+6}"]
    assert main(["aggregate", str(run), f"output.dir={agg_dir}", *changes]) == 0
    full_dir = tmp_path / "full"
    assert main(["run", f"portfolio.trades={book}", f"output.dir={full_dir}", *COMMON, *changes]) == 0
    capsys.readouterr()

    agg, full, before = (read_results(str(d / "results.h5")) for d in (agg_dir, full_dir, run))
    assert list(agg["quantile"].values) == [0.9, 0.99]
    assert set(agg.data_vars) == set(full.data_vars)
    for name in full.data_vars:
        a, f = agg[name].values, full[name].values
        assert a.dtype == f.dtype and a.shape == f.shape, name
        assert np.array_equal(a, f) if a.dtype.kind in "OUSM" else np.array_equal(a, f, equal_nan=True), name
    # the changes did change something (the test would pass on a no-op otherwise)
    assert not np.array_equal(agg["EPE"].values, before["EPE"].values)
    assert agg["recovery_rate"].sel(credit_name="CP_E").item() == 0.1
    assert agg.attrs["aggregated_from"].endswith("run") and (agg_dir / "limits.csv").exists()


def test_aggregate_refuses_scenario_changes_and_unknown_keys(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    cfg = api.compose(["portfolio.fixings=null"])
    from omegaconf import OmegaConf

    (run / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    for override, key in (("simulation.paths=99", "simulation"), ("market.fx_spots.EUR=1.2", "market"),
                          ("model.ir.USD.mean_reversion=0.1", "model"), ("portfolio.trades=x.yaml", "portfolio.trades"),
                          ("outptu.dir=x", "outptu")):
        with pytest.raises(ConfigError) as err:
            api.aggregate(str(run), [override])
        assert err.value.key.startswith(key), (override, err.value.key)
    with pytest.raises(ConfigError, match="store_cube"):
        api.aggregate(str(run), ["market.credit.CP_A.recovery=0.3"])
