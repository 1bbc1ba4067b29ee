"""console indexes: the request log newest first, overall and per tenant

The console's request log pages with a keyset cursor on ``(created_at, id)``, newest
first; these indexes make any page (the first or the 1,000th) an index range scan.

Revision ID: 0002
Revises: 0001
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0002'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_usage_records_created_at_id', 'usage_records', ['created_at', 'id'], unique=False)
    op.create_index(
        'ix_usage_records_tenant_id_created_at_id', 'usage_records', ['tenant_id', 'created_at', 'id'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_usage_records_tenant_id_created_at_id', table_name='usage_records')
    op.drop_index('ix_usage_records_created_at_id', table_name='usage_records')
