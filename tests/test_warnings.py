"""The suite's warning policy (pyproject.toml, filterwarnings): a deprecation raised from our own modules (ml,
reports, the plugin, the DAG files, the demo) is an error, so deprecated API cannot creep back into our code; a
third-party library's own deprecations stay warnings, listed in the summary, as before."""

from __future__ import annotations

import warnings

import pytest

DEPRECATIONS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
OURS = ("ml", "ml.governance.registry", "reports.document", "riskops_airflow.notify", "dags.score", "demo.run",
        "unusual_prefix_4f1e0c2b9a_score")  # Airflow imports a DAG file under such a name
THEIRS = ("mlflow.models.utils", "mlx", "reportlab.platypus", "pandas.core.frame", "demos", "sqlalchemy.orm")


def _warn_from(module: str, category: type[Warning]) -> None:
    """Warn as code of `module` does: the warning is attributed to the module whose code calls warn()."""
    exec(compile("warnings.warn('an API that will go away', category)", f"<{module}>", "exec"),
         {"__name__": module, "warnings": warnings, "category": category})


@pytest.mark.parametrize("category", DEPRECATIONS)
@pytest.mark.parametrize("module", OURS)
def test_a_deprecation_raised_from_our_code_is_an_error(module: str, category: type[Warning]) -> None:
    with pytest.raises(category, match="will go away"):
        _warn_from(module, category)


@pytest.mark.parametrize("category", DEPRECATIONS)
@pytest.mark.parametrize("module", THEIRS)
def test_a_third_party_deprecation_stays_a_warning(module: str, category: type[Warning]) -> None:
    with warnings.catch_warnings(record=True) as seen:  # keeps the configured filters, records instead of showing
        _warn_from(module, category)
    assert [type(w.message) for w in seen] == [category]
