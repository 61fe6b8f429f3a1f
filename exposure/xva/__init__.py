"""XVA stage: valuation adjustments from the exposure profiles and the credit / funding curves.

    netting/collateral -> measures -> **xva** -> results

``settings``     XvaSettings from the ``xva`` config group and ``market.funding``
``weights``      date weights of CVA/DVA (unilateral, first to default; ORE or midpoint discretisation), FCA/FBA
``adjustments``  add_xva (the stage), path_functionals (standard errors streamed by the aggregator)
``kva``          KVA from a capital profile (or the labelled EEPE proxy)
``allocation``   trade CVA/DVA (stand-alone, Euler allocation), incremental CVA of a proposed trade
``report``       xva.csv in ORE's columns
``wwr``          wrong-way risk: CVA with an exposure-driven intensity calibrated to the credit curve
``stochastic_cva`` wrong-way risk: CVA with survival simulated on the paths (model.credit intensities)
"""

from exposure.xva.adjustments import FUNDING_VARIANTS, XvaWeights, add_xva, counterparty_groups, path_functionals, xva_weights
from exposure.xva.allocation import incremental_cva, incremental_cva_from_runs, trade_adjustments
from exposure.xva.kva import capital_proxy, forward_eepe, kva
from exposure.xva.report import write_xva_csv
from exposure.xva.settings import FundingSpreads, XvaSettings, funding_spreads, xva_settings
from exposure.xva.weights import credit_weights, default_increments, funding_dcf, funding_weights, survival_factors

__all__ = [
    "FUNDING_VARIANTS", "FundingSpreads", "XvaSettings", "XvaWeights", "add_xva", "capital_proxy",
    "counterparty_groups", "credit_weights", "default_increments", "forward_eepe", "funding_dcf",
    "funding_spreads", "funding_weights", "incremental_cva", "incremental_cva_from_runs", "kva", "path_functionals", "survival_factors",
    "trade_adjustments", "write_xva_csv", "xva_settings", "xva_weights",
]
