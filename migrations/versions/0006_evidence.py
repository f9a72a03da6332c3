"""evidence: checks in the chain, prune records, timestamps, archive copies

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.store.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("ids", sa.Text(), nullable=False),
        sa.Column("leaves", sa.LargeBinary(), nullable=False),
        sa.Column("at", monitor.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_digests")),
    )
    with op.batch_alter_table("check_digests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_check_digests_last_id"), ["last_id"], unique=False)
    op.create_table(
        "prunes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", monitor.store.models.UTCDateTime(), nullable=False),
        sa.Column("before", monitor.store.models.UTCDateTime(), nullable=False),
        sa.Column("ids", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prunes")),
    )
    op.create_table(
        "timestamps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("tsa_url", sa.Text(), nullable=False),
        sa.Column("requested_at", monitor.store.models.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=True),
        sa.Column("gen_time", monitor.store.models.UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timestamps")),
    )
    with op.batch_alter_table("timestamps", schema=None) as batch_op:
        batch_op.create_index("ix_timestamps_seq", ["seq"], unique=False)
    op.create_table(
        "archives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", monitor.store.models.UTCDateTime(), nullable=False),
        sa.Column("job_id", sa.Text(), nullable=True),
        sa.Column("archive_url", sa.Text(), nullable=True),
        sa.Column("saved_at", monitor.store.models.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", monitor.store.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["change_id"], ["changes.id"], name=op.f("fk_archives_change_id_changes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archives")),
        sa.UniqueConstraint("change_id", name=op.f("uq_archives_change_id")),
    )
    with op.batch_alter_table("archives", schema=None) as batch_op:
        batch_op.create_index("ix_archives_due", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("archives", schema=None) as batch_op:
        batch_op.drop_index("ix_archives_due")
    op.drop_table("archives")
    with op.batch_alter_table("timestamps", schema=None) as batch_op:
        batch_op.drop_index("ix_timestamps_seq")
    op.drop_table("timestamps")
    op.drop_table("prunes")
    with op.batch_alter_table("check_digests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_check_digests_last_id"))
    op.drop_table("check_digests")
