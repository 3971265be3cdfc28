"""The rule that recommends a candidate to the approvers, or not (pure).

A candidate is recommended when its out-of-time AUC is better than chance beyond doubt (the lower end of its
95% interval above 0.5) and, when there is a champion, its AUC beats the champion's on the same test rows by at
least the margin *and* the gain's 95% interval (DeLong's paired test: the two AUCs share the rows) lies above
zero. On a small test sample a gain of a few points is within the noise, and the reason says so.
"""

from __future__ import annotations

from ml.ranking import AucDifference

RECOMMENDED, NOT_RECOMMENDED = "recommended", "not recommended"


def interval(low: float, high: float) -> str:
    """A 95% interval as the reports and mails show it."""
    return f"95% CI {low:.4f} to {high:.4f}"


def verdict(auc: float, auc_low: float, auc_high: float, champion_auc: float | None, gain: AucDifference | None,
            margin: float, test_rows: int) -> tuple[str, str]:
    """(verdict, reason) of a candidate with out-of-time AUC `auc` (its 95% interval `auc_low`..`auc_high`), on
    `test_rows` rows, against the champion's AUC on the same rows and the paired difference `gain` (None: no
    champion)."""
    shown = f"out-of-time AUC {auc:.4f} ({interval(auc_low, auc_high)}, {test_rows} test rows)"
    if not auc_low > 0.5:
        return NOT_RECOMMENDED, (f"{shown} cannot be told from chance (0.5): too few test rows or positives to "
                                 "judge the model; train on more days (window, test days)")
    if champion_auc is None or gain is None:
        return RECOMMENDED, f"first model for this dataset: no champion to beat; {shown}"
    low, high = gain.interval()
    versus = (f"{shown} vs the champion's {champion_auc:.4f}: gain {gain.difference:+.4f} "
              f"({interval(low, high)}, paired)")
    if gain.difference < margin:
        return NOT_RECOMMENDED, f"{versus} does not beat the champion by the margin {margin:g}"
    if not low > 0:
        return NOT_RECOMMENDED, (f"{versus} reaches the margin {margin:g}, but its interval includes no gain: not "
                                 "shown to be better on this test sample")
    return RECOMMENDED, f"{versus} beats the champion by at least the margin {margin:g}"
