"""The README's demo end to end, once: real airflow standalone, triggered DAG runs, printed accounting,
stability monitoring and the drift-triggered retraining, with the clock of every process moved to another
"today".

The clock (2026-11-22) and window (16 days) are chosen so that a scheduled monthly retraining would find
enough matured data to train a candidate and then wait two weeks for an approver: the demo must not let such
a run exist (tests/dags/test_demo_schedules.py checks that on many dates, without running).

The moved "today" lies before the real date of any run of this test. Only Python's clock can be moved:
Airflow's scheduler starts a queued run once its run_after (Python's moved clock) is at most the database's
own clock (`now()` in SQL, the real date), so a moved clock ahead of the real one would leave every run that
Airflow creates itself (the Asset-triggered ones) queued for ever.

What a second run of the demo would add is proved where an Airflow already runs: re-triggering a date and a
newer candidate superseding a waiting one in tests/dags/test_retrain_approval.py, reports and alerts mailed
once in the stability and backtest DAG tests.
"""

from __future__ import annotations

import datetime as dt
import email
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from ml.monitor.history import History
from tests import helpers, pdf_layout
from tests.helpers import free_port

REPO = Path(__file__).resolve().parents[1]
DAYS = 16
# kept from the caller's environment: tests/suite.py gives each stream of slow files log-server ports of its own
LOG_SERVER_PORTS = ("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT")
TODAY = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.timezone.utc)


def _run_demo(home: Path, today: dt.datetime) -> subprocess.CompletedProcess[str]:
    assert today < dt.datetime.now(dt.timezone.utc), "a moved clock must not be ahead of the database's"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RISKOPS_", "MLFLOW_"))
           or k in LOG_SERVER_PORTS}
    env.update({"RISKOPS_HOME": str(home), "RISKOPS_DEMO_DAYS": str(DAYS),
                # every Python process of the demo (Airflow's included) sees `today` as the date
                "PYTHONPATH": str(REPO / "tests" / "clock"),
                "RISKOPS_CLOCK_OFFSET_SECONDS": str(today.timestamp() - time.time())})
    return subprocess.run([sys.executable, "-m", "demo.run", "--port", str(free_port()),
                           "--smtp-port", str(free_port())], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=1200)


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc.stdout


DRIFT = dt.date(2026, 9, 20)  # the synthetic cards' drift (datasets/card_transactions.yaml)


def _attachments(mails: list[email.message.EmailMessage], subject: str) -> list:
    return [a for m in mails if subject in m["Subject"] for a in m.iter_attachments()]


@pytest.mark.slow
def test_demo_runs_the_pipeline_on_another_date(tmp_path):
    home = tmp_path / "var"
    out = _ok(_run_demo(home, TODAY))
    # bank_marketing calls on weekdays (its calendar): 12 business days from Monday 5 May 2008; the others daily
    runs = 2 * DAYS + 12
    assert f"preprocess runs: {runs}/{runs} succeeded, 0 failed" in out
    assert "bank_marketing: " in out and " rows over 12 business days (2008-05-05 .. 2008-05-20)" in out
    for dataset in ("give_me_some_credit", "bank_marketing", "card_transactions"):
        assert f"  {dataset}  (business date: rows landed / clean / quarantined)" in out
    # GMSC is spread over the window: every one of its 150,000 rows is accounted for
    assert "total     : 150000 / 149999 /    1" in out
    manifests = sorted((home / "data" / "manifests" / "preprocess").rglob("*.json"))
    assert len(manifests) == runs
    rows = dict.fromkeys(("give_me_some_credit", "bank_marketing", "card_transactions"), 0)
    for path in manifests:
        m = json.loads(path.read_text())
        assert m["rows_in"] == m["rows_clean"] + m["rows_quarantined"] and m["quality"]["passed"]
        rows[m["dataset"]] += m["rows_in"]
    assert min(rows.values()) > 0
    # retrain: the PDFs in the sink's outbox, promoted through the Airflow approval, then scored
    mails = helpers.mails(home / "outbox")
    for name in ("give_me_some_credit", "card_transactions"):
        (attachment,) = _attachments(mails, f"riskops-{name} v1 candidate")
        assert attachment.get_filename() == f"riskops-{name}-v1.pdf"
        assert attachment.get_content().startswith(b"%PDF")
        assert f"riskops-{name} version 1: stage Production, alias champion; approved by risk-approver" in out
    assert "at 2026-11-22T" in out  # the promotion was stamped with the moved clock
    for name in ("give_me_some_credit", "card_transactions"):
        score_manifests = sorted((home / "data" / "manifests" / "score" / name).rglob("*.json"))
        assert len(score_manifests) == DAYS
        for path in score_manifests:
            m = json.loads(path.read_text())
            assert m["model_version"] == "1" and m["rows_scored"] == m["rows_in"] == sum(m["decisions"].values())
    delinquent = 0  # rows the GMSC spec's serious-delinquency rule declines, whatever the model says
    for path in (home / "data" / "manifests" / "score" / "give_me_some_credit").rglob("*.json"):
        m = json.loads(path.read_text())
        assert m["decisions"]["decline"] >= m["hard_rules"]["HR02-SERIOUS-DELINQUENCY"]
        delinquent += m["hard_rules"]["HR02-SERIOUS-DELINQUENCY"]
    assert delinquent > 0

    # stability: the cards' drifting days red in the history, one alert, the weekly PDFs, the retraining
    history = History.open(f"sqlite:///{home / 'history' / 'history.db'}")
    days = {r.window_start: r.light for r in history.read("card_transactions", window_kind="day",
                                                          statistics=["overall"], feature="")}
    assert len(days) == DAYS and {days[d] for d in days if d < DRIFT} == {"green"}
    assert "red" in {days[d] for d in days if d >= DRIFT}
    assert len([m for m in mails if "card_transactions stability" in m["Subject"]]) == 1
    assert not [m for m in mails if "give_me_some_credit stability" in m["Subject"]]  # no drift there
    weekly = [a for a in _attachments(mails, "weekly stability report") if a.get_filename().endswith(".pdf")]
    assert weekly and all(a.get_content().startswith(b"%PDF") for a in weekly)
    (drift_pdf,) = _attachments(mails, "riskops-card_transactions v2 candidate")
    first_page = PdfReader(io.BytesIO(drift_pdf.get_content())).pages[0].extract_text()
    assert "drift found by stability monitoring: drift in card_transactions" in " ".join(first_page.split())
    assert "retraining requested by drift: retrain_card_transactions run" in out
    # where to click afterwards: the monitoring view, Required Actions and the waiting candidate's report
    assert re.search(r"the monitoring view http://127\.0\.0\.1:\d+/riskops/; .* Required Actions "
                     r"http://127\.0\.0\.1:\d+/required_actions, its report http://127\.0\.0\.1:\d+/riskops/"
                     r"datasets/card_transactions/versions/2", out)

    # the weekly backtest before GMSC's outcomes matured (the estimate) and after (realised), both mailed
    before, matured = dt.date(2026, 7, 20), dt.date(2026, 9, 14)  # Mondays after the window / its maturity
    assert f"give_me_some_credit as of {before}: nothing matured yet; label-free estimate of AUC by week: 2026-W27" \
        in out
    assert f"give_me_some_credit as of {matured}, version 1: " in out
    # the scripted reviewer's decisions come back: the reviewers against the model, inside the spec's range
    assert "scripted reviewer: decided " in out
    (reviewers,) = [line for line in out.splitlines() if f"give_me_some_credit as of {matured}: reviewers" in line]
    assert "overriding the model on " in reviewers and reviewers.endswith("(green)"), reviewers
    backtests = sorted((m["Subject"], a) for m in mails if " backtest as of " in m["Subject"]
                       for a in m.iter_attachments())
    assert [a.get_filename() for _, a in backtests] == [f"backtest-give_me_some_credit-{d}.pdf" for d in (before, matured)]
    assert all(a.get_content().startswith(b"%PDF") for _, a in backtests)
    assert "Wall time" in out

    # every PDF the flow produced reads cleanly: no word over another, none outside the page frame
    pdfs = sorted((home / "data").rglob("*.pdf"))
    kinds = {"candidate.pdf", "technical_file.pdf", "stability", "backtest"}
    assert kinds <= {p.name for p in pdfs} | {part for p in pdfs for part in p.parts}, pdfs
    faults = {str(p.relative_to(home)): [str(f) for f in pdf_layout.check(p)] for p in pdfs}
    assert not {name: found for name, found in faults.items() if found}

    leftovers = subprocess.run(["pgrep", "-f", f"AIRFLOW_HOME={home}"], capture_output=True)
    assert leftovers.stdout == b""


def test_a_failing_demo_prints_one_line_not_a_traceback(tmp_path):
    import socket

    with socket.socket() as busy:  # something else already serves the Airflow port
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RISKOPS_", "MLFLOW_"))}
        env["RISKOPS_HOME"] = str(tmp_path / "var")
        proc = subprocess.run([sys.executable, "-m", "demo.run", "--port", str(port), "--smtp-port",
                               str(free_port())], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"demo failed: port {port} is in use: stop what runs there or set RISKOPS_AIRFLOW_PORT"


def test_a_wait_that_times_out_names_what_it_waited_for():
    from demo.airflow_runtime import WaitError, wait_for

    with pytest.raises(WaitError, match=r"^gave up after 0 s waiting for retrain_x.approval; log: /some/log$"):
        wait_for(lambda: False, 0.3, "retrain_x.approval; log: /some/log", 0.1)
