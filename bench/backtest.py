"""Benchmark: the weekly backtest of 10 M matured scored rows over 12 weeks, and NannyML's CBPE beside the
label-free estimate.

Writes 12 ISO weeks of scored days (--rows in all) the way scoring writes them (scoring's schema and writer,
one zstd parquet file per day, scoring manifests), the curated days' ids and fairness attribute (age), and
their labels (one CSV per day, landed after the maturity lag), PDs calibrated by construction (each outcome
drawn from its PD). Then, each in a fresh process set up as `python -m ml` sets its own (`ml.cpu`):

  (a) the backtest over the 12 weeks (`ml.monitor.backtest` plan + run: every statistic, DeLong CIs, band
      tests, fair lending, score percentiles, the estimate per week), and the PDF: wall time  -- goal <= 60 s;
  (b) the peak RSS above the process before the backtest (its imports) after each week of (a), and after
      week 12 over after week 4  -- goal <= 1.1: memory does not grow with the weeks read (the first weeks
      also fill the allocators' caches);
  (c) the label-free estimate per week against NannyML's CBPE (fit on the first week with its outcomes,
      estimating the 11 others as weekly chunks), both on the same PDs, CBPE in its own environment
      (bench/.venv-nannyml, made on first use from bench/requirements-nannyml.txt): mean absolute error
      of each against the realised AUC, and both times  -- goals: error no worse (a ratio <= 1.01: both compute
      the same expectation, so their errors tie to the fifth decimal), >= 20x faster. Not run at --tiny size:
      its environment takes minutes to make.

Run: .venv/bin/python bench/backtest.py [--rows 10000000] [--root DIR to keep the data] [--tiny] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ml.cpu import use_fast_sort  # noqa: E402

use_fast_sort()  # as `python -m ml` does, before numpy is imported

from bench import table  # noqa: E402
from bench.memory import reset_peak, status  # noqa: E402
from bench.table import TINY_SKIPPED, Figure, figure, venv_python  # noqa: E402

BENCH = "backtest"
DS = "give_me_some_credit"
FIRST = dt.date(2026, 1, 5)  # a Monday
WEEKS = 12
THRESHOLD = 0.2


def _spec():
    from ml.spec import get_spec

    return get_spec(REPO / "datasets", DS)


def _days() -> list[dt.date]:
    return [FIRST + dt.timedelta(days=i) for i in range(7 * WEEKS)]


def as_of() -> dt.date:
    """The date every generated day has matured on."""
    return _days()[-1] + dt.timedelta(days=_spec().label.maturity_lag_days)


# ---- data ----------------------------------------------------------------------------------------------

def generate(root: Path, rows: int) -> dict[str, object]:
    """Scores, manifests, curated rows (the id and fairness attributes, what the backtest reads of them) and
    labels of 12 weeks, one day at a time (never more than a day in memory)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from ml import contracts, layout
    from ml import policy as credit_policy
    from ml.rating import LEGACY_BANDS
    from ml.scoring import score
    from ml.scoring.manifests import ScoreManifest
    from ml.storage import Storage

    spec, storage = _spec(), Storage(str(root))
    policy = spec.policy.model_copy(update={"hard_rules": []})  # the rules read curated columns, absent here
    pinned = score.PinnedModel(f"riskops-{DS}", "1", "bench")  # names the file's metadata only
    days = _days()
    started = time.perf_counter()
    next_id = 1
    for i, day in enumerate(days):
        n = rows * (i + 1) // len(days) - rows * i // len(days)
        rng = np.random.default_rng(i)
        # a population drifting a little week by week, so the weeks' AUCs differ
        p = 1 / (1 + np.exp(-rng.normal(-2.7 + 0.02 * (i // 7), 1.1 + 0.01 * (i // 7), n)))
        y = (rng.uniform(size=n) < p).astype(np.int64)
        ids = pa.array(np.arange(next_id, next_id + n).astype(str))
        next_id += n
        decided = credit_policy.decide(pd.DataFrame(index=range(n)), p, THRESHOLD, policy, LEGACY_BANDS)
        known = {"id": ids, "pd": pa.array(p), "score": pa.array(decided["score"], pa.int32()),
                 **{c: pa.DictionaryArray.from_arrays(pa.array(decided[c].codes.astype(np.int32)),
                                                      pa.array(list(decided[c].categories), pa.string()))
                    for c in ("band", "decision")},
                 "policy": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)),
                                                          pa.array([score.MODEL_POLICY]))}
        # every other column of the scores schema (hard rule, reasons, ...) empty, as no rule or reason applies
        table = pa.Table.from_arrays([known[f.name] if f.name in known else pa.nulls(n, f.type)
                                      for f in score.SCHEMA], schema=score.SCHEMA)
        path = Path(storage.path(layout.scores(DS, day, "1")))
        path.parent.mkdir(parents=True, exist_ok=True)
        score._write(str(path), pinned, iter([table]))  # scoring's own writer: its encodings and row groups
        # the commit record as scoring writes it (the hashes and run id are not read by the backtest)
        decisions = decided["decision"]
        contracts.write(storage, layout.score_manifest(DS, day, "1"), ScoreManifest(
            dataset=DS, date=day.isoformat(), policy=score.MODEL_POLICY, input_manifest_sha256="0" * 64,
            curated=layout.curated(DS, day), rows_in=n, rows_scored=n, hard_rules={},
            decisions={str(c): int((decisions.codes == i).sum()) for i, c in enumerate(decisions.categories)},
            scores=layout.scores(DS, day, "1"), scores_sha256="0" * 64, scored_at=f"{day.isoformat()}T23:00:00+00:00",
            model=pinned.name, model_version="1", run_id=pinned.run_id, model_sha256=pinned.model_sha256,
            partitions=1))
        # the curated day: its ids in the scored order and the fairness attributes (Give Me Some Credit: age)
        storage.write_parquet(layout.curated(DS, day), pd.DataFrame(
            {spec.id_column: np.asarray(ids), **{a.column: rng.integers(21, 90, n) for a in spec.fairness.attributes}}))
        label = Path(storage.path(layout.labels_file(DS, day + dt.timedelta(days=spec.label.maturity_lag_days), day)))
        label.parent.mkdir(parents=True, exist_ok=True)
        pacsv.write_csv(pa.table({"id": ids, "application_date": pa.array([day.isoformat()] * n), "label": y}),
                        str(label))
    return {"rows": rows, "days": len(days), "seconds": round(time.perf_counter() - started, 1)}


# ---- measurements (each in a fresh process) --------------------------------------------------------------

def measure(root: Path, weeks: int) -> dict[str, object]:
    """Backtest the last `weeks` weeks, and render the PDF; wall times, the peak RSS of the backtest and the
    peak reached after each week."""
    from ml.monitor import backtest
    from ml.monitor.weekly_backtest import report_data
    from ml.storage import Storage
    from reports.backtest import render_backtest_report

    spec, storage = _spec(), Storage(str(root))
    facts = {"1": backtest.ModelFacts("1", THRESHOLD, 2.0, 0.80, {"A": 1, "B": 1, "C": 1, "D": 1, "E": 1})}
    after_week: list[int] = []
    summarise = backtest._week_result

    def traced(*args, **kwargs):  # the engine's last step of each week
        summary = summarise(*args, **kwargs)
        after_week.append(status("VmHWM"))
        return summary

    backtest._week_result = traced
    baseline = status("VmRSS")
    reset = reset_peak()
    started = time.perf_counter()
    result = backtest.run(storage, spec, backtest.plan(storage, spec, as_of(), weeks), facts)
    seconds = time.perf_counter() - started
    peak = status("VmHWM") if reset else None
    started = time.perf_counter()
    render_backtest_report(report_data(result, spec, "bench", dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)))
    matured = sum(w.rows_matured for w in result.weeks)
    return {"weeks": weeks, "rows": matured, "seconds": round(seconds, 2),
            "pdf_seconds": round(time.perf_counter() - started, 2), "baseline_rss": baseline, "peak_rss": peak,
            "peak_after_week": after_week if reset else [],
            "realised_auc": {w.week: w.performance.auc for w in result.weeks if w.performance},
            "estimated_auc": {w.week: w.estimate.expected_auc for w in result.weeks}}


def estimate_inputs(root: Path, out: Path) -> dict[str, object]:
    """PDs, outcomes and days of every row as .npy files (CBPE's input), and the time of our estimate per
    week on the same PDs (in memory, as CBPE's is)."""
    import numpy as np
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from ml import layout
    from ml.monitor.backtest import iso_week
    from ml.monitor.estimate import estimate
    from ml.storage import Storage

    spec, storage = _spec(), Storage(str(root))
    pds, ys, days = [], [], []
    for i, day in enumerate(_days()):
        pds.append(pq.read_table(storage.path(layout.scores(DS, day, "1")), columns=["pd"]).column("pd").to_numpy())
        label = layout.labels_file(DS, day + dt.timedelta(days=spec.label.maturity_lag_days), day)
        ys.append(pacsv.read_csv(storage.path(label)).column("label").to_numpy().astype(np.int8))
        days.append(np.full(len(pds[-1]), i, np.int16))
    for name, parts in (("pd", pds), ("y", ys), ("day", days)):
        np.save(out / f"{name}.npy", np.concatenate(parts))
    weekly = {iso_week(_days()[w * 7]): np.concatenate(pds[w * 7:(w + 1) * 7]) for w in range(1, WEEKS)}
    started = time.perf_counter()
    ours = {week: estimate(p).expected_auc for week, p in weekly.items()}  # the weeks CBPE estimates
    return {"seconds": round(time.perf_counter() - started, 3), "estimated_auc": ours,
            "rows": sum(len(p) for p in weekly.values())}


def cbpe(out: Path) -> dict[str, object]:
    """NannyML's CBPE in its own environment."""
    proc = subprocess.run([str(venv_python("nannyml")), str(REPO / "bench" / "cbpe.py"), str(out),
                           FIRST.isoformat()], capture_output=True, text=True, check=True)
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "load": os.getloadavg()[0]}


def _fresh(what: str, arg: str, root: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, what, arg, str(root)], capture_output=True, text=True,
                          check=True)
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "load": os.getloadavg()[0]}


def figures(tiny: bool = False, rows: int = 10_000_000, root: Path | None = None) -> list[Figure]:
    rows = 20_000 if tiny else rows
    with tempfile.TemporaryDirectory() as tmp:
        root = root or Path(tmp) / "data"
        if not (root / "scores").exists():
            print(f"generating {rows:,} scored rows over {WEEKS} weeks in {root} ...", flush=True)
            print(f"  {generate(root, rows)}", flush=True)
        full = _fresh("--measure", str(WEEKS), root)
        (Path(tmp) / "cbpe").mkdir()
        ours = _fresh("--estimate", str(Path(tmp) / "cbpe"), root)
        theirs = None if tiny else cbpe(Path(tmp) / "cbpe")
    return report(full, ours, theirs)


def report(full: dict, ours: dict, theirs: dict | None) -> list[Figure]:
    mb = 1 << 20
    print(f"(a) backtest of {full['rows']:,} matured rows over {full['weeks']} weeks: {full['seconds']} s; PDF "
          f"{full['pdf_seconds']} s; peak RSS {full['peak_rss'] / mb:.0f} MB (process before: "
          f"{full['baseline_rss'] / mb:.0f} MB)")
    what = f"{full['rows'] / 1e6:.3g} M matured rows over {full['weeks']} weeks"
    out = [figure(BENCH, f"backtest of {what}", full["seconds"], "s", "<= 60", load=full["load"]),
           figure(BENCH, "its PDF", full["pdf_seconds"], "s", load=full["load"])]
    above = [(peak - full["baseline_rss"]) / mb for peak in full["peak_after_week"]]
    if above:
        print("(b) peak RSS above the process before the backtest, after each week: "
              + " ".join(f"{v:.0f}" for v in above) + " MB")
    out.append(figure(BENCH, "its peak RSS above the process, after week 12 / after week 4",
                      above[-1] / above[3] if above else None, "", "<= 1.1", load=full["load"],
                      note=f"{above[-1]:.0f} / {above[3]:.0f} MB" if above else "no /proc/self/clear_refs"))
    realised = full["realised_auc"]
    weeks = list(ours["estimated_auc"])  # the 11 weeks CBPE estimates
    err_ours = [abs(ours["estimated_auc"][w] - realised[w]) for w in weeks]
    mean_ours = sum(err_ours) / len(err_ours)
    print(f"(c) label-free AUC estimate of 11 weeks ({ours['rows']:,} rows):")
    print(f"    riskops: mean |error| {mean_ours:.5f}, max {max(err_ours):.5f}, {ours['seconds']} s")
    speed = "NannyML CBPE time / riskops', AUC estimate of 11 weeks"
    error = "mean |estimated - realised AUC|, riskops / CBPE"
    if theirs is None:
        skipped = f"{TINY_SKIPPED} (NannyML's own environment)"
        return out + [figure(BENCH, speed, None, "x", ">= 20", note=skipped, load=ours["load"]),
                      figure(BENCH, error, None, "", "<= 1.01", note=skipped, load=ours["load"])]
    err_theirs = [abs(theirs["estimated_auc"][w] - realised[w]) for w in weeks]
    mean_theirs = sum(err_theirs) / len(err_theirs)
    print(f"    NannyML CBPE {theirs['version']}: mean |error| {mean_theirs:.5f}, max {max(err_theirs):.5f}, "
          f"{theirs['seconds']} s (fit on week 1 {theirs['fit_seconds']} s + estimate {theirs['estimate_seconds']} s)")
    for w in weeks:
        print(f"      {w}: realised {realised[w]:.4f}, riskops {ours['estimated_auc'][w]:.4f}, "
              f"CBPE {theirs['estimated_auc'][w]:.4f}")
    return out + [
        figure(BENCH, speed, theirs["seconds"] / max(ours["seconds"], 1e-9), "x", ">= 20",
               load=max(ours["load"], theirs["load"]), note=f"{theirs['seconds']} s / {ours['seconds']} s"),
        figure(BENCH, error, mean_ours / max(mean_theirs, 1e-12), "", "<= 1.01", load=theirs["load"],
               note=f"{mean_ours:.5f} / {mean_theirs:.5f}")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--root", type=Path, help="keep the generated data here (default: a temporary folder)")
    if sys.argv[1:2] == ["--measure"]:  # (a) in a fresh process: --measure WEEKS ROOT
        print(json.dumps(measure(Path(sys.argv[3]), int(sys.argv[2]))))
        return 0
    if sys.argv[1:2] == ["--estimate"]:  # (c) ours in a fresh process: --estimate OUT ROOT
        print(json.dumps(estimate_inputs(Path(sys.argv[3]), Path(sys.argv[2]))))
        return 0
    return table.main(figures, parser)


if __name__ == "__main__":
    sys.exit(main())
