"""Retraining: a candidate built from data (`ml.model`), reviewed, and published for approval (`ml.governance`)."""
