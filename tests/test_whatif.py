"""`exposure whatif`: proposed trades priced on a stored run's scenarios give the numbers of a full run with the
trades in the book (same seed), up to floating-point summation order."""

from __future__ import annotations

import numpy as np
import pytest

from exposure import api
from exposure.cli import main
from exposure.errors import ConfigError, TradeError
from exposure.results import read_results

from test_aggregate import BOOK, COMMON  # noqa: E402  (tests/ is on sys.path under pytest)

NEW = """
- {id: NEW_SWP, type: Swap, currency: USD, notional: 3.0e+7, maturity: 4Y, fixed_rate: 0.035, payer: true,
   float_index: USD-LIBOR-3M}
- {id: NEW_FXO, type: FxOption, foreign_currency: EUR, domestic_currency: USD, notional: 1.0e+7, strike: 1.10,
   expiry: 1Y, call: true, long: true}
"""

FULL_EXTRA = """  - {id: NEW_SWP, type: Swap, netting_set: NS_E, currency: USD, notional: 3.0e+7, maturity: 4Y, fixed_rate: 0.035,
     payer: true, float_index: USD-LIBOR-3M}
  - {id: NEW_FXO, type: FxOption, netting_set: NS_E, foreign_currency: EUR, domestic_currency: USD, notional: 1.0e+7,
     strike: 1.10, expiry: 1Y, call: true, long: true}
"""


@pytest.mark.slow
def test_whatif_equals_a_full_run_with_the_trades(tmp_path, capsys):
    book, new = tmp_path / "book.yaml", tmp_path / "new.yaml"
    book.write_text(BOOK)
    new.write_text(NEW)
    run = tmp_path / "run"
    common = [*COMMON, "report.limits_file=null", "+report.limits={CP_E: {0-1Y: 5.0e+6, 1Y+: 8.0e+6}}"]
    assert main(["run", f"portfolio.trades={book}", f"output.dir={run}", *common]) == 0
    assert main(["whatif", str(run), "--netting-set", "NS_E", "--trade", str(new)]) == 0
    printed = capsys.readouterr().out
    assert "NEW_SWP, NEW_FXO into NS_E" in printed and "limit headroom 0-1Y" in printed

    res = api.whatif(str(run), "NS_E", str(new))
    # the full run: the same book with the two trades in NS_E
    full_book = tmp_path / "full.yaml"
    full_book.write_text(BOOK + FULL_EXTRA)
    full_dir = tmp_path / "full"
    assert main(["run", f"portfolio.trades={full_book}", f"output.dir={full_dir}", *common]) == 0
    full, stored = read_results(str(full_dir / "results.h5")), read_results(str(run / "results.h5"))
    for name in ("EPE", "ENE", "PFE", "EEPE", "BaselEE", "EE_stderr", "ExpectedCollateral", "NPV", "PFE_cpty",
                 "PFE_limit_peak"):
        np.testing.assert_allclose(res.after[name].values, full[name].values, rtol=1e-10, atol=1e-6, err_msg=name)
        # "before" is the stored run itself
        np.testing.assert_allclose(res.before[name].values, stored[name].values, rtol=0, atol=0, err_msg=name)
    assert list(res.after["PFE_limit_status"].values) == list(full["PFE_limit_status"].values)
    t = res.table.set_index("Figure")
    assert t.loc["peak EPE (netting set)", "Change"] == pytest.approx(
        full["EPE"].sel(netting_set="NS_E").max().item() - stored["EPE"].sel(netting_set="NS_E").max().item())
    assert np.isnan(t.loc["CVA (netting set)", "After"])  # not in these results: n/a, not dropped

    with pytest.raises(ConfigError, match="--netting-set"):
        api.whatif(str(run), "NS_X", str(new))
    clash = tmp_path / "clash.yaml"
    clash.write_text(NEW.replace("NEW_SWP", "SWP_A"))
    with pytest.raises(TradeError, match="SWP_A"):
        api.whatif(str(run), "NS_E", str(clash))
