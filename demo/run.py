"""`make demo`: the whole platform on one machine, through real Airflow DAG runs.

Steps: MLflow store (SQLite) -> SMTP sink -> replay real data into the landing zone -> airflow standalone
-> one preprocess DAG run per business day of every dataset's window -> retrain Give Me Some Credit and the card
transactions (the cards on their days before the synthetic drift), mail the PDFs, approve them in Airflow
as a scripted approver -> score every landed day with the champions; each score run schedules stability
monitoring through its Asset: history, alert mail, weekly PDFs, and for the drifting cards a retraining
requested through the drift Asset, whose candidate waits for approval -> a scripted reviewer decides a sample
of Give Me Some Credit's review queue (CSV files in the reviews zone, as a case tool exports them) -> the
weekly backtest of Give Me Some Credit before and after its outcomes matured, PDFs mailed to the risk team
(with the reviewers against the model) -> print the row
accounting, the promoted models, the scores, what monitoring fired and what the backtests found.
Re-runnable: replay and preprocessing replace their outputs, so a second run duplicates nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from demo import summary
from demo.airflow_runtime import (
    REPO,
    WAITING_FOR_HUMAN,
    Standalone,
    WaitError,
    platform_settings,
    save_settings,
    wait_for,
    with_machine_env,
)
from ml.config import Settings
from ml.errors import RiskopsError

if TYPE_CHECKING:
    from ml.spec import DatasetSpec

# Fixed windows keep the demo reproducible; bank_marketing keeps its real (2008) dates.
WINDOWS = {
    # early enough that its labels (60-day maturity lag) have all arrived by the demo's training date
    "give_me_some_credit": dt.date(2026, 7, 1),
    "bank_marketing": dt.date(2008, 5, 5),
    # ten days to train on before the synthetic drift (2026-09-20, in the spec's source), then drifting days
    "card_transactions": dt.date(2026, 9, 10),
}
MONITORED = ("give_me_some_credit", "card_transactions")  # trained, scored and monitored by the demo
DRIFTING = "card_transactions"
BACKTESTED = "give_me_some_credit"  # its labels mature within the demo's replayed history
MIN_DAYS = 12


class Steps:
    """Numbered progress lines, and the wall time of each step for the summary."""

    def __init__(self, total: int) -> None:
        self.total, self.n, self.times = total, 0, {}
        self._current: tuple[str, float] | None = None

    def __call__(self, text: str) -> None:
        self._close()
        self.n += 1
        self._current = (text, time.monotonic())
        print(f"\n[{self.n}/{self.total}] {text}", flush=True)

    def _close(self) -> None:
        if self._current is not None:
            text, started = self._current
            self.times[text] = time.monotonic() - started
            self._current = None

    def summary(self) -> str:
        self._close()
        total = sum(self.times.values())
        lines = [f"  {seconds:6.0f} s  {text}" for text, seconds in self.times.items()]
        return "\n".join([f"Wall time {total / 60:.1f} min:", *lines])


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def init_mlflow(home: Path) -> str:
    """Create the MLflow SQLite store (its tables); returns the tracking URI."""
    import logging

    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # its table-creation chatter is not demo output
    (home / "mlflow").mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).search_experiments(max_results=1)  # creates and migrates the tables once
    return uri


def start_smtp_sink(outbox: Path, port: int) -> subprocess.Popen[bytes] | None:
    if not _port_free(port):
        print(f"  port {port} busy: assuming an SMTP sink is already running there")
        return None
    proc = subprocess.Popen([sys.executable, "-m", "demo.smtp_sink", "--outbox", str(outbox), "--port", str(port)],
                            stdout=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: not _port_free(port), 30, "SMTP sink did not start", 0.2, alive=proc)
    return proc


def run_days(af: Standalone, days: dict[str, list[dt.date]]) -> None:
    """Trigger one preprocess run per business day of each dataset and show progress until all finish.

    Runs are triggered one by one rather than through the backfill API, which Airflow does not support
    on SQLite under concurrent access.
    """
    wanted = {f"preprocess_{d}" for d in days}
    wait_for(lambda: wanted <= {d["dag_id"] for d in af.api("GET", "/dags", params={"limit": 100})["dags"]},
             180, "the DAG processor did not register the preprocess DAGs", 2)
    # a logical date has at most one run per DAG: trigger() clears an existing one instead (re-runs)
    run_ids = {f"preprocess_{d}": [af.trigger(f"preprocess_{d}", day.isoformat(), unpause=False) for day in business]
               for d, business in days.items()}
    for dag_id in run_ids:
        af.set_paused(dag_id, False)
    total = sum(len(ids) for ids in run_ids.values())
    started = time.monotonic()
    while True:
        af.assert_running()
        states = []
        for dag_id, ids in run_ids.items():
            known = af.run_states(dag_id)
            states += [known.get(run_id) for run_id in ids]
        done, failed = states.count("success"), states.count("failed")
        print(f"  preprocess runs: {done}/{total} succeeded, {failed} failed "
              f"({time.monotonic() - started:.0f}s)", flush=True)
        if done + failed == total:
            break
        time.sleep(5)
    for dag_id in run_ids:
        af.set_paused(dag_id, True)
    if failed:
        raise WaitError(f"{failed} preprocess runs failed; task logs under {af.airflow_home}/logs")


def retrain_and_approve(af: Standalone, runs: dict[str, dict[str, object]], outbox: Path) -> None:
    """Run retrain_<dataset> for each dataset at once (conf: as_of and the training window), wait for their
    approval tasks, approve each as the scripted approver, and wait for the promotions."""
    mails_before = set(outbox.glob("*.eml"))
    run_ids = {}
    for dataset in runs:  # a run before this one left its retraining switched on (for `make ui`)
        af.set_paused(f"retrain_{dataset}", True)
    for dataset, conf in runs.items():
        dag_id = f"retrain_{dataset}"
        run_ids[dataset] = af.trigger(dag_id, str(conf["as_of"]), conf, unpause=False)
        print(f"  {dag_id}: run {run_ids[dataset]} (training, report, mail)...", flush=True)
    for dataset in runs:
        af.set_paused(f"retrain_{dataset}", False)
    for dataset, run_id in run_ids.items():
        af.wait_for_task(f"retrain_{dataset}", run_id, "approval", WAITING_FOR_HUMAN, timeout=900)
    for mail in sorted(set(outbox.glob("*.eml")) - mails_before):
        print(f"  mail to approvers with the PDF: {mail}", flush=True)
    approver = af.as_user("risk-approver")
    for dataset, run_id in run_ids.items():
        dag_id = f"retrain_{dataset}"
        approver.answer(dag_id, run_id, "approval", "Approve", "demo: scripted approval", timeout=600)
        print(f"  risk-approver approved {dataset} in Airflow (REST API, human-in-the-loop task)", flush=True)
        state = af.wait_for_run(dag_id, run_id, timeout=600)
        af.set_paused(dag_id, True)
        if state != "success":
            raise WaitError(f"{dag_id} run {run_id} ended {state}; task logs: {af.task_logs(dag_id, run_id)}")


def _asset_runs(af: Standalone, dag_id: str, after: str) -> list[dict]:
    """Runs of a DAG that its Assets triggered since `after` (an ISO timestamp)."""
    runs = af.api("GET", f"/dags/{dag_id}/dagRuns", params={"run_after_gte": after, "limit": 100})["dag_runs"]
    return [r for r in runs if r["run_type"] == "asset_triggered"]


def score_and_monitor(af: Standalone, windows: dict[str, tuple[dt.date, dt.date]], drifting: str) -> dict[str, str]:
    """One score run per window (the model pinned once, each day committed atomically); each publishes its
    days to the Asset scores/<dataset>, which runs stability_<dataset>; the drifting dataset's stability run
    requests a retraining through the Asset drift/<dataset>. Waits for all of it, up to the drift candidate's
    mail to the approvers; returns that retraining's DAG and run id."""
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    for dataset in windows:  # consumers must be unpaused before the events they wait for
        af.set_paused(f"stability_{dataset}", False)
    af.set_paused(f"retrain_{drifting}", False)
    score_runs = {}
    for dataset, (start, end) in windows.items():
        score_runs[dataset] = af.trigger(f"score_{dataset}", end.isoformat(),
                                         {"start": start.isoformat(), "end": end.isoformat()}, unpause=False)
        print(f"  score_{dataset}: run {score_runs[dataset]} scoring {start} .. {end}...", flush=True)
    for dataset in windows:
        af.set_paused(f"score_{dataset}", False)
    for dataset, run_id in score_runs.items():
        _finished(af, f"score_{dataset}", run_id, 1200)
    for dataset in windows:
        dag_id = f"stability_{dataset}"
        wait_for(lambda dag_id=dag_id: bool(_asset_runs(af, dag_id, started)), 300, f"{dag_id} to be triggered by the scores", 2)
        for run in _asset_runs(af, dag_id, started):
            _finished(af, dag_id, run["dag_run_id"], 900)
            print(f"  {dag_id}: run {run['dag_run_id']} (triggered by the scores Asset) done", flush=True)
    dag_id = f"retrain_{drifting}"
    wait_for(lambda dag_id=dag_id: bool(_asset_runs(af, dag_id, started)), 300, f"{dag_id} to be triggered by the drift Asset", 2)
    run_id = str(_asset_runs(af, dag_id, started)[0]["dag_run_id"])
    print(f"  {dag_id}: run {run_id} triggered by the drift Asset (training, report, mail)...", flush=True)
    af.wait_for_task(dag_id, run_id, "email_approvers", {"success"}, timeout=900)
    # the retraining stays switched on: its approval, answered later in the UI (`make ui`), must run promote
    for dag in [*(f"score_{d}" for d in windows), *(f"stability_{d}" for d in windows)]:
        af.set_paused(dag, True)
    return {"dag_id": dag_id, "run_id": run_id}


def backtest(af: Standalone, dataset: str, as_ofs: list[dt.date]) -> None:
    """Run backtest_<dataset> as of each date, one after the other; each mails its PDF to the risk team."""
    dag_id = f"backtest_{dataset}"
    for as_of in as_ofs:
        run_id = af.trigger(dag_id, as_of.isoformat())
        print(f"  {dag_id}: run {run_id} as of {as_of}...", flush=True)
        _finished(af, dag_id, run_id, 600)
    af.set_paused(dag_id, True)


def _finished(af: Standalone, dag_id: str, run_id: str, timeout: float) -> None:
    state = af.wait_for_run(dag_id, run_id, timeout=timeout)
    if state != "success":
        raise WaitError(f"{dag_id} run {run_id} ended {state}; task logs: {af.task_logs(dag_id, run_id)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=int(os.environ.get("RISKOPS_DEMO_DAYS", 30)))
    parser.add_argument("--port", type=int, default=int(os.environ.get("RISKOPS_AIRFLOW_PORT", 8080)))
    parser.add_argument("--smtp-port", type=int, default=int(os.environ.get("RISKOPS_SMTP_PORT", 8025)))
    args = parser.parse_args()
    # a terminated demo must still stop Airflow and the sink (the finally in run()), not orphan them
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    home = Settings.from_env().home.resolve()
    try:
        run(args, home)
    except (WaitError, RiskopsError) as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:  # a bug, not a user error: one line here, the traceback in a file
        log = home / "demo-error.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(traceback.format_exc())
        print(f"\ndemo failed: {type(exc).__name__}: {exc}; traceback in {log}", file=sys.stderr, flush=True)
        return 1
    return 0


def _split(days: int) -> dict[str, int]:
    """The default training split (30 days: 19 train, 4 validation, 7 out-of-time) scaled to `days`."""
    return {"window_days": days, "valid_days": max(1, round(days * 4 / 30)), "test_days": max(2, round(days * 7 / 30))}


def _lagged(spec: "DatasetSpec", day: dt.date) -> str:
    """The first date on which the labels of `day`'s rows have matured."""
    return (day + dt.timedelta(days=spec.label.maturity_lag_days)).isoformat()


def backtest_dates(spec: "DatasetSpec", last_scored: dt.date) -> list[dt.date]:
    """The Mondays the demo backtests as of: the first after the scored window, when no outcome has matured
    (the label-free estimate), and the first on which every scored day's outcomes have."""
    def monday_on_or_after(day: dt.date) -> dt.date:
        return day + dt.timedelta(days=-day.weekday() % 7)

    return [monday_on_or_after(last_scored + dt.timedelta(days=1)),
            monday_on_or_after(dt.date.fromisoformat(_lagged(spec, last_scored)))]


def demo_settings(home: Path, port: int, smtp_port: int, data_url: str, tracking_uri: str) -> dict[str, str]:
    """The settings the demo's Airflow runs with (and `make ui` reopens it with)."""
    return platform_settings(home / "airflow", port, {
        "RISKOPS_HOME": str(home), "RISKOPS_DATA": data_url, "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_REGISTRY_URI": tracking_uri,
        "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://127.0.0.1:{smtp_port}?disable_tls=true&disable_ssl=true",
    })


def run(args: argparse.Namespace, home: Path) -> None:
    os.environ["RISKOPS_HOME"] = str(home)
    data_url = Settings.from_env().data_url  # RISKOPS_DATA, else the data folder under the (resolved) home
    if args.days < MIN_DAYS:
        raise WaitError(f"RISKOPS_DEMO_DAYS must be at least {MIN_DAYS}: the card transactions need days after "
                        "their drift to show it")
    windows = {d: (s, s + dt.timedelta(days=args.days - 1)) for d, s in WINDOWS.items()}
    days: dict[str, list[dt.date]] = {}  # each dataset's business days in its window (its calendar)
    step = Steps(total=9)
    os.environ["RISKOPS_DATA"] = data_url
    if not _port_free(args.port):
        raise WaitError(f"port {args.port} is in use: stop what runs there or set RISKOPS_AIRFLOW_PORT")

    step(f"MLflow store (SQLite) under {home / 'mlflow'}")
    tracking_uri = init_mlflow(home)

    step(f"SMTP sink on 127.0.0.1:{args.smtp_port}, mails kept in {home / 'outbox'}")
    sink = start_smtp_sink(home / "outbox", args.smtp_port)

    # written once: `make ui` reopens this Airflow with exactly these settings (demo.ui)
    settings = demo_settings(home, args.port, args.smtp_port, data_url, tracking_uri)
    save_settings(home / "airflow", settings)
    af = Standalone(home / "airflow", args.port, with_machine_env(settings))
    try:
        step(f"Replaying real data into {data_url}/landing ({args.days} days per dataset)")
        from ml.data.replay import replay
        from ml.spec import get_spec
        from ml.storage import Storage

        storage, specs_dir = Storage(data_url), Settings.from_env().specs_dir
        for dataset, (start, end) in windows.items():
            replayed = replay(storage, get_spec(specs_dir, dataset), start, end)
            days[dataset] = [dt.date.fromisoformat(str(s["date"])) for s in replayed]
            print(f"  {dataset}: {sum(int(s['rows']) for s in replayed)} rows over {len(replayed)} business days "
                  f"({start} .. {end})", flush=True)

        step(f"Starting Airflow (standalone, SQLite) on http://127.0.0.1:{args.port} and preprocessing every "
             "business day")
        af.start()
        print(f"  healthy; log in with the password in {af.airflow_home}/simple_auth_manager_passwords.json.generated")
        run_days(af, days)

        step("Retraining Give Me Some Credit and the card transactions: candidates, PDFs by mail, approval in Airflow")
        specs = {d: get_spec(specs_dir, d) for d in MONITORED}
        drift_start: dt.date = specs[DRIFTING].source.params.drift_start
        before_drift = (drift_start - windows[DRIFTING][0]).days
        retrain_and_approve(af, {
            # as of the day the window's labels have all matured
            "give_me_some_credit": {"as_of": _lagged(specs["give_me_some_credit"], windows["give_me_some_credit"][1]),
                                    **_split(args.days)},
            # the cards on their days before the drift only: the reference the drift is measured against
            DRIFTING: {"as_of": _lagged(specs[DRIFTING], drift_start - dt.timedelta(days=1)), **_split(before_drift)},
        }, home / "outbox")
        for dataset in MONITORED:
            summary.promotion(tracking_uri, dataset)

        step("Nightly scoring with the champions; stability monitoring (scores Asset); retraining on drift "
             "(drift Asset)")
        drift_run = score_and_monitor(af, {d: windows[d] for d in MONITORED}, DRIFTING)

        step(f"Weekly backtest of {BACKTESTED} before and after its outcomes matured: PDFs to the risk team")
        as_ofs = backtest_dates(specs[BACKTESTED], windows[BACKTESTED][1])
        from demo.reviewer import decide
        from ml import layout

        reviewed = decide(storage, specs[BACKTESTED], days[BACKTESTED])
        print(f"  scripted reviewer: decided {reviewed['decided']} of the {reviewed['queued']} rows "
              f"{BACKTESTED} sent to review, into {storage.url(layout.reviews_root(BACKTESTED))}", flush=True)
        backtest(af, BACKTESTED, as_ofs)

        step("Stopping Airflow and the SMTP sink")
    finally:
        af.stop()
        if sink is not None:
            sink.terminate()
            sink.wait()

    step("Row accounting per business day (preprocess manifests), scores, and what monitoring fired")
    summary.accounting(data_url, days)
    for dataset in MONITORED:
        summary.scores(data_url, dataset, *windows[dataset])
    print("\n  What stability monitoring found and fired")
    summary.monitoring(data_url, Settings.from_env().history_url, home / "outbox", drift_run, MONITORED)
    print("\n  What the weekly backtests found")
    summary.backtests(Settings.from_env().history_url, home / "outbox", BACKTESTED, as_ofs)
    print(f"\nOutputs under {data_url}: landing/, labels/, reviews/, curated/, quarantine/, scores/, manifests/, candidates/, "
          "reports/stability/, reports/backtest/")
    print(f"Airflow home {af.airflow_home}; MLflow {tracking_uri}; mail outbox {home / 'outbox'}")
    from ml import layout
    from ml.storage import Storage

    # the view's addresses as the plugin spells them (plugins/ is Airflow's folder, not on the demo's path)
    links = runpy.run_path(str(REPO / "plugins" / "riskops_airflow" / "links.py"))
    waiting = Storage(data_url).read_json(layout.retrain_run(DRIFTING, drift_run["run_id"]))
    print(f"In Airflow ({af.base}: `make ui` reopens it): the monitoring view {af.base}{links['home']()}; the approval "
          f"still waiting in Required Actions {af.base}{links['required_actions']()}, its report "
          f"{af.base}{links['review'](DRIFTING, str(waiting['version']))}")
    print(f"\n>>> {drift_run['dag_id']} run {drift_run['run_id']} WAITS FOR AN APPROVER. To answer it in Airflow's "
          "UI: `make ui` reopens this Airflow as the demo ran it (with the retrain DAGs switched on, so an "
          "approval promotes); log in as risk-approver, Required Actions (docs/demo.md).")
    print(step.summary())


if __name__ == "__main__":
    sys.exit(main())
