"""ledger: the API dialect each request came in

``usage_records.dialect``: ``chat``, ``messages`` or ``responses`` (nullable: the rows
written before this revision keep NULL).

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('usage_records') as batch:
        batch.add_column(sa.Column('dialect', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('usage_records') as batch:
        batch.drop_column('dialect')
