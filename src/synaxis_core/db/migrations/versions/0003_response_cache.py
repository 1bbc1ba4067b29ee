"""response cache: a tenant's cache TTL, and what a cached answer saved

``tenant_model_limits.cache_ttl_s`` (on the tenant's ``*`` row; NULL or 0: the cache is
off for the tenant) and ``usage_records.saved_usd`` (the cost a ``cached`` row did not
spend). Both nullable: existing rows keep their meaning.

Revision ID: 0003
Revises: 0002
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('tenant_model_limits') as batch:
        batch.add_column(sa.Column('cache_ttl_s', sa.Integer(), nullable=True))
    with op.batch_alter_table('usage_records') as batch:
        batch.add_column(sa.Column('saved_usd', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('usage_records') as batch:
        batch.drop_column('saved_usd')
    with op.batch_alter_table('tenant_model_limits') as batch:
        batch.drop_column('cache_ttl_s')
