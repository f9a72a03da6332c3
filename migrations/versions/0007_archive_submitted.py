"""archive copies: when each Save Page Now job was submitted (the rate limit counts them)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.store.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("archives", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submitted_at", monitor.store.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("archives", schema=None) as batch_op:
        batch_op.drop_column("submitted_at")
