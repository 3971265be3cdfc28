"""Shadow challenger: the candidate waiting in Staging scores the matured rows in memory (production scores
are never touched) and is compared with what production decided on the same rows.

Compared: AUC and KS of both; the default rate among the approved at the same approval rate (production's:
each model approves that share of the rows with its lowest PDs, so only ranking differs); and the swap sets
between production's recorded decisions and the challenger's own (its threshold, the same hard rules):
approved by one, declined or referred by the other, with their observed default rates. Everything is kept
as counts, so the weeks of the window merge by adding.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from ml import metrics, policy
from ml.data.preprocess import read_manifest
from ml.errors import MissingDataError, RiskopsError
from ml.model.riskmodel import RiskModel
from ml.ranking import LogitHistogram, auc_variance, ks, share_at_approval_rate
from ml.scoring.score import decide_rows
from ml.spec import DatasetSpec
from ml.storage import Storage


@dataclass(frozen=True)
class Comparison:
    """Production and the challenger on the same matured rows."""

    version: str
    rows: int
    approval_rate: float  # production's
    production: dict[str, float]  # auc, ks, default_rate_at_approval_rate
    challenger: dict[str, float]
    swap: dict[str, Any]  # metrics.swap_table: "approve->decline" ... with "<production>-><challenger>"


@dataclass
class ShadowCounts:
    """What the comparison needs, accumulated day by day."""

    production: LogitHistogram = field(default_factory=LogitHistogram.empty)
    challenger: LogitHistogram = field(default_factory=LogitHistogram.empty)
    swap_rows: NDArray[np.int64] = field(default_factory=lambda: np.zeros((2, 2), np.int64))
    swap_bads: NDArray[np.int64] = field(default_factory=lambda: np.zeros((2, 2), np.int64))
    approved: int = 0

    def add(self, y: NDArray[np.int64], production_pd: NDArray[np.float64], production_approved: NDArray[np.bool_],
            challenger_pd: NDArray[np.float64], challenger_approved: NDArray[np.bool_]) -> None:
        goods = 1.0 - y
        self.production.add(production_pd, y.astype(float), goods)
        self.challenger.add(challenger_pd, y.astype(float), goods)
        rows, bads = metrics.swap_counts(y, ~production_approved, ~challenger_approved)
        self.swap_rows += rows
        self.swap_bads += bads
        self.approved += int(production_approved.sum())

    def compare(self, version: str) -> Comparison:
        rows = int(self.swap_rows.sum())
        rate = self.approved / rows if rows else float("nan")

        def side(hist: LogitHistogram) -> dict[str, float]:
            counts = hist.counts()
            return {"auc": auc_variance(counts).auc, "ks": ks(counts),
                    "default_rate_at_approval_rate": share_at_approval_rate(counts, rate)}

        return Comparison(version, rows, rate, side(self.production), side(self.challenger),
                          metrics.swap_table(self.swap_rows, self.swap_bads))


def score_in_memory(storage: Storage, spec: DatasetSpec, day: dt.date, model: RiskModel,
                    ids: pa.Array) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """The challenger's PDs and approvals for a day's curated rows, which must be the rows of `ids` (the
    production scores of the day) in the same order: scoring keeps the curated order."""
    manifest = read_manifest(storage, spec.name, day)
    if manifest is None:
        raise MissingDataError(f"no curated data for '{spec.name}' on {day}: the challenger cannot score it")
    categorical = list(model.pipeline.categorical)
    columns = list(dict.fromkeys([spec.id_column, *model.pipeline.order, *policy.rule_columns(spec.policy.hard_rules)]))
    with storage.open_read(manifest.outputs.curated) as fh:
        table = pq.read_table(fh, columns=columns, read_dictionary=categorical)
    curated_ids = pc.cast(table.column(spec.id_column), pa.string())
    if len(curated_ids) != len(ids) or not pc.all(pc.equal(curated_ids, ids)).as_py():
        raise RiskopsError(f"{spec.name} {day}: the curated rows are not the rows that were scored (re-run "
                           "preprocess or scoring for that day); the challenger is not compared on it")
    _, pd_, decided = decide_rows(table, spec, model)
    return pd_, np.asarray(decided["decision"] == "approve")
