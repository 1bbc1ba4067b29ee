"""registry: the kind of each deployment (chat or embedding)

``provider_models.kind``: ``chat`` (every row written before this revision) or
``embedding`` (served by ``POST /v1/embeddings`` only). Not null, default ``chat``.

Revision ID: 0005
Revises: 0004
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('provider_models') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='chat'))


def downgrade() -> None:
    with op.batch_alter_table('provider_models') as batch:
        batch.drop_column('kind')
