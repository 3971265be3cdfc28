"""Benchmark: nightly scoring throughput against the raw booster, and memory as the day grows.

Trains a model on synthetic card transactions replayed and preprocessed as production does (the default
training config), registers and approves it in a temporary MLflow SQLite store, writes two curated days of
--rows-small and --rows-large rows (the training rows repeated, streamed in chunks with a ParquetWriter, never
held in memory; each with a preprocessed day's manifest), then, each score_day in a fresh process:

  (a) ceiling: rows/s of `booster.inplace_predict` alone on already-transformed features, the best of three
      ways of running it on the machine's cores: whole day in one call, in batches of score.BATCH_ROWS, and
      those batches on score.WORKERS threads with one XGBoost thread each (as score_day runs them);
  (a') the booster's share of scoring: the PD of every row and the contributions of the rows that get reason
      codes (those the model declines or reviews), the batches on score.WORKERS threads as score_day runs them;
      reason codes are part of every credit decision (an adverse-action notice), so this is the work a user
      scoring with the raw booster would have to do too;
  (b) rows/s of `score_day` end to end (streaming read, transform, predict, policy, reason codes for the
      adverse rows, write, commit), as a ratio to (a')  -- goal >= 0.8; and to (a), for the record;
  (c) peak RSS of `score_day` on the large day over the small day  -- goal <= 1.3;
  and, for the record, rows/s of `score_day` with reason codes for all rows (policy reason_codes='all').

The process is set up as `python -m ml` sets its own (`ml.cpu`).

Run: .venv/bin/python bench/score.py [--rows-small 1000000] [--rows-large 10000000] [--tiny] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ml.cpu import use_fast_sort  # noqa: E402

use_fast_sort()  # as `python -m ml` does, before numpy is imported

from bench import table  # noqa: E402
from bench.memory import reset_peak, status  # noqa: E402
from bench.table import Figure, figure  # noqa: E402

BENCH = "score"
DS = "card_transactions"
SMALL_DAY, LARGE_DAY = dt.date(2027, 1, 10), dt.date(2027, 1, 11)
TRAIN_DAYS, ROWS_PER_DAY = 10, 20_000
CHUNK_ROWS = 1_000_000  # rows per write, and so per row group, like preprocess's single write_table


# ---- setup: model, registry, data ------------------------------------------------------------------------

def _training_rows(storage, spec, first: dt.date, days: int, rows: int):
    """Synthetic days of `rows` rows replayed, preprocessed and joined with their outcomes as production does
    (`replay`, `preprocess_day`, `development_sample`)."""
    from ml.data.preprocess import preprocess_day
    from ml.data.replay import replay
    from ml.model.train import development_sample

    source = spec.source.model_copy(update={"params": spec.source.params.model_copy(update={"rows_per_day": rows})})
    spec = spec.model_copy(update={"source": source})
    last = first + dt.timedelta(days=days - 1)
    replay(storage, spec, first, last)
    for i in range(days):
        preprocess_day(storage, spec, first + dt.timedelta(days=i))
    return development_sample(storage, spec, last + dt.timedelta(days=spec.label.maturity_lag_days), days).frame


def _register(model, example) -> str:
    import mlflow
    from mlflow import MlflowClient

    from ml.governance import approvals, registry

    client = MlflowClient()
    experiment = client.create_experiment("bench", artifact_location=os.environ["RISKOPS_MLFLOW_ARTIFACTS"])
    with mlflow.start_run(experiment_id=experiment) as run:
        uri, sha = registry.log_model(model, example)
    name, report = registry.model_name(DS), b"%PDF bench report"
    version = registry.register_candidate(client, name, uri, run.info.run_id, {
        "riskops.model_sha256": sha, "riskops.report_sha256": hashlib.sha256(report).hexdigest()})
    approvals.promote(client, name, version, "bench", report=report)
    return version


def _write_day(storage, spec, day: dt.date, base, rows: int, template: dt.date) -> None:
    """A curated day of `rows` rows: the base rows repeated with unique ids, written chunk by chunk, and its
    manifest: that of the preprocessed day `template`, for this day's rows and file."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from ml import contracts, layout
    from ml.data.preprocess import read_manifest

    table = pa.Table.from_pandas(base.drop(columns=["label"]), preserve_index=False).replace_schema_metadata(None)
    table = table.set_column(0, "business_date", pa.array(np.full(len(table), np.datetime64(day, "s"))))
    ids = table.column(spec.id_column)
    key = layout.curated(DS, day)
    path = Path(storage.path(key))
    path.parent.mkdir(parents=True, exist_ok=True)
    written, repeat = 0, 0
    with pq.ParquetWriter(str(path), table.schema, compression="zstd") as writer:
        pending = []
        size = 0
        while written + size < rows:
            take = min(len(table), rows - written - size)
            part = table.slice(0, take)
            suffix, sep = pa.scalar(f"-{repeat:05d}", type=ids.type), pa.scalar("", type=ids.type)
            part = part.set_column(part.schema.get_field_index(spec.id_column), spec.id_column,
                                   pc.binary_join_element_wise(ids.slice(0, take), suffix, sep))
            pending.append(part)
            size += take
            repeat += 1
            if size >= CHUNK_ROWS or written + size >= rows:
                writer.write_table(pa.concat_tables(pending))
                written += size
                pending, size = [], 0
    manifest = read_manifest(storage, DS, template)
    assert manifest is not None
    manifest = manifest.model_copy(update={
        "date": day.isoformat(), "rows_in": rows, "rows_clean": rows, "rows_quarantined": 0,
        "input_sha256": hashlib.sha256(f"bench:{day}:{rows}".encode()).hexdigest(),
        "outputs": manifest.outputs.model_copy(update={"curated": key})})
    contracts.write(storage, layout.preprocess_manifest(DS, day), manifest)


def setup(root: Path, rows_small: int, rows_large: int, tiny: bool) -> dict[str, object]:
    from ml.config import TrainConfig
    from ml.model.train import fit
    from ml.spec import get_spec
    from ml.storage import Storage

    spec = get_spec(REPO / "datasets", DS)
    storage = Storage(str(root / "data"))
    started = time.perf_counter()
    first = dt.date(2026, 9, 1)
    rows = _training_rows(storage, spec, first, TRAIN_DAYS, 1_000 if tiny else ROWS_PER_DAY)
    days = rows["business_date"].dt.date
    cut = sorted(days.unique())[-3]
    config = TrainConfig(num_boost_round=20, early_stopping_rounds=5) if tiny else TrainConfig()
    model, facts = fit(spec, {"train": rows[days < cut], "valid": rows[days >= cut]}, config)
    trained = time.perf_counter() - started
    version = _register(model, rows.drop(columns=["label"]).head(5))
    for day, n in ((SMALL_DAY, rows_small), (LARGE_DAY, rows_large)):
        _write_day(storage, spec, day, rows, n, template=first)
    return {"version": version, "trees": facts["best_iteration"], "threshold": model.threshold,
            "train_rows": len(rows), "setup_seconds": round(time.perf_counter() - started, 1),
            "train_seconds": round(trained, 1)}


# ---- measurements ----------------------------------------------------------------------------------------

def ceiling(root: Path, day: dt.date, repeats: int) -> dict[str, float]:
    """rows/s of inplace_predict alone, on the day's rows already transformed (best of `repeats`); and of the
    booster's whole share of scoring: the PD of every row plus the contributions of the rows that get reasons
    (as score_day computes them, on its threads)."""
    import numpy as np
    import pyarrow.parquet as pq

    from ml import layout
    from ml.scoring import score
    from ml.spec import get_spec
    from ml.storage import Storage

    spec = get_spec(REPO / "datasets", DS)
    pinned = score.resolve_model(DS)
    storage = Storage(str(root / "data"))
    table = pq.read_table(storage.path(layout.curated(DS, day)))
    frame = table.to_pandas()
    batches = [pinned.model.pipeline.transform(frame.iloc[i:i + score.BATCH_ROWS])
               for i in range(0, len(frame), score.BATCH_ROWS)]
    # the rows score_day explains (the model declines or reviews them), per batch
    explained = [np.flatnonzero(score.decide_rows(table.slice(i, score.BATCH_ROWS), spec, pinned.model)[2]
                                ["model_decision"].codes != 0) for i in range(0, len(frame), score.BATCH_ROWS)]
    whole = pinned.model.pipeline.transform(frame)
    booster, single = pinned.model.booster, pinned.scoring.model.booster  # all cores / one thread
    saabas = pinned.scoring.contributions

    def model_work(k: int) -> None:
        single.inplace_predict(batches[k])
        score.contributions(pinned.scoring.model, batches[k].iloc[explained[k]], saabas)

    best_batched = best_whole = best_threads = best_work = least_cpu = float("inf")
    with ThreadPoolExecutor(score.WORKERS) as pool:
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            for features in batches:
                booster.inplace_predict(features)
            best_batched = min(best_batched, time.perf_counter() - t)
            least_cpu = min(least_cpu, time.process_time() - c)
            t, c = time.perf_counter(), time.process_time()
            booster.inplace_predict(whole)
            best_whole = min(best_whole, time.perf_counter() - t)
            least_cpu = min(least_cpu, time.process_time() - c)
            t, c = time.perf_counter(), time.process_time()
            list(pool.map(single.inplace_predict, batches))
            best_threads = min(best_threads, time.perf_counter() - t)
            least_cpu = min(least_cpu, time.process_time() - c)
            t = time.perf_counter()
            list(pool.map(model_work, range(len(batches))))
            best_work = min(best_work, time.perf_counter() - t)
    return {"rows": len(frame), "batched_rows_per_s": len(frame) / best_batched,
            "whole_rows_per_s": len(frame) / best_whole, "threads_rows_per_s": len(frame) / best_threads,
            "work_rows_per_s": len(frame) / best_work,
            "rows_per_cpu_s": len(frame) / least_cpu, "batch_rows": score.BATCH_ROWS, "load": os.getloadavg()[0]}


def child(root: Path, day: dt.date, reasons: str) -> None:
    """One score_day in this (fresh) process; prints timings and memory as JSON."""
    from ml.scoring import score
    from ml.spec import get_spec
    from ml.storage import Storage

    spec = get_spec(REPO / "datasets", DS)
    if reasons != spec.policy.reason_codes:
        spec = spec.model_copy(update={"policy": spec.policy.model_copy(update={"reason_codes": reasons})})
    pinned = score.resolve_model(DS)
    # loaded on first use, with the one-thread copy and the Saabas booster scoring derives from it: before the
    # clock starts and the baseline is taken
    _ = pinned.scoring
    storage = Storage(str(root / "data"))
    baseline = status("VmRSS")
    reset = reset_peak()
    t, c = time.perf_counter(), time.process_time()
    m = score.score_day(storage, spec, day, pinned)
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    print(json.dumps({
        "rows": m.rows_scored, "seconds": seconds, "rows_per_s": m.rows_scored / seconds, "cpu_seconds": cpu,
        "decisions": m.decisions, "baseline_rss": baseline,
        "score_day_peak_rss": status("VmHWM") if reset else None,
        "process_peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "scores_bytes": os.path.getsize(storage.path(m.scores)), "load": os.getloadavg()[0],
    }))


def _run_child(root: Path, day: dt.date, reasons: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, "--child", str(root), day.isoformat(), reasons],
                         check=True, capture_output=True, text=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])


def score_workers() -> int:
    from ml.scoring import score

    return score.WORKERS


def _mb(n: object) -> str:
    return f"{int(n) / 2 ** 20:,.0f} MB"


def figures(tiny: bool = False, rows_small: int = 1_000_000, rows_large: int = 10_000_000,
            repeats: int = 3) -> list[Figure]:
    if tiny:
        rows_small, rows_large, repeats = 20_000, 40_000, 1
    with tempfile.TemporaryDirectory(prefix="riskops-bench-score-") as tmp:
        root = Path(tmp)
        uri = f"sqlite:///{root / 'mlflow.db'}"
        os.environ.update({"MLFLOW_TRACKING_URI": uri, "RISKOPS_MLFLOW_ARTIFACTS": (root / "artifacts").as_uri(),
                           "PYTHONWARNINGS": "ignore"})
        import logging
        import warnings

        import mlflow

        warnings.filterwarnings("ignore")
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)

        facts = setup(root, rows_small, rows_large, tiny)
        config = "a few trees" if tiny else "default training config"
        print(f"model: {facts['trees']} trees ({config} on {facts['train_rows']:,} synthetic rows, "
              f"{facts['train_seconds']} s), threshold {facts['threshold']:.4f}; setup {facts['setup_seconds']} s")
        print(f"cpus: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}", flush=True)

        # the ceiling is measured before and after the score_day runs and the best kept, so a burst of load
        # from other processes during one measurement does not flatter the ratio
        before = ceiling(root, SMALL_DAY, repeats)
        small = _run_child(root, SMALL_DAY, "adverse")
        large = _run_child(root, LARGE_DAY, "adverse")
        every = _run_child(root, SMALL_DAY, "all")
        after = ceiling(root, SMALL_DAY, repeats)
    ways = ("batched_rows_per_s", "whole_rows_per_s", "threads_rows_per_s")
    best = max(top[way] for top in (before, after) for way in ways)
    for label, top in (("before", before), ("after", after)):
        print(f"(a) inplace_predict ceiling on {top['rows']:,} transformed rows ({label} the score_day runs): "
              f"{top['batched_rows_per_s']:,.0f} rows/s in batches of {top['batch_rows']:,}, "
              f"{top['whole_rows_per_s']:,.0f} rows/s in one call, {top['threads_rows_per_s']:,.0f} rows/s in "
              f"batches on {score_workers()} threads of one XGBoost thread each")
    print(f"    ceiling = {best:,.0f} rows/s (best of all); load average at the end: {os.getloadavg()[0]:.2f}")
    work = max(before["work_rows_per_s"], after["work_rows_per_s"])
    print(f"(a') the booster's share of scoring (PD of every row, contributions of the rows explained) on "
          f"{score_workers()} threads: {work:,.0f} rows/s")
    for label, r in (("small", small), ("large", large)):
        adverse = (r["decisions"]["review"] + r["decisions"]["decline"]) / r["rows"]
        print(f"(b) score_day {label}: {r['rows']:,} rows in {r['seconds']:.1f} s = {r['rows_per_s']:,.0f} rows/s "
              f"(reason codes for the {adverse:.1%} adverse rows); scores file {_mb(r['scores_bytes'])}")
    cpu_best = max(before["rows_per_cpu_s"], after["rows_per_cpu_s"])
    for label, r in (("small", small), ("large", large)):
        peak = r["score_day_peak_rss"]
        print(f"(c) {label}: RSS before score_day {_mb(r['baseline_rss'])} (model loaded), peak during score_day "
              + (f"{_mb(peak)} (+{_mb(int(peak) - int(r['baseline_rss']))})" if peak else "n/a")
              + f"; whole-process peak (ru_maxrss) {_mb(r['process_peak_rss'])}")

    def load(*runs: dict) -> float:  # the busiest moment of the measurements a figure compares
        return max([before["load"], after["load"], *(r["load"] for r in runs)])

    out = []
    for rows, r in ((rows_small, small), (rows_large, large)):
        out.append(figure(BENCH, f"score_day / the booster's share of it, rows/s, {rows / 1e6:g} M-row day",
                          r["rows_per_s"] / work, goal=">= 0.8", load=load(r),
                          note=f"{r['rows_per_s'] / 1000:,.0f} k vs {work / 1000:,.0f} k rows/s"))
    for rows, r in ((rows_small, small), (rows_large, large)):
        out.append(figure(BENCH, f"score_day / inplace_predict alone, rows/s, {rows / 1e6:g} M-row day",
                          r["rows_per_s"] / best, load=load(r),
                          note=f"{r['rows_per_s'] / 1000:,.0f} k vs {best / 1000:,.0f} k rows/s"))
    for rows, r in ((rows_small, small), (rows_large, large)):
        per_cpu = r["rows"] / r["cpu_seconds"]
        out.append(figure(BENCH, f"the same in CPU time, {rows / 1e6:g} M-row day", per_cpu / cpu_best,
                          load=load(r), note=f"{r['cpu_seconds']:.1f} CPU-s; the load does not change it"))
    out.append(figure(BENCH, f"the same, reason codes for every row, {rows_small / 1e6:g} M-row day",
                      every["rows_per_s"] / best, load=load(every)))
    if small["score_day_peak_rss"] and large["score_day_peak_rss"]:
        ratio = int(large["score_day_peak_rss"]) / int(small["score_day_peak_rss"])
        note = f"{_mb(large['score_day_peak_rss'])} / {_mb(small['score_day_peak_rss'])}"
    else:
        ratio, note = None, "no /proc/self/clear_refs to reset the peak"
    out.append(figure(BENCH, f"peak RSS of score_day, {rows_large / 1e6:g} M / {rows_small / 1e6:g} M rows", ratio,
                      goal="<= 1.3",
                      load=load(small, large), note=note))
    return out


def main() -> int:
    if sys.argv[1:2] == ["--child"]:  # one score_day in a fresh process (_run_child)
        import logging
        import warnings

        warnings.filterwarnings("ignore")
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        root, day, reasons = sys.argv[2:5]
        child(Path(root), dt.date.fromisoformat(day), reasons)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-small", type=int, default=1_000_000)
    parser.add_argument("--rows-large", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="repetitions of the ceiling measurement")
    return table.main(figures, parser)


if __name__ == "__main__":
    sys.exit(main())
