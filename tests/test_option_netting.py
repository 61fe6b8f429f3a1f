"""An FX option batch's netting values added into the chunk's running total (``FxOptionBatch.add_netting_values``,
used by ``chunks.netting_total``) equal acc + the netting sums of its trade values (``values``, the per-trade
pricer checked against Garman-Kohlhagen in test_option_pricing) to 1e-14 of the netting set's gross value: other
netting sets untouched, short and expired options, several chunks of FX_CHUNK options, an empty netting set."""

from __future__ import annotations

import jax
import numpy as np

from exposure.pricing import options as O
from exposure.pricing.opt_fx import FX_CHUNK
from exposure.pricing.view import PathView, PricingContext, netting_sum
from tests.test_option_pricing import MARKET, MODEL, trade


def test_fx_option_netting_values_add_into_the_running_total():
    rng = np.random.default_rng(7)
    n = FX_CHUNK + 5  # two chunks, the second partly padding
    specs = [trade("FxOption", id=f"O{i}", foreign_currency="EUR", domestic_currency="USD", notional=1e6 * (1 + i),
                   strike=1.02 + 0.02 * i, expiry=f"{3 + 5 * i}M", call=bool(i % 2), long=i % 3 != 0) for i in range(n)]
    specs += [trade("FxOption", id="G0", foreign_currency="GBP", domestic_currency="EUR", notional=2e6, strike=1.15,
                    expiry="2Y", call=True)]
    ns = [0, 2, 0, 1, 2, 0, 4, 4, 2, 0, 1, 2, 0, 2]
    n_ns, K, P = 6, 12, 7  # netting sets 3 and 5 hold no option
    times = np.linspace(0.0, 6.0, K)  # the last dates are after every expiry
    x = rng.normal(0.0, 0.02, (3, K, P))
    fx = np.ones((3, K, P))
    fx[1] = MARKET.fx_spots["EUR"] * np.exp(rng.normal(0.0, 0.1, (K, P)))
    fx[2] = MARKET.fx_spots["GBP"] * np.exp(rng.normal(0.0, 0.1, (K, P)))
    view = PathView(times, x, fx, np.full((1, K, P), 5800.0), np.ones((K, P)), MODEL.currencies, MODEL.equity_names)
    ctx = PricingContext(MARKET, MODEL, times, None, ())
    acc0 = rng.normal(0.0, 1e6, (K, n_ns, P))
    acc, ref, gross = acc0, acc0.copy(), np.abs(acc0)
    batches = O.fx_option_batches(specs, ns)
    assert len(batches) == 1 and len(batches[0].pairs) == 2 and len(batches[0].ids) > FX_CHUNK
    for b in batches:
        pre = b.prepare(ctx)
        v = np.asarray(b.values(pre, view))
        ref = ref + np.asarray(netting_sum(v, b.netting_set, n_ns))
        gross = gross + np.asarray(netting_sum(np.abs(v), b.netting_set, n_ns))
        acc = jax.jit(lambda p, w, a, b=b: b.add_netting_values(p, w, n_ns, a))(pre, view, acc)
        alone = np.asarray(jax.jit(lambda p, w, b=b: b.add_netting_values(p, w, n_ns))(pre, view))
        np.testing.assert_allclose(alone, np.asarray(netting_sum(v, b.netting_set, n_ns)), rtol=0, atol=1e-9)
    acc = np.asarray(acc)
    assert np.all(np.abs(acc - ref) <= 1e-14 * gross)
    assert np.array_equal(acc[:, [3, 5]], acc0[:, [3, 5]])  # no option there: untouched, bit for bit
    assert np.any(ref[:, :3] != acc0[:, :3])  # the options do move the totals
