"""Benchmark: stability monitoring at 10 M rows x 30 features, and side by side with Evidently.

  (a) the production step's work on one day: `ml.monitor.check.count_day` (reads the scores file's PD and the
      curated file's 30 feature columns, one column at a time, two at once) and `stability.judge` (score
      PSI/KS/JS, CSI + KS + JS per feature, lights) on a 10 M-row day  -- time, goal <= 30 s;
  (b) on the same in-memory frames (a 200 k-row reference, a 1 M-row current day, 30 features + the score):
      Evidently's DataDriftPreset(method="psi"), in its own virtual environment because Evidently 0.7.23
      needs pandas < 3, against this engine doing all its work from the same frames (fitting the reference
      bins and sample, then score PSI + CSI + KS + JS)  -- ratio of the times, goal >= 100; and the PSI of a
      few columns from both (Evidently bins the reference on its own, so values differ a little). The engine
      gets the pandas columns Evidently gets (a day is read from parquet as Arrow in production); it counts
      the columns on two threads, as the production step does, in a process set up as `python -m ml` sets
      its own (`ml.cpu`: NumPy's AVX2 sort kernels on AMD Zen 4).

The features: 22 numeric (amounts, scores, counts, flags) and 8 categorical (4 to 30 categories), with a
drift in a third of them on the current day. Evidently's environment, bench/.venv-evidently (git-ignored), is
made on first use from bench/requirements-evidently.txt. At --tiny size Evidently is not run: its environment
takes minutes to make, more than the test suite gives a bench.

Run: .venv/bin/python bench/stability.py [--rows 10000000] [--compare-rows 1000000] [--tiny] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ml.cpu import use_fast_sort  # noqa: E402

use_fast_sort()  # as `python -m ml` does, before numpy is imported

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from bench import table  # noqa: E402
from bench.table import TINY_SKIPPED, Figure, figure, venv_python  # noqa: E402
from ml import bins, layout  # noqa: E402
from ml.monitor import stability  # noqa: E402
from ml.monitor.check import count_day  # noqa: E402
from ml.spec import Monitoring  # noqa: E402
from ml.storage import Storage  # noqa: E402

BENCH = "stability"
DS, DAY, VERSION = "bench_cards", dt.date(2027, 1, 11), "1"
NUMERIC, CATEGORICAL = 22, 8
REFERENCE_ROWS, CHUNK = 200_000, 1_000_000
SHOWN = ["num_00", "num_03", "cat_00", "cat_01", "score"]


def _columns(n: int, seed: int, drift: bool) -> dict[str, np.ndarray | pd.Categorical]:
    """n rows of the 30 features and the score (PD); with `drift`, a third of the columns move."""
    rng = np.random.default_rng(seed)
    shift = 0.3 if drift else 0.0
    out: dict[str, np.ndarray | pd.Categorical] = {}
    for i in range(NUMERIC):
        kind = i % 4
        moved = shift if i % 3 == 0 else 0.0
        if kind == 0:
            x = rng.lognormal(3.4 + moved, 1.0, n)
        elif kind == 1:
            x = rng.normal(moved, 1.0, n)
        elif kind == 2:
            x = rng.poisson(3 + 3 * moved, n).astype(float)
        else:
            x = (rng.random(n) < 0.3 + moved / 2).astype(float)
        x[rng.random(n) < 0.02] = np.nan
        out[f"num_{i:02d}"] = x.astype(np.float32)
    for j in range(CATEGORICAL):
        k = 4 + 26 * j // (CATEGORICAL - 1)
        p = np.linspace(2, 1, k) + (np.linspace(0, 1, k) * 2 * shift if j % 3 == 0 else 0.0)
        codes = rng.choice(k, n, p=p / p.sum())
        out[f"cat_{j:02d}"] = pd.Categorical.from_codes(codes, [f"c{c:02d}" for c in range(k)])
    out["score"] = rng.beta(1.2 + 3 * shift, 14, n)
    return out


def _reference() -> tuple[pd.DataFrame, np.ndarray]:
    cols = _columns(REFERENCE_ROWS, 1, drift=False)
    scores = np.asarray(cols.pop("score"))
    return pd.DataFrame(cols), scores


def _fit(ref: pd.DataFrame, scores: np.ndarray) -> stability.Reference:
    return stability.Reference.of(bins.fit_reference(ref, scores), bins.reference_sample(ref, scores))


def _write_day(storage: Storage, rows: int) -> None:
    """A curated file and a scores file of `rows` rows, written chunk by chunk."""
    curated, scores = storage.path(layout.curated(DS, DAY)), storage.path(layout.scores(DS, DAY, VERSION))
    for path in (curated, scores):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    cw = sw = None
    for start in range(0, rows, CHUNK):
        cols = _columns(min(CHUNK, rows - start), 100 + start // CHUNK, drift=True)
        score = pa.table({"pd": np.asarray(cols.pop("score"))})
        table = pa.Table.from_pandas(pd.DataFrame(cols), preserve_index=False)
        table = table.cast(pa.schema([pa.field(f.name, pa.string() if pa.types.is_dictionary(f.type) else f.type)
                                      for f in table.schema]))  # curated files hold text, not dictionaries
        cw = cw or pq.ParquetWriter(curated, table.schema, compression="zstd")
        sw = sw or pq.ParquetWriter(scores, score.schema, compression="zstd")
        cw.write_table(table)
        sw.write_table(score)
    cw.close()
    sw.close()


def bench_day(rows: int) -> float:
    ref, ref_scores = _reference()
    reference = _fit(ref, ref_scores)
    with tempfile.TemporaryDirectory() as tmp:
        storage = Storage(tmp)
        t = time.perf_counter()
        _write_day(storage, rows)
        print(f"  wrote a {rows:,}-row day ({NUMERIC} numeric + {CATEGORICAL} categorical features) in "
              f"{time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        stats = stability.judge(count_day(storage, SimpleNamespace(name=DS), DAY, VERSION, reference), reference,
                         Monitoring())
        took = time.perf_counter() - t
    red = next(s for s in stats if s.statistic == stability.OVERALL and s.feature == "").detail["red"]
    print(f"  {len(stats)} statistics, red features: {', '.join(red)}")
    return took


def engine_on_frames(ref: pd.DataFrame, ref_scores: np.ndarray, cur: pd.DataFrame,
                     cur_scores: np.ndarray) -> tuple[float, float, dict[str, float]]:
    """This engine from the frames: fit the reference, count and judge the current frame; wall time, CPU time
    (both threads) and the PSI/CSI by column."""
    t, cpu = time.perf_counter(), time.process_time()
    reference = _fit(ref, ref_scores)
    # the pandas columns Evidently gets, as they are (categoricals are counted from their codes)
    stats = stability.judge(stability.count_window(cur_scores, {c: cur[c] for c in cur.columns}, reference), reference,
                     Monitoring())
    took, cpu = time.perf_counter() - t, time.process_time() - cpu
    psi = {s.feature or "score": s.value for s in stats if s.statistic in (stability.CSI, stability.SCORE_PSI)}
    return took, cpu, psi


EVIDENTLY_SCRIPT = """
import json, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

ref, cur = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
numeric = [c for c in ref.columns if not c.startswith("cat_")]
categorical = [c for c in ref.columns if c.startswith("cat_")]
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
t, cpu = time.perf_counter(), time.process_time()
report = Report([DataDriftPreset(method="psi")])
snapshot = report.run(Dataset.from_pandas(cur, data_definition=definition),
                      Dataset.from_pandas(ref, data_definition=definition))
took, cpu = time.perf_counter() - t, time.process_time() - cpu
psi = {}
for metric in snapshot.dict()["metrics"]:
    config = metric.get("config", {})
    if config.get("type", "").endswith("ValueDrift") and isinstance(metric.get("value"), (int, float)):
        psi[config["column"]] = float(metric["value"])
print(json.dumps({"seconds": took, "cpu_seconds": cpu, "psi": psi}))
"""


def evidently_on_frames(ref: pd.DataFrame, cur: pd.DataFrame) -> tuple[float, float, dict[str, float]]:
    python = venv_python("evidently")
    with tempfile.TemporaryDirectory() as tmp:
        ref.to_parquet(f"{tmp}/ref.parquet")
        cur.to_parquet(f"{tmp}/cur.parquet")
        out = subprocess.run([str(python), "-c", EVIDENTLY_SCRIPT, f"{tmp}/ref.parquet", f"{tmp}/cur.parquet"],
                             check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), float(result["cpu_seconds"]), result["psi"]


def frames(rows: int) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    """The reference frame and its scores, and a current frame of `rows` rows and its scores."""
    ref, ref_scores = _reference()
    cur_cols = _columns(rows, 100, drift=True)
    cur_scores = np.asarray(cur_cols.pop("score"))
    return ref, ref_scores, pd.DataFrame(cur_cols), cur_scores


def figures(tiny: bool = False, rows: int = 10_000_000, compare_rows: int = 1_000_000) -> list[Figure]:
    if tiny:
        rows, compare_rows = 100_000, 100_000
    print(f"(a) production step on one day: {rows:,} rows x {NUMERIC + CATEGORICAL} features", flush=True)
    took = bench_day(rows)
    out = [figure(BENCH, f"count_day + judge of a {rows / 1e6:g} M-row day x 30 features", took, "s", "<= 30")]
    print(f"  count_day + judge: {took:.1f} s", flush=True)

    print(f"(b) side by side on the same frames: reference {REFERENCE_ROWS:,} rows, current {compare_rows:,}",
          flush=True)
    ref, ref_scores, cur, cur_scores = frames(compare_rows)
    ours, our_cpu, our_psi = engine_on_frames(ref, ref_scores, cur, cur_scores)
    what = f"{compare_rows / 1e6:g} M current, {REFERENCE_ROWS / 1e6:g} M reference rows"
    out.append(figure(BENCH, f"this engine (fit + PSI/CSI + KS + JS), {what}", ours, "s",
                      note=f"{our_cpu:.2f} CPU-s on two threads"))
    print(f"  this engine (fit reference + PSI/CSI + KS + JS): {ours:.2f} s ({our_cpu:.2f} CPU-s)", flush=True)
    name, cpu_name = f"Evidently time / this engine's, {what}", f"the same in CPU time, {what}"
    if tiny:
        skipped = f"{TINY_SKIPPED} (Evidently's own environment)"
        return out + [figure(BENCH, name, None, "x", ">= 100", note=skipped),
                      figure(BENCH, cpu_name, None, "x", note=skipped)]
    theirs, their_cpu, their_psi = evidently_on_frames(ref.assign(score=ref_scores), cur.assign(score=cur_scores))
    out += [figure(BENCH, name, theirs / ours, "x", ">= 100", note=f"{theirs:.2f} s / {ours:.2f} s"),
            figure(BENCH, cpu_name, their_cpu / our_cpu, "x", note=f"{their_cpu:.2f} / {our_cpu:.2f} CPU-s")]
    print(f"  Evidently DataDriftPreset(method='psi'): {theirs:.2f} s ({their_cpu:.2f} CPU-s); speed-up "
          f"{theirs / ours:.1f}x")
    print("  PSI by column (this engine / Evidently):")
    for column in SHOWN:
        theirs_value = their_psi.get(column)
        print(f"    {column:<8} {our_psi[column]:.4f} / "
              f"{'n/a' if theirs_value is None else f'{theirs_value:.4f}'}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the day of (a)")
    parser.add_argument("--compare-rows", type=int, default=1_000_000, help="rows of the current frame of (b)")
    return table.main(figures, parser)


if __name__ == "__main__":
    sys.exit(main())
