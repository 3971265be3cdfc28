"""`make ui`: reopen the demo's Airflow exactly as the demo ran it, to look around and answer approvals.

The settings are the ones the demo wrote beside its database (`var/airflow/riskops-settings.json`, written by
demo.run from `demo_settings`): the same DAGs and plugins folders (so no riskops DAG goes stale and the
triggerer can import the approval gate's trigger, keeping waiting approvals deferred), examples off, the
`risk-approver` user, cron schedules off, the API on 127.0.0.1 at the demo's port (the address in the mails).
The SMTP sink is started again so that a promotion's mail lands in the outbox. The retrain and rollback DAGs
are switched on, so that an approval answered in the UI runs its promote step; everything else stays as the
demo left it (paused). Runs until Ctrl-C (or SIGTERM), then stops Airflow and the sink.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from demo.airflow_runtime import Standalone, WaitError, load_settings, wait_for, with_machine_env
from ml.config import Settings
from ml.errors import RiskopsError
from ml.mails import required_actions_url

ANSWERED_IN_THE_UI = ("retrain_", "rollback_")  # the DAGs whose approvals a UI user answers


def ui_env(airflow_home: Path) -> dict[str, str]:
    """The environment `make ui` starts Airflow with: the demo's saved settings on this machine's."""
    return with_machine_env(load_settings(airflow_home))


def switch_on_approvals(af: Standalone, timeout: float = 300) -> list[str]:
    """Unpause the DAGs whose approvals are answered in the UI (once the DAG processor has registered them);
    returns those it switched on. With cron schedules off this starts no run by itself."""
    def approval_dags() -> list[dict]:
        return [d for d in af.api("GET", "/dags", params={"limit": 200})["dags"]
                if d["dag_id"].startswith(ANSWERED_IN_THE_UI)]

    wait_for(lambda: bool(approval_dags()), timeout, "the DAG processor to register the retrain DAGs; log: "
             f"{af.log_path}", 2)
    paused = [d["dag_id"] for d in approval_dags() if d["is_paused"]]
    for dag_id in paused:
        af.set_paused(dag_id, False)
    return paused


def waiting_approvals(af: Standalone) -> list[str]:
    """The address of every approval still waiting for an answer."""
    waiting = af.api("GET", "/dags/~/dagRuns/~/hitlDetails", params={"response_received": "false", "limit": 100})
    return [required_actions_url(af.base, d["task_instance"]["dag_id"], d["task_instance"]["dag_run_id"],
                                 d["task_instance"]["task_id"]) for d in waiting["hitl_details"]
            if d["task_instance"]["state"] in ("deferred", "awaiting_input")]


def serve(home: Path) -> None:
    """Start the demo's Airflow and SMTP sink, print where to click, run until stopped."""
    from demo.run import _port_free, start_smtp_sink

    airflow_home = home / "airflow"
    env = ui_env(airflow_home)
    port = int(env["AIRFLOW__API__PORT"])
    if not _port_free(port):
        raise WaitError(f"port {port} (the demo's Airflow port, in the mails' links) is in use: stop what runs there")
    smtp_port = urlsplit(env["AIRFLOW_CONN_SMTP_DEFAULT"]).port
    sink = start_smtp_sink(home / "outbox", smtp_port) if smtp_port else None
    af = Standalone(airflow_home, port, env)
    try:
        print(f"Starting the demo's Airflow (AIRFLOW_HOME={airflow_home}) with its settings ...", flush=True)
        af.start()
        switched = switch_on_approvals(af)
        print(f"Airflow UI: {af.base}", flush=True)
        print(f"  users: admin, and the approver risk-approver; passwords in {af.passwords_file}")
        print(f"  switched on so that an approval promotes: {', '.join(switched) or 'already on'}")
        for url in waiting_approvals(af):
            print(f"  waiting for an approver: {url}")
        print(f"  mails (promotion confirmations too) land in {home / 'outbox'}; Ctrl-C stops Airflow", flush=True)
        while True:
            af.assert_running()
            time.sleep(5)
    finally:
        af.stop()
        if sink is not None:
            sink.terminate()
            sink.wait()


def main() -> int:
    # a terminated `make ui` must still stop Airflow and the sink (the finally in serve())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(Settings.from_env().home.resolve())
    except KeyboardInterrupt:
        return 0
    except (WaitError, RiskopsError) as exc:
        print(f"make ui failed: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
