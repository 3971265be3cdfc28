"""NannyML's CBPE on the rows bench/backtest.py wrote (runs in bench/.venv-nannyml): fitted on the first week
with its outcomes, it estimates the ROC AUC of the 11 other weeks (chunked by ISO week). Prints one JSON line
with the estimates by week.

Usage: bench/.venv-nannyml/bin/python bench/cbpe.py FOLDER FIRST_DAY
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # no analytics calls from a benchmark

import nannyml as nml  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

THRESHOLD = 0.2  # the benchmark model's decision threshold (CBPE wants binary predictions too)


def main() -> None:
    folder, first = Path(sys.argv[1]), pd.Timestamp(sys.argv[2])
    p, y, day = (np.load(folder / f"{name}.npy") for name in ("pd", "y", "day"))
    frame = pd.DataFrame({"pd": p, "pred": (p >= THRESHOLD).astype(int), "y": y.astype(int),
                          "timestamp": first + pd.to_timedelta(day.astype(int), unit="D")})
    reference, analysis = frame[day < 7], frame[day >= 7].drop(columns=["y"])
    estimator = nml.CBPE(y_pred_proba="pd", y_pred="pred", y_true="y", timestamp_column_name="timestamp",
                         metrics=["roc_auc"], chunk_period="W", problem_type="classification_binary")
    started = time.perf_counter()
    estimator.fit(reference)
    fitted = time.perf_counter()
    result = estimator.estimate(analysis).to_df()
    done = time.perf_counter()
    chunks = result[result[("chunk", "period")] == "analysis"]  # the result repeats the reference chunk first
    weeks = [f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}" for d in chunks[("chunk", "start_date")]]
    print(json.dumps({"version": nml.__version__, "fit_seconds": round(fitted - started, 3),
                      "estimate_seconds": round(done - fitted, 3), "seconds": round(done - started, 3),
                      "estimated_auc": dict(zip(weeks, (float(v) for v in chunks[("roc_auc", "value")]), strict=True))}))


if __name__ == "__main__":
    main()
