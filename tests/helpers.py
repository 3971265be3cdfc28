"""Small helpers shared by tests (imported as tests.helpers)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ml import contracts, layout, policy, rating
from ml.data.preprocess import preprocess_day
from ml.data.replay import replay
from ml.scoring.manifests import ScoreManifest
from ml.spec import DatasetSpec
from ml.storage import Storage


@contextmanager
def fresh_postgres(prefix: str) -> Iterator[str]:
    """The SQLAlchemy URL of a uniquely named database on the local PostgreSQL, dropped afterwards."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def land_and_preprocess(storage: Storage, spec: DatasetSpec, start: dt.date, days: int) -> None:
    """Replay `days` days of a dataset and preprocess each of them."""
    end = start + dt.timedelta(days=days - 1)
    replay(storage, spec, start, end)
    for i in range(days):
        preprocess_day(storage, spec, start + dt.timedelta(days=i))


def write_scored_day(storage: Storage, spec: DatasetSpec, day: dt.date, version: str, pd_: np.ndarray,
                     labels: np.ndarray | None = None, threshold: float = 0.2, first_id: int = 1,
                     scored_at: str = "2030-01-01T00:00:00+00:00", label_lag_days: int | None = None,
                     curated: dict[str, np.ndarray] | None = None) -> None:
    """A day scored by `version` as scoring writes it (scores file with the policy's score, band and decision,
    and its manifest), and, if given, the rows' labels landed `label_lag_days` (default: the spec's lag) later and
    the day's curated rows: the ids and the `curated` columns (e.g. fairness attributes)."""
    n = len(pd_)
    ids = pa.array(np.arange(first_id, first_id + n).astype(str), pa.string())
    if curated is not None:
        out = pa.BufferOutputStream()
        pq.write_table(pa.table({spec.id_column: ids, **curated}), out)
        storage.write_bytes(layout.curated(spec.name, day), out.getvalue().to_pybytes())
    score = rating.to_score(pd_, spec.policy)
    band = rating.to_band(pd_, score, rating.band_scale(None, spec.policy))  # the fixed score bands of a model without any
    decision = policy.model_decision(pd_, score, threshold, spec.policy)
    table = pa.Table.from_arrays([
        ids, pa.array(pd_, pa.float64()), pa.array(score),
        *(pa.DictionaryArray.from_arrays(pa.array(c.codes.astype(np.int32)), pa.array(list(c.categories), pa.string()))
          for c in (band, decision)),
    ], names=["id", "pd", "score", "band", "decision"])
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf)
    storage.write_bytes(layout.scores(spec.name, day, version), buf.getvalue().to_pybytes())
    counts = {name: int((decision.codes == i).sum()) for i, name in enumerate(decision.categories)}
    contracts.write(storage, layout.score_manifest(spec.name, day, version), ScoreManifest(
        dataset=spec.name, date=day.isoformat(), policy="model", input_manifest_sha256="0" * 64,
        curated=layout.curated(spec.name, day), rows_in=n, rows_scored=n, decisions=counts, hard_rules={},
        scores=layout.scores(spec.name, day, version), scores_sha256="0" * 64, scored_at=scored_at,
        model=f"riskops-{spec.name}", model_version=version, run_id="", model_sha256="0" * 64, partitions=1))
    if labels is not None:
        lag = spec.label.maturity_lag_days if label_lag_days is None else label_lag_days
        out = pa.BufferOutputStream()
        pacsv.write_csv(pa.table({"id": ids, "application_date": pa.array([day.isoformat()] * n),
                                  "label": pa.array(np.asarray(labels, dtype=np.int64))}), out)
        storage.write_bytes(layout.labels_file(spec.name, day + dt.timedelta(days=lag), day),
                            out.getvalue().to_pybytes())


def approve(client, name: str, version: str, approver: str = "Ada", note: str = "") -> dict:
    """Promote a version trained by ml.retraining.retrain, with the report its MLflow run holds (as an approver would)."""
    from ml.governance import approvals, registry

    return approvals.promote(client, name, version, approver, note, report=registry.report_bytes(client, name, version))


_LOGGED: dict[str, tuple[str, str, str]] = {}  # tracking URI -> one tiny logged model, registered many times


def tiny_candidate(client, name: str, report: bytes | None, **tags: str) -> str:
    """A candidate version of `name` registered as retrain registers one (a logged three-tree model on one
    feature; `report`'s SHA-256 tagged, or no report for None), with extra riskops `tags`; returns the version.
    For decisions on versions, which never look inside the model."""
    import hashlib

    import mlflow
    import pandas as pd
    import xgboost as xgb

    from ml.governance import registry
    from ml.model.features import FeaturePipeline
    from ml.model.riskmodel import RiskModel

    if mlflow.get_tracking_uri() not in _LOGGED:
        frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=200)})
        booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(frame, label=(frame.x > 0).astype(int)), 3)
        model = RiskModel(FeaturePipeline(numeric=("x",), categorical={}, order=("x",)), booster, 0.5)
        with mlflow.start_run() as run:
            _LOGGED[mlflow.get_tracking_uri()] = (*registry.log_model(model, frame.head(3)), run.info.run_id)
    uri, sha, run_id = _LOGGED[mlflow.get_tracking_uri()]
    version_tags = {"riskops.data_hash": "abc", "riskops.model_sha256": sha,
                    **{f"riskops.{k}": v for k, v in tags.items()}}
    if report is not None:
        version_tags["riskops.report_sha256"] = hashlib.sha256(report).hexdigest()
    return registry.register_candidate(client, name, uri, run_id, version_tags)


def mails(outbox: Path) -> list[email.message.EmailMessage]:
    """The mails the SMTP server received, oldest first."""
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted(outbox.glob("*.eml"))]


def load_dag(file: str, dag_id: str):
    """A DAG as the dag-processor parses it, without retries (dag.test() would wait out the retry delay)."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(Path(__file__).resolve().parents[1] / "dags" / file)).dags[dag_id]
    for task in dag.tasks:
        task.retries = 0
    return dag
