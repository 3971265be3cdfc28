"""The monitoring view: a read-only FastAPI app the Airflow API server mounts at /riskops (plugin
`riskops_view`), behind Airflow's own login. Thin glue: numbers from `ml.monitor.view` (the history the PDFs
are made of), review files from `ml.governance.review`, pages from `reports.monitoring_page`.

Every route asks Airflow's auth manager: the caller's JWT (the UI's cookie or a Bearer token) must name a
user (`get_user`), and a dataset's pages need read access to its DAGs (stability_<dataset> for monitoring,
retrain_<dataset> for a version's review). Only GET routes exist.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

from riskops_airflow import links

WEEKS_SHOWN, DAYS_SHOWN, MONTHS_SHOWN = 26, 60, 24  # the windows a page lists, newest last
DAG_KINDS = ("stability", "retrain", "score", "preprocess", "backtest", "rollback", "halt", "resume")


def _specs() -> dict[str, Any]:
    """The valid dataset specs, by name (read per request: a spec added later shows without a restart)."""
    from ml.config import specs_dir
    from ml.spec import load_specs

    return dict(load_specs(specs_dir())[0])


def _names() -> list[str]:
    return sorted(_specs())


def _dataset(name: str) -> Any:
    """The dataset's spec; 404 for a name that has none (path input is untrusted)."""
    spec = _specs().get(name)
    if spec is None:
        raise HTTPException(404, f"no dataset named {name[:60]!r}")
    return spec


def _may_read(user: Any, dag_id: str) -> bool:
    """Whether Airflow's auth manager lets `user` read the DAG `dag_id`."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    return bool(get_auth_manager().is_authorized_dag(method="GET", details=DagDetails(id=dag_id), user=user))


def _authorize(user: Any, dag_id: str) -> None:
    """403 unless `user` may read the DAG `dag_id`."""
    if not _may_read(user, dag_id):
        raise HTTPException(403, f"you may not read {dag_id}")


def _client() -> Any:
    from mlflow import MlflowClient

    from ml.config import Settings, configure_mlflow

    configure_mlflow(Settings.from_env())
    return MlflowClient()


def _mlflow_href(name: str, version: str | None = None) -> str | None:
    from ml.config import Settings
    from ml.governance.review import mlflow_page

    return mlflow_page(Settings.from_env().tracking_uri, name, version)


def create_app() -> FastAPI:
    """The app the plugin mounts; Airflow's auth dependency is imported here, inside the API server."""
    from airflow.api_fastapi.core_api.security import get_user

    app = FastAPI(title="riskops monitoring", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(get_user)])  # no route answers without a login

    @app.get("/", response_class=HTMLResponse)
    def home(user: Any = Depends(get_user)) -> str:
        from ml.monitor import view
        from reports.monitoring_page import index_page
        from riskops_airflow.stores import history

        shown = []
        store = history()
        for name in (n for n in _names() if _may_read(user, f"stability_{n}")):  # only what the user may read
            weeks = view.lights(store, name, "week")
            shown.append((name, weeks[-1].light if weeks else None, links.dataset(name)))
        return index_page(shown)

    @app.get("/dag/{dag_id}", response_class=HTMLResponse)
    def dag_page(dag_id: str, user: Any = Depends(get_user)) -> Response:
        """The page a riskops DAG's "Monitoring" tab opens: its dataset's page."""
        kind, _, name = dag_id.partition("_")
        if kind not in DAG_KINDS or name not in _names():
            return HTMLResponse(f"<p>{escape(dag_id[:100])} is not a riskops DAG of a dataset.</p>")
        return dataset_view(name, user)

    @app.get("/datasets/{name}", response_class=HTMLResponse)
    def dataset_view(name: str, user: Any = Depends(get_user)) -> Response:
        from ml.governance import registry
        from ml.monitor import view
        from reports.monitoring_page import dataset_page
        from riskops_airflow.stores import history

        spec = _dataset(name)
        _authorize(user, f"stability_{name}")
        store, client = history(), _client()
        # the latest windows the history holds (business dates: a backfill or the demo may lie in the past)
        windows = {kind: view.lights(store, name, kind)[-limit:]
                   for kind, limit in (("day", DAYS_SHOWN), ("week", WEEKS_SHOWN), ("month", MONTHS_SHOWN))}
        ratios = view.group_ratios(store, name, "week")[-8 * 10:]
        return HTMLResponse(dataset_page(
            name, windows, spec.monitoring.psi.pair, view.sent_alerts(store, name)[:50], ratios,
            spec.fairness.min_ratio, view.champion_history(client, name), view.waiting(client, name),
            links.review(name, "{version}"), _mlflow_href(registry.model_name(name))))

    @app.get("/datasets/{name}/versions/{version}", response_class=HTMLResponse)
    def review_view(name: str, version: str, user: Any = Depends(get_user)) -> Response:
        from ml import layout
        from ml.errors import RiskopsError
        from ml.governance import registry, review
        from reports.monitoring_page import Link, review_page

        _dataset(name)
        _authorize(user, f"retrain_{name}")
        try:
            version = layout.model_version(version)
            model = registry.model_name(name)
            files = review.documents(_client(), model, version)
        except RiskopsError as exc:
            raise HTTPException(404, str(exc)) from exc
        return HTMLResponse(review_page(
            model, version, [(f.name, f.sha256, f.recorded_sha256, links.review_file(name, version, f.name))
                             for f in files],
            _mlflow_href(model, version), Link(f"{name}: monitoring", links.dataset(name))))

    @app.get("/datasets/{name}/versions/{version}/files/{file}")
    def review_file(name: str, version: str, file: str, user: Any = Depends(get_user)) -> Response:
        from ml import layout
        from ml.errors import RiskopsError
        from ml.governance import registry, review

        _dataset(name)
        _authorize(user, f"retrain_{name}")
        try:
            files = review.documents(_client(), registry.model_name(name), layout.model_version(version))
        except RiskopsError as exc:
            raise HTTPException(404, str(exc)) from exc
        found = [f for f in files if f.name == file]
        if not found:
            raise HTTPException(404, f"version {version} has no review file {file[:60]!r}")
        doc = found[0]
        return Response(doc.content, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{doc.name}"', "X-Content-SHA256": doc.sha256,
            "X-Recorded-SHA256": doc.recorded_sha256 or "", "Cache-Control": "no-store"})

    return app
