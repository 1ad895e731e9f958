"""Cache model: configuration, simulation, reuse distance, traces and predictors."""
