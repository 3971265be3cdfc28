"""Commands of the data coming in: the datasets, replay, preprocessing and its statistics."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from ml.cli.common import (
    business_dates,
    context,
    days,
    read_settings,
    step,
    window,
)

if TYPE_CHECKING:
    pass



@step("datasets", "list the datasets that have a spec (and name the invalid specs with their errors)",
      dataset=False)
def cmd_datasets(args: argparse.Namespace) -> int:
    from ml.spec import load_specs

    valid, invalid = load_specs(read_settings().specs_dir)
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

    _, storage, spec = context(args)
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

    _, storage, spec = context(args)
    results, failures = [], []
    for day in business_dates(args, spec):
        try:
            m = preprocess_day(storage, spec, day)
        except QualityGateError as exc:  # outputs and manifest are written: the window's other days still run
            failures.append(exc)
            written = read_manifest(storage, spec.name, day)
            assert written is not None  # a failed gate writes the manifest before it raises
            m = written
        results.append(m.model_dump(include={"dataset", "date", "rows_in", "rows_clean", "rows_quarantined"}))
        if not args.json:
            print(f"{m.date} {spec.name}: in {m.rows_in}, clean {m.rows_clean}, "
                  f"quarantined {m.rows_quarantined}", flush=True)
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

    _, storage, spec = context(args)
    frame = daily_stats(storage, spec.name)
    print(stats_table(frame) if len(frame) else f"no preprocessed days for {spec.name}")
    return 0
