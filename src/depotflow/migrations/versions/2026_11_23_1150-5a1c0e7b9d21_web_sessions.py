"""Browser sessions: token kind (api or web), their last activity, and the user's UI language.

Revision ID: 5a1c0e7b9d21
Revises: 77ecceb91f1f
Create Date: 2026-11-23 11:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import depotflow.core.orm

revision: str = "5a1c0e7b9d21"
down_revision: str | None = "77ecceb91f1f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identity_token") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=10), server_default="api", nullable=False))
    with op.batch_alter_table("identity_user") as batch:
        batch.add_column(sa.Column("locale", sa.String(length=10), nullable=True))
    op.create_table(
        "identity_web_activity",
        sa.Column("token_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("last_seen_at", depotflow.core.orm.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"], ["identity_token.id"], name=op.f("fk_identity_web_activity_token_id_identity_token")
        ),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_identity_web_activity")),
    )


def downgrade() -> None:
    op.drop_table("identity_web_activity")
    with op.batch_alter_table("identity_user") as batch:
        batch.drop_column("locale")
    with op.batch_alter_table("identity_token") as batch:
        batch.drop_column("kind")
