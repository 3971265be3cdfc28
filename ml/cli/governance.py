"""Commands of governance: approvals (promote, reject, rollback), the champion history, the stop switch (halt,
resume), a version's technical file and the model inventory."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ml.cli.common import (
    context,
    date_arg,
    free_text,
    mlflow_client,
    read_settings,
    step,
)
from ml.errors import RiskopsError

if TYPE_CHECKING:
    from ml.storage import Storage



def _decision_args(*extra: tuple[str, bool]) -> Callable[[argparse.ArgumentParser], None]:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--version", required=True)
        free_text(p, "--approver", required=True, blank=False,
                  help="who decided (one of RISKOPS_APPROVER_USERS when that is set)")
        for name, required in extra:
            free_text(p, f"--{name}", required=required, blank=not required)
    return add


def _promote_args(p: argparse.ArgumentParser) -> None:
    _decision_args(("note", False))(p)
    free_text(p, "--triggered-by", help="who triggered the retraining (RISKOPS_SEPARATE_DUTIES=on: they may not "
                                        "approve it)")


def _report(storage: "Storage", client: Any, dataset: str, version: str) -> bytes | None:
    """The report the approvers were sent; versions stored before per-version keys have it in MLflow only."""
    from ml import layout
    from ml.governance import registry

    key = layout.candidate(dataset, version, "candidate.pdf")
    return storage.read_bytes(key) if storage.exists(key) else \
        registry.report_bytes(client, registry.model_name(dataset), version)


def _decided(name: str, version: str, audit: dict[str, Any], approver: str, what: str) -> None:
    """Print the outcome of one approval: still waiting for the quorum, or done."""
    if audit["status"] == "waiting":
        given, quorum = audit["approvals"], audit["quorum"]
        again = f"{approver}'s approval was already recorded" if audit["already"] else f"{approver} approved"
        print(f"{again}: {len(given)} of {quorum} approvals of {what} {name} version {version} "
              f"({', '.join(given)}); waiting for {quorum - len(given)} more approver(s)")
        return
    verb = "is now Production (alias champion)" if audit.get("kind") != "rolled back" else \
        "is the champion again (Production, alias champion): rolled back"
    print(f"{name} version {version} {verb}; approved by {audit['approved_by']} at {audit['promoted_at']}; "
          f"previous champion: {audit['previous_champion']}")


@step("promote", "record one approval of a registered version; at the approval quorum it becomes the champion "
      "(Production), with an audit trail", _promote_args)
def cmd_promote(args: argparse.Namespace) -> int:
    from ml.governance import approvals, registry

    settings, storage, spec = context(args)
    client, name = mlflow_client(settings), registry.model_name(spec.name)
    audit = approvals.promote(client, name, args.version, args.approver, args.note,
                              report=_report(storage, client, spec.name, args.version),
                              approvers=settings.approver_users,
                              triggered_by=args.triggered_by if settings.separate_duties else None,
                              quorum=spec.oversight.quorum(settings.approval_quorum),
                              separate_duties=settings.separate_duties)
    _decided(name, args.version, audit, args.approver, "the promotion of")
    return 0


def _rollback_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--version", help="the earlier champion to restore (default: the champion before the current one)")
    free_text(p, "--approver", required=True, blank=False,
              help="who approves (or declines) the rollback (one of RISKOPS_APPROVER_USERS when that is set)")
    free_text(p, "--reason", required=True, blank=False,
              help="why roll back: the first approval opens the request with it, the champion history records it")
    free_text(p, "--note", help="this approver's note (default: the reason)")
    free_text(p, "--requested-by", help="who asked for the rollback, given when the request is opened "
                                        "(RISKOPS_SEPARATE_DUTIES=on: they may not approve it, so the first "
                                        "approver must name someone else); default: the first approver")
    p.add_argument("--decline", action="store_true", help="decline the waiting rollback instead of approving it")


@step("rollback", "record one approval of re-promoting an earlier champion (never rejected); at the approval "
      "quorum it is the champion again", _rollback_args)
def cmd_rollback(args: argparse.Namespace) -> int:
    from ml.governance import approvals, registry

    settings, storage, spec = context(args)
    client, name = mlflow_client(settings), registry.model_name(spec.name)
    if args.decline:
        if not args.version:
            raise RiskopsError("--decline needs the --version whose rollback is declined")
        approvals.decline_rollback(client, name, args.version, args.approver, args.reason,
                                   approvers=settings.approver_users)
        print(f"rollback of {name} to version {args.version} declined by {args.approver}: {args.reason}")
        return 0
    target, _ = approvals.rollback_target(client, name, args.version)
    audit = approvals.rollback(client, name, target, args.approver, args.reason,
                               report=_report(storage, client, spec.name, target), approvers=settings.approver_users,
                               quorum=spec.oversight.quorum(settings.approval_quorum),
                               requested_by=args.requested_by.strip() or None, note=args.note,
                               separate_duties=settings.separate_duties)
    _decided(name, target, audit, args.approver, "the rollback to")
    return 0


@step("champions", "print the champion history of a dataset's model: every promotion, rollback, halt and resume")
def cmd_champions(args: argparse.Namespace) -> int:
    from ml.governance import champions, registry
    from ml.governance.halt import halted

    settings, _, spec = context(args)
    client, name = mlflow_client(settings), registry.model_name(spec.name)
    events = champions.history(client, name)
    for event in events:
        print(event.line())
    if not events:
        print(f"no champion history for {name}: nothing was promoted yet")
    state = halted(client, name)
    print(f"now: HALTED by {state['by']} since {state['at']}: {state['reason']}" if state else
          "now: not halted")
    return 0


def _document_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--version", required=True, help="the registered version")
    p.add_argument("--out", help="where to write the re-rendered PDF ('-': standard output; default "
                                 "riskops-<dataset>-v<version>-technical-file.pdf in the current folder)")


@step("document", "re-render a version's technical file from its sources and say whether it is byte-identical to "
      "the one stored at registration (exit 1 when it differs)", _document_args)
def cmd_document(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ml.governance import registry, technical_file

    settings, storage, spec = context(args)
    client = mlflow_client(settings)
    result = technical_file.rerender(storage, client, spec, args.version)
    name = registry.model_name(spec.name)
    out = args.out or technical_file.artifact_name(name, args.version)
    if out == "-":
        sys.stdout.buffer.write(result.pdf)
        sys.stdout.flush()
        where, say = "standard output", sys.stderr
    else:
        try:
            Path(out).write_bytes(result.pdf)
        except OSError as exc:
            raise RiskopsError(f"cannot write {out}: {exc.strerror or exc}") from exc
        where, say = out, sys.stdout
    if result.identical:
        print(f"{name} version {args.version}: technical file re-rendered to {where} (sha256 {result.sha256}), "
              "byte-identical to the one stored at registration", file=say)
        return 0
    print(f"{name} version {args.version}: technical file re-rendered to {where} (sha256 {result.sha256}) DIFFERS "
          f"from the one stored at registration (sha256 {result.stored_sha256}): its sources changed since (the "
          "spec, the manifests of its window, its MLflow run) or this riskops release lays the file out "
          "differently", file=say)
    return 1


def _inventory_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the inventory as JSON")
    p.add_argument("--as-of", type=date_arg, help="the day reviews are judged overdue on (default: today, UTC)")
    p.add_argument("--run-key", help="name of the calling run (the inventory DAG's run id): leaves the inventory "
                                     "and the overdue reviews' mail for the run's next task")


def _inventory_table(entries: list[Any]) -> str:
    import pandas as pd

    def champion(e: Any) -> str:
        return f"v{e.champion}" if e.champion else ("none: " + e.problem if e.problem else "none")

    rows = [{
        "dataset": e.dataset, "champion": champion(e), "since": e.since[:10], "approved by": e.approved_by,
        "last backtest": " ".join(filter(None, [e.last_backtest, e.backtest_light,
                                                f"ALERT {e.backtest_alert}" if e.backtest_alert else ""])),
        "stability": " ".join(filter(None, [e.stability_light, f"({e.stability_day})" if e.stability_day else ""])),
        "waiting": ", ".join(f"v{v}" for v in e.waiting),
        "next review": (e.next_review + (" OVERDUE" if e.overdue else "")) if e.next_review else "",
        "halted": e.halted} for e in entries]
    frame = pd.DataFrame(rows).replace("", "-")
    if (frame["halted"] == "-").all():
        frame = frame.drop(columns=["halted"])
    return str(frame.to_string(index=False))


@step("inventory", "list every dataset's champion: version, since, approvers, last backtest and its alert, latest "
      "stability light, candidates waiting, next review due (overdue marked)", _inventory_args, dataset=False)
def cmd_inventory(args: argparse.Namespace) -> int:
    from ml import contracts, layout, mails
    from ml.governance.notices import MailText
    from ml.monitor.history import History
    from ml.monitor.inventory import InventoryRun, inventory, overdue
    from ml.spec import load_specs
    from ml.storage import Storage

    settings = read_settings()
    specs, invalid = load_specs(settings.specs_dir)
    for error in invalid.values():
        print(f"warning: not listed: {error}", file=sys.stderr)
    today = args.as_of or dt.datetime.now(dt.timezone.utc).date()
    entries = inventory(mlflow_client(settings), History.open(settings.history_url), specs, today)
    if args.run_key:
        late = [e.to_dict() for e in overdue(entries)]
        mail = mails.overdue_reviews(today.isoformat(), late) if late else None
        contracts.write(Storage(settings.data_url), layout.inventory_run(args.run_key), InventoryRun(
            as_of=today.isoformat(), models=[e.to_dict() for e in entries],
            mail=MailText(subject=mail.subject, html=mail.html) if mail else None))
    if args.json:
        print(json.dumps({"as_of": today.isoformat(), "models": [e.to_dict() for e in entries]}, indent=2))
    elif entries:
        print(_inventory_table(entries))
    else:
        print(f"no datasets: no valid spec in {settings.specs_dir}")
    return 0


def _stop_args(p: argparse.ArgumentParser) -> None:
    free_text(p, "--approver", required=True, blank=False, help="who decides (one of RISKOPS_APPROVER_USERS when "
                                                                "that is set)")
    free_text(p, "--reason", required=True, blank=False, help="why (mailed to the on-call and the risk team, and "
                                                              "recorded in the champion history)")


def _notice(storage: "Storage", dataset: str, event_id: str, mail: Any) -> str:
    """Leave the mail for the Airflow side to send to the on-call and the risk team; returns its key."""
    from ml import contracts, layout
    from ml.governance.notices import OversightNotice

    key = layout.oversight_notice(dataset, event_id)
    if not storage.exists(key):  # a retried step leaves the same mail once
        contracts.write(storage, key, OversightNotice(dataset=dataset, event=event_id, subject=mail.subject,
                                                      html=mail.html))
    return key


@step("halt", "stop a dataset's model: until it is resumed, scoring applies the spec's fallback policy or refuses",
      _stop_args)
def cmd_halt(args: argparse.Namespace) -> int:
    from ml import mails
    from ml.governance import registry
    from ml.governance.halt import halt

    settings, storage, spec = context(args)
    client, name = mlflow_client(settings), registry.model_name(spec.name)
    state, new = halt(client, name, args.approver, args.reason, approvers=settings.approver_users)
    fallback = spec.oversight.fallback
    key = _notice(storage, spec.name, state["id"],
                  mails.halt(spec.name, name, state, fallback.describe() if fallback else None))
    print(f"{name} {'halted' if new else 'was already halted'} by {state['by']} at {state['at']}: {state['reason']}")
    print(f"while halted, scoring {'applies the fallback policy: ' + fallback.describe() if fallback else 'refuses'}")
    print(f"mail to the on-call and the risk team: {storage.url(key)} (sent by the DAG halt_{spec.name}, or by the "
          "next run of any halt_/resume_ DAG of the dataset)")
    return 0


@step("resume", "lift the halt of a dataset's model: its champion scores again from the next scoring run",
      _stop_args)
def cmd_resume(args: argparse.Namespace) -> int:
    from ml import mails
    from ml.governance import registry
    from ml.governance.halt import resume

    settings, storage, spec = context(args)
    client, name = mlflow_client(settings), registry.model_name(spec.name)
    event = resume(client, name, args.approver, args.reason, approvers=settings.approver_users)
    key = _notice(storage, spec.name, event["id"], mails.resume(spec.name, name, event))
    print(f"{name} resumed by {event['by']} at {event['at']}: {event['why']}")
    print(f"mail to the on-call and the risk team: {storage.url(key)}")
    return 0


@step("reject", "reject a candidate version with a reason", _decision_args(("reason", True)))
def cmd_reject(args: argparse.Namespace) -> int:
    from ml.governance import approvals, registry

    settings, _, spec = context(args)
    name = registry.model_name(spec.name)
    audit = approvals.reject(mlflow_client(settings), name, args.version, args.approver, args.reason,
                             approvers=settings.approver_users)
    print(f"{name} version {args.version} rejected by {audit['rejected_by']}: {audit['rejected_reason']}")
    return 0
