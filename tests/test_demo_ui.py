"""`make ui` reopens the demo's Airflow as the demo ran it: the settings the demo saved, a real `airflow
standalone` on them, the riskops DAGs (none stale, no example), the approver, the retrain DAGs switched on,
the API on 127.0.0.1 only; stopped cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from demo.airflow_runtime import AirflowApi, airflow_env, save_settings, wait_for
from demo.run import demo_settings
from demo.ui import ui_env
from tests.helpers import free_port

REPO = Path(__file__).resolve().parents[1]


def _settings(home: Path, port: int, smtp_port: int) -> dict[str, str]:
    return demo_settings(home, port, smtp_port, str(home / "data"), f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")


def test_make_ui_starts_airflow_with_the_settings_the_demo_ran_it_with(tmp_path: Path) -> None:
    home, port, smtp_port = tmp_path / "var", free_port(), free_port()
    settings = _settings(home, port, smtp_port)
    save_settings(home / "airflow", settings)
    # what the demo started Airflow with (demo.run: with_machine_env(settings)) is what `make ui` starts it with
    assert ui_env(home / "airflow") == airflow_env(home / "airflow", port, {
        k: v for k, v in settings.items() if k.startswith(("RISKOPS_HOME", "RISKOPS_DATA", "MLFLOW_", "AIRFLOW_CONN"))})
    for key, value in {"AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                       "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                       "AIRFLOW__API__HOST": "127.0.0.1", "RISKOPS_CRON_SCHEDULES": "off",
                       "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}.items():
        assert ui_env(home / "airflow")[key] == value, key


def test_make_ui_without_a_demo_says_so_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RISKOPS_", "MLFLOW_"))}
    proc = subprocess.run([sys.executable, "-m", "demo.ui"], cwd=REPO, env={**env, "RISKOPS_HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f"make ui failed: no demo has run with AIRFLOW_HOME {tmp_path / 'airflow'} (no "
                                   f"{tmp_path / 'airflow' / 'riskops-settings.json'}): run `make demo` first, or set "
                                   "RISKOPS_HOME to the demo's home")


def _listening(port: int) -> set[str]:
    """The local addresses listening on `port` (IPv4, /proc/net/tcp)."""
    out = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            out.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return out


@pytest.mark.slow
def test_make_ui_reopens_the_demo_airflow(tmp_path: Path) -> None:
    home, port, smtp_port = tmp_path / "var", free_port(), free_port()
    save_settings(home / "airflow", _settings(home, port, smtp_port))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RISKOPS_", "MLFLOW_"))}
    out = tmp_path / "ui.out"
    with open(out, "wb") as log:
        ui = subprocess.Popen([sys.executable, "-m", "demo.ui"], cwd=REPO, env={**env, "RISKOPS_HOME": str(home)},
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: "mails (promotion confirmations too)" in out.read_text(), 400,
                 f"make ui to print where to click; output: {out}", 2, alive=ui)
        printed = out.read_text()
        assert f"Airflow UI: http://127.0.0.1:{port}\n" in printed
        assert f"passwords in {home / 'airflow' / 'simple_auth_manager_passwords.json.generated'}" in printed
        af = AirflowApi(home / "airflow", port, ui_env(home / "airflow"))
        af.token = af.login()
        dags = af.api("GET", "/dags", params={"limit": 200})["dags"]
        assert dags and all(Path(d["fileloc"]).parent == REPO / "dags" for d in dags)  # no example DAG
        assert not [d["dag_id"] for d in dags if d["is_stale"]]
        retrain = [d for d in dags if d["dag_id"].startswith(("retrain_", "rollback_"))]
        assert retrain and not [d["dag_id"] for d in retrain if d["is_paused"]]  # an approval promotes
        assert all(d["is_paused"] for d in dags if d["dag_id"].startswith(("preprocess_", "score_")))
        assert af.as_user("risk-approver").api("GET", "/dags/retrain_card_transactions")["dag_id"]
        assert _listening(port) == {"127.0.0.1"}
        assert af.healthy()  # the triggerer too
        assert "No module named" not in (home / "airflow" / "standalone.log").read_text()
    finally:
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=120) == 0
    time.sleep(1)
    assert _listening(port) == set()
    assert subprocess.run(["pgrep", "-g", str(ui.pid)], capture_output=True).stdout == b""
