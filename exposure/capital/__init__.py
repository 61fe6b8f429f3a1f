"""Regulatory capital: SA-CCR and IMM exposure at default, IRB default-risk capital, BA-CVA and SA-CVA.

    saccr_tables  supervisory factors, correlations, option vols; ``SaccrTrade``
    saccr         SA-CCR EAD per netting set (CRE52)
"""
