"""The rule that recommends a candidate to the approvers, or not (pure)."""

from __future__ import annotations

RECOMMENDED, NOT_RECOMMENDED = "recommended", "not recommended"


def verdict(candidate_auc: float, champion_auc: float | None, margin: float) -> tuple[str, str]:
    """(verdict, reason): recommended when there is no champion, or the out-of-time AUC beats the
    champion's (on the same test sample) by at least `margin`."""
    if champion_auc is None:
        return RECOMMENDED, "first model for this dataset: no champion to beat"
    if candidate_auc >= champion_auc + margin:
        return RECOMMENDED, (f"out-of-time AUC {candidate_auc:.4f} beats the champion's {champion_auc:.4f} "
                             f"by at least the margin {margin:g}")
    return NOT_RECOMMENDED, (f"out-of-time AUC {candidate_auc:.4f} does not beat the champion's "
                             f"{champion_auc:.4f} by the margin {margin:g}")
