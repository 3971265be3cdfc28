"""`python -m ml <step>`: every pipeline step as a command; this is also the container entrypoint.

Each step takes the dataset and the business date (or a window) and is idempotent.
User errors print one clear line to stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Callable, Sequence

from ml.config import Settings, configure_mlflow
from ml.dates import date_range
from ml.errors import RiskopsError
from ml.spec import DatasetSpec, get_spec, load_specs
from ml.storage import Storage


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (use YYYY-MM-DD)") from None


def _days(args: argparse.Namespace) -> list[dt.date]:
    if args.date and (args.start or args.end):
        raise RiskopsError("give either --date or --start/--end, not both")
    if args.date:
        return [args.date]
    if not (args.start and args.end):
        raise RiskopsError("give --date, or --start and --end for a window")
    if args.end < args.start:
        raise RiskopsError(f"--end {args.end} is before --start {args.start}")
    return date_range(args.start, args.end)


def _context(args: argparse.Namespace) -> tuple[Settings, Storage, DatasetSpec]:
    settings = Settings.from_env()
    return settings, Storage(settings.data_url), get_spec(settings.specs_dir, args.dataset)


def cmd_datasets(args: argparse.Namespace) -> int:
    for name, spec in load_specs(Settings.from_env().specs_dir).items():
        print(f"{name}\t{len(spec.columns)} columns\tlabel={spec.label.column}\t"
              f"maturity_lag_days={spec.label.maturity_lag_days}\t{spec.description}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from ml.replay import replay

    _, storage, spec = _context(args)
    if args.end < args.start:
        raise RiskopsError(f"--end {args.end} is before --start {args.start}")
    summary = replay(storage, spec, args.start, args.end)
    total = sum(int(s["rows"]) for s in summary)  # type: ignore[call-overload]
    print(f"replayed {spec.name}: {total} rows over {len(summary)} days into {storage.url('landing/' + spec.name)}")
    return 0


def cmd_preprocess(args: argparse.Namespace) -> int:
    from ml.preprocess import preprocess_day

    _, storage, spec = _context(args)
    results = []
    for day in _days(args):
        m = preprocess_day(storage, spec, day)
        results.append({k: m[k] for k in ("dataset", "date", "rows_in", "rows_clean", "rows_quarantined")})
        if not args.json:
            print(f"{m['date']} {spec.name}: in {m['rows_in']}, clean {m['rows_clean']}, "
                  f"quarantined {m['rows_quarantined']}", flush=True)
    if args.json:
        print(json.dumps(results))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from ml.preprocess import daily_stats

    _, storage, spec = _context(args)
    frame = daily_stats(storage, spec.name)
    print(frame.to_string(index=False) if len(frame) else f"no preprocessed days for {spec.name}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from ml.retrain import retrain
    from ml.train import TrainConfig

    settings, storage, spec = _context(args)
    configure_mlflow(settings)
    try:
        config = TrainConfig(window_days=args.window_days, valid_days=args.valid_days, test_days=args.test_days,
                             beta=args.beta, threshold_method=args.threshold_method,
                             cost_sensitive=args.cost_sensitive, margin=args.margin)
    except ValueError as exc:
        raise RiskopsError(str(exc)) from None
    summary = retrain(storage, spec, args.as_of, config, artifact_root=settings.artifact_root)
    m = summary["metrics"]
    print(f"{summary['model_name']} version {summary['version']} registered (Staging, alias challenger): "
          f"{summary['verdict']}; out-of-time AUC {m['auc']:.4f}, KS {m['ks']:.4f}, threshold {summary['threshold']:.4f}")
    print(f"report: {storage.url(summary['report_key'])} (sha256 {summary['report_sha256'][:12]}...)")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from mlflow import MlflowClient

    from ml import registry

    settings, _, spec = _context(args)
    configure_mlflow(settings)
    name = registry.model_name(spec.name)
    audit = registry.promote(MlflowClient(), name, args.version, args.approver, args.note or "")
    print(f"{name} version {args.version} is now Production (alias champion); approved by {audit['approved_by']} "
          f"at {audit['promoted_at']}; previous champion: {audit['previous_champion']}")
    return 0


def cmd_reject(args: argparse.Namespace) -> int:
    from mlflow import MlflowClient

    from ml import registry

    settings, _, spec = _context(args)
    configure_mlflow(settings)
    name = registry.model_name(spec.name)
    audit = registry.reject(MlflowClient(), name, args.version, args.approver, args.reason)
    print(f"{name} version {args.version} rejected by {audit['rejected_by']}: {audit['rejected_reason']}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from ml import score

    settings, storage, spec = _context(args)
    configure_mlflow(settings)
    pinned = score.resolve_model(spec.name, args.model_version)
    if args.input:
        return _score_file(args, spec, pinned)
    for day in _days(args):
        if args.partition is not None:
            rows = score.score_partition(storage, spec, day, pinned, args.partition, args.partitions)
            print(f"{day} {spec.name}: partition {args.partition}/{args.partitions} scored {rows} rows "
                  f"with {pinned.name} v{pinned.version}", flush=True)
            continue
        if args.commit:
            m = score.commit(storage, spec, day, pinned, args.partitions)
        else:
            m = score.score_day(storage, spec, day, pinned)
        mix = ", ".join(f"{k} {v}" for k, v in m["decisions"].items())
        print(f"{day} {spec.name}: scored {m['rows_scored']} of {m['rows_in']} rows with {pinned.name} "
              f"v{pinned.version} ({mix}) -> {storage.url(m['scores'])}", flush=True)
    return 0


def _score_file(args: argparse.Namespace, spec: DatasetSpec, pinned: object) -> int:
    from pathlib import Path

    from ml import score

    source, target = Path(args.input), Path(args.output or Path(args.input).with_suffix(".scores.parquet"))
    if not source.is_file():
        raise RiskopsError(f"input file not found: {source}")
    scores, quarantine = score.score_file(source.read_bytes(), source.name, spec, pinned)  # type: ignore[arg-type]
    target.parent.mkdir(parents=True, exist_ok=True)
    (scores.to_csv(target, index=False) if target.suffix == ".csv" else scores.to_parquet(target, index=False))
    print(f"scored {len(scores)} rows of {source} -> {target}")
    if len(quarantine):
        rejected = target.with_name(target.stem + ".quarantine.csv")
        quarantine.to_csv(rejected, index=False)
        print(f"{len(quarantine)} rows failed validation and were not scored -> {rejected}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ml", description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")

    def step(name: str, fn: Callable[[argparse.Namespace], int], help: str, dataset: bool = True) -> argparse.ArgumentParser:
        p = steps.add_parser(name, help=help, description=help)
        p.set_defaults(fn=fn)
        if dataset:
            p.add_argument("--dataset", required=True, help="dataset name (a spec file in RISKOPS_SPECS)")
        return p

    step("datasets", cmd_datasets, "list the datasets that have a spec", dataset=False)
    p = step("replay", cmd_replay, "land a dataset's historic rows as daily raw batches, labels after their lag")
    p.add_argument("--start", type=_date, required=True)
    p.add_argument("--end", type=_date, required=True)
    p = step("preprocess", cmd_preprocess, "parse and validate raw batches into curated and quarantine files")
    p.add_argument("--date", type=_date, help="business date")
    p.add_argument("--start", type=_date, help="first date of a backfill window")
    p.add_argument("--end", type=_date, help="last date of a backfill window (inclusive)")
    p.add_argument("--json", action="store_true", help="print the row accounting as JSON")
    step("stats", cmd_stats, "daily row counts, quarantine rate and null rates kept by preprocessing")
    p = step("train", cmd_train, "train a candidate, compare with the champion, register it and render its report")
    p.add_argument("--as-of", type=_date, required=True, help="business date: only labels matured by then are used")
    p.add_argument("--window-days", type=int, default=30, help="business days in the development window")
    p.add_argument("--valid-days", type=int, default=4, help="days before the test period used for early stopping")
    p.add_argument("--test-days", type=int, default=7, help="most recent days held out as the out-of-time test")
    p.add_argument("--beta", type=float, default=2.0, help="F-beta used to choose the threshold")
    p.add_argument("--threshold-method", choices=["fbeta", "cost"], default="fbeta")
    p.add_argument("--cost-sensitive", action="store_true", help="weight rows by the spec's exposure column")
    p.add_argument("--margin", type=float, default=0.005, help="AUC gain over the champion needed to recommend")
    p = step("score", cmd_score, "score curated days (or an analyst's file) with the Production model")
    p.add_argument("--date", type=_date, help="business date")
    p.add_argument("--start", type=_date, help="first date of a backfill window")
    p.add_argument("--end", type=_date, help="last date of a backfill window (inclusive)")
    p.add_argument("--model-version", help="score with this registered version instead of the champion")
    p.add_argument("--partition", type=int, help="score only this slice (0-based) into staging")
    p.add_argument("--partitions", type=int, default=1, help="number of slices of the day")
    p.add_argument("--commit", action="store_true", help="merge the scored slices and publish the day")
    p.add_argument("--input", help="score this raw file (validated by the dataset spec) instead of a day")
    p.add_argument("--output", help="where --input's scores go (.parquet or .csv)")
    p = step("promote", cmd_promote, "make a registered version the champion (Production), with an audit trail")
    p.add_argument("--version", required=True)
    p.add_argument("--approver", required=True)
    p.add_argument("--note", default="")
    p = step("reject", cmd_reject, "reject a candidate version with a reason")
    p.add_argument("--version", required=True)
    p.add_argument("--approver", required=True)
    p.add_argument("--reason", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except RiskopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
