"""How figures are written in the technical file, and the thresholds its limitations name."""

from __future__ import annotations

import math
from typing import Any

from ml.governance.candidate import CandidateSummary, Metrics, SampleCount

WIDE_INTERVAL = 0.10  # an AUC interval wider than this is called wide in the limitations
SMALL_SAMPLE_FACTOR = 3  # a sample under this many times the spec's training.min_rows is called small

def f4(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.4f}"


def pct(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.2%}"


def auc_text(m: Metrics) -> str:
    return f"{f4(m.auc)} (95% CI {f4(m.auc_low)} to {f4(m.auc_high)})"


def samples_in_order(summary: CandidateSummary) -> list[tuple[str, SampleCount]]:
    """The development samples in time order (train, valid, test)."""
    order = {"train": 0, "valid": 1, "test": 2}
    return sorted(summary.samples.items(), key=lambda kv: (order.get(kv[0], 3), kv[0]))
