"""The approver's day in a real browser (Debian's headless chromium through selenium) on a running Airflow with a
candidate waiting for approval: the approver logs in, opens Required Actions and the approval, opens the report
from the prompt (served as stored, its SHA-256 checked) and the PDF itself, and approves with a reason; the
candidate becomes the champion in MLflow. A user who is not an assigned approver is refused when answering. After
the cards' drift has been scored and monitored, the monitoring view (in Airflow's navigation) shows the red
windows. One Airflow start; every step leaves a screenshot under var/test-artifacts/browser/ (RISKOPS_BROWSER_SHOTS
moves it), listed in docs/testing.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from demo.airflow_runtime import WAITING_FOR_HUMAN, Standalone, airflow_env, wait_for
from demo.smtp_sink import start as start_smtp
from ml.governance import approvals, registry
from ml.spec import get_spec
from ml.storage import Storage
from tests.helpers import free_port, land_and_preprocess

REPO = Path(__file__).resolve().parents[2]
DATASET = "card_transactions"
DAG_ID = f"retrain_{DATASET}"
NAME = registry.model_name(DATASET)
SPEC = get_spec(REPO / "datasets", DATASET)
START, TRAIN_DAYS, DAYS = dt.date(2026, 9, 1), 16, 25  # trained on 1-16 September; 20-25 September drift
AS_OF = START + dt.timedelta(days=TRAIN_DAYS - 1 + SPEC.label.maturity_lag_days)
CONF = {"as_of": AS_OF.isoformat(), "window_days": TRAIN_DAYS, "valid_days": 3, "test_days": 4}
MONITORED = [START + dt.timedelta(days=i) for i in range(13, DAYS)]  # 14-25 September: the week before and after
APPROVER, CLERK = "risk-approver", "clerk"  # the assigned approver; a user of the same role who is not one
SHOTS = Path(os.environ.get("RISKOPS_BROWSER_SHOTS", REPO / "var" / "test-artifacts" / "browser"))
STEPS = ("01-not-an-approver-refused", "02-login", "03-required-actions", "04-approval-prompt", "05-review-page",
         "06-report-pdf", "07-approved", "08-monitoring-in-airflow", "09-monitoring-red-windows")


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """A running Airflow (standalone, SQLite) with the retrain DAG's approval waiting for the approver."""
    if not (shutil.which("chromedriver") and (shutil.which("chromium") or shutil.which("chromium-browser"))):
        pytest.fail("the browser test needs Debian's chromium and chromium-driver: apt-get install -y chromium "
                    "chromium-driver (.ci/run installs them)")
    home = tmp_path_factory.mktemp("browser")
    data = home / "data"
    land_and_preprocess(Storage(str(data)), SPEC, START, DAYS)
    tracking = f"sqlite:///{home / 'mlflow.db'}"
    smtp_port = free_port()
    sink = start_smtp(home / "outbox", port=smtp_port)
    port = free_port()
    env = airflow_env(home / "airflow", port, {
        "RISKOPS_HOME": str(home), "RISKOPS_DATA": str(data), "MLFLOW_TRACKING_URI": tracking,
        "MLFLOW_REGISTRY_URI": tracking, "RISKOPS_MLFLOW_ARTIFACTS": (home / "artifacts").as_uri(),
        "RISKOPS_APPROVERS": "cro@bank.example", "RISKOPS_RISK_TEAM": "risk-team@bank.example",
        "RISKOPS_ONCALL": "ops@bank.example",
        "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://127.0.0.1:{smtp_port}?disable_tls=true&disable_ssl=true",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"admin:admin,{APPROVER}:user,{CLERK}:user",
        "RISKOPS_APPROVER_USERS": APPROVER,
    })
    env = {k: v for k, v in env.items() if k != "AIRFLOW__CORE__UNIT_TEST_MODE"}
    af = Standalone(home / "airflow", port, env)
    try:
        af.start(timeout=420)  # a loaded CI machine needs minutes
        wait_for(lambda: DAG_ID in {d["dag_id"] for d in af.api("GET", "/dags", params={"limit": 100})["dags"]},
                 180, f"DAG {DAG_ID} not registered", 2)
        run_id = af.trigger(DAG_ID, AS_OF.isoformat(), CONF)
        af.wait_for_task(DAG_ID, run_id, "approval", WAITING_FOR_HUMAN, timeout=900)
        mlflow.set_tracking_uri(tracking)  # artifact downloads go through MLflow's global URIs
        mlflow.set_registry_uri(tracking)
        yield af, home, env, run_id, MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        af.stop()
        sink.stop()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(120)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    yield driver
    driver.quit()


def _shot(driver, step: str) -> None:  # type: ignore[no-untyped-def]
    assert step in STEPS
    driver.save_screenshot(str(SHOTS / f"{step}.png"))


def _wait(driver, timeout: float = 90):  # type: ignore[no-untyped-def]
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout)


def _log_in(driver, af: Standalone, user: str, shot: str | None = None) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.delete_all_cookies()
    driver.get(f"{af.base}/")
    _wait(driver).until(ec.presence_of_element_located((By.NAME, "username"))).send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(json.loads(af.passwords_file.read_text())[user])
    if shot:
        _shot(driver, shot)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(driver).until(lambda d: "/auth/login" not in d.current_url)


def _open_approval(driver, af: Standalone) -> None:  # type: ignore[no-untyped-def]
    """Required Actions -> the approval's subject -> its prompt with the reason field."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(f"{af.base}/required_actions")
    _wait(driver).until(ec.element_to_be_clickable((By.PARTIAL_LINK_TEXT, f"Approve {NAME} v1"))).click()
    _wait(driver).until(ec.presence_of_element_located((By.NAME, "element_reason")))
    _wait(driver).until(ec.presence_of_element_located((By.LINK_TEXT, "the candidate report and technical file")))


def _answer(driver, option: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.find_element(By.NAME, "element_reason").send_keys(reason)
    _wait(driver).until(ec.element_to_be_clickable((By.XPATH, f"//button[normalize-space()='{option}']"))).click()


def _monitor_the_drift(env: dict[str, str]) -> None:
    """Score the days around the cards' drift with the new champion and monitor them, as the score and
    stability steps do (in this process, on the platform's stores)."""
    from ml.monitor.check import check_stability
    from ml.monitor.history import History
    from ml.monitor.stability import Reference
    from ml.scoring import score

    with pytest.MonkeyPatch.context() as mp:
        for key in ("RISKOPS_HOME", "RISKOPS_DATA", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI",
                    "RISKOPS_MLFLOW_ARTIFACTS"):
            mp.setenv(key, env[key])
        from ml.config import Settings, configure_mlflow

        settings = Settings.from_env()
        configure_mlflow(settings)
        storage = Storage(settings.data_url)
        pinned = score.resolve_model(DATASET)
        for day in MONITORED:
            score.score_day(storage, SPEC, day, pinned)

        def reference(version: str) -> Reference:
            model = registry.load_model(MlflowClient(), NAME, version)
            return Reference.of(model.reference_bins, model.reference_sample, model.pipeline.categorical)

        check_stability(storage, SPEC, MONITORED, History.open(settings.history_url), reference, run_key=None,
                        waiting=lambda: [])


@pytest.mark.slow
def test_the_approver_reviews_the_report_and_approves_in_the_browser(platform, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    af, home, env, run_id, client = platform
    driver = browser
    report = registry.report_bytes(client, NAME, "1")
    assert report is not None
    recorded = registry.tags(client, NAME, "1")["report_sha256"]
    assert hashlib.sha256(report).hexdigest() == recorded

    # a user who is not an assigned approver sees the prompt but is refused when answering
    _log_in(driver, af, CLERK)
    _open_approval(driver, af)
    _answer(driver, "Approve", "I am not on the list")
    _wait(driver).until(ec.presence_of_element_located((By.XPATH, "//*[contains(text(), 'Access Denied')]")))
    _shot(driver, "01-not-an-approver-refused")
    assert af.task_state(DAG_ID, run_id, "approval") in WAITING_FOR_HUMAN
    assert approvals.champion(client, NAME) is None

    # the approver: log in, Required Actions, the approval's prompt
    _log_in(driver, af, APPROVER, shot="02-login")
    driver.get(f"{af.base}/required_actions")
    _wait(driver).until(ec.presence_of_element_located((By.PARTIAL_LINK_TEXT, f"Approve {NAME} v1")))
    _shot(driver, "03-required-actions")
    _open_approval(driver, af)
    prompt = driver.find_element(By.TAG_NAME, "body").text
    assert "Verdict:" in prompt and recorded in prompt and "Not triggered by drift" in prompt
    assert f"MLflow: model {NAME} version 1" in prompt
    _shot(driver, "04-approval-prompt")
    approval_page = driver.current_url

    # the report, one click from the prompt: the review page with the hash check, then the PDF itself
    before = set(driver.window_handles)
    driver.find_element(By.LINK_TEXT, "the candidate report and technical file").click()
    # Airflow's UI opens a prompt's links in a new tab
    _wait(driver).until(lambda d: set(d.window_handles) - before or "/riskops/" in d.current_url)
    if set(driver.window_handles) - before:
        driver.switch_to.window((set(driver.window_handles) - before).pop())
    _wait(driver).until(ec.presence_of_element_located((By.XPATH, "//h1[contains(., 'what you approve')]")))
    review = driver.find_element(By.TAG_NAME, "body").text
    assert recorded in review and "matches the SHA-256 recorded at registration" in review
    _shot(driver, "05-review-page")
    pdf_href = driver.find_element(By.LINK_TEXT, f"{NAME}-v1.pdf").get_attribute("href")
    driver.find_element(By.LINK_TEXT, f"{NAME}-v1.pdf").click()
    _wait(driver).until(lambda d: d.current_url == pdf_href)
    import time

    time.sleep(3)  # chromium's PDF viewer draws the first page
    _shot(driver, "06-report-pdf")
    # the same bytes through the approver's session cookie: the stored report, as hashed at registration
    cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
    import httpx

    served = httpx.get(pdf_href, cookies=cookies, timeout=60)
    assert served.status_code == 200 and served.content == report
    assert httpx.get(pdf_href, timeout=60).status_code == 401  # and nothing without a login

    # approve with a reason; the candidate becomes the champion
    driver.get(approval_page)
    _wait(driver).until(ec.presence_of_element_located((By.NAME, "element_reason")))
    _answer(driver, "Approve", "reviewed the report: AUC and calibration fine")
    assert af.wait_for_run(DAG_ID, run_id, timeout=600) == "success"
    champion = approvals.champion(client, NAME)
    assert champion is not None and str(champion.version) == "1"
    audit = registry.tags(client, NAME, "1")
    assert audit["approved_by"] == APPROVER and "calibration fine" in json.dumps(registry.audit_trail(client, NAME, "1"))
    driver.refresh()
    _wait(driver).until(ec.presence_of_element_located((By.TAG_NAME, "body")))
    _shot(driver, "07-approved")

    # after the drift is scored and monitored: the view in Airflow's navigation, then the dataset's red windows
    _monitor_the_drift(env)
    driver.get(f"{af.base}/plugin/riskops-monitoring")
    _wait(driver).until(ec.frame_to_be_available_and_switch_to_it((By.TAG_NAME, "iframe")))
    _wait(driver).until(ec.presence_of_element_located((By.LINK_TEXT, DATASET))).click()
    _wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, "tr[data-window]")))
    driver.switch_to.default_content()
    _shot(driver, "08-monitoring-in-airflow")
    driver.get(f"{af.base}/riskops/datasets/{DATASET}")
    page = driver.page_source
    rows = dict(re.findall(r'<tr data-window="([^"]+)">(.*?)</tr>', page, re.S))
    red_days = [w for w, cells in rows.items() if re.match(r"2026-09-2\d$", w) and ">red</td>" in cells]
    assert red_days, sorted(rows)
    # the window's light, then its score PSI's critical value (the row's last cell)
    assert re.search(r">(amber|red)</td><td class=\"n\">[^<]*</td>$", rows["2026-W39"])
    assert re.search(r">v1</td><td class=\"n\">[\d,]+</td><td class=\"n\">0\.\d{4}</td>", rows["2026-W39"])
    _shot(driver, "09-monitoring-red-windows")
    assert sorted(p.stem for p in SHOTS.glob("*.png")) == sorted(STEPS)
