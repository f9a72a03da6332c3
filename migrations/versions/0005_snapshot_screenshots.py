"""snapshots keep a screenshot of the watched part (browser sources)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("screenshot_hash", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_snapshots_screenshot_hash_blobs"), "blobs", ["screenshot_hash"], ["hash"]
        )


def downgrade() -> None:
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_snapshots_screenshot_hash_blobs"), type_="foreignkey")
        batch_op.drop_column("screenshot_hash")
