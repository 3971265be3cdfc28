"""What a retraining hands the approval, the mails, the technical file and the DAG's next tasks.

- `CandidateSummary`: `candidates/<ds>/v=V/candidate.json`, written once by `ml.retraining.retrain.publish`;
- `RetrainPointer`: `runs/retrain/<ds>/<run key>.json`, the retraining run's pointer to the version it made.

Both are read only through these models (`ml.contracts`). The fairness review and the scorecard side by side are
kept as their own `to_dict()` wrote them (`ml.model.fairness_review`, `ml.model.scorecard_review`): the
candidate report checks their shape where it draws them.
"""

from __future__ import annotations

from pydantic import JsonValue

from ml import contracts, layout
from ml.contracts import Contract, Part
from ml.storage import Storage

JsonObject = dict[str, JsonValue]


class Metrics(Part):
    """`ml.model.evaluate.evaluate`'s headline metrics of one model on the out-of-time test."""

    n: int
    positives: int
    positive_rate: float
    auc: float
    auc_se: float
    auc_low: float
    auc_high: float
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
    csi: float | None
    light: str


class Stability(Part):
    """`ml.bins.stability` of the development sample on the champion's reference bins."""

    eps: float
    features: dict[str, FeatureStability]
    score_psi: float | None
    score_light: str
    thresholds: dict[str, float]


class Monotone(Part):
    """`ml.model.partial_dependence.MonotoneCheck` as stored."""

    feature: str
    direction: str
    grid: list[float]
    pd: list[float]
    holds: bool


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
    fairness: JsonObject | None = None  # ml.model.fairness_review.Review.to_dict()
    algorithm: str = "xgboost"
    monotone: list[Monotone] = []
    scorecard: JsonObject | None = None  # ml.model.scorecard_review.Review.to_dict()
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
