"""The history table: one row per (dataset, model version, window kind, window start, statistic, feature).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "riskops_history",
        sa.Column("dataset", sa.String(100), primary_key=True),
        sa.Column("model_version", sa.String(40), primary_key=True),
        sa.Column("window_kind", sa.String(20), primary_key=True),
        sa.Column("window_start", sa.Date, primary_key=True),
        sa.Column("statistic", sa.String(60), primary_key=True),
        sa.Column("feature", sa.String(200), primary_key=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("light", sa.String(20), nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("riskops_history_by_statistic", "riskops_history", ["dataset", "statistic", "window_start"])


def downgrade() -> None:
    op.drop_index("riskops_history_by_statistic", "riskops_history")
    op.drop_table("riskops_history")
