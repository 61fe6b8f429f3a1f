"""Shared fixtures: a small but complete cross-asset model (3 currencies, 2 FX, 1 equity, correlated)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings as _hypothesis_settings

import exposure  # noqa: F401  (switches on float64)
from exposure.market.curves import DiscountCurve
from exposure.models.cross_asset import CrossAssetModel, PiecewiseVol
from exposure.models.hull_white import HullWhiteParams

# Under CI the property tests replay the same examples every run (derandomize): a red build then means a change
# broke something, never that a new random draw found an old case. Locally they keep exploring new examples.
_hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")


def make_model() -> CrossAssetModel:
    """USD base with EUR, GBP and a EUR equity; piecewise vols and a non-trivial correlation matrix."""
    hw = (
        HullWhiteParams.create(0.05, [0.010, 0.012], [2.0]),
        HullWhiteParams.create(0.10, [0.008]),
        HullWhiteParams.create(0.03, [0.011, 0.009], [1.5]),
    )
    curves = (
        DiscountCurve.from_zero_rates([1.0, 5.0, 10.0], [0.03, 0.035, 0.04]),
        DiscountCurve.flat(0.02),
        DiscountCurve.from_zero_rates([2.0, 10.0], [0.045, 0.04]),
    )
    R = np.eye(6)  # IR:USD IR:EUR IR:GBP FX:EUR FX:GBP EQ:SX5E
    for i, j, v in [(0, 1, 0.5), (1, 3, 0.3), (0, 3, -0.2), (3, 4, 0.6), (2, 4, 0.25), (5, 0, 0.1), (5, 3, -0.3)]:
        R[i, j] = R[j, i] = v
    return CrossAssetModel(
        currencies=("USD", "EUR", "GBP"),
        hw=hw,
        curves=curves,
        fx_spot=np.array([1.1, 1.25]),
        fx_vol=(PiecewiseVol(np.array([1.0]), np.array([0.10, 0.12])), PiecewiseVol(np.zeros(0), np.array([0.09]))),
        equity_names=("SX5E",),
        equity_ccy=(1,),
        equity_spot=np.array([100.0]),
        equity_div=np.array([0.02]),
        equity_vol=(PiecewiseVol(np.zeros(0), np.array([0.2])),),
        correlation=R,
    )


@pytest.fixture(scope="session")
def model() -> CrossAssetModel:
    return make_model()


class Grid:
    """A bare grid (times only) for simulator tests that need no calendar."""

    def __init__(self, times):
        self.times = np.asarray(times, dtype=float)
