"""The typed run summaries (`ml.monitor.stability_run`, `ml.monitor.weekly_backtest.BacktestRun`): files written
before they were typed (version 1, tests/fixtures/runs, in the shape the writers of 2026-12-07 left) still read,
and what the fairness mail names of them is unchanged; a file of another shape is refused with a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml import mails
from ml.monitor import alerts, fair_lending
from ml.monitor.history import History
from ml.monitor.stability_run import StabilityRun
from ml.monitor.weekly_backtest import BacktestRun
from ml.spec import get_spec
from ml.storage import Storage

REPO = Path(__file__).resolve().parents[2]
RUNS = REPO / "tests" / "fixtures" / "runs"


def _storage(tmp_path: Path, name: str) -> tuple[Storage, str]:
    storage = Storage(str(tmp_path))
    storage.write_json(f"runs/{name}.json", json.loads((RUNS / f"{name}.json").read_text()))
    return storage, f"runs/{name}.json"


def test_version_1_stability_summaries_read_through_the_model(tmp_path: Path) -> None:
    run = StabilityRun.read(*_storage(tmp_path, "stability_card_transactions_v1"))
    assert run.version == 1 and run.trigger is not None and run.trigger.status == "requested"
    assert run.alert is not None and run.alert.windows[0].score_critical is None
    assert [w.kind for w in run.windows] == ["day", "day"] and run.windows[1].red == ["amount", "device_os"]
    gmsc = StabilityRun.read(*_storage(tmp_path, "stability_give_me_some_credit_v1"))
    assert gmsc.fairness_alert is not None
    # a version 1 fairness window has no "red": every group below the minimum was red then
    window = gmsc.fairness_alert.windows[0]
    assert window.red is None and window.red_groups == window.below
    mail = mails.fairness_alert(gmsc.dataset, [window.model_dump()], get_spec(REPO / "datasets", gmsc.dataset).fairness)
    assert "age group 'under 25'" in mail.subject and "0.79 (95% CI 0.64 to 0.98)" in mail.html


def test_the_notify_helpers_take_the_typed_windows(tmp_path: Path) -> None:
    run = StabilityRun.read(*_storage(tmp_path, "stability_card_transactions_v1"))
    history = History.open(f"sqlite:///{tmp_path / 'history.db'}")
    assert run.alert is not None
    assert alerts.unsent(history, run.dataset, run.alert.windows) == run.alert.windows
    alerts.record_sent(history, run.dataset, run.alert.windows, ["risk@example.com"], run.alert.subject)
    assert alerts.unsent(history, run.dataset, run.alert.windows) == []
    gmsc = StabilityRun.read(*_storage(tmp_path, "stability_give_me_some_credit_v1"))
    assert gmsc.fairness_alert is not None
    fair_lending.record_sent(history, gmsc.dataset, gmsc.fairness_alert.windows, ["risk@example.com"], "s")
    assert fair_lending.unsent(history, gmsc.dataset, gmsc.fairness_alert.windows) == []


def test_a_version_1_backtest_summary_reads_through_the_model(tmp_path: Path) -> None:
    run = BacktestRun.read(*_storage(tmp_path, "backtest_give_me_some_credit_v1"))
    assert run.version == 1 and run.as_of == "2026-09-14" and run.overrides is None
    assert run.reviews["accepted"] == 40 and run.subject.startswith("[riskops] give_me_some_credit backtest")


def test_a_summary_of_another_shape_is_refused_by_name(tmp_path: Path) -> None:
    storage = Storage(str(tmp_path))
    storage.write_json("runs/x.json", {"dataset": "d", "windows": [], "surprise": 1})
    with pytest.raises(ValueError, match=r"x\.json is not a StabilityRun file"):
        StabilityRun.read(storage, "runs/x.json")
