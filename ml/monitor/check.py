"""The stability step (`python -m ml stability`, the stability DAG's main task).

For every scored day and model version: the day's counts from its scores (the PD) and curated features
(only the needed columns, one column at a time), graded against the model's reference; then its ISO week
and calendar month recomputed from their days' counts in the history. Everything goes into the history
(re-runs replace rows). What follows from the windows is decided here and left for the DAG's next tasks
in the run's summary (`layout.stability_run`): the alert mail to the risk team (windows newly amber or
red), the fairness alert (windows with a group's adverse impact ratio below the minimum, `fair_lending`),
the retraining request (a window red on the score PSI or on enough features, unless a candidate is
still waiting for approval), and the weekly PDF of every week the run completed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from ml import bins, layout, mails
from ml.data.labels import latest_arrival
from ml.dates import iso_week, window_end, window_start
from ml.errors import MissingDataError
from ml.monitor import alerts, fair_lending, stability, weekly
from ml.monitor.history import History, Record
from ml.monitor.stability_run import StabilityRun
from ml.spec import DatasetSpec
from ml.storage import Storage
from ml.versions import version_key

MERGED_FROM = (stability.ROWS, stability.SCORE_PSI, stability.SCORE_KS, stability.CSI, stability.KS)  # the day statistics whose details hold counts
RETRAIN_TRIGGER = "retrain_trigger"
REQUESTED, SUPPRESSED = "requested", "suppressed"


@dataclass(frozen=True)
class Window:
    """A judged window of one model version."""

    model_version: str
    kind: str
    start: dt.date
    stats: list[stability.Stat]

    def stat(self, statistic: str, feature: str = "") -> stability.Stat:
        return next(s for s in self.stats if s.statistic == statistic and s.feature == feature)

    @property
    def light(self) -> str | None:
        return self.stat(stability.OVERALL).light

    def records(self, dataset: str) -> list[Record]:
        return [Record(dataset, self.model_version, self.kind, self.start, s.statistic, s.feature, s.value, s.light,
                       s.detail) for s in self.stats]

    def summary(self) -> dict[str, Any]:
        overall, psi = self.stat(stability.OVERALL), self.stat(stability.SCORE_PSI)
        return {"model_version": self.model_version, "kind": self.kind, "start": self.start.isoformat(),
                "end": window_end(self.kind, self.start).isoformat(), "rows": int(self.stat(stability.ROWS).value or 0),
                "light": overall.light, "score_psi": psi.value, "score_light": psi.light,
                "score_critical": psi.detail.get("critical"), "reference_rows": psi.detail.get("m"),
                "red": overall.detail["red"], "amber": overall.detail["amber"]}


def scored_versions(storage: Storage, dataset: str, day: dt.date) -> list[str]:
    """The model versions that have a scores file for the day (not the fallback policy of a halted model)."""
    versions = [layout.folder_version(name) for name in storage.list_dirs(layout.scores_day(dataset, day))]
    return [v for v in versions if v != layout.FALLBACK and storage.exists(layout.scores(dataset, day, v))]


def _column(storage: Storage, key: str, name: str, categorical: bool) -> Any:
    with storage.open_read(key) as fh:
        return pq.read_table(fh, columns=[name], read_dictionary=[name] if categorical else None).column(name)


def count_day(storage: Storage, spec: DatasetSpec, day: dt.date, version: str,
              reference: stability.Reference) -> stability.WindowCounts:
    """A scored day's counts: the PD from its scores file, each feature from its curated file, read one column
    at a time (two at once) so memory holds a column, not the day."""
    scores_key, curated_key = layout.scores(spec.name, day, version), layout.curated(spec.name, day)
    if not storage.exists(curated_key):
        raise MissingDataError(f"{spec.name} {day}: scored by version {version} but {storage.url(curated_key)} "
                               "is missing; re-run preprocess and score for that date")

    def count(item: tuple[str, stability.Column]) -> stability.Counts:
        name, column = item
        if name == bins.SAMPLE_SCORE:
            return stability.count_column(_column(storage, scores_key, "pd", False), column, np.float64)
        return stability.count_column(_column(storage, curated_key, name, column.categorical), column)

    items = [(bins.SAMPLE_SCORE, reference.score), *reference.features.items()]
    with ThreadPoolExecutor(max_workers=2) as pool:  # sorting and parquet decoding release the GIL
        counted = dict(zip([name for name, _ in items], pool.map(count, items), strict=True))
    score = counted.pop(bins.SAMPLE_SCORE)
    return stability.WindowCounts(rows=int(score.bins.sum()), score=score, features=counted)


def _merged(history: History, spec: DatasetSpec, version: str, kind: str, start: dt.date,
            reference: stability.Reference) -> Window:
    """A week or month of one version from its days' counts in the history."""
    rows = history.read(spec.name, model_version=version, window_kind="day", since=start,
                        until=window_end(kind, start), statistics=MERGED_FROM)
    by_day: dict[dt.date, list[stability.Stat]] = defaultdict(list)
    for r in rows:
        by_day[r.window_start].append(stability.Stat(r.statistic, r.feature, r.value, r.light, r.detail))
    counts = stability.merge([stability.counts_from_stats(stats, reference) for _, stats in sorted(by_day.items())])
    days = [d.isoformat() for d in sorted(by_day)]  # which days the window is made of
    stats = [replace(s, detail={**s.detail, "days": days}) if s.statistic == stability.ROWS else s
             for s in stability.judge(counts, reference, spec.monitoring)]
    return Window(version, kind, start, stats)


def _trigger(history: History, spec: DatasetSpec, storage: Storage, windows: Sequence[Window],
             waiting: Callable[[], list[str]], run_key: str) -> dict[str, Any] | None:
    """The retraining request of this run: the windows that call for one and have not requested one yet.
    While a candidate waits for approval nothing is requested; that is recorded as suppressed."""
    calling = [(w, reason) for w in windows if w.light != stability.TOO_FEW_ROWS
               and (reason := stability.retrain_reason(w.stats, spec.monitoring))]
    if not calling:
        return None
    done = {(r.model_version, r.window_kind, r.window_start) for r in history.read(
        spec.name, statistics=[RETRAIN_TRIGGER], window_starts=sorted({w.start for w, _ in calling}))
        if r.detail.get("status") == REQUESTED}
    calling = [(w, reason) for w, reason in calling if (w.model_version, w.kind, w.start) not in done]
    if not calling:
        return None
    # the most recent day first: the freshest evidence is what the candidate's report names
    first, reason = max(calling, key=lambda c: (c[0].kind == "day", c[0].start))
    text = f"drift in {spec.name} ({first.kind} {first.start}, model v{first.model_version}): {reason}"
    if len(calling) > 1:
        text += f"; {len(calling) - 1} more window(s) call for a retraining"
    pending = waiting()
    status = SUPPRESSED if pending else REQUESTED
    detail = {"status": status, "reason": text, "run_key": run_key, "waiting": pending}
    history.write(Record(spec.name, w.model_version, w.kind, w.start, RETRAIN_TRIGGER, "", None, bins.RED,
                         {**detail, "window_reason": r}) for w, r in calling)
    # labels that have landed are the data's own clock: a retraining as of the newest one sees them all
    newest = max(d for d in [latest_arrival(storage, spec), max(w.start for w, _ in calling)] if d is not None)
    return {**detail, "as_of": newest.isoformat(), "windows": [w.summary() for w, _ in calling]}


def _scored(storage: Storage, spec: DatasetSpec, days: Sequence[dt.date],
            versions: Sequence[str] | None) -> dict[str, list[dt.date]]:
    """The days each model version scored (every version that scored them, or only `versions`)."""
    by_version: dict[str, list[dt.date]] = defaultdict(list)
    for day in days:
        for version in (versions if versions is not None else scored_versions(storage, spec.name, day)):
            if storage.exists(layout.scores(spec.name, day, version)):
                by_version[version].append(day)
    if not by_version:
        wanted = f" by version {', '.join(versions)}" if versions else ""
        raise MissingDataError(f"nothing scored{wanted} for '{spec.name}' between {min(days)} and {max(days)}: "
                               "score those days first")
    return dict(sorted(by_version.items(), key=lambda kv: version_key(kv[0])))


class _References:
    """Each model version's reference, loaded once per run."""

    def __init__(self, load: Callable[[str], stability.Reference]) -> None:
        self._load, self._loaded = load, dict[str, stability.Reference]()

    def __call__(self, version: str) -> stability.Reference:
        if version not in self._loaded:
            self._loaded[version] = self._load(version)
        return self._loaded[version]


@dataclass
class _Judged:
    """The windows a run judged (stability and fair lending), each written to the history as it is judged."""

    storage: Storage
    spec: DatasetSpec
    history: History
    reference: _References
    windows: list[Window] = field(default_factory=list)
    fair: list[fair_lending.FairWindow] = field(default_factory=list)

    def _keep(self, window: Window, groups: Callable[[], fair_lending.FairWindow]) -> None:
        self.history.write(window.records(self.spec.name))
        self.windows.append(window)
        if self.spec.fairness.attributes:
            fair = groups()
            self.history.write(fair.records(self.spec.name, self.spec.fairness.min_ratio))
            self.fair.append(fair)

    def day(self, version: str, day: dt.date) -> None:
        """A scored day, counted from its files."""
        reference = self.reference(version)
        counts = count_day(self.storage, self.spec, day, version, reference)
        self._keep(Window(version, "day", day, stability.judge(counts, reference, self.spec.monitoring)),
                   lambda: fair_lending.judged(self.spec, version, "day", day,
                                               fair_lending.count_day(self.storage, self.spec, day, version)))

    def merged(self, version: str, kind: str, start: dt.date) -> None:
        """A week or month, from its days' counts in the history."""
        self._keep(_merged(self.history, self.spec, version, kind, start, self.reference(version)),
                   lambda: fair_lending.merged(self.history, self.spec, version, kind, start))


def _weekly_reports(storage: Storage, spec: DatasetSpec, history: History, days: Sequence[dt.date],
                    reference: _References, now: dt.datetime) -> list[dict[str, Any]]:
    """Render and store the PDF of every week the run completed."""
    reports = []
    for start in weekly.weeks_to_report(history, spec.name, days):
        version, pdf = weekly.render(storage, spec, history, start, reference, now)
        key = layout.stability_report(spec.name, iso_week(start))
        storage.write_bytes(key, pdf)
        reports.append({"week": iso_week(start), "start": start.isoformat(), "key": key, "model_version": version})
    return reports


def _stability_alert(storage: Storage, spec: DatasetSpec, history: History, judged: _Judged,
                     run_key: str) -> dict[str, Any] | None:
    """The drift alert of the run's windows not alerted yet at their level, its chart stored beside the summary."""
    alerted = alerts.pending(history, spec.name, judged.windows)
    if not alerted:
        return None
    alert = alerts.compose(spec, alerted, judged.reference)
    chart = layout.stability_run(spec.name, run_key, ".png")
    storage.write_bytes(chart, alert.chart)
    return {"subject": alert.mail.subject, "html": alert.mail.html, "chart": chart,
            "windows": [w.summary() for w in alerted]}


def _fairness_alert(spec: DatasetSpec, history: History, judged: _Judged) -> dict[str, Any] | None:
    """The fair-lending alert of the run's windows red on evidence and not mailed yet."""
    unfair = fair_lending.pending(history, spec.name, judged.fair)
    if not unfair:
        return None
    mail = mails.fairness_alert(spec.name, [w.summary() for w in unfair], spec.fairness)
    return {"subject": mail.subject, "html": mail.html, "windows": [w.summary() for w in unfair]}


def check_stability(storage: Storage, spec: DatasetSpec, days: Sequence[dt.date], history: History,
                    load_reference: Callable[[str], stability.Reference], *, versions: Sequence[str] | None = None,
                    run_key: str | None = None, waiting: Callable[[], list[str]] = list,
                    now: dt.datetime | None = None) -> dict[str, Any]:
    """Monitor the scored days (every version that scored them, or only `versions`); returns the summary (a
    `StabilityRun` as JSON).

    `load_reference(version)` gives a model version's reference; `waiting()` the candidates still waiting for
    approval. Only a run with a `run_key` (the DAG's, whose next tasks send mails and asset events) decides
    alerts and retrainings and leaves a summary for those tasks; from a terminal the windows and weekly
    reports are computed and stored.
    """
    by_version = _scored(storage, spec, days, versions)
    judged = _Judged(storage, spec, history, _References(load_reference))
    for version, scored in by_version.items():
        for day in scored:
            judged.day(version, day)
        for kind in ("week", "month"):
            for start in sorted({window_start(kind, d) for d in scored}):
                judged.merged(version, kind, start)
    reports = _weekly_reports(storage, spec, history, [d for ds in by_version.values() for d in ds],
                              judged.reference, now or dt.datetime.now(dt.timezone.utc))
    summary: dict[str, Any] = {"version": StabilityRun.CURRENT, "dataset": spec.name,
                               "windows": [w.summary() for w in judged.windows], "reports": reports,
                               "fairness": [w.summary() for w in judged.fair]}
    if run_key is None:
        return StabilityRun.model_validate(summary).model_dump(mode="json")
    summary["alert"] = _stability_alert(storage, spec, history, judged, run_key)
    summary["fairness_alert"] = _fairness_alert(spec, history, judged)
    summary["trigger"] = _trigger(history, spec, storage, judged.windows, waiting, run_key)
    return StabilityRun.model_validate(summary).write(storage, layout.stability_run(spec.name, run_key))
