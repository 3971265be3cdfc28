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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from ml import bins, layout, mails
from ml.data.labels import latest_arrival
from ml.dates import iso_week, window_end, window_start
from ml.errors import MissingDataError
from ml.monitor import alerts, fair_lending, stability, weekly
from ml.monitor.history import History, Record
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
        counted = dict(zip([name for name, _ in items], pool.map(count, items)))
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


def check_stability(storage: Storage, spec: DatasetSpec, days: Sequence[dt.date], history: History,
                    load_reference: Callable[[str], stability.Reference], *, versions: Sequence[str] | None = None,
                    run_key: str | None = None, waiting: Callable[[], list[str]] = list,
                    now: dt.datetime | None = None) -> dict[str, Any]:
    """Monitor the scored days (every version that scored them, or only `versions`); returns the summary.

    `load_reference(version)` gives a model version's reference; `waiting()` the candidates still waiting for
    approval. Only a run with a `run_key` (the DAG's, whose next tasks send mails and asset events) decides
    alerts and retrainings and leaves a summary for those tasks; from a terminal the windows and weekly
    reports are computed and stored.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    by_version: dict[str, list[dt.date]] = defaultdict(list)
    for day in days:
        for version in (versions if versions is not None else scored_versions(storage, spec.name, day)):
            if storage.exists(layout.scores(spec.name, day, version)):
                by_version[version].append(day)
    if not by_version:
        wanted = f" by version {', '.join(versions)}" if versions else ""
        raise MissingDataError(f"nothing scored{wanted} for '{spec.name}' between {min(days)} and {max(days)}: "
                               "score those days first")
    references: dict[str, stability.Reference] = {}

    def reference(version: str) -> stability.Reference:
        if version not in references:
            references[version] = load_reference(version)
        return references[version]

    windows: list[Window] = []
    fair: list[fair_lending.FairWindow] = []
    min_ratio = spec.fairness.min_ratio
    for version, scored in sorted(by_version.items(), key=lambda kv: version_key(kv[0])):
        for day in scored:
            window = Window(version, "day", day, stability.judge(count_day(storage, spec, day, version, reference(version)),
                                                          reference(version), spec.monitoring))
            history.write(window.records(spec.name))
            windows.append(window)
            if spec.fairness.attributes:
                groups = fair_lending.judged(spec, version, "day", day,
                                             fair_lending.count_day(storage, spec, day, version))
                history.write(groups.records(spec.name, min_ratio))
                fair.append(groups)
        for kind in ("week", "month"):
            for start in sorted({window_start(kind, d) for d in scored}):
                window = _merged(history, spec, version, kind, start, reference(version))
                history.write(window.records(spec.name))
                windows.append(window)
                if spec.fairness.attributes:
                    groups = fair_lending.merged(history, spec, version, kind, start)
                    history.write(groups.records(spec.name, min_ratio))
                    fair.append(groups)

    summary: dict[str, Any] = {"dataset": spec.name, "windows": [w.summary() for w in windows], "alert": None,
                               "trigger": None, "reports": [], "fairness": [w.summary() for w in fair],
                               "fairness_alert": None}
    for start in weekly.weeks_to_report(history, spec.name, [d for ds in by_version.values() for d in ds]):
        version, pdf = weekly.render(storage, spec, history, start, reference, now)
        key = layout.stability_report(spec.name, iso_week(start))
        storage.write_bytes(key, pdf)
        summary["reports"].append({"week": iso_week(start), "start": start.isoformat(), "key": key,
                                   "model_version": version})
    if run_key is None:
        return summary
    alerted = alerts.pending(history, spec.name, windows)
    if alerted:
        alert = alerts.compose(spec, alerted, reference)
        chart = layout.stability_run(spec.name, run_key, ".png")
        storage.write_bytes(chart, alert.chart)
        summary["alert"] = {"subject": alert.mail.subject, "html": alert.mail.html, "chart": chart,
                            "windows": [w.summary() for w in alerted]}
    unfair = fair_lending.pending(history, spec.name, fair)
    if unfair:
        mail = mails.fairness_alert(spec.name, [w.summary() for w in unfair], spec.fairness)
        summary["fairness_alert"] = {"subject": mail.subject, "html": mail.html,
                                     "windows": [w.summary() for w in unfair]}
    summary["trigger"] = _trigger(history, spec, storage, windows, waiting, run_key)
    storage.write_json(layout.stability_run(spec.name, run_key), summary)
    return summary
