"""Market data at t0: discount/forward curves, FX and equity data, volatilities, credit curves."""
