"""Sensitivities stage: XVA (and EPE/ENE profile) sensitivities to every market input and model parameter.

    ... -> xva -> **risk** -> capital (SA-CVA reads ``sensitivity`` from the results Dataset)

``settings``  RiskSettings from the ``risk`` config group
``factors``   the risk factors of a config (as the market is given) and their bumps
``state``     the set-up layer theta -> S (model discretisation, prepared pricing data, XVA weights)
``setup_market``  the XVA weights' set-up tangents by AD (CDS bootstrap by the implicit-function theorem)
``setup_model``   the model layer theta -> (Phi, mu, L, y0, log_num, bridge) in jnp and its jvp
``setup_tangent`` one factor's dS/de: model layer by jvp, calibration by the implicit-function theorem
``reverse``   the path layer: reverse mode through simulation, pricing, collateral and XVA sums
``stage``     AD and bump-and-revalue sensitivities, the labelled Dataset and sensitivities.csv
"""

from exposure.risk.factors import FACTOR_TYPES, RiskFactor, bumped, enumerate_factors
from exposure.risk.settings import RiskSettings, risk_settings

# The stage (reverse pass, set-up tangents: ~40 modules) is imported on first use of one of its names, not by a
# run without sensitivities, which reads risk_settings only (module __getattr__, PEP 562).
_STAGE = ("add_sensitivities", "ad_sensitivities", "bump_sensitivities", "sensitivities_csv_text",
          "sensitivity_dataset")


def __getattr__(name):
    if name in _STAGE:
        from exposure.risk import stage

        return getattr(stage, name)
    raise AttributeError(f"module 'exposure.risk' has no attribute '{name}'")

__all__ = ["FACTOR_TYPES", "RiskFactor", "RiskSettings", "add_sensitivities", "ad_sensitivities", "bumped",
           "bump_sensitivities", "enumerate_factors", "risk_settings", "sensitivities_csv_text",
           "sensitivity_dataset"]
