"""The riskops Airflow plugin: the monitoring view (riskops_airflow.view) mounted by the API server at
/riskops, placed in the navigation and as a "Monitoring" tab on every DAG's page (a riskops DAG's tab shows its
dataset)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from riskops_airflow import links
from riskops_airflow.view import create_app


class RiskopsViewPlugin(AirflowPlugin):
    """Read-only pages over the monitoring history and the registry, behind Airflow's login."""

    name = "riskops_view"
    fastapi_apps = [{"app": create_app(), "url_prefix": links.PREFIX, "name": "riskops monitoring"}]
    external_views = [
        {"name": "Monitoring", "href": links.home(), "destination": "nav", "url_route": "riskops-monitoring",
         "category": "browse"},
        {"name": "Monitoring", "href": links.PREFIX + "/dag/{DAG_ID}", "destination": "dag",
         "url_route": "riskops-dag-monitoring"},
    ]
