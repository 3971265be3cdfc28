"""Benchmark: default training on Give Me Some Credit (30 days replayed), against the issue's bar.

Prints the out-of-time AUC against the 0.86 bar and the training time against the 2-minute budget, as
ratios. Run: .venv/bin/python bench/train_gmsc.py
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

from ml import metrics
from ml.config import TrainConfig
from ml.data.preprocess import preprocess_day
from ml.data.replay import replay
from ml.model.train import development_sample, fit, time_split
from ml.spec import get_spec
from ml.storage import Storage

REPO = Path(__file__).resolve().parents[1]
START, DAYS, LAG = dt.date(2026, 7, 1), 30, 60


def main() -> None:
    spec = get_spec(REPO / "datasets", "give_me_some_credit")
    with tempfile.TemporaryDirectory() as tmp:
        storage = Storage(str(Path(tmp) / "data"))
        end = START + dt.timedelta(days=DAYS - 1)
        replay(storage, spec, START, end)
        for i in range(DAYS):
            preprocess_day(storage, spec, START + dt.timedelta(days=i))
        config = TrainConfig()
        started = time.perf_counter()
        sample = development_sample(storage, spec, end + dt.timedelta(days=LAG), config.window_days)
        parts = time_split(sample.frame, config.valid_days, config.test_days)
        model, facts = fit(spec, parts, config)
        seconds = time.perf_counter() - started
        auc = metrics.roc_auc(parts["test"]["label"].to_numpy(), model.predict_proba(parts["test"]))
    print(f"rows: train {len(parts['train'])}, validation {len(parts['valid'])}, out-of-time {len(parts['test'])}")
    print(f"trees: {facts['best_iteration']}, threshold {model.threshold:.4f}")
    print(f"out-of-time AUC {auc:.4f}  (bar 0.86: ratio {auc / 0.86:.3f})")
    print(f"training time {seconds:.1f} s  (budget 120 s: ratio {seconds / 120:.3f})")


if __name__ == "__main__":
    main()
