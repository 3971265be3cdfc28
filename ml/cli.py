"""`python -m ml <step>`: every pipeline step as a command; this is also the container entrypoint.

Each step takes the dataset and the business date (or a window) and is idempotent. A step is a function
registered with `@step`; it imports what it needs when it runs, so `--help` stays fast.
User errors print one clear line to stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ml.config import Settings, TrainConfig
from ml.dates import date_range
from ml.errors import RiskopsError

if TYPE_CHECKING:
    from ml.spec import DatasetSpec
    from ml.storage import Storage

Command = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Step:
    name: str
    help: str
    run: Command
    arguments: Callable[[argparse.ArgumentParser], None]
    dataset: bool


STEPS: list[Step] = []


def step(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None,
         dataset: bool = True) -> Callable[[Command], Command]:
    """Register a command: its name, one-line help and a function adding its own arguments."""
    def register(run: Command) -> Command:
        STEPS.append(Step(name, help, run, arguments, dataset))
        return run
    return register


# ----------------------------------------------------------------------------------------- arguments

def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (use YYYY-MM-DD)") from None


def _text(text: str) -> str:
    """A free-text value (approver, note, reason): anything, but not blank."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be blank")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse, except that a free-text option (`free_text`) takes the next argument as its value whatever it
    looks like: argparse reads `--reason "--worse"` or `--reason "-0.4pt"` as an option without a value."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.free_text: set[str] = set()

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]  # typeshed: overloads
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        given = list(sys.argv[1:] if args is None else args)
        joined, i = [], 0
        while i < len(given):
            if given[i] in self.free_text and i + 1 < len(given):
                joined.append(f"{given[i]}={given[i + 1]}")  # `--flag=value` is always one value
                i += 2
            else:
                joined.append(given[i])
                i += 1
        return super().parse_known_args(joined, namespace)


def free_text(p: argparse.ArgumentParser, flag: str, required: bool = False, blank: bool = True,
              help: str = "") -> None:
    """An option taking any text as its value, even text starting with '-'; `blank=False` refuses blank text."""
    p.add_argument(flag, required=required, default="", type=str if blank else _text, help=help or None)
    if isinstance(p, _Parser):
        p.free_text.add(flag)


def window(p: argparse.ArgumentParser, single: bool = True) -> None:
    """The business-date arguments: --date D (repeatable), or --start/--end for a window (both ends included)."""
    if single:
        p.add_argument("--date", type=_date, action="append", help="business date (repeat for several)")
    p.add_argument("--start", type=_date, help="first date of a window")
    p.add_argument("--end", type=_date, help="last date of a window (inclusive)")


def days(args: argparse.Namespace) -> list[dt.date]:
    """The business dates that `window()` arguments name, in order; a clear error for any other combination."""
    single = getattr(args, "date", None)
    if single and (args.start or args.end):
        raise RiskopsError("give either --date or --start/--end, not both")
    if single:
        return sorted(set(single))
    if not (args.start and args.end):
        raise RiskopsError("give --date, or --start and --end for a window" if hasattr(args, "date")
                           else "give --start and --end")
    if args.end < args.start:
        raise RiskopsError(f"--end {args.end} is before --start {args.start}")
    return date_range(args.start, args.end)


def business_dates(args: argparse.Namespace, spec: "DatasetSpec") -> list[dt.date]:
    """The business dates `window()` arguments name, in the dataset's calendar: a window keeps its business
    days; a date named with --date that is not one is an error."""
    from ml.dates import is_business_day

    dates = days(args)
    named = [d for d in dates if not is_business_day(spec, d)] if getattr(args, "date", None) else []
    if named:
        raise RiskopsError(f"{named[0]} is not a business day of '{spec.name}' (calendar: {spec.calendar.days}, "
                           f"{len(spec.calendar.holidays)} holidays)")
    business = [d for d in dates if is_business_day(spec, d)]
    if not business:
        raise RiskopsError(f"no business day of '{spec.name}' from {dates[0]} to {dates[-1]}")
    return business


def _bool(text: str) -> bool:
    if text.strip().lower() in ("true", "yes", "1"):
        return True
    if text.strip().lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"'{text}' is not true or false")


def train_options(p: argparse.ArgumentParser) -> None:
    """One option per user-set TrainConfig field, with its default, help and choices."""
    for f in TrainConfig.options():
        flag = "--" + f.name.replace("_", "-")
        if isinstance(f.default, bool):  # `--flag` alone, or `--flag=false` (what a templated DAG passes)
            p.add_argument(flag, nargs="?", const=True, default=f.default, type=_bool, help=f.metadata["help"])
        else:
            p.add_argument(flag, type=type(f.default), default=f.default, choices=f.metadata.get("choices"),
                           help=f"{f.metadata['help']} (default {f.default})")


def train_config(args: argparse.Namespace) -> TrainConfig:
    try:
        return TrainConfig(**{f.name: getattr(args, f.name) for f in TrainConfig.options()})
    except ValueError as exc:
        raise RiskopsError(str(exc)) from None


def _settings() -> Settings:
    """The environment's settings; a bad value (RISKOPS_APPROVAL_QUORUM=two) is a user error."""
    try:
        return Settings.from_env()
    except ValueError as exc:
        raise RiskopsError(str(exc)) from None


def _context(args: argparse.Namespace) -> tuple[Settings, "Storage", "DatasetSpec"]:
    from ml.spec import get_spec
    from ml.storage import Storage

    settings = _settings()
    return settings, Storage(settings.data_url), get_spec(settings.specs_dir, args.dataset)


def _mlflow(settings: Settings) -> Any:
    """An MLflow client on the configured tracking and registry URI."""
    from mlflow import MlflowClient

    from ml.config import configure_mlflow

    configure_mlflow(settings)
    return MlflowClient()


# ------------------------------------------------------------------------------------------- steps

@step("datasets", "list the datasets that have a spec (and name the invalid specs with their errors)",
      dataset=False)
def cmd_datasets(args: argparse.Namespace) -> int:
    from ml.spec import load_specs

    valid, invalid = load_specs(_settings().specs_dir)
    for name, spec in valid.items():
        print(f"{name}\t{len(spec.columns)} columns\tlabel={spec.label.column}\t"
              f"maturity_lag_days={spec.label.maturity_lag_days}\tcalendar={spec.calendar.days}\t{spec.description}")
    for error in invalid.values():
        print(f"error: {error}", file=sys.stderr)
    return 2 if invalid else 0


@step("replay", "land a dataset's historic rows as daily raw batches, labels after their lag",
      lambda p: window(p, single=False))
def cmd_replay(args: argparse.Namespace) -> int:
    from ml import layout
    from ml.data.replay import replay

    _, storage, spec = _context(args)
    dates = days(args)
    summary = replay(storage, spec, dates[0], dates[-1])
    total = sum(int(s["rows"]) for s in summary)
    unknown = sum(int(s["unknown_outcomes"]) for s in summary)
    print(f"replayed {spec.name}: {total} rows over {len(summary)} business days into "
          f"{storage.url(layout.LANDING + '/' + spec.name)} ({unknown} with an unknown outcome)")
    return 0


def _preprocess_args(p: argparse.ArgumentParser) -> None:
    window(p)
    p.add_argument("--json", action="store_true", help="print the row accounting as JSON")


@step("preprocess", "parse and validate raw batches into curated and quarantine files", _preprocess_args)
def cmd_preprocess(args: argparse.Namespace) -> int:
    from ml.data.preprocess import preprocess_day, read_manifest
    from ml.errors import QualityGateError

    _, storage, spec = _context(args)
    results, failures = [], []
    for day in business_dates(args, spec):
        try:
            m = preprocess_day(storage, spec, day)
        except QualityGateError as exc:  # outputs and manifest are written: the window's other days still run
            failures.append(exc)
            written = read_manifest(storage, spec.name, day)
            assert written is not None  # a failed gate writes the manifest before it raises
            m = written
        results.append({k: m[k] for k in ("dataset", "date", "rows_in", "rows_clean", "rows_quarantined")})
        if not args.json:
            print(f"{m['date']} {spec.name}: in {m['rows_in']}, clean {m['rows_clean']}, "
                  f"quarantined {m['rows_quarantined']}", flush=True)
    if args.json:
        print(json.dumps(results))
    if len(failures) > 1:
        for failure in failures:
            print(f"error: {failure}", file=sys.stderr)
        raise QualityGateError(f"{len(failures)} of {len(results)} days failed their data-quality gate")
    if failures:
        raise failures[0]
    return 0


@step("stats", "per preprocessed day: rows, quarantine rate, quality gate and top reasons; then null rates")
def cmd_stats(args: argparse.Namespace) -> int:
    from ml.data.preprocess import daily_stats, stats_table

    _, storage, spec = _context(args)
    frame = daily_stats(storage, spec.name)
    print(stats_table(frame) if len(frame) else f"no preprocessed days for {spec.name}")
    return 0


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", type=_date, required=True, help="business date: only labels matured by then are used")
    train_options(p)
    p.add_argument("--run-key", help="name of the calling run (the retrain DAG's run id); its next tasks find "
                                     "the registered version by it (default: as_of=<date>)")
    free_text(p, "--trigger", help="why this retraining runs, when monitoring requested it (drift); shown on the "
                                   "candidate report's first page")
    free_text(p, "--trained-by", help="who trained it (the retrain DAG passes whoever triggered the run); tagged "
                                      "on the version: with RISKOPS_SEPARATE_DUTIES=on they may not approve it")


@step("train", "train a candidate, compare with the champion, register it and render its report", _train_args)
def cmd_train(args: argparse.Namespace) -> int:
    from ml.retraining.retrain import retrain

    settings, storage, spec = _context(args)
    config = train_config(args)
    _mlflow(settings)
    summary = retrain(storage, spec, args.as_of, config, settings.artifact_root, run_key=args.run_key,
                      trigger=args.trigger.strip() or None, trained_by=args.trained_by.strip() or None,
                      quorum=spec.oversight.quorum(settings.approval_quorum))
    m = summary["metrics"]
    for gap in summary["gaps"]:
        print(f"warning: {gap}", file=sys.stderr)
    print(f"{summary['model_name']} version {summary['version']} registered (Staging, alias challenger): "
          f"{summary['verdict']}; out-of-time AUC {m['auc']:.4f} (95% CI {m['auc_low']:.4f} to {m['auc_high']:.4f}, "
          f"{m['n']} test rows, {m['positives']} positive), KS {m['ks']:.4f}, threshold {summary['threshold']:.4f}")
    print(f"verdict: {summary['verdict_reason']}")
    print(f"report: {storage.url(summary['report_key'])} (sha256 {summary['report_sha256'][:12]}...)")
    print(f"technical file: {storage.url(summary['technical_file_key'])} "
          f"(sha256 {summary['technical_file_sha256'][:12]}...)")
    if summary["superseded"]:
        print(f"superseded the waiting candidate(s): version {', '.join(summary['superseded'])}")
    return 0


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

    settings, storage, spec = _context(args)
    client, name = _mlflow(settings), registry.model_name(spec.name)
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

    settings, storage, spec = _context(args)
    client, name = _mlflow(settings), registry.model_name(spec.name)
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

    settings, _, spec = _context(args)
    client, name = _mlflow(settings), registry.model_name(spec.name)
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

    settings, storage, spec = _context(args)
    client = _mlflow(settings)
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
            raise RiskopsError(f"cannot write {out}: {exc.strerror or exc}") from None
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
    p.add_argument("--as-of", type=_date, help="the day reviews are judged overdue on (default: today, UTC)")
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
    from ml import layout, mails
    from ml.monitor.history import History
    from ml.monitor.inventory import inventory, overdue
    from ml.spec import load_specs
    from ml.storage import Storage

    settings = _settings()
    specs, invalid = load_specs(settings.specs_dir)
    for error in invalid.values():
        print(f"warning: not listed: {error}", file=sys.stderr)
    today = args.as_of or dt.datetime.now(dt.timezone.utc).date()
    entries = inventory(_mlflow(settings), History.open(settings.history_url), specs, today)
    if args.run_key:
        late = [e.to_dict() for e in overdue(entries)]
        mail = mails.overdue_reviews(today.isoformat(), late) if late else None
        Storage(settings.data_url).write_json(layout.inventory_run(args.run_key), {
            "as_of": today.isoformat(), "models": [e.to_dict() for e in entries],
            "mail": {"subject": mail.subject, "html": mail.html} if mail else None})
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
    from ml import layout

    key = layout.oversight_notice(dataset, event_id)
    if not storage.exists(key):  # a retried step leaves the same mail once
        storage.write_json(key, {"dataset": dataset, "event": event_id, "subject": mail.subject, "html": mail.html,
                                 "sent_at": None})
    return key


@step("halt", "stop a dataset's model: until it is resumed, scoring applies the spec's fallback policy or refuses",
      _stop_args)
def cmd_halt(args: argparse.Namespace) -> int:
    from ml import mails
    from ml.governance import registry
    from ml.governance.halt import halt

    settings, storage, spec = _context(args)
    client, name = _mlflow(settings), registry.model_name(spec.name)
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

    settings, storage, spec = _context(args)
    client, name = _mlflow(settings), registry.model_name(spec.name)
    event = resume(client, name, args.approver, args.reason, approvers=settings.approver_users)
    key = _notice(storage, spec.name, event["id"], mails.resume(spec.name, name, event))
    print(f"{name} resumed by {event['by']} at {event['at']}: {event['why']}")
    print(f"mail to the on-call and the risk team: {storage.url(key)}")
    return 0


@step("reject", "reject a candidate version with a reason", _decision_args(("reason", True)))
def cmd_reject(args: argparse.Namespace) -> int:
    from ml.governance import approvals, registry

    settings, _, spec = _context(args)
    name = registry.model_name(spec.name)
    audit = approvals.reject(_mlflow(settings), name, args.version, args.approver, args.reason,
                             approvers=settings.approver_users)
    print(f"{name} version {args.version} rejected by {audit['rejected_by']}: {audit['rejected_reason']}")
    return 0


def _score_args(p: argparse.ArgumentParser) -> None:
    window(p)
    p.add_argument("--model-version", help="score with this registered version instead of the champion")
    p.add_argument("--partition", type=int, help="score only this slice (0-based) into staging")
    p.add_argument("--partitions", type=int, default=1, help="number of slices of the day")
    p.add_argument("--commit", action="store_true", help="merge the scored slices and publish the day")
    p.add_argument("--input", help="score this raw file of the on-demand area (a name under <RISKOPS_DATA>/ondemand/, "
                                   "validated by the dataset spec) instead of a day")
    p.add_argument("--output", help="where --input's scores go, under ondemand/ too (.parquet or .csv; default "
                                    "<input>.scores.parquet)")
    p.add_argument("--run-key", help="name of the calling run (the score DAG's run id): a day this run already "
                                     "committed with the same version is not scored again (a retry scores only "
                                     "the days that failed)")


def _mix(manifest: dict[str, Any]) -> str:
    """A scored day's decisions for a console line ("approve 90, review 6, decline 4")."""
    return ", ".join(f"{k} {v}" for k, v in manifest["decisions"].items())


def _refuse_failed(failed: list[Any], dates: list[dt.date], verb: str) -> None:
    """The refusal of a run of several days some of which failed (each named on stderr as it failed)."""
    if failed:
        raise RiskopsError(f"{len(failed)} of {len(dates)} days not {verb} (each named above); the others are "
                           "committed")


@step("score", "score curated days (or an analyst's file) with the Production model", _score_args)
def cmd_score(args: argparse.Namespace) -> int:
    from ml import layout
    from ml.scoring import fallback, score

    settings, storage, spec = _context(args)
    dates = [] if args.input else business_dates(args, spec)
    source, target = _ondemand_paths(args, storage) if args.input else ("", "")  # refused before anything is opened
    if args.model_version:
        layout.model_version(args.model_version)  # user input: refused before MLflow is asked
    _mlflow(settings)
    halt = fallback.halt_of(spec.name)  # a halted model is never loaded: the fallback policy decides, or nothing
    if halt is not None:
        return _score_halted(storage, spec, dates, halt, args, source, target)
    pinned = score.resolve_model(spec.name, args.model_version)
    from ml.reasons import Dictionary

    warning = Dictionary.of(spec, ()).warning(spec.name)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    if args.input:
        return _score_file(storage, source, target, spec, lambda data, name: score.score_file(data, name, spec, pinned))
    if args.partition is not None:
        for day in dates:
            rows = score.score_partition(storage, spec, day, pinned, args.partition, args.partitions)
            print(f"{day} {spec.name}: partition {args.partition}/{args.partitions} scored {rows} rows "
                  f"with {pinned.name} v{pinned.version}", flush=True)
        return 0
    failed = []
    for day, m, error in score.score_days(storage, spec, dates, pinned, args.partitions if args.commit else None,
                                          run_key=args.run_key):
        if error is not None:  # the other days still run: each is its own commit
            if len(dates) == 1:
                raise RiskopsError(error)
            failed.append(f"{day}: {error}")
            print(f"error: {day} {spec.name}: {error}", file=sys.stderr, flush=True)
        elif m is None:
            print(f"{day} {spec.name}: already committed by this run with v{pinned.version}", flush=True)
        else:
            mix = _mix(m)
            print(f"{day} {spec.name}: scored {m['rows_scored']} of {m['rows_in']} rows with {pinned.name} "
                  f"v{pinned.version} ({mix}) -> {storage.url(m['scores'])}", flush=True)
    _refuse_failed(failed, dates, "scored")
    return 0


def _score_halted(storage: "Storage", spec: "DatasetSpec", dates: list[dt.date], halt: Any, args: argparse.Namespace,
                  source: str, target: str) -> int:
    """Scoring while the model is halted: the fallback policy decides each day (or the file), or the refusal."""
    from ml.scoring import fallback

    policy = fallback.fallback_policy(spec, halt).describe()
    if args.input:
        return _score_file(storage, source, target, spec,
                           lambda data, name: fallback.fallback_file(data, name, spec, halt))
    if args.partition is not None:  # no model to spread over slices: the commit decides the whole day
        print(f"{halt.text()}; partition {args.partition}/{args.partitions} has nothing to score: the commit "
              f"decides the day by the fallback policy ({policy})", flush=True)
        return 0
    failed = []
    for day in dates:
        try:
            m = fallback.score_day(storage, spec, day, halt, run_key=args.run_key)
        except RiskopsError as exc:  # the other days still run: each is its own commit
            if len(dates) == 1:
                raise
            failed.append(day)
            print(f"error: {day} {spec.name}: {exc}", file=sys.stderr, flush=True)
            continue
        mix = _mix(m)
        print(f"{day} {spec.name}: {halt.text()}; {m['rows_scored']} of {m['rows_in']} rows decided by the fallback "
              f"policy ({policy}: {mix}) -> {storage.url(m['scores'])}", flush=True)
    _refuse_failed(failed, dates, "decided")
    return 0


def _ondemand_paths(args: argparse.Namespace, storage: "Storage") -> tuple[str, str]:
    """Storage keys of --input and --output, both confined to the on-demand area (links included)."""
    from ml import layout

    source, target = layout.ondemand_files(args.input, args.output)
    for key in (source, target, _rejects(target)):  # a link under ondemand/ must not carry a file out of it
        storage.check_inside(key, layout.ONDEMAND)
    return source, target


def _rejects(target: str) -> str:
    """Where the rows of an on-demand file that failed validation go: beside its scores."""
    return target.rsplit(".", 1)[0] + ".quarantine.csv"


def _score_file(storage: "Storage", source: str, target: str, spec: "DatasetSpec",
                decide: Callable[[bytes, str], Any]) -> int:
    """Score an analyst's file with `decide(data, name)` -> (scores, quarantine): the model, or the fallback."""
    import io

    if not storage.exists(source):
        raise RiskopsError(f"input file not found: {storage.url(source)}")
    scores, quarantine = decide(storage.read_bytes(source), source.rsplit("/", 1)[-1])
    rejected = _rejects(target)
    try:
        buffer = io.BytesIO()
        (scores.to_csv(buffer, index=False) if target.endswith(".csv") else scores.to_parquet(buffer, index=False))
        storage.write_bytes(target, buffer.getvalue())
        if len(quarantine):
            storage.write_bytes(rejected, quarantine.to_csv(index=False).encode())
        else:
            storage.delete(rejected)  # a list scored earlier under the same name must not leave its rejects
    except OSError as exc:
        raise RiskopsError(f"cannot write {storage.url(target)}: {exc.strerror or exc}") from None
    print(f"scored {len(scores)} rows of {storage.url(source)} -> {storage.url(target)}")
    if len(quarantine):
        print(f"{len(quarantine)} rows failed validation and were not scored -> {storage.url(rejected)}")
    return 0


def _stability_args(p: argparse.ArgumentParser) -> None:
    window(p)
    p.add_argument("--model-version", action="append", help="monitor only this version's scores (repeatable; "
                                                             "default: every version that scored the day)")
    p.add_argument("--run-key", help="name of the calling run (the stability DAG's run id): decides the alert "
                                     "and the retraining request and leaves them for the run's next tasks")


@step("stability", "PSI/CSI, KS and JS of scored days, their weeks and months, into the history", _stability_args)
def cmd_stability(args: argparse.Namespace) -> int:
    from ml.governance import approvals, registry
    from ml.monitor.check import check_stability
    from ml.monitor.history import History
    from ml.monitor.stability import Reference

    settings, storage, spec = _context(args)
    client = _mlflow(settings)
    name = registry.model_name(spec.name)

    def reference(version: str) -> Reference:
        model = registry.load_model(client, name, version)
        return Reference.of(model.reference_bins, model.reference_sample, model.pipeline.categorical,
                            (model.meta.get("reasons") or {}).get("first"))

    summary = check_stability(storage, spec, days(args), History.open(settings.history_url), reference,
                              versions=args.model_version, run_key=args.run_key,
                              waiting=lambda: approvals.waiting_candidates(client, name))
    for w in summary["windows"]:
        psi = "-" if w["score_psi"] is None else f"{w['score_psi']:.4f}"
        print(f"{w['start']} {w['kind']:<5} v{w['model_version']}: {w['rows']:>9,} rows, score PSI {psi} "
              f"{w['score_light'] or ''}; red: {', '.join(w['red']) or '-'}; amber: {', '.join(w['amber']) or '-'}"
              f" -> {w['light']}", flush=True)
    for r in summary["reports"]:
        print(f"weekly report {r['week']}: {storage.url(r['key'])}")
    if summary["alert"]:
        print(f"alert for {len(summary['alert']['windows'])} window(s), to be mailed to the risk team: "
              f"{summary['alert']['subject']}")
    trigger = summary["trigger"]
    if trigger and trigger["status"] == "requested":
        print(f"retraining requested (as of {trigger['as_of']}): {trigger['reason']}")
    elif trigger:
        print(f"retraining not requested: candidate version(s) {', '.join(trigger['waiting'])} still waiting for "
              f"approval (recorded in the history); {trigger['reason']}")
    return 0


def _history_args(p: argparse.ArgumentParser) -> None:
    from ml.dates import BACKTEST_KINDS, WINDOW_KINDS

    p.add_argument("--feature", help="only this feature's rows")
    p.add_argument("--since", type=_date, help="only windows starting on or after this date")
    p.add_argument("--until", type=_date, help="only windows starting on or before this date")
    p.add_argument("--window", choices=(*WINDOW_KINDS, *BACKTEST_KINDS), help="only windows of this kind")
    p.add_argument("--statistic", action="append", help="only this statistic (repeatable), e.g. csi, score_psi")
    p.add_argument("--model-version", help="only this model version")
    p.add_argument("--csv", action="store_true", help="print CSV (with the JSON detail) instead of a table")


@step("history", "print the monitoring history of a dataset (stability and backtest statistics, alerts, triggers)",
      _history_args)
def cmd_history(args: argparse.Namespace) -> int:
    import pandas as pd

    from ml.monitor.history import History

    settings, _, spec = _context(args)
    records = History.open(settings.history_url).read(
        spec.name, model_version=args.model_version, window_kind=args.window, statistics=args.statistic,
        feature=args.feature, since=args.since, until=args.until)
    columns = ["window_kind", "window_start", "model_version", "statistic", "feature", "value", "light"]
    frame = pd.DataFrame([{c: getattr(r, c) for c in columns} | {"detail": json.dumps(r.detail, sort_keys=True)}
                          for r in records], columns=[*columns, "detail"])
    if args.csv:
        print(frame.to_csv(index=False), end="")
    elif len(frame):
        print(frame[columns].to_string(index=False, na_rep="", float_format=lambda v: f"{v:.4f}"))
    else:
        print(f"no history for {spec.name} with these filters")
    return 0


def _backtest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", type=_date, required=True, help="business date: outcomes known by then are judged")
    p.add_argument("--weeks", type=int, default=12,
                   help="ISO weeks judged up to the last matured day, and estimated up to the as-of date (default 12)")
    p.add_argument("--run-key", help="name of the calling run (the backtest DAG's run id): leaves the report's "
                                     "mail for the run's next task")


@step("backtest", "judge scores on matured outcomes by week and version, estimate the weeks not matured yet, "
      "render the PDF", _backtest_args)
def cmd_backtest(args: argparse.Namespace) -> int:
    from ml.monitor.history import History
    from ml.monitor.weekly_backtest import weekly_backtest

    settings, storage, spec = _context(args)
    _mlflow(settings)
    out = weekly_backtest(storage, spec, args.as_of, args.weeks, history=History.open(settings.history_url),
                          run_key=args.run_key)
    result = out["result"]
    for v in result.versions:
        p = v.performance
        print(f"{spec.name} version {v.version}, weeks {v.weeks[0]}..{v.weeks[-1]}: {p.rows} matured rows, "
              f"AUC {p.auc:.4f} [{p.auc_low:.4f}, {p.auc_high:.4f}], KS {p.ks:.4f}, default rate "
              f"{p.default_rate:.2%} vs mean PD {p.mean_pd:.2%}, {v.bands.rejected_bands} band(s) rejected by Jeffreys")
    for w in result.weeks:
        if w.rows_unmatured:
            e = w.estimate
            print(f"{w.week} version {w.version}: {w.rows_unmatured} rows not matured; estimated AUC "
                  f"{e.expected_auc:.4f} [{e.auc_low:.4f}, {e.auc_high:.4f}], default rate "
                  f"{e.expected_default_rate:.2%}")
    o = result.overrides
    if o is not None:
        rate = "-" if o.overall.decided == 0 else f"{o.overall.override_rate:.1%}"
        print(f"reviewers: {o.overall.decided} of the {o.overall.sent} rows sent to review decided, override rate "
              f"{rate} (reviews: {out['reviews']['accepted']} accepted, {out['reviews']['quarantined']} quarantined)")
    for line in result.notes + [f"ALERT {a}" for a in result.alerts]:
        print(line)
    print(f"history: {out['history_rows']} rows; MLflow: {out['mlflow_metrics']} weekly metrics on the versions' "
          "training runs")
    print(f"report: {storage.url(out['report_key'])}")
    return 0


def _reviews_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", type=_date, required=True, help="business date: the decisions made by then are read")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")


@step("reviews", "check the reviewers' decisions (reviews zone) against the scored rows: quarantine the bad ones, "
      "print the counts", _reviews_args)
def cmd_reviews(args: argparse.Namespace) -> int:
    from ml import layout
    from ml.monitor.reviews import check_reviews

    _, storage, spec = _context(args)
    reviews = check_reviews(storage, spec, args.as_of)
    counts = reviews.counts()
    if args.json:
        print(json.dumps({"dataset": spec.name, "as_of": args.as_of.isoformat(), **counts,
                          "arrivals": [a.manifest(spec.name) for a in reviews.arrivals]}))
        return 0
    for a in reviews.arrivals:
        m = a.manifest(spec.name)
        reasons = ", ".join(f"{k} {v}" for k, v in m["reasons"].items())
        print(f"{m['decided_on']} {spec.name}: in {m['rows_in']}, accepted {m['rows_accepted']}, quarantined "
              f"{m['rows_quarantined']}" + (f" ({reasons})" if reasons else ""))
    decisions = ", ".join(f"{k} {v}" for k, v in counts["decisions"].items())
    bands = ", ".join(f"{k} {v}" for k, v in counts["by_band"].items())
    print(f"{spec.name} as of {args.as_of}: {counts['accepted'] - counts['superseded']} rows decided ({decisions}; "
          f"by band: {bands or 'none'}); {counts['superseded']} decisions superseded by a later one; "
          f"{counts['quarantined']} quarantined under {storage.url(layout.QUARANTINE + '/_' + layout.REVIEWS)}")
    return 0


# ------------------------------------------------------------------------------ fair lending and reasons

def _reasons_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the dictionary as JSON")


@step("reasons", "print the dataset's reason statements (code, text, the features and hard rules each stands for) "
      "and its fairness attributes", _reasons_args)
def cmd_reasons(args: argparse.Namespace) -> int:
    from ml.reasons import Dictionary
    from ml.spec import get_spec

    spec = get_spec(_settings().specs_dir, args.dataset)
    dictionary = Dictionary.of(spec, [*spec.model_inputs, *(f.name for f in spec.derived)])
    warning = dictionary.warning(spec.name)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    unexplained = [f for f, s in zip([*spec.model_inputs, *(f.name for f in spec.derived)],
                                     dictionary.feature_statement) if s < 0] if dictionary.from_spec else []
    if args.json:
        print(json.dumps({"dataset": spec.name, "statements": [s.model_dump() for s in spec.reasons.statements],
                          "never_a_reason": sorted(spec.protected_columns) + unexplained,
                          "attributes": [a.model_dump() for a in spec.fairness.attributes]}, indent=2))
        return 0
    for s in spec.reasons.statements:
        stands_for = [*s.features, *(f"hard rule {r}" for r in s.rules)]
        print(f"{s.code}\t{s.text}\t({', '.join(stands_for)})")
    never = sorted(spec.protected_columns) + unexplained
    if never:
        print(f"never a reason: {', '.join(never)}")
    for a in spec.fairness.attributes:
        groups = spec.groups(a) or ["the values that occur"]
        print(f"fairness attribute {a.column} ({a.kind}): groups {', '.join(groups)}; reference {a.reference}")
    return 0


# -------------------------------------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m ml", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    for s in STEPS:
        p = commands.add_parser(s.name, help=s.help, description=s.help)
        p.set_defaults(run=s.run)
        if s.dataset:
            p.add_argument("--dataset", required=True, help="dataset name (a spec file in RISKOPS_SPECS)")
        s.arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except RiskopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

