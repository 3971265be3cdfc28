"""The monitoring view (plugin riskops_view) inside Airflow's own API server app, in process: every route is
refused without a login or with a forged token, none writes, a dataset's page shows the history's figures of
the latest version per window, and a version's review serves its report as stored with the recorded SHA-256
checked beside it."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from mlflow import MlflowClient

from ml.governance import approvals, registry
from ml.monitor import alerts, fair_lending, stability
from ml.monitor.history import History, Record
from tests.helpers import tiny_candidate

DATASET = "card_transactions"
NAME = registry.model_name(DATASET)
REPORT = b"%PDF-1.4 the candidate report the approvers read"
WEEK = dt.date(2026, 9, 21)
ROUTES = ["/riskops/", f"/riskops/datasets/{DATASET}", f"/riskops/dag/stability_{DATASET}",
          f"/riskops/datasets/{DATASET}/versions/1", f"/riskops/datasets/{DATASET}/versions/1/files/x.pdf"]


@pytest.fixture(scope="module")
def server(airflow_db):
    """Airflow's API server app with the plugins folder's riskops_view mounted (built once: ~10 s), and a
    viewer's token."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,risk-viewer:viewer")
        from airflow.api_fastapi.app import create_app, get_auth_manager
        from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
        from fastapi.testclient import TestClient

        app = create_app()
        token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="risk-viewer", role="viewer"))
        with TestClient(app) as client:
            yield client, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(server, mlflow_store, tmp_path, monkeypatch):
    """The app, a viewer's token, and a fresh history and registry of this test's own."""
    monkeypatch.setenv("RISKOPS_HISTORY_URL", f"sqlite:///{tmp_path / 'history.db'}")
    return (*server, History.open(f"sqlite:///{tmp_path / 'history.db'}"))


def _week(version: str, psi: float, light: str, csi: dict[str, tuple[float, str]]) -> list[Record]:
    rows = [Record(DATASET, version, "week", WEEK, stability.ROWS, "", 7000.0),
            Record(DATASET, version, "week", WEEK, stability.SCORE_PSI, "", psi, light),
            Record(DATASET, version, "week", WEEK, stability.OVERALL, "", None, light)]
    return rows + [Record(DATASET, version, "week", WEEK, stability.CSI, f, v, lt) for f, (v, lt) in csi.items()]


@pytest.mark.parametrize("route", ROUTES)
def test_no_route_answers_without_a_login_or_with_a_forged_token(api, route):
    client, _, _ = api
    assert client.get(route).status_code == 401
    assert client.get(route, headers={"Authorization": "Bearer not.a.token"}).status_code == 403


def test_the_view_only_reads():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins"))
    from riskops_airflow.view import create_app

    methods = {m for route in create_app().routes if hasattr(route, "methods") for m in route.methods}
    assert methods <= {"GET", "HEAD"}


def test_the_dataset_page_shows_the_latest_version_per_window(api):
    client, auth, history = api
    history.write([*_week("1", 0.0312, "green", {"amount": (0.05, "green")}),
                   *_week("2", 0.2481, "red", {"amount": (0.1432, "amber"), "hour": (0.2917, "red")}),
                   Record(DATASET, "2", "week", WEEK, alerts.ALERT, "", None, "red",
                          {"subject": "[riskops] card_transactions drift: red", "sent_at": "2026-09-28T06:00:00+00:00"}),
                   Record(DATASET, "2", "week", WEEK, fair_lending.RATIO, "customer_age=under 25", 0.7342, "red",
                          {"low": 0.61, "high": 0.88})])
    page = client.get(f"/riskops/datasets/{DATASET}", headers=auth)
    assert page.status_code == 200, page.text
    (row,) = re.findall(r'<tr data-window="2026-W39">(.*?)</tr>', page.text)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells[:5] == ["2026-W39", "v2", "7,000", "0.2481", "red"]
    assert cells[5:8] == ["0.2917", "hour", "red"]  # the worst CSI, not version 1's
    assert "0.0312" not in page.text
    assert "[riskops] card_transactions drift: red" in page.text
    assert "customer_age=under 25" in page.text and "0.734" in page.text and "0.610 – 0.880" in page.text
    assert "<svg" in page.text  # the PSI chart
    # a riskops DAG's "Monitoring" tab opens its dataset's page; any other DAG is named, not served
    assert "2026-W39" in client.get(f"/riskops/dag/retrain_{DATASET}", headers=auth).text
    assert "not a riskops DAG" in client.get("/riskops/dag/example_dag", headers=auth).text
    home = client.get("/riskops/", headers=auth)
    assert home.status_code == 200 and f'href="/riskops/datasets/{DATASET}"' in home.text
    assert client.get("/riskops/datasets/no_such", headers=auth).status_code == 404


def test_a_version_s_review_serves_its_report_as_stored_with_the_hash_checked(api, tmp_path):
    client, auth, _ = api
    mlflow = MlflowClient()
    good, tampered = (tiny_candidate(mlflow, NAME, REPORT, verdict="RECOMMENDED") for _ in range(2))
    run_id = registry.get_version(mlflow, NAME, good).run_id
    for version, content in ((good, REPORT), (tampered, REPORT + b" edited in the artifact store")):
        path = tmp_path / f"{NAME}-v{version}.pdf"
        path.write_bytes(content)
        mlflow.log_artifact(run_id, str(path), "report")

    # the technical file, as issue 23a's retraining logs and tags it
    technical = tmp_path / f"{NAME}-v{good}-technical-file.pdf"
    technical.write_bytes(b"%PDF-1.4 the technical file")
    mlflow.log_artifact(run_id, str(technical), "technical_file")
    mlflow.set_model_version_tag(NAME, good, "riskops.technical_file_sha256",
                                 hashlib.sha256(technical.read_bytes()).hexdigest())

    page = client.get(f"/riskops/datasets/{DATASET}/versions/{good}", headers=auth)
    assert page.status_code == 200
    assert page.text.count("matches the SHA-256 recorded") == 2 and f"{NAME}-v{good}-technical-file.pdf" in page.text
    assert f"{NAME}-v{tampered}.pdf" not in page.text  # only the version's own files
    technical_served = client.get(f"/riskops/datasets/{DATASET}/versions/{good}/files/{technical.name}", headers=auth)
    assert technical_served.content == technical.read_bytes()
    assert hashlib.sha256(REPORT).hexdigest() in page.text and "matches the SHA-256 recorded" in page.text
    pdf = client.get(f"/riskops/datasets/{DATASET}/versions/{good}/files/{NAME}-v{good}.pdf", headers=auth)
    assert pdf.content == REPORT and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["x-content-sha256"] == pdf.headers["x-recorded-sha256"] == hashlib.sha256(REPORT).hexdigest()

    bad = client.get(f"/riskops/datasets/{DATASET}/versions/{tampered}", headers=auth).text
    assert "DOES NOT MATCH" in bad and "matches the SHA-256 recorded" not in bad
    # both wait for a decision: the dataset's page lists them with their verdicts and links their reviews
    listing = client.get(f"/riskops/datasets/{DATASET}", headers=auth).text
    assert approvals.waiting_candidates(mlflow, NAME) == [good, tampered]
    assert f'href="/riskops/datasets/{DATASET}/versions/{good}"' in listing and "RECOMMENDED" in listing
    # untrusted path input: a clear refusal, never a traceback
    for route, code in ((f"/riskops/datasets/{DATASET}/versions/x1", 404),
                        (f"/riskops/datasets/{DATASET}/versions/{good}/files/..%2Fmodel.pkl", 404),
                        (f"/riskops/datasets/{DATASET}/versions/99", 404)):
        answer = client.get(route, headers=auth)
        assert answer.status_code == code, (route, answer.text)
        assert "Traceback" not in answer.text


@pytest.mark.parametrize("tracking", ["sqlite:///mlflow.db", "http://mlflow.bank.example:5000"])
def test_the_approval_prompt_links_the_report_the_mlflow_version_and_says_why(tracking, monkeypatch):
    """The retrain DAG's approval body, rendered by the DAG's own template environment (its macros) with the
    XCom the candidate's mail step returns, for a drift-triggered run and a scheduled one."""
    from types import SimpleNamespace

    from tests.helpers import load_dag

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    dag = load_dag("retrain.py", f"retrain_{DATASET}")
    body = dag.get_template_env().from_string(dag.get_task("approval").body)
    summary = {"model_name": NAME, "version": "7", "verdict": "RECOMMENDED", "report_sha256": "ab" * 32,
               "model_sha256": "cd" * 32, "technical_file_sha256": "ef" * 32, "run_id": "r123"}
    ti = SimpleNamespace(xcom_pull=lambda task_ids, key=None: summary)
    drift = {f"drift/{DATASET}": [SimpleNamespace(extra={"reason": "score PSI 0.31 red in 2026-W39"})]}

    text = body.render(ti=ti, triggering_asset_events=drift)
    assert f"[the candidate report and technical file](/riskops/datasets/{DATASET}/versions/7)" in text
    assert "**Requested by stability monitoring (drift):** score PSI 0.31 red in 2026-W39." in text
    assert "ab" * 32 in text and "ef" * 32 in text and f"[{DATASET} monitoring](/riskops/datasets/{DATASET})" in text
    if tracking.startswith("http"):
        assert f"[{NAME} v7 in MLflow](http://mlflow.bank.example:5000/#/models/{NAME}/versions/7)" in text
    else:
        assert f"MLflow: model `{NAME}` version 7, run `r123`" in text
    scheduled = body.render(ti=ti, triggering_asset_events={})
    assert "Not triggered by drift" in scheduled and "Requested by" not in scheduled
