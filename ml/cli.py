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

from ml.config import Settings
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
    return [args.start + dt.timedelta(days=i) for i in range((args.end - args.start).days + 1)]


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except RiskopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
