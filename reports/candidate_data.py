"""What the candidate report shows, computed by the caller (``ml``) and handed over typed: the report grades
nothing and reads no key by string.

Conventions the caller must follow: rates (``positive_rate``, ``bad_rate``, calibration probabilities) are
fractions in [0, 1]; ``feature_importance`` is sorted by gain, descending.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ModelMetrics:
    """Test-sample metrics of one model; all plain Python floats (``n`` an int, rates fractions)."""

    auc: float
    auc_low: float  # the AUC's 95% interval (DeLong), computed by the caller
    auc_high: float
    gini: float
    ks: float
    brier: float
    log_loss: float
    precision: float
    recall: float
    fbeta: float
    threshold: float
    n: int
    positive_rate: float


@dataclass(frozen=True)
class FeatureShift:
    """One feature's CSI and its light, as graded by the caller."""

    csi: float
    light: str


@dataclass(frozen=True)
class PsiVsChampion:
    """The development sample on the champion's reference bins: the score's PSI, each feature's CSI, the epsilon
    that floored empty bins and the thresholds the lights were graded with; lights are shown as given."""

    score_psi: float
    score_light: str
    features: dict[str, FeatureShift]
    eps: float
    amber: float
    red: float


@dataclass(frozen=True)
class SwapCell:
    n: int
    bads: int
    bad_rate: float


@dataclass(frozen=True)
class SwapMatrix:
    """Accounts by the champion's decision (first) and the challenger's, each at its own production threshold;
    swap-in: declined by the champion and approved by the challenger, swap-out the other way."""

    approve_approve: SwapCell
    approve_decline: SwapCell
    decline_approve: SwapCell
    decline_decline: SwapCell

    @property
    def swap_in(self) -> int:
        return self.decline_approve.n

    @property
    def swap_out(self) -> int:
        return self.approve_decline.n

    def cells(self) -> dict[str, dict[str, float]]:
        """The cells as `reports.blocks.swap_matrix` takes them ("approve->decline": {n, bads, bad_rate})."""
        return {f"{row}->{column}": dataclasses.asdict(getattr(self, f"{row}_{column}"))
                for row in ("approve", "decline") for column in ("approve", "decline")}


@dataclass(frozen=True)
class CandidateReportData:
    """Everything the candidate report shows, already computed by the caller."""

    dataset: str
    model_name: str
    version: str
    run_id: str
    as_of: str
    data_window: tuple[str, str]
    data_hash: str
    # {"train": {"n": .., "positives": .. (optional), "positive_rate": ..}, "valid": .., "test": ..}
    sample_sizes: dict[str, dict[str, float]]
    verdict: str  # shown as given ("recommended" / "not recommended", ml.model.verdict)
    verdict_reason: str
    recommended: bool  # the verdict box is green when true, red otherwise
    challenger: ModelMetrics
    champion: ModelMetrics | None  # None on the first model
    champion_version: str | None
    beta: float
    threshold_method: str  # "fbeta" | "cost"
    threshold_rationale: str
    roc: dict[str, dict[str, list[float]]]  # {"challenger": {"fpr": [..], "tpr": [..]}, "champion": {..} optional}
    ks_curve: dict[str, list[float] | float]  # threshold, cum_bad, cum_good (lists); ks, ks_threshold (floats)
    calibration: list[dict[str, float]]  # rows: band, n, min_p, max_p, mean_p, observed_rate
    score_histogram: dict[str, list[float]]  # {"edges": [..], "goods": [..], "bads": [..]}
    feature_importance: list[tuple[str, float]]  # (feature, gain) sorted desc; the top 15 are shown
    psi_vs_champion: PsiVsChampion | None  # None on the first model
    swap_matrix: SwapMatrix | None  # None on the first model
    approval_instructions: list[str]  # how to approve (Airflow UI path, CLI command); `backticks` set in mono
    generated_at: str  # ISO timestamp given by the caller (the report never reads the clock)
    # a calibrated model: the calibration rows of its raw PDs (before the map) and the map's method
    calibration_before: list[dict[str, float]] | None = None
    calibration_method: str | None = None
    # features the model takes, used or not (feature_importance may hold only the top ones); None: its length
    feature_count: int | None = None
    trigger: str | None = None  # why this retraining ran when monitoring requested it (drift); None: scheduled/manual
    # what the data window lost (days not preprocessed, failed or fully quarantined), one sentence each
    window_gaps: list[str] = dataclasses.field(default_factory=list)
    # fair lending and reasons (ml.model.fairness_review.Review.to_dict): min_ratio, min_group_rows,
    # min_group_bads, challenger / champion (per attribute, its groups as ml.fairness.GroupRow dicts, the
    # reference first; champion None on the first model), proxies ({attribute: [{feature, cramers_v,
    # mutual_information}]}), below (lines), reasons ([{code, text, first, any, first_share, any_share}]),
    # reasons_from_spec, explained_rows; None: a report without the page
    fairness: dict[str, Any] | None = None
    # the current champion's line of the champion history (who promoted it when, why, report hash; halted?)
    champion_line: str | None = None
    # the partial-dependence line of each monotone feature (ml.model.partial_dependence.MonotoneCheck dicts:
    # feature, direction, grid, pd, holds); empty: the spec constrains no feature
    monotone: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # the scorecard beside the XGBoost model (ml.model.scorecard_review.Review.to_dict): candidate, xgboost and
    # scorecard metrics (ModelMetrics keys), their calibration rows, gain (difference, se, low, high: XGBoost's AUC
    # minus the scorecard's), points, information_value; None: a report without it
    scorecard: dict[str, Any] | None = None
    algorithm: str = "xgboost"  # the candidate's: xgboost | scorecard
