"""The demo's scripted reviewer: it works a seeded sample of a dataset's review queue and exports the decisions
as the bank's case tool would, as CSV files in the reviews zone (`reviews/<ds>/date=A/decisions.csv`, A the
day the decisions were made: one to three days after the application). Nothing of riskops' own is written.

The queue is what scoring sent to review (the scores files' `decision`). The reviewer decides about two
thirds of it, declining about a quarter of those, the riskier cases more often (so some of the model's
suggestions are overridden, inside the spec's expected range, and the backtest's reviewers' page has figures).
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ml import layout
from ml.monitor.backtest import record_version
from ml.spec import DatasetSpec
from ml.storage import Storage

REVIEWERS = ("r.okafor", "m.lindqvist", "j.tanaka")
REASONS = {"approve": ("income verified with payslips", "bureau record confirmed", "long-standing customer"),
           "decline": ("affordability not shown", "income could not be verified", "recent arrears confirmed")}
SHARE = 2 / 3


def decide(storage: Storage, spec: DatasetSpec, days: list[dt.date], seed: int = 22) -> dict[str, int]:
    """Decide a seeded sample of the review queue of `days`; returns the counts of rows queued and decided."""
    rng = np.random.default_rng(seed)
    by_decision_day: dict[dt.date, list[list[str]]] = {}
    queued = 0
    for day in days:
        version = record_version(storage, spec.name, day)
        if version is None:
            continue
        with storage.open_read(layout.scores(spec.name, day, version)) as fh:
            table = pq.read_table(fh, columns=["id", "pd", "decision"])
        queue = table.filter(pc.equal(table.column("decision").cast("string"), "review"))
        queued += queue.num_rows
        ids, pds = queue.column("id").to_pylist(), queue.column("pd").to_numpy(zero_copy_only=False)
        pick = rng.uniform(size=len(ids)) < SHARE
        # riskier cases are declined more often: from 10 % for the day's safest queued case to 40 % for its
        # riskiest (by rank, so the share does not depend on where the model's threshold lies)
        rank = np.argsort(np.argsort(np.nan_to_num(pds, nan=1.0))) / max(len(ids) - 1, 1)
        declines = rng.uniform(size=len(ids)) < 0.1 + 0.3 * rank
        lags = rng.integers(1, 4, len(ids))
        who = rng.integers(0, len(REVIEWERS), len(ids))
        why = rng.integers(0, 3, len(ids))
        for i in np.flatnonzero(pick):
            decision = "decline" if declines[i] else "approve"
            by_decision_day.setdefault(day + dt.timedelta(days=int(lags[i])), []).append(
                [ids[i], day.isoformat(), decision, REVIEWERS[who[i]], REASONS[decision][why[i]]])
    for decided_on, rows in sorted(by_decision_day.items()):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([spec.id_column, "application_date", "decision", "reviewer", "reason"])
        writer.writerows(rows)
        storage.write_bytes(f"{layout.reviews(spec.name, decided_on)}/decisions.csv", out.getvalue().encode())
    return {"queued": queued, "decided": sum(len(r) for r in by_decision_day.values())}
