"""The online decision service."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ml.cli.common import mlflow_client, read_settings, step
from ml.errors import RiskopsError


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: TLS is terminated in "
                                                       "front, docs/serving.md)")
    p.add_argument("--port", type=int, default=8090, help="port (default 8090)")
    p.add_argument("--dataset", action="append", dest="datasets", metavar="NAME",
                   help="serve this dataset (repeat for several; default: every spec with serving.enabled)")


@step("serve", "decide applications online (HTTP API) with the governed champion, as nightly scoring does",
      _serve_args, dataset=False)
def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from ml.serving import auth
    from ml.serving.app import Service, create_app
    from ml.serving.follower import POLL_SECONDS, Follower
    from ml.serving.journal import ENV as JOURNAL_ENV
    from ml.serving.journal import Journal
    from ml.serving.metrics import Metrics
    from ml.spec import get_spec, load_specs

    if not 0 < args.port < 65536:
        raise RiskopsError(f"--port {args.port} is not a TCP port")
    settings = read_settings()
    if args.datasets:
        specs = {name: get_spec(settings.specs_dir, name) for name in dict.fromkeys(args.datasets)}
    else:
        valid, invalid = load_specs(settings.specs_dir)
        for name, error in sorted(invalid.items()):  # an invalid spec costs only its own dataset
            print(f"warning: {name} is not served: {error}", flush=True)
        specs = {name: s for name, s in valid.items() if s.serving.enabled}
    if not specs:
        raise RiskopsError(f"no dataset to serve: no spec in {settings.specs_dir} says serving: {{enabled: true}} "
                           "(or name one with --dataset)")
    tokens_file = os.environ.get(auth.ENV)
    if not tokens_file:
        raise RiskopsError(f"{auth.ENV} is not set: name the file of '<client> <SHA-256 of the token>' lines "
                           "(docs/serving.md); without it every request would be refused")
    tokens = auth.load(Path(tokens_file))
    try:
        interval = float(os.environ.get("RISKOPS_DECISION_POLL_SECONDS", POLL_SECONDS))
    except ValueError as exc:
        raise RiskopsError("RISKOPS_DECISION_POLL_SECONDS is not a number of seconds") from exc
    if not 0.1 <= interval <= 5:
        raise RiskopsError("RISKOPS_DECISION_POLL_SECONDS must be within 0.1 and 5 (promotions reach the service "
                           "within 10 s)")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    metrics = Metrics()
    follower = Follower(specs, mlflow_client(settings), interval,
                        on_change=lambda ds, loaded: metrics.serving(ds, loaded.version, loaded.policy),
                        on_refusal=metrics.refused)
    journal = Journal(Path(os.environ.get(JOURNAL_ENV, str(settings.home / "decisions"))))
    app = create_app(Service(specs, tokens, follower, journal, metrics))
    print(f"serving {', '.join(sorted(specs))} on http://{args.host}:{args.port} (decision log {journal.path})",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, loop="uvloop", http="httptools", log_level="warning",
                access_log=False)
    return 0


def _rollup_args(p: argparse.ArgumentParser) -> None:
    from ml.cli.common import window

    window(p)
    p.add_argument("--log", help="the decision log folder (default RISKOPS_DECISION_LOG, else $RISKOPS_HOME/decisions)")


@step("rollup-decisions", "roll the decision log's records of each day into the decisions zone (scores' schema "
      "+ channel)", _rollup_args)
def cmd_rollup(args: argparse.Namespace) -> int:
    from ml.cli.common import context, days
    from ml.serving.journal import ENV as JOURNAL_ENV
    from ml.serving.rollup import rollup_day

    settings, storage, spec = context(args)
    folder = Path(args.log or os.environ.get(JOURNAL_ENV, str(settings.home / "decisions")))
    if not folder.is_dir():
        raise RiskopsError(f"no decision log folder at {folder} (--log or {JOURNAL_ENV})")
    for day in days(args):  # every calendar day: the service decides on any day
        m = rollup_day(storage, spec, day, folder)
        versions = ", ".join(f"{v}: {o['rows']}" for v, o in m["versions"].items()) or "none"
        print(f"{day} {spec.name}: {m['records']} online decisions rolled up (by version {versions}) from "
              f"{len(m['sources'])} log file(s)", flush=True)
    return 0
