"""Property tests of the building blocks (hypothesis, bounded examples)."""

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from scorecard.composite import composite_scores
from scorecard.stats import mean_estimate, newcombe_difference, wilson
from scorecard_testlib import compose

CFG = compose()
METRICS = ["credit_score", "adverse_selection_bps", "excess_slippage_bps", "stress_fill_pct", "protocol_score"]
finite = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(*[finite] * len(METRICS)), min_size=1, max_size=6), st.sampled_from(METRICS),
       st.floats(0.01, 5))
def test_score_bounded_and_monotone(rows, metric, bump):
    wide = pd.DataFrame(rows, columns=METRICS, index=[f"c{i}" for i in range(len(rows))])
    sc = composite_scores(wide, CFG.composite.transforms, CFG.profile.weights, CFG.composite.bands)
    assert sc["score"].between(0, 10).all()
    tf = CFG.composite.transforms[metric]
    worse = wide.copy()
    worse[metric] += bump if tf.hi > tf.lo else -bump  # towards the toxic end of the transform
    sc2 = composite_scores(worse, CFG.composite.transforms, CFG.profile.weights, CFG.composite.bands)
    assert (sc2["score"].reindex(sc.index) >= sc["score"] - 1e-12).all()


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 500), st.data(), st.floats(0.5, 5))
def test_wilson_contains_estimate_and_stays_in_unit_interval(n, data, z):
    k = data.draw(st.integers(0, n))
    w = wilson(k, n, z)
    assert 0 <= w.lo <= w.value <= w.hi <= 1
    d = newcombe_difference(k, n, n - k, n, z)
    assert d.lo <= d.value <= d.hi and -1 <= d.lo and d.hi <= 1 + 1e-12


def test_mean_estimate_coverage_is_close_to_nominal():
    """With z = 1.96 about 95% of intervals of N(0.3, 1) samples cover 0.3 (binomial tolerance 4 SE)."""
    rng = np.random.default_rng(5)
    cover = np.mean([mean_estimate(rng.normal(0.3, 1, 200)).contains(0.3) for _ in range(2000)])
    assert abs(cover - 0.95) < 4 * math.sqrt(0.95 * 0.05 / 2000)
    assert math.isinf(mean_estimate(np.array([1.0])).se)
