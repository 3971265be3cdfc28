"""Monitoring of the models in production (stability, backtests)."""
