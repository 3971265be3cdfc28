"""Fair lending in monitoring: the nightly decisions' approval rate per group and the adverse impact ratio, per
day, ISO week and month and model version, in the history beside the stability statistics.

A scored day is counted from its scores file's decisions and its curated file's attribute columns (the rows
in the same order: scoring keeps the curated order, and the ids are checked). History rows (`feature` is
`<attribute>=<group>`, the counts in the detail, so weeks and months merge their days by adding):
- `group_approval_rate`: the group's share of "approve" decisions;
- `group_impact_ratio`: its adverse impact ratio against the reference group, with its 95% interval and the two
  groups' counts in the detail: red when the ratio and its whole interval are below the spec's
  `fairness.min_ratio`, amber when only the ratio is (`ml.fairness.ratio_light`), "too few rows" when not judged;
- `fairness` (feature ""): the window's worst light over its groups, the groups below the minimum and those red
  in the detail. A red window is an alert, once per window (`FAIRNESS_ALERT` rows record the mails sent); an
  amber one is shown, never mailed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ml import fairness, layout
from ml.dates import window_end
from ml.errors import RiskopsError
from ml.monitor.history import History, Record
from ml.monitor.stability_run import FairWindowSummary
from ml.spec import DatasetSpec
from ml.storage import Storage

APPROVAL, RATIO, WINDOW = "group_approval_rate", "group_impact_ratio", "fairness"
FAIRNESS_ALERT = "fairness_alert"
_SEVERITY = {None: 0, fairness.TOO_FEW_ROWS: 0, fairness.GREEN: 1, fairness.AMBER: 2, fairness.RED: 3}


def feature_key(attribute: str, group: str) -> str:
    """How the history names a group: `<attribute>=<group>`."""
    return f"{attribute}={group}"


@dataclass(frozen=True)
class FairWindow:
    """One window's groups of one model version, judged."""

    model_version: str
    kind: str
    start: dt.date
    counts: list[fairness.GroupCounts]
    groups: list[list[fairness.GroupRow]] = field(default_factory=list)
    below: list[str] = field(default_factory=list)  # groups whose ratio is below the minimum (amber or red)
    red: list[str] = field(default_factory=list)  # those whose whole interval is below it too: the evidence

    @property
    def light(self) -> str | None:
        lights = [r.light for rows in self.groups for r in rows if r.light is not None]
        return max(lights, key=lambda light: _SEVERITY.get(light, 0), default=None) if lights else None

    def records(self, dataset: str, min_ratio: float) -> list[Record]:
        out = []
        for counts, rows in zip(self.counts, self.groups, strict=True):
            ref = counts.cells.get(counts.reference, fairness.Cell())
            for r in rows:
                cell = counts.cells.get(r.group, fairness.Cell())
                detail = {"attribute": r.attribute, "group": r.group, "attribute_kind": r.kind,
                          "reference": counts.reference, "rows": cell.rows, "approved": cell.approved}
                key = feature_key(r.attribute, r.group)
                out.append(Record(dataset, self.model_version, self.kind, self.start, APPROVAL, key,
                                  _number(r.approval_rate), None, detail))
                out.append(Record(dataset, self.model_version, self.kind, self.start, RATIO, key, _number(r.ratio),
                                  r.light, {**detail, "low": _number(r.ratio_low), "high": _number(r.ratio_high),
                                            "min_ratio": min_ratio, "is_reference": r.reference,
                                            "reference_rows": ref.rows, "reference_approved": ref.approved,
                                            "interval": "katz-log-95"}))
        out.append(Record(dataset, self.model_version, self.kind, self.start, WINDOW, "", float(len(self.below)),
                          self.light, {"below": self.below, "red": self.red, "min_ratio": min_ratio}))
        return out

    def summary(self) -> dict[str, Any]:
        return {"model_version": self.model_version, "kind": self.kind, "start": self.start.isoformat(),
                "end": window_end(self.kind, self.start).isoformat(), "light": self.light, "below": self.below,
                "red": self.red}


def _number(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None  # NaN: no value


def judged(spec: DatasetSpec, version: str, kind: str, start: dt.date, counts: list[fairness.GroupCounts]) -> FairWindow:
    """A window's groups judged against the spec's minimum ratio."""
    groups = [fairness.judge(c, spec.fairness) for c in counts]
    below = [fairness.describe(r, spec.fairness) for rows in groups for r in fairness.below_minimum(rows)]
    red = [fairness.describe(r, spec.fairness) for rows in groups for r in rows if r.light == fairness.RED]
    return FairWindow(version, kind, start, counts, groups, below, red)


def count_day(storage: Storage, spec: DatasetSpec, day: dt.date, version: str) -> list[fairness.GroupCounts]:
    """Each attribute's rows and approvals per group of a scored day."""
    columns = [a.column for a in spec.fairness.attributes]
    with storage.open_read(layout.scores(spec.name, day, version)) as fh:
        scores = pq.read_table(fh, columns=["id", "decision"])
    with storage.open_read(layout.curated(spec.name, day)) as fh:
        curated = pq.read_table(fh, columns=list(dict.fromkeys([spec.id_column, *columns])))
    check_rows(spec, day, scores.column("id"), curated.column(spec.id_column))
    approved = pc.equal(scores.column("decision").cast(pa.string()), "approve").fill_null(False).to_numpy(
        zero_copy_only=False)
    out = []
    for attribute in spec.fairness.attributes:
        codes, names = fairness.group_codes(curated.column(attribute.column), attribute, spec)
        out.append(fairness.count_groups(codes, names, attribute, approved))
    return out


def check_rows(spec: DatasetSpec, day: dt.date, scored: pa.ChunkedArray, curated: pa.ChunkedArray) -> None:
    """The scores file holds the curated rows in their order; otherwise the groups cannot be read."""
    ids = pc.cast(curated, pa.string())
    if len(ids) != len(scored) or not pc.all(pc.equal(ids, scored)).as_py():
        raise RiskopsError(f"{spec.name} {day}: the scored rows are not the curated rows in order (re-run "
                           "preprocess or scoring for that day); their groups cannot be read")


def merged(history: History, spec: DatasetSpec, version: str, kind: str, start: dt.date) -> FairWindow:
    """A week or month of one version from its days' counts in the history."""
    rows = history.read(spec.name, model_version=version, window_kind="day", since=start,
                        until=window_end(kind, start), statistics=[APPROVAL])
    counts = {a.column: fairness.GroupCounts(a.column, a.kind, a.reference) for a in spec.fairness.attributes}
    for r in rows:
        target = counts.get(r.detail.get("attribute", ""))
        if target is not None:
            target.merge(fairness.GroupCounts(target.attribute, target.kind, target.reference,
                                        {r.detail["group"]: fairness.Cell(int(r.detail["rows"]), int(r.detail["approved"]))}))
    return judged(spec, version, kind, start, list(counts.values()))


def pending(history: History, dataset: str, windows: Sequence[FairWindow]) -> list[FairWindow]:
    """The red windows not alerted yet at that level (a re-run sends nothing again)."""
    red = [w for w in windows if w.light == fairness.RED]
    if not red:
        return []
    sent = {(r.model_version, r.window_kind, r.window_start) for r in history.read(
        dataset, statistics=[FAIRNESS_ALERT], window_starts=sorted({w.start for w in red}))}
    return [w for w in red if (w.model_version, w.kind, w.start) not in sent]


def unsent(history: History, dataset: str, windows: Sequence[FairWindowSummary | Mapping[str, Any]]
           ) -> list[FairWindowSummary]:
    """`pending` for windows as a run summary lists them."""
    typed = [FairWindowSummary.of(w) for w in windows]
    sent = {(r.model_version, r.window_kind, r.window_start) for r in history.read(
        dataset, statistics=[FAIRNESS_ALERT], window_starts=sorted({w.key[2] for w in typed}))}
    return [w for w in typed if w.key not in sent]


def record_sent(history: History, dataset: str, windows: Sequence[FairWindowSummary | Mapping[str, Any]],
                to: Sequence[str], subject: str, now: dt.datetime | None = None) -> None:
    """Remember that the fairness alert for these windows was mailed."""
    at = (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    history.write(Record(dataset, *w.key, FAIRNESS_ALERT, "", None, w.light,
                         {"to": list(to), "subject": subject, "sent_at": at})
                  for w in map(FairWindowSummary.of, windows))
