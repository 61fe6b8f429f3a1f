"""The linear twins' backward pass in closed form (``exposure.risk.twin_linear_backward``) against ``jax.vjp`` of
the twin's own jnp leaves (``LinearPresTwin.leaves`` with netting-set copies of the curve part, the form it
replaced), on a small book whose linear batch has two currencies, three netting sets, coupons and payment lags
(flows with a bond ratio P(t, Tn) / P(t, Td)); random cotangents of two measures on mom_tr, mom_ns and cc_w. Only
the order of floating-point additions differs: 1e-12 of each part's scale.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from exposure.api import compose
from exposure.pricing.linear import LinearBatch
from exposure.pricing.view import PricingContext
from exposure.risk.setup_pres import LinearPresTwin
from exposure.risk.twin_linear_backward import linear_backward
from exposure.setup import setup

BOOK = """
netting_sets:
  NS_A: {counterparty: CP_A}
  NS_B: {counterparty: CP_E}
  NS_C: {counterparty: CP_A}
trades:
  - {id: SWP_USD_LAG, type: Swap, netting_set: NS_A, currency: USD, notional: 1.0e+7, start: 0D, maturity: 3Y,
     fixed_rate: 0.035, payer: true, fixed_tenor: 1Y, float_index: USD-SOFR, float_tenor: 6M, payment_lag: 2}
  - {id: SWP_EUR, type: Swap, netting_set: NS_B, currency: EUR, notional: 8.0e+6, start: 0D, maturity: 2Y,
     fixed_rate: 0.025, payer: false, fixed_tenor: 1Y, float_index: EUR-EURIBOR-6M, float_tenor: 6M}
  - {id: SWP_USD, type: Swap, netting_set: NS_C, currency: USD, notional: 5.0e+6, start: 0D, maturity: 2Y,
     fixed_rate: 0.03, payer: false, fixed_tenor: 1Y, float_index: USD-SOFR, float_tenor: 1Y}
  - {id: FXF_EURUSD, type: FxForward, netting_set: NS_B, buy_currency: USD, buy_amount: 1.1e+7,
     sell_currency: EUR, sell_amount: 1.0e+7, maturity: 2Y}
"""


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    d = tmp_path_factory.mktemp("lb")
    (d / "book.yaml").write_text(BOOK)
    cfg = compose([f"portfolio.trades={d / 'book.yaml'}", "portfolio.fixings=null", "simulation.paths=8",
                   "simulation.grid='6M,1Y,2Y'", "output.csv=false", f"output.dir={d}"])
    s = setup(cfg)
    m, g = s.market, s.grid
    ctx = PricingContext(m, s.built.model, np.concatenate([[0.0], g.times]), s.portfolio.fixings,
                         (m.asof,) + tuple(g.dates), g.reporting_mask())  # ``PresTangents``' context
    tw = [LinearPresTwin(b, ctx) for b in s.portfolio.batches if isinstance(b, LinearBatch)]
    assert len(tw) == 1
    return tw[0]


def test_closed_form_backward_equals_vjp(twin):
    tw = twin
    ns = np.asarray(tw.batch.netting_set).reshape(-1)
    copies, c_tr = np.unique(ns, return_inverse=True)
    n_c, n_meas = copies.size, 2
    assert n_c == 3 and len(tw.cf.currencies) == 2 and tw.coupons is not None
    assert any(st is not None and st["lag"].size for st in tw.flows)  # payment lags: Tn / Td cells
    x0 = tw.x0()
    rep = lambda a: np.broadcast_to(np.asarray(a)[None], (n_c,) + np.shape(a)).copy()  # noqa: E731
    xc = dict(x0, ln_df=tuple(rep(a) for a in x0["ln_df"]), sigma=tuple(rep(a) for a in x0["sigma"]))
    rng = np.random.default_rng(7)
    shapes = jax.eval_shape(lambda x: tw.leaves(x, c_tr), xc)
    cot = {k: rng.standard_normal((n_meas,) + v.shape) for k, v in shapes.items()}

    @jax.jit
    def reference(x, c):  # one program: op-by-op dispatch compiles every operation
        _, f = jax.vjp(lambda x_: tw.leaves(x_, c_tr), x)
        return jax.lax.map(lambda r: f(r)[0], c)

    want = reference(xc, cot)
    got = linear_backward(tw, cot, c_tr, n_c, n_meas)
    for m in range(n_meas):
        for (path, w), g in zip(jax.tree_util.tree_flatten_with_path(want)[0], jax.tree_util.tree_leaves(got)):
            w, g = np.asarray(w)[m], np.asarray(g)[m]
            assert w.shape == g.shape, jax.tree_util.keystr(path)
            scale = np.abs(w).max()
            assert scale > 0, jax.tree_util.keystr(path)
            assert np.abs(g - w).max() <= 1e-12 * scale, (m, jax.tree_util.keystr(path), np.abs(g - w).max() / scale)
