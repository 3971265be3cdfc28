"""Every DAG file parses, touches neither the database nor the network at parse time, and follows policy."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
# tasks where a retry cannot help: training repeats the same data and code
NO_RETRY = {("retrain", "train")}


@pytest.fixture(scope="module")
def dagbag():
    from airflow import settings
    from airflow.dag_processing.dagbag import DagBag
    from sqlalchemy import event

    queries: list[str] = []
    connects: list[object] = []
    real_connect = socket.socket.connect

    def guarded_connect(self, address):  # parse time must not talk to anything
        connects.append(address)
        return real_connect(self, address)

    def record(conn, cursor, statement, *args):
        queries.append(statement)

    engine = settings.engine
    event.listen(engine, "before_cursor_execute", record)
    socket.socket.connect = guarded_connect
    try:
        bag = DagBag(dag_folder=str(REPO / "dags"))
    finally:
        socket.socket.connect = real_connect
        event.remove(engine, "before_cursor_execute", record)
    return bag, queries, connects


def test_dag_files_exist():
    assert DAG_FILES, "no DAG files found"


def test_no_import_errors(dagbag):
    bag, _, _ = dagbag
    assert bag.import_errors == {}


def test_no_database_query_or_connection_at_parse_time(dagbag):
    _, queries, connects = dagbag
    assert queries == []
    assert connects == []


def test_one_preprocess_dag_per_dataset_spec(dagbag):
    bag, _, _ = dagbag
    specs = sorted(p.stem for p in (REPO / "datasets").glob("*.yaml"))
    assert sorted(d for d in bag.dag_ids if d.startswith("preprocess_")) == [f"preprocess_{s}" for s in specs]


def test_policy_tags_owner_retries(dagbag):
    bag, _, _ = dagbag
    assert bag.dags
    for dag_id, dag in bag.dags.items():
        assert "riskops" in dag.tags, dag_id
        assert dag.catchup is False, dag_id
        assert dag.doc_md, f"{dag_id} has no documentation"
        for task in dag.tasks:
            assert task.owner == "risk-platform", (dag_id, task.task_id)
            if (dag_id.split("_")[0], task.task_id) not in NO_RETRY:
                assert task.retries >= 1, (dag_id, task.task_id)


def test_assets_chain_preprocess_to_score(dagbag):
    bag, _, _ = dagbag
    outlets = [a.uri for t in bag.dags["preprocess_card_transactions"].tasks for a in t.outlets]
    assert outlets == ["riskops://curated/card_transactions"]
    score = bag.dags["score_card_transactions"]
    assert [a.uri for a in score.timetable.asset_condition.objects] == ["riskops://curated/card_transactions"]
    assert [a.uri for t in score.tasks for a in t.outlets] == ["riskops://scores/card_transactions"]


def test_every_dataset_has_its_dags(dagbag):
    bag, _, _ = dagbag
    for spec in (REPO / "datasets").glob("*.yaml"):
        assert {f"preprocess_{spec.stem}", f"retrain_{spec.stem}", f"score_{spec.stem}",
                f"stability_{spec.stem}", f"backtest_{spec.stem}", f"rollback_{spec.stem}", f"halt_{spec.stem}",
                f"resume_{spec.stem}"} <= set(bag.dag_ids)
    assert "inventory" in bag.dag_ids  # one for every dataset's model


def test_every_task_mails_the_operations_address_when_it_fails(dagbag):
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    bag, _, _ = dagbag
    for dag_id, dag in bag.dags.items():
        for task in dag.tasks:
            callbacks = task.on_failure_callback if isinstance(task.on_failure_callback, list) \
                else [task.on_failure_callback]
            assert any(isinstance(c, SmtpNotifier) and c.to == ["riskops-oncall@example.com"] for c in callbacks), \
                (dag_id, task.task_id)


def test_assets_chain_score_to_stability_to_retrain(dagbag):
    bag, _, _ = dagbag
    score, stability = bag.dags["score_card_transactions"], bag.dags["stability_card_transactions"]
    assert [t.task_id for t in score.tasks if t.outlets] == ["publish"]
    assert [a.uri for a in stability.timetable.asset_condition.objects] == ["riskops://scores/card_transactions"]
    assert [a.uri for t in stability.tasks for a in t.outlets] == ["riskops://drift/card_transactions"]


def test_retraining_is_scheduled_by_its_cron_or_by_drift(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import AssetOrTimeSchedule

    for switch in ("on", "off"):
        monkeypatch.setenv("RISKOPS_CRON_SCHEDULES", switch)
        dag = DagBag(dag_folder=str(REPO / "dags" / "retrain.py")).dags["retrain_card_transactions"]
        assert [a.uri for a in dag.timetable.asset_condition.objects] == ["riskops://drift/card_transactions"]
        if switch == "on":
            assert isinstance(dag.timetable, AssetOrTimeSchedule) and dag.timetable.timetable.summary == "0 3 1 * *"
        else:  # the drift Asset alone
            assert not isinstance(dag.timetable, AssetOrTimeSchedule)


def test_backtests_run_every_monday_morning_as_of_that_monday(monkeypatch):
    import pendulum
    from airflow.dag_processing.dagbag import DagBag
    from airflow.timetables.trigger import CronTriggerTimetable

    monkeypatch.setenv("RISKOPS_CRON_SCHEDULES", "on")
    dag = DagBag(dag_folder=str(REPO / "dags" / "backtest.py")).dags["backtest_give_me_some_credit"]
    assert isinstance(dag.timetable, CronTriggerTimetable) and dag.timetable.summary == "0 6 * * 1"
    # a Wednesday: the next run fires on Monday 06:00 UTC, and its logical date (the as-of date) is that Monday
    after = pendulum.datetime(2026, 12, 2, 12, tz="UTC")
    info = dag.timetable.next_dagrun_info(last_automated_data_interval=None,
                                          restriction=_restriction(after))
    assert info.logical_date == pendulum.datetime(2026, 12, 7, 6, tz="UTC")
    monkeypatch.setenv("RISKOPS_CRON_SCHEDULES", "off")
    off = DagBag(dag_folder=str(REPO / "dags" / "backtest.py")).dags["backtest_give_me_some_credit"]
    assert type(off.timetable).__name__ == "NullTimetable"  # triggered only


def _restriction(earliest):
    from airflow.timetables.base import TimeRestriction

    return TimeRestriction(earliest=earliest, latest=None, catchup=False)


def test_the_drift_macro_reads_the_latest_triggering_event():
    from types import SimpleNamespace

    from riskops_airflow.templates import drift_event

    events = {"drift/card_transactions": [SimpleNamespace(extra={"as_of": "2026-10-01", "reason": "old"}),
                                          SimpleNamespace(extra={"as_of": "2026-11-09", "reason": "score PSI red"})]}
    assert drift_event(events, "as_of") == "2026-11-09" and drift_event(events, "reason") == "score PSI red"
    assert drift_event({}, "as_of") == "" and drift_event(None, "reason") == ""


def test_an_invalid_spec_is_an_import_error_of_its_own_dags_only(tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    (tmp_path / "card_transactions.yaml").write_text((REPO / "datasets" / "card_transactions.yaml").read_text())
    (tmp_path / "broken.yaml").write_text("name: broken\ncolumns:\n  - {name: amount, type: float, format: '%d'}\n"
                                          "label: {column: y, maturity_lag_days: 0}\n")
    monkeypatch.setenv("RISKOPS_SPECS", str(tmp_path))
    bag = DagBag(dag_folder=str(REPO / "dags"))
    # the inventory lists every valid spec's model: it loads beside the broken spec
    assert sorted(bag.dag_ids) == ["backtest_card_transactions", "halt_card_transactions", "inventory",
                                   "preprocess_card_transactions", "resume_card_transactions",
                                   "retrain_card_transactions", "rollback_card_transactions",
                                   "score_card_transactions", "stability_card_transactions"]
    assert sorted(Path(f).name for f in bag.import_errors) == ["backtest.py", "oversight.py", "preprocess.py",
                                                               "retrain.py", "score.py", "stability.py"]
    for path, error in bag.import_errors.items():
        kind = Path(path).stem
        assert error.startswith(f"SpecError: 1 dataset spec(s) invalid, so their DAGs are not loaded (the other "
                                f"datasets' DAGs are): {kind}_broken: {tmp_path / 'broken.yaml'}: invalid dataset "
                                "spec: columns.0: format does nothing on a float column ('amount')"), error


def _downstream(dag) -> dict[str, list[str]]:
    return {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}


def test_a_quorum_of_two_chains_two_gates_and_the_runs_are_reminded_by_a_deadline(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("RISKOPS_APPROVAL_QUORUM", "2")
    bag = DagBag(dag_folder=str(REPO / "dags"))
    retrain, rollback = bag.dags["retrain_card_transactions"], bag.dags["rollback_card_transactions"]
    assert _downstream(retrain) == {
        "train": ["email_approvers"], "email_approvers": ["approval"], "approval": ["record_approval", "record_rejection"],
        "record_approval": ["approval_2"], "approval_2": ["promote", "record_rejection_2"], "promote": [],
        "record_rejection": [], "record_rejection_2": []}
    assert retrain.get_task("approval_2").earlier_gates == ["approval"]
    assert [type(n).__name__ for n in retrain.get_task("approval_2").notifiers] == ["ApprovalRequestNotifier"]
    assert retrain.get_task("approval").notifiers == []  # the candidate's mail asked already
    assert _downstream(rollback)["approval_2"] == ["record_decline_2", "rollback"]
    for dag in (retrain, rollback):
        (deadline,) = dag.deadline
        assert deadline.interval.total_seconds() == 72 * 3600
        assert deadline.callback.path == "riskops_airflow.notify.approval_reminder"
    monkeypatch.setenv("RISKOPS_APPROVAL_REMINDER_HOURS", "0")
    off = DagBag(dag_folder=str(REPO / "dags" / "retrain.py")).dags["retrain_card_transactions"]
    assert not off.deadline


def test_the_spec_may_ask_for_more_approvers_than_the_platform_never_fewer(tmp_path, monkeypatch):
    from riskops_airflow.defaults import approval_quorum

    text = (REPO / "datasets" / "card_transactions.yaml").read_text()
    (tmp_path / "card_transactions.yaml").write_text(text.replace("\noversight:\n", "\noversight:\n  approval_quorum: 3\n"))
    monkeypatch.setenv("RISKOPS_SPECS", str(tmp_path))
    assert approval_quorum("card_transactions") == 3
    monkeypatch.setenv("RISKOPS_APPROVAL_QUORUM", "4")
    assert approval_quorum("card_transactions") == 4
