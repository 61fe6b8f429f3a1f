"""Regulatory capital: SA-CCR and IMM exposure at default, IRB default-risk capital, BA-CVA and SA-CVA.

    saccr_tables  supervisory factors, correlations, option vols; ``SaccrTrade``
    saccr         SA-CCR EAD per netting set (CRE52)
    saccr_input   the SA-CCR trade table and margin table (CSV)
    saccr_engine  the engine's trades mapped to SA-CCR attributes
    imm           EEPE over min(1y, maturity), EAD = alpha x EEPE
    irb           IRB risk weight (CRE31)
    bacva         BA-CVA reduced and full (MAR50)
    sacva         SA-CVA aggregation from sensitivities (MAR50); sacva_tables its buckets, weights, correlations
    sacva_from_sensitivities  the engine's ``sensitivity`` (CVA) mapped onto MAR50's risk factors
    sacva_stage   add_sa_cva(ds, market, settings): SA_CVA_total from the table or the engine's sensitivities
    settings      CapitalSettings from the ``capital`` config node
    profile       EAD at future dates (IMM and SA-CCR); addon_profile the SA-CCR AddOn at all dates at once
    ahead         the path-independent part (the profile's add-ons), computed while the paths run
    stage         add_capital(ds, portfolio, market, settings, npv): the stage; check_inputs (before compute)
    report        capital.csv and the run-summary lines
"""

from exposure.capital.settings import CapitalSettings, capital_settings
from exposure.capital.report import capital_csv_text, capital_summary
from exposure.capital.stage import add_capital, check_inputs
from exposure.capital.sacva_stage import add_sa_cva

__all__ = ["CapitalSettings", "add_capital", "add_sa_cva", "check_inputs", "capital_csv_text", "capital_settings",
           "capital_summary"]
