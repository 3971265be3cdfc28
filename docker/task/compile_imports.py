"""Write the bytecode of what the steps import, and only that, into the image (build stage of
docker/task/Dockerfile).

Every module of `ml` and `reports` is imported (which imports pandas, pyarrow, xgboost, MLflow's client,
matplotlib, reportlab, SQLAlchemy...), then the libraries the steps load only when they run (s3fs for
s3:// URLs, the PostgreSQL driver, MLflow's model and artifact code); each module file under the virtual
environment that ended up imported is compiled with a hash-checked .pyc (independent of file times). The rest
of site-packages (MLflow's GenAI integrations, botocore's unused services...) stays source only: compiling
all of it added 135 MB to a 700 MB image. A module missed here still works, compiled in memory when imported.
"""

from __future__ import annotations

import importlib
import pkgutil
import py_compile
import sys
from pathlib import Path

LAZY = (
    "s3fs", "psycopg2", "sqlalchemy.dialects.postgresql.psycopg2", "sqlalchemy.dialects.sqlite",
    "alembic.command", "alembic.runtime.migration", "alembic.script",
    "mlflow.pyfunc", "mlflow.models", "mlflow.models.signature", "mlflow.store.artifact.http_artifact_repo",
    "mlflow.store.artifact.mlflow_artifacts_repo", "mlflow.store.artifact.models_artifact_repo",
    "mlflow.store.artifact.runs_artifact_repo", "mlflow.tracking.request_header.registry",
    "matplotlib.backends.backend_agg", "pyarrow.parquet", "pyarrow.dataset", "pyarrow.compute",
    "sklearn.metrics", "scipy.stats",
)


def main(venv: Path) -> int:
    for package in ("ml", "reports"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if not info.name.endswith(".__main__"):  # that one runs the CLI
                importlib.import_module(info.name)
    for name in LAZY:
        importlib.import_module(name)
    compiled = 0
    for module in list(sys.modules.values()):
        source = getattr(module, "__file__", None)
        if source and source.endswith(".py") and Path(source).resolve().is_relative_to(venv):
            py_compile.compile(source, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            compiled += 1
    print(f"compiled {compiled} imported modules under {venv}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve()))
