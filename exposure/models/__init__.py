"""Stochastic models: Hull-White 1F rates, lognormal FX/equity, the cross-asset Gaussian state, calibration."""
