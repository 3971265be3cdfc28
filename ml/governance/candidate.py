"""What a retraining hands the approval, the mails, the technical file and the DAG's next tasks.

- `CandidateSummary`: `candidates/<ds>/v=V/candidate.json`, written once by `ml.retraining.retrain.publish`;
- `RetrainPointer`: `runs/retrain/<ds>/<run key>.json`, the retraining run's pointer to the version it made.

They live in governance, not beside their writer in `ml.retraining`, because governance reads them (the
technical file, what an approval waits for) and `ml.retraining` already depends on governance: the other way
round would be a cycle between the packages.

Both are read only through these models (`ml.contracts`).
"""

from __future__ import annotations

import json

from ml import contracts, layout
from ml.contracts import Contract, Part
from ml.storage import Storage


class Metrics(Part):
    """`ml.model.evaluate.evaluate`'s headline metrics of one model on the out-of-time test (the first candidates
    were registered without the AUC's interval or the positive count: None there)."""

    n: int
    positives: int | None = None
    positive_rate: float
    auc: float
    auc_se: float | None = None
    auc_low: float | None = None
    auc_high: float | None = None
    gini: float
    ks: float
    brier: float
    log_loss: float
    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int
    precision: float | None
    recall: float | None
    fbeta: float | None
    flagged_rate: float


class Gain(Part):
    """Candidate AUC minus champion AUC on the same rows, with DeLong's paired standard error."""

    difference: float
    se: float


class SampleCount(Part):
    rows: int
    positives: int
    negatives: int


class DataAccounting(Part):
    """What the development window held and what it lost (`ml.model.train.development_sample`)."""

    business_days: int
    days_used: int
    missing_days: list[str]
    failed_quality_days: list[str]
    fully_quarantined_days: list[str]
    positive_outcomes: int
    negative_outcomes: int
    unknown_outcomes: int


class CalibrationRow(Part):
    """One PD band of `ml.metrics.calibration_table`."""

    band: int
    n: int
    min_p: float | None
    max_p: float | None
    mean_p: float | None
    observed_rate: float | None


class FeatureStability(Part):
    csi: float
    light: str


class Stability(Part):
    """`ml.bins.stability` of the development sample on the champion's reference bins."""

    eps: float
    features: dict[str, FeatureStability]
    score_psi: float
    score_light: str
    thresholds: dict[str, float]


class Monotone(Part):
    """`ml.model.partial_dependence.MonotoneCheck` as stored."""

    feature: str
    direction: str
    grid: list[float]
    pd: list[float]
    holds: bool


class GroupRow(Part):
    """One group of a fairness attribute (`ml.fairness.GroupRow`)."""

    attribute: str
    group: str
    kind: str
    reference: bool
    rows: int
    labelled: int
    bads: int
    approved: int
    approval_rate: float | None
    approved_bad_rate: float | None
    default_rate: float | None
    mean_pd: float | None
    auc: float | None
    auc_low: float | None
    auc_high: float | None
    ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    light: str | None


class Proxy(Part):
    feature: str
    cramers_v: float | None
    mutual_information: float | None


class ReasonShare(Part):
    """How often a reason statement is given (`ml.reasons.frequency`)."""

    code: str
    text: str
    first: int
    first_share: float
    any: int
    any_share: float


class Fairness(Part):
    """`ml.model.fairness_review.Review.to_dict()`: fair lending and reasons on the test sample."""

    min_ratio: float
    min_group_rows: int
    min_group_bads: int
    challenger: list[list[GroupRow]]  # per attribute of the spec, its groups (reference first)
    champion: list[list[GroupRow]] | None
    proxies: dict[str, list[Proxy]]
    below: list[str]
    reasons: list[ReasonShare]
    reasons_from_spec: bool
    explained_rows: int


class ScorecardGain(Part):
    difference: float
    se: float
    low: float
    high: float


class Points(Part):
    feature: str
    bin: str
    woe: float
    points: float


class ScorecardReview(Part):
    """`ml.model.scorecard_review.Review.to_dict()`: the scorecard and the XGBoost model side by side."""

    candidate: str
    xgboost: Metrics
    scorecard: Metrics
    gain: ScorecardGain  # XGBoost minus scorecard AUC
    information_value: dict[str, float]
    points: list[Points]
    xgboost_calibration: list[CalibrationRow]
    scorecard_calibration: list[CalibrationRow]


class CandidateSummary(Contract):
    """A registered candidate: who it is, how it did, what was stored for it and what it closes.

    Keys added after the first candidates were written have defaults, so those files still read.
    """

    dataset: str
    model_name: str
    version: str
    run_id: str
    as_of: str
    verdict: str
    verdict_reason: str
    threshold: float
    metrics: Metrics
    champion_version: str | None = None
    champion_metrics: Metrics | None = None
    gain: Gain | None = None
    report_sha256: str
    model_sha256: str
    data_hash: str
    data_accounting: DataAccounting
    samples: dict[str, SampleCount]
    gaps: list[str] = []
    report_key: str
    trigger: str | None = None
    quorum: int = 1
    champion_line: str | None = None
    fairness: Fairness | None = None
    algorithm: str = "xgboost"
    monotone: list[Monotone] = []
    scorecard: ScorecardReview | None = None
    superseded: list[str] = []  # the waiting candidates this one closed (the mail names them)
    # what the technical file reads besides the stores (ml.governance.technical_file)
    registered_at: str
    window: tuple[str, str]
    calibration: list[CalibrationRow] = []
    threshold_rationale: str = ""
    feature_importance: list[tuple[str, int | float]] = []
    features: list[str] = []
    psi_vs_champion: Stability | None = None
    # set once the technical file is rendered from the rest (it cannot name its own hash)
    technical_file_key: str | None = None
    technical_file_sha256: str | None = None

    @property
    def key(self) -> str:
        """Where this summary is stored."""
        return summary_key(self.dataset, self.version)


class RetrainPointer(Contract):
    """A retraining run's pointer to the version it registered and that version's summary."""

    version: str
    candidate: str  # the storage key of its CandidateSummary


def summary_key(dataset: str, version: str) -> str:
    return layout.candidate(dataset, version, "candidate.json")


def read_summary(storage: Storage, key: str) -> CandidateSummary:
    """The candidate summary stored at `key`."""
    return contracts.read(storage, key, CandidateSummary)


def read_pointer(storage: Storage, dataset: str, run_key: str) -> RetrainPointer:
    """The pointer a retraining run (`run_key`) left; a missing one is the storage's own error."""
    return contracts.read(storage, layout.retrain_run(dataset, run_key), RetrainPointer)


def candidate_of_run(storage: Storage, dataset: str, run_key: str) -> CandidateSummary:
    """The candidate a retraining run registered, through its pointer."""
    return read_summary(storage, read_pointer(storage, dataset, run_key).candidate)


def roundtrip(summary: CandidateSummary) -> CandidateSummary:
    """The summary as it reads back from candidate.json: the stored file has sorted keys, so every free-form part
    iterates in the stored order (what a re-render of the technical file starts from)."""
    stored = json.dumps(contracts.to_json(summary), sort_keys=True, default=str)
    return CandidateSummary.model_validate(json.loads(stored))
