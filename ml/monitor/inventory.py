"""The model inventory: every dataset's champion with its version, since when, who approved it, its last
backtest and that backtest's alert, its latest stability light, the candidates waiting, and the next review due
(the spec's `documentation.review_period_days` from the champion's since-date), overdue marked.

It reads the registry (pointers, tags, champion history) and the monitoring history; it writes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from mlflow import MlflowClient

from ml.contracts import Contract, JsonValue
from ml.dates import BACKTEST_KINDS
from ml.errors import RiskopsError
from ml.governance import approvals, champions, registry
from ml.governance.halt import halted
from ml.governance.notices import MailText
from ml.monitor.history import History
from ml.spec import DatasetSpec

BACKTEST = BACKTEST_KINDS[1]  # the backtest's rows by as-of date
STABILITY_DAY = "day"



class InventoryRun(Contract):
    """What an inventory run found (`python -m ml inventory --run-key`): every model's line, and the mail of the
    overdue reviews if any (sent once per as-of date by the inventory DAG)."""

    as_of: str
    models: list[dict[str, JsonValue]]  # Entry.to_dict() of each line, as `python -m ml inventory --json` prints it
    mail: MailText | None

@dataclass(frozen=True)
class Entry:
    """One dataset's line of the inventory; dates as ISO text, "" where there is nothing to say."""

    dataset: str
    model_name: str
    champion: str  # the version that scores; "" when nothing was promoted
    since: str  # when it became the champion (its champion history line, else its promotion tags)
    approved_by: str
    last_backtest: str  # the as-of date of the champion's latest backtest
    backtest_alert: str  # "" (none), or the alerts of that backtest joined by "; "
    backtest_light: str
    stability_light: str  # the latest day's overall light of the champion
    stability_day: str
    waiting: list[str] = field(default_factory=list)  # candidate versions waiting for a decision
    review_period_days: int = 0
    next_review: str = ""
    overdue: bool = False
    halted: str = ""  # who halted it and why, when the model is halted
    problem: str = ""  # why the champion could not be read (a pointer edited in MLflow to a version that may not score)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _since(client: MlflowClient, name: str, version: str, tags: dict[str, str]) -> str:
    event = champions.current(client, name)
    if event is not None and event.version == version:
        return event.at
    return tags.get("champion_since") or tags.get("promoted_at") or ""


def _day(text: str) -> dt.date | None:
    try:
        return dt.datetime.fromisoformat(text).date() if text else None
    except ValueError:
        return None


def entry(client: MlflowClient, history: History, spec: DatasetSpec, today: dt.date) -> Entry:
    """The inventory line of one dataset as of `today`."""
    name = registry.model_name(spec.name)
    period = spec.documentation.review_period_days
    waiting = approvals.waiting_candidates(client, name)
    state = halted(client, name)
    stop = f"by {state['by']} at {state['at']}: {state['reason']}" if state else ""
    try:
        current = approvals.champion(client, name, consequence="it is listed without a champion")
    except registry.RegistryError:
        raise
    except RiskopsError as exc:  # a pointer edited in MLflow: listed, with why, not a failed inventory
        return Entry(spec.name, name, "", "", "", "", "", "", "", "", waiting, period, "", False, stop, str(exc))
    if current is None:
        return Entry(spec.name, name, "", "", "", "", "", "", "", "", waiting, period, "", False, stop)
    version = current.version
    tags = registry.tags(client, name, version)
    since = _since(client, name, version, tags)
    backtests = history.read(spec.name, model_version=version, window_kind=BACKTEST, statistics=["alert"])
    last = backtests[-1] if backtests else None
    stability = history.read(spec.name, model_version=version, window_kind=STABILITY_DAY, statistics=["overall"],
                             feature="")
    light = stability[-1] if stability else None
    start = _day(since)
    due = start + dt.timedelta(days=period) if start else None
    return Entry(
        dataset=spec.name, model_name=name, champion=version, since=since, approved_by=tags.get("approved_by", ""),
        last_backtest=last.window_start.isoformat() if last else "",
        backtest_alert="; ".join(str(a) for a in (last.detail.get("alerts") or [])) if last else "",
        backtest_light=(last.light or "") if last else "",
        stability_light=(light.light or "") if light else "",
        stability_day=light.window_start.isoformat() if light else "",
        waiting=waiting, review_period_days=period, next_review=due.isoformat() if due else "",
        overdue=bool(due and due < today), halted=stop)


def inventory(client: MlflowClient, history: History, specs: dict[str, DatasetSpec], today: dt.date) -> list[Entry]:
    """Every dataset's line, in dataset order."""
    return [entry(client, history, specs[name], today) for name in sorted(specs)]


def overdue(entries: list[Entry]) -> list[Entry]:
    """The lines whose review is overdue."""
    return [e for e in entries if e.overdue]
