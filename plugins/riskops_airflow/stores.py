"""The stores a task body reads and writes, where ml.config says they are: the storage root (RISKOPS_DATA)
and the monitoring history (RISKOPS_HISTORY_URL).

Heavy imports (fsspec, SQLAlchemy) happen when a task calls these, never when a DAG file is parsed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ml.monitor.history import History
    from ml.storage import Storage


def storage() -> "Storage":
    """The storage root the steps use."""
    from ml.config import Settings
    from ml.storage import Storage

    return Storage(Settings.from_env().data_url)


def history() -> "History":
    """The monitoring history the steps write."""
    from ml.config import Settings
    from ml.monitor.history import History

    return History.open(Settings.from_env().history_url)
