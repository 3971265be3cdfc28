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

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from ml import fairness as fairness_stats
from ml import layout, metrics
from ml.data.labels import label_files, read_labels
from ml.dates import iso_week
from ml.errors import RiskopsError
from ml.model.riskmodel import RiskModel
from ml.monitor import backtest_rows as rows
from ml.monitor import overrides as override_rates
from ml.monitor.backtest_results import BacktestResult as BacktestResult  # callers name it backtest.BacktestResult
from ml.monitor.backtest_results import DayPercentiles, VersionResult, WeekResult
from ml.monitor.backtest_results import Performance as Performance
from ml.monitor.backtest_rows import APPROVE, REVIEW
from ml.monitor.bands import BandCounts, BandTests, band_tests, herfindahl
from ml.monitor.challenger import Comparison, ShadowCounts, score_in_memory
from ml.monitor.estimate import estimate
from ml.ranking import AucVariance, LogitHistogram, auc_drop_test, auc_variance, ks, rank_counts
from ml.scoring.manifests import read_score_manifest
from ml.spec import Backtest as BacktestSpec
from ml.spec import DatasetSpec
from ml.storage import Storage
from ml.versions import version_key

PERCENTILES = (5, 25, 50, 75, 95)


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


# -------------------------------------------------------------------------------------------- plan

def record_version(storage: Storage, dataset: str, day: dt.date) -> str | None:
    """The version whose scoring of `day` is the record (the latest `scored_at`); None if never scored."""
    latest: tuple[str, tuple[int, int, str]] | None = None
    version = None
    for key in storage.list_files(layout.score_manifests(dataset, day)):
        manifest = read_score_manifest(storage, key)
        candidate = (manifest.scored_at, version_key(manifest.model_version))
        if latest is None or candidate > latest:
            latest, version = candidate, manifest.model_version
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
    for target, c in zip(into, counts, strict=True):
        target.merge(c)


@dataclass(frozen=True)
class _Matured:
    """A matured day's rows whose outcome is known, as every realised figure reads them."""

    version: str
    day: dt.date
    table: pa.Table
    p: NDArray[np.float64]
    y: NDArray[np.int64]
    approved: NDArray[np.bool_]
    reviewer: NDArray[np.int64]
    groups: list[fairness_stats.GroupCounts]  # per fairness attribute
    unknown: int  # matured rows left out: their outcome is unknown


def _matured(storage: Storage, spec: DatasetSpec, labels: pa.Table, day: ScoredDay, table: pa.Table,
             reviewer: NDArray[np.int64]) -> _Matured:
    """A matured day's rows with their outcomes and groups; rows with an unknown outcome are in no realised metric."""
    p = table.column("pd").to_numpy()
    y, known = rows.outcomes(labels, day.day, table.column("id").combine_chunks(), spec.name)
    groups = rows.day_groups(storage, spec, day.day, table.column("id")) if spec.fairness.attributes else []
    if not known.all():
        table, p, reviewer = table.filter(pa.array(known)), p[known], reviewer[known]
    decision, decisions = rows.categories(table.column("decision"))
    approved = decision == decisions.index(APPROVE) if APPROVE in decisions else np.zeros(len(y), bool)
    counts = [fairness_stats.count_groups(codes[known], names, a, approved, y, p)
              for a, (codes, names) in zip(spec.fairness.attributes, groups, strict=True)]
    return _Matured(day.version, day.day, table, p, y, approved, reviewer, counts, int((~known).sum()))


class _Reviews:
    """The reviewers' figures: rows sent to review, decided and overridden per band on every day read, and the
    outcomes of reviewer- and policy-approved rows on matured days (`ml.monitor.overrides`)."""

    def __init__(self, reviews: pd.DataFrame | None) -> None:
        self.read = reviews is not None
        self._reviewed = rows.review_codes(reviews) if reviews is not None else {}
        self.counts: override_rates.Counts = {}

    def day(self, day: dt.date, table: pa.Table, threshold: float) -> NDArray[np.int64]:
        """Count a scored day's reviews; returns each row's reviewer decision."""
        reviewer = rows.reviewer_decisions(self._reviewed.get(day), table.column("id").combine_chunks())
        p = table.column("pd").to_numpy()
        if self.read and len(p):
            decision, decisions = rows.categories(table.column("decision"))
            sent = decision == decisions.index(REVIEW) if REVIEW in decisions else np.zeros(len(p), bool)
            override_rates.add_reviews(self.counts, *rows.categories(table.column("band")), sent,
                                       override_rates.suggestion(p, threshold), reviewer)
        return reviewer

    def outcomes(self, m: _Matured) -> None:
        if self.read:
            override_rates.add_outcomes(self.counts, *rows.categories(m.table.column("band")), m.approved,
                                        m.reviewer == override_rates.APPROVE, m.y)

    def summary(self, spec: DatasetSpec) -> override_rates.Overrides | None:
        return override_rates.summarise(self.counts, spec.oversight.override_rate) if self.read else None


class _Shadow:
    """The waiting challenger scoring the matured rows in memory, against the recorded decisions."""

    def __init__(self, storage: Storage, spec: DatasetSpec, challenger: tuple[str, RiskModel]) -> None:
        self.storage, self.spec, self.challenger, self.counts = storage, spec, challenger, ShadowCounts()

    def add(self, m: _Matured) -> None:
        ids = m.table.column("id").combine_chunks()
        self.counts.add(m.y, m.p, m.approved, *score_in_memory(self.storage, self.spec, m.day, self.challenger[1], ids))

    def comparison(self) -> Comparison | None:
        return self.counts.compare(self.challenger[0]) if self.counts.swap_rows.sum() else None


def _add_matured(acc: _WeekRows, m: _Matured, threshold: float) -> None:
    """A matured day's rows into its week's metrics, bands and fairness groups."""
    acc.unknown += m.unknown
    acc.pd.append(m.p)
    acc.y.append(m.y)
    acc.sums.add_rows(m.y, m.p, m.approved, threshold)
    rows.add_bands(acc.bands, *rows.categories(m.table.column("band")), m.y, m.p)
    _merge_groups(acc.groups, m.groups)


def _add_week(window: _Window, label: str, acc: _WeekRows) -> None:
    """A judged week's counts into its version's window."""
    window.weeks.append(label)
    window.sums.merge(acc.sums)
    window.bands.merge(acc.bands)
    _merge_groups(window.groups, acc.groups)
    for p, y in zip(acc.pd, acc.y, strict=True):
        window.histogram.add(p, y.astype(float), 1.0 - y)


def _percentiles(day: ScoredDay, score: NDArray[np.float64]) -> list[DayPercentiles]:
    if not len(score):
        return []
    return [DayPercentiles(day.day.isoformat(), day.version, len(score),
                           *(float(v) for v in np.percentile(score, PERCENTILES)))]


def run(storage: Storage, spec: DatasetSpec, plan_: Plan, facts: Mapping[str, ModelFacts],
        challenger: tuple[str, RiskModel] | None = None, reviews: pd.DataFrame | None = None) -> BacktestResult:
    """Read the planned weeks one at a time and judge them; `facts` holds every version of the plan, and the
    `challenger` (version, model), if any, scores the matured days in memory. With `reviews` (accepted
    decisions, `ml.monitor.reviews.Reviews.accepted`) the result holds the reviewers' figures."""
    missing = [v for v in plan_.versions if v not in facts]
    if missing:
        raise RiskopsError(f"no model facts for version(s) {', '.join(missing)} of {spec.name}")
    windows: dict[str, _Window] = {}
    shadow = _Shadow(storage, spec, challenger) if challenger else None
    review = _Reviews(reviews)
    weeks: list[WeekResult] = []
    percentiles: list[DayPercentiles] = []
    judged = {w.label for w in plan_.judged}
    files = label_files(storage, spec, plan_.as_of)
    for week in plan_.judged + plan_.estimated:
        matured = [d.day for d in week.days if d.matured]
        keys = [k for day in [*matured, None] for k in files.get(day, [])] if matured else []
        labels = read_labels(storage, spec, plan_.as_of, sorted(keys, key=rows.arrival))
        accs: dict[str, _WeekRows] = {}
        for day in week.days:
            table = rows.read_scores(storage, spec.name, day.day, day.version)
            percentiles += _percentiles(day, table.column("score").to_numpy())
            accs.setdefault(day.version, _WeekRows()).all_pd.append(table.column("pd").to_numpy())
            reviewer = review.day(day.day, table, facts[day.version].threshold)
            if not day.matured or len(table) == 0:
                continue
            m = _matured(storage, spec, labels, day, table, reviewer)
            _add_matured(accs[day.version], m, facts[day.version].threshold)
            review.outcomes(m)
            if shadow is not None:
                shadow.add(m)
        for version in sorted(accs, key=version_key):
            weeks.append(_week_result(week, version, accs[version], facts[version], spec.monitoring.backtest.alpha,
                                      spec))
            if accs[version].sums.rows and week.label in judged:
                _add_week(windows.setdefault(version, _Window()), week.label, accs[version])
    versions = [_version_result(v, windows[v], facts[v], spec.monitoring.backtest, spec)
                for v in sorted(windows, key=version_key)]
    return BacktestResult(
        dataset=spec.name, as_of=plan_.as_of.isoformat(), maturity_lag_days=plan_.maturity_lag_days,
        last_matured_day=plan_.last_matured_day.isoformat(), judged_weeks=[w.label for w in plan_.judged],
        estimated_weeks=[w.label for w in plan_.estimated], weeks=weeks, versions=versions, percentiles=percentiles,
        challenger=shadow.comparison() if shadow is not None else None, notes=_notes(plan_, weeks),
        overrides=review.summary(spec))


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

