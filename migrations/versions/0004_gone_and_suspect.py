"""sources: checks in a row that saw the page gone, and a suspect text awaiting its re-check

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.store.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("gone_checks", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("suspect_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("suspect_since", monitor.store.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("suspect_since")
        batch.drop_column("suspect_hash")
        batch.drop_column("gone_checks")
