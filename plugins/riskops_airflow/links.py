"""Where the monitoring view's pages are, relative to the Airflow API server's root: one place for the DAGs'
prompts, the plugin's routes and the demo's closing lines. Standard library only (DAG files import it)."""

from __future__ import annotations

PREFIX = "/riskops"  # the plugin's FastAPI app is mounted here (Airflow reserves /api, /auth, /ui, ...)


def home() -> str:
    """The view's home page (every dataset)."""
    return f"{PREFIX}/"


def dataset(name: str) -> str:
    """A dataset's monitoring page."""
    return f"{PREFIX}/datasets/{name}"


def review(name: str, version: str) -> str:
    """A version's review page: its report as stored, with the SHA-256 recorded and checked."""
    return f"{PREFIX}/datasets/{name}/versions/{version}"


def review_file(name: str, version: str, file: str) -> str:
    """One review file of a version (the PDF itself)."""
    return f"{review(name, version)}/files/{file}"


def required_actions() -> str:
    """Airflow's own page of the approvals waiting (Required Actions)."""
    return "/required_actions"
