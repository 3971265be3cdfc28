"""Weekly backtest on matured labels: production scores joined with the outcomes known on the as-of date,
judged per ISO week and model version and over the window, and a label-free estimate for the weeks after.

Which weeks. A row has matured when its application date + the maturity lag <= the as-of date, so the last
matured day is as-of - lag. The judged window is the `weeks` ISO weeks ending with that day's week; the
estimate covers the ISO weeks after it up to the as-of date's (the last `weeks` of them). In a partly
matured week the rows not matured yet are counted and kept out of every realised metric.

Which scores. A day's record is its latest scoring (the scoring manifest's `scored_at`); each row is judged
with the version that scored it, and results are per version.

Fair lending. Per fairness attribute and group of the matured rows (their groups from the curated day, whose
rows are the scored ones in order): approval rate and adverse impact ratio of the recorded decisions, default
rate, mean PD and the approved book's bad rate, per week and over the window (`ml.fairness`).

Reviews. With the reviewers' decisions (`ml.monitor.reviews`, accepted and joined to the scored rows), every
day read (judged and estimated weeks) adds its rows sent to review, decided and overridden per band, and every
matured day the outcomes of the reviewer-approved and policy-approved rows (`ml.monitor.overrides`).

Memory. One week of rows at a time: only the id, pd, score, band and decision columns of the scores, the
labels of the week's days and the curated days' fairness attributes. The window's statistics come from counts
that weeks add up, including a fine histogram of PDs for its AUC, DeLong interval and KS
(`ml.ranking.LogitHistogram`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from ml import fairness as fairness_stats
from ml import layout, metrics
from ml.data.labels import label_files, read_labels
from ml.dates import iso_week
from ml.errors import MissingDataError, RiskopsError
from ml.model.riskmodel import RiskModel
from ml.monitor import overrides as override_rates
from ml.monitor.bands import BandCounts, BandTests, band_tests, herfindahl
from ml.monitor.challenger import Comparison, ShadowCounts, score_in_memory
from ml.monitor.estimate import Estimate, estimate
from ml.monitor.fair_lending import check_rows
from ml.ranking import AucVariance, LogitHistogram, auc_drop_test, auc_variance, ks, rank_counts
from ml.spec import Backtest as BacktestSpec
from ml.spec import DatasetSpec
from ml.storage import Storage
from ml.versions import version_key

PERCENTILES = (5, 25, 50, 75, 95)
COLUMNS = ["id", "pd", "score", "band", "decision"]
APPROVE = "approve"
REVIEW = "review"


# ------------------------------------------------------------------------------------------ inputs

@dataclass(frozen=True)
class ModelFacts:
    """What the backtest needs to know of a version that scored rows (read from the registry by the caller)."""

    version: str
    threshold: float
    beta: float
    development_auc: float | None = None  # out-of-time test AUC recorded at training
    development_band_rows: dict[str, float] | None = None  # rows per band of that test sample


@dataclass(frozen=True)
class ScoredDay:
    day: dt.date
    version: str
    matured: bool


@dataclass(frozen=True)
class Week:
    label: str  # ISO week, e.g. 2026-W27
    first_day: dt.date
    last_day: dt.date
    days: list[ScoredDay]  # the days with scores


@dataclass(frozen=True)
class Plan:
    """The weeks a backtest reads, and which version's scores are each day's record."""

    dataset: str
    as_of: dt.date
    maturity_lag_days: int
    last_matured_day: dt.date
    judged: list[Week]
    estimated: list[Week]

    @property
    def versions(self) -> list[str]:
        return sorted({d.version for w in self.judged + self.estimated for d in w.days}, key=version_key)


# ----------------------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Performance:
    """Realised performance on matured rows; rates are fractions."""

    rows: int
    defaults: int
    default_rate: float
    mean_pd: float
    auc: float
    auc_se: float
    auc_low: float
    auc_high: float
    gini: float
    ks: float
    brier: float
    log_loss: float
    threshold: float
    precision: float
    recall: float
    fbeta: float
    approval_rate: float
    approved_default_rate: float


@dataclass(frozen=True)
class WeekResult:
    week: str
    first_day: str
    last_day: str
    version: str
    rows_scored: int
    rows_matured: int
    rows_unmatured: int  # scored, not matured on the as-of date: in no realised metric
    performance: Performance | None  # None without matured rows
    bands: BandTests | None
    estimate: Estimate  # label-free, over all the week's scored rows
    rows_unknown_outcome: int = 0  # matured, but their outcome is unknown (label.positive/negative): left out
    # per fairness attribute, its groups on the matured rows: approval rate and ratio of the recorded decisions,
    # default rate, mean PD and the approved book's bad rate (ml.fairness.judge)
    fairness: list[list[fairness_stats.GroupRow]] = field(default_factory=list)


@dataclass(frozen=True)
class VersionResult:
    """One version over the judged window, against its development sample."""

    version: str
    weeks: list[str]
    performance: Performance
    bands: BandTests
    development_auc: float | None
    auc_drop_z: float
    auc_drop_p: float
    development_band_rows: dict[str, float] | None
    development_herfindahl: float | None
    alerts: list[str]
    fairness: list[list[fairness_stats.GroupRow]] = field(default_factory=list)  # as WeekResult's, over the window


@dataclass(frozen=True)
class DayPercentiles:
    """Score percentiles (points) of one day's scored rows."""

    day: str
    version: str
    rows: int
    p5: float
    p25: float
    p50: float
    p75: float
    p95: float


@dataclass(frozen=True)
class BacktestResult:
    dataset: str
    as_of: str
    maturity_lag_days: int
    last_matured_day: str
    judged_weeks: list[str]
    estimated_weeks: list[str]
    weeks: list[WeekResult]
    versions: list[VersionResult]
    percentiles: list[DayPercentiles]
    challenger: Comparison | None
    notes: list[str]
    overrides: override_rates.Overrides | None = None  # the reviewers against the model (None: reviews not read)

    @property
    def alerts(self) -> list[str]:
        return [a for v in self.versions for a in v.alerts] + (self.overrides.alerts if self.overrides else [])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# -------------------------------------------------------------------------------------------- plan

def record_version(storage: Storage, dataset: str, day: dt.date) -> str | None:
    """The version whose scoring of `day` is the record (the latest `scored_at`); None if never scored."""
    latest: tuple[str, tuple[int, int, str]] | None = None
    version = None
    for key in storage.list_files(layout.score_manifests(dataset, day)):
        manifest = storage.read_json(key)
        try:
            candidate = (str(manifest["scored_at"]), version_key(str(manifest["model_version"])))
        except (KeyError, TypeError) as exc:
            raise RiskopsError(f"{storage.url(key)} is not a scoring manifest (no scored_at / model_version)") from exc
        if latest is None or candidate > latest:
            latest, version = candidate, str(manifest["model_version"])
    return version


def plan(storage: Storage, spec: DatasetSpec, as_of: dt.date, weeks: int = 12) -> Plan:
    """The judged and estimated weeks as of `as_of` and the scored days in each."""
    if weeks < 1:
        raise RiskopsError(f"weeks must be at least 1, not {weeks}")
    lag = spec.label.maturity_lag_days
    last = as_of - dt.timedelta(days=lag)
    last_monday = last - dt.timedelta(days=last.weekday())
    after = (as_of - dt.timedelta(days=as_of.weekday()) - last_monday).days // 7
    judged = [last_monday - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    estimated = [last_monday + dt.timedelta(weeks=i) for i in range(max(1, after - weeks + 1), after + 1)]

    def week(monday: dt.date) -> Week:
        days = [monday + dt.timedelta(days=i) for i in range(7)]
        scored = [ScoredDay(d, v, d <= last) for d in days if d <= as_of
                  for v in [record_version(storage, spec.name, d)] if v is not None]
        return Week(iso_week(monday), monday, days[-1], scored)

    return Plan(spec.name, as_of, lag, last, [week(m) for m in judged], [week(m) for m in estimated])


# ------------------------------------------------------------------------------------- aggregation

@dataclass
class Sums:
    """Additive facts of matured rows: enough for every realised metric except the ranking ones."""

    rows: int = 0
    defaults: int = 0
    pd_sum: float = 0.0
    brier_sum: float = 0.0
    log_loss_sum: float = 0.0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    approved: int = 0
    approved_defaults: int = 0

    def add_rows(self, y: NDArray[np.int64], p: NDArray[np.float64], approved: NDArray[np.bool_],
                 threshold: float) -> None:
        n = len(y)
        if n == 0:
            return
        counts = metrics.classification_at(y, p, threshold)
        self.merge(Sums(n, int(y.sum()), float(p.sum()), metrics.brier(y, p) * n, metrics.log_loss(y, p) * n,
                        counts["tp"], counts["fp"], counts["fn"], counts["tn"], int(approved.sum()),
                        int(y[approved].sum())))

    def merge(self, other: "Sums") -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def performance(sums: Sums, ranking: AucVariance, ks_: float, facts: ModelFacts) -> Performance:
    """Realised performance from additive sums and the ranking statistics."""
    n = sums.rows
    low, high = ranking.interval()
    c = metrics.classification_from_counts(sums.tp, sums.fp, sums.fn, sums.tn, facts.beta)
    return Performance(
        rows=n, defaults=sums.defaults, default_rate=sums.defaults / n, mean_pd=sums.pd_sum / n,
        auc=ranking.auc, auc_se=ranking.se, auc_low=low, auc_high=high, gini=2 * ranking.auc - 1, ks=ks_,
        brier=sums.brier_sum / n, log_loss=sums.log_loss_sum / n, threshold=facts.threshold,
        precision=c["precision"], recall=c["recall"], fbeta=c["fbeta"], approval_rate=sums.approved / n,
        approved_default_rate=sums.approved_defaults / sums.approved if sums.approved else float("nan"))


@dataclass
class _WeekRows:
    """One week and version: its rows as arrays until the week is summarised."""

    pd: list[NDArray[np.float64]] = field(default_factory=list)  # matured rows
    y: list[NDArray[np.int64]] = field(default_factory=list)
    all_pd: list[NDArray[np.float64]] = field(default_factory=list)  # every scored row
    unknown: int = 0  # matured rows with an unknown outcome
    sums: Sums = field(default_factory=Sums)
    bands: BandCounts = field(default_factory=BandCounts)
    groups: list[fairness_stats.GroupCounts] = field(default_factory=list)  # per fairness attribute


@dataclass
class _Window:
    """One version over the judged window: counts only."""

    weeks: list[str] = field(default_factory=list)
    sums: Sums = field(default_factory=Sums)
    bands: BandCounts = field(default_factory=BandCounts)
    histogram: LogitHistogram = field(default_factory=LogitHistogram.empty)
    groups: list[fairness_stats.GroupCounts] = field(default_factory=list)


def _merge_groups(into: list[fairness_stats.GroupCounts], counts: list[fairness_stats.GroupCounts]) -> None:
    if not into:
        into.extend(fairness_stats.GroupCounts(c.attribute, c.kind, c.reference) for c in counts)
    for target, c in zip(into, counts):
        target.merge(c)


def _day_groups(storage: Storage, spec: DatasetSpec, day: dt.date, ids: pa.ChunkedArray
                ) -> list[tuple[NDArray[np.int64], list[str]]]:
    """Each fairness attribute's group codes of a scored day's rows (its curated rows, checked to be the same)."""
    key = layout.curated(spec.name, day)
    if not storage.exists(key):
        raise MissingDataError(f"{spec.name} {day}: scored, but {storage.url(key)} is missing, so its rows' fairness "
                               "groups cannot be read; re-run preprocess and score for that date")
    with storage.open_read(key) as fh:
        curated = pq.read_table(fh, columns=list(dict.fromkeys([spec.id_column,
                                                                *(a.column for a in spec.fairness.attributes)])))
    check_rows(spec, day, ids, curated.column(spec.id_column))
    return [fairness_stats.group_codes(curated.column(a.column), a, spec) for a in spec.fairness.attributes]


def _categories(column: pa.ChunkedArray) -> tuple[NDArray[np.int64], list[str]]:
    """Codes and names of a categorical column (dictionary-encoded in scores files); null is `(missing)`."""
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    names = [str(v) for v in array.dictionary.to_pylist()]
    codes = pc.fill_null(array.indices, len(names)).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, names + ["(missing)"]


def _arrival(key: str) -> str:
    """Label files in arrival order: by their folder (date=A), then name."""
    return key.rsplit("/", 2)[-2] + "/" + key.rsplit("/", 1)[-1]


def _read_scores(storage: Storage, dataset: str, day: ScoredDay) -> pa.Table:
    with storage.open_read(layout.scores(dataset, day.day, day.version)) as fh:
        return pq.read_table(fh, columns=COLUMNS).unify_dictionaries()


def _outcomes(labels: pa.Table, day: dt.date, ids: pa.Array, dataset: str) -> tuple[NDArray[np.int64],
                                                                                    NDArray[np.bool_]]:
    """The outcome (1 or 0) of every scored row of a matured day whose outcome is known, and which rows those
    are: an unknown outcome (null, `ml.data.labels.outcome_codes`) is left out; a row without a label is an
    error, never dropped."""
    of_day = labels.filter(pc.equal(labels["application_date"], pa.scalar(day, pa.date32())))
    index = pc.index_in(ids, value_set=of_day["id"].combine_chunks())
    if index.null_count:
        raise MissingDataError(f"{index.null_count} of {len(ids)} scored rows of {dataset} on {day} have matured "
                               f"but have no label; check {layout.labels_root(dataset)}")
    y = pc.take(of_day["label"], index)
    known = pc.is_valid(y).to_numpy(zero_copy_only=False)
    return pc.drop_null(y).to_numpy().astype(np.int64), known


def _add_bands(counts: BandCounts, codes: NDArray[np.int64], names: list[str], y: NDArray[np.int64],
               p: NDArray[np.float64]) -> None:
    k = len(names)
    rows, bads, pds = (np.bincount(codes, w, k) for w in (None, y, p))
    for i in np.flatnonzero(rows):
        counts.add(names[i], float(rows[i]), float(bads[i]), float(pds[i]))


def _review_codes(reviews: pd.DataFrame) -> dict[dt.date, tuple[pa.Array, NDArray[np.int64]]]:
    """Per application date: the reviewed ids and their decisions as `ml.monitor.overrides` codes."""
    out: dict[dt.date, tuple[pa.Array, NDArray[np.int64]]] = {}
    for day, rows in reviews.groupby("application_date", sort=False):
        codes = np.where(rows["decision"].to_numpy() == APPROVE, override_rates.APPROVE, override_rates.DECLINE).astype(np.int64)
        out[cast(dt.date, day)] = (pa.array(rows["id"].astype(str).tolist(), pa.string()), codes)
    return out


def _reviewer(reviewed: tuple[pa.Array, NDArray[np.int64]] | None, ids: pa.Array) -> NDArray[np.int64]:
    """Each scored row's reviewer decision (override_rates.APPROVE, override_rates.DECLINE, or override_rates.NO_DECISION)."""
    if reviewed is None:
        return np.full(len(ids), override_rates.NO_DECISION, np.int64)
    index = pc.index_in(ids, value_set=reviewed[0])
    found = pc.is_valid(index).to_numpy(zero_copy_only=False)
    out = np.full(len(ids), override_rates.NO_DECISION, np.int64)
    out[found] = reviewed[1][pc.drop_null(index).to_numpy()]
    return out


def run(storage: Storage, spec: DatasetSpec, plan_: Plan, facts: Mapping[str, ModelFacts],
        challenger: tuple[str, RiskModel] | None = None, reviews: pd.DataFrame | None = None) -> BacktestResult:
    """Read the planned weeks one at a time and judge them; `facts` holds every version of the plan, and the
    `challenger` (version, model), if any, scores the matured days in memory. With `reviews` (accepted
    decisions, `ml.monitor.reviews.Reviews.accepted`) the result holds the reviewers' figures."""
    missing = [v for v in plan_.versions if v not in facts]
    if missing:
        raise RiskopsError(f"no model facts for version(s) {', '.join(missing)} of {spec.name}")
    settings = spec.monitoring.backtest
    windows: dict[str, _Window] = {}
    shadow = ShadowCounts() if challenger else None
    weeks: list[WeekResult] = []
    percentiles: list[DayPercentiles] = []
    judged = {w.label for w in plan_.judged}
    files = label_files(storage, spec, plan_.as_of)
    reviewed = _review_codes(reviews) if reviews is not None else {}
    review_counts: override_rates.Counts = {}
    for week in plan_.judged + plan_.estimated:
        matured = [d.day for d in week.days if d.matured]
        keys = [k for day in [*matured, None] for k in files.get(day, [])] if matured else []
        labels = read_labels(storage, spec, plan_.as_of, sorted(keys, key=_arrival))
        rows: dict[str, _WeekRows] = {}
        for day in week.days:
            table = _read_scores(storage, spec.name, day)
            p = table.column("pd").to_numpy()
            score = table.column("score").to_numpy()
            if len(score):
                percentiles.append(DayPercentiles(day.day.isoformat(), day.version, len(score),
                                                  *(float(v) for v in np.percentile(score, PERCENTILES))))
            acc = rows.setdefault(day.version, _WeekRows())
            acc.all_pd.append(p)
            reviewer = _reviewer(reviewed.get(day.day), table.column("id").combine_chunks())
            if reviews is not None and len(p):
                decision, decisions = _categories(table.column("decision"))
                sent = decision == decisions.index(REVIEW) if REVIEW in decisions else np.zeros(len(p), bool)
                override_rates.add_reviews(review_counts, *_categories(table.column("band")), sent,
                               override_rates.suggestion(p, facts[day.version].threshold), reviewer)
            if not day.matured or len(p) == 0:
                continue
            y, known = _outcomes(labels, day.day, table.column("id").combine_chunks(), spec.name)
            groups = _day_groups(storage, spec, day.day, table.column("id")) if spec.fairness.attributes else []
            acc.unknown += int((~known).sum())
            if not known.all():  # rows with an unknown outcome are in no realised metric
                table, p, reviewer = table.filter(pa.array(known)), p[known], reviewer[known]
            ids = table.column("id").combine_chunks()
            decision, decisions = _categories(table.column("decision"))
            approved = decision == decisions.index(APPROVE) if APPROVE in decisions else np.zeros(len(y), bool)
            acc.pd.append(p)
            acc.y.append(y)
            acc.sums.add_rows(y, p, approved, facts[day.version].threshold)
            _add_bands(acc.bands, *_categories(table.column("band")), y, p)
            if reviews is not None:
                override_rates.add_outcomes(review_counts, *_categories(table.column("band")), approved, reviewer == override_rates.APPROVE, y)
            _merge_groups(acc.groups, [fairness_stats.count_groups(codes[known], names, a, approved, y, p)
                                       for a, (codes, names) in zip(spec.fairness.attributes, groups)])
            if shadow is not None and challenger is not None:
                shadow.add(y, p, approved, *score_in_memory(storage, spec, day.day, challenger[1], ids))
        for version in sorted(rows, key=version_key):
            acc = rows[version]
            weeks.append(_week_result(week, version, acc, facts[version], settings.alpha, spec))
            if acc.sums.rows and week.label in judged:
                window = windows.setdefault(version, _Window())
                window.weeks.append(week.label)
                window.sums.merge(acc.sums)
                window.bands.merge(acc.bands)
                _merge_groups(window.groups, acc.groups)
                for p, y in zip(acc.pd, acc.y):
                    window.histogram.add(p, y.astype(float), 1.0 - y)
    versions = [_version_result(v, windows[v], facts[v], settings, spec) for v in sorted(windows, key=version_key)]
    comparison = shadow.compare(challenger[0]) if shadow is not None and challenger and shadow.swap_rows.sum() else None
    return BacktestResult(
        dataset=spec.name, as_of=plan_.as_of.isoformat(), maturity_lag_days=plan_.maturity_lag_days,
        last_matured_day=plan_.last_matured_day.isoformat(), judged_weeks=[w.label for w in plan_.judged],
        estimated_weeks=[w.label for w in plan_.estimated], weeks=weeks, versions=versions, percentiles=percentiles,
        challenger=comparison, notes=_notes(plan_, weeks),
        overrides=None if reviews is None else override_rates.summarise(review_counts, spec.oversight.override_rate))


def _week_result(week: Week, version: str, acc: _WeekRows, facts: ModelFacts, alpha: float,
                 spec: DatasetSpec) -> WeekResult:
    scored = sum(len(p) for p in acc.all_pd)
    perf = bands = None
    if acc.sums.rows:
        counts = rank_counts(np.concatenate(acc.pd), np.concatenate(acc.y))
        perf = performance(acc.sums, auc_variance(counts), ks(counts), facts)
        bands = band_tests(acc.bands, alpha)
    return WeekResult(week.label, week.first_day.isoformat(), week.last_day.isoformat(), version, scored,
                      acc.sums.rows, scored - acc.sums.rows - acc.unknown, perf, bands,
                      estimate(np.concatenate(acc.all_pd)), acc.unknown,
                      [fairness_stats.judge(g, spec.fairness) for g in acc.groups])


def _version_result(version: str, window: _Window, facts: ModelFacts, settings: BacktestSpec,
                    spec: DatasetSpec) -> VersionResult:
    counts = window.histogram.counts()
    ranking = auc_variance(counts)
    perf = performance(window.sums, ranking, ks(counts), facts)
    bands = band_tests(window.bands, settings.alpha)
    z, p = (auc_drop_test(facts.development_auc, ranking) if facts.development_auc is not None
            else (float("nan"), float("nan")))
    dev_hhi = herfindahl(list(facts.development_band_rows.values())) if facts.development_band_rows else None
    return VersionResult(version, window.weeks, perf, bands, facts.development_auc, z, p,
                         facts.development_band_rows, dev_hhi,
                         alerts(version, perf, bands, facts.development_auc, p, settings),
                         [fairness_stats.judge(g, spec.fairness) for g in window.groups])


def alerts(version: str, perf: Performance, bands: BandTests, development_auc: float | None, drop_p: float,
           settings: BacktestSpec) -> list[str]:
    """What the risk team must hear about a version: a significant AUC drop, more Jeffreys rejections than the
    spec allows, a rank-order inversion."""
    out = []
    if math.isfinite(drop_p) and drop_p < settings.alpha:
        out.append(f"version {version}: AUC {perf.auc:.4f} is significantly below {development_auc:.4f} at "
                   f"development (one-sided p = {drop_p:.4f} < {settings.alpha:g})")
    if bands.rejected_bands > settings.max_rejected_bands:
        names = ", ".join(b.band for b in bands.bands if b.rejected)
        out.append(f"version {version}: the Jeffreys test rejects the PD of {bands.rejected_bands} bands ({names}) "
                   f"at {settings.alpha:g}; the spec allows {settings.max_rejected_bands}")
    rate = {b.band: b.observed_rate for b in bands.bands}
    for worse, better in bands.inversions:
        out.append(f"version {version}: rank-order inversion: band {better} defaults more than band {worse} "
                   f"({rate[better]:.2%} vs {rate[worse]:.2%})")
    return out


def _notes(plan_: Plan, weeks: list[WeekResult]) -> list[str]:
    notes = []
    if not any(w.rows_matured for w in weeks):
        notes.append(f"No matured rows as of {plan_.as_of}: a row matures {plan_.maturity_lag_days} days after its "
                     f"application date, so only days up to {plan_.last_matured_day} count, and none of the judged "
                     f"weeks {plan_.judged[0].label}..{plan_.judged[-1].label} has scores on them.")
    unscored = [w for w in plan_.judged + plan_.estimated if not w.days]
    if unscored:
        notes.append(f"No scored rows in {_spans(unscored)}.")
    gap = (plan_.estimated[0].first_day - plan_.judged[-1].first_day).days // 7 - 1
    if gap > 0:
        notes.append(f"The {gap} weeks between the judged window and the last {len(plan_.estimated)} weeks are not "
                     "read: a longer window (--weeks) shows them.")
    return notes


def _spans(weeks: list[Week]) -> str:
    """Consecutive weeks as ranges: 2026-W18..2026-W26, 2026-W32."""
    runs: list[list[Week]] = []
    for w in weeks:
        if runs and (w.first_day - runs[-1][-1].first_day).days == 7:
            runs[-1].append(w)
        else:
            runs.append([w])
    return ", ".join(r[0].label if len(r) == 1 else f"{r[0].label}..{r[-1].label}" for r in runs)

