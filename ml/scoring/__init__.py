"""Scoring: the credit policy and batch / on-demand scoring with a pinned registered model."""
