"""batch_members: several members may share a message

A price batch sends several figures in one message (`fetch_prices_for_minifigures`),
so a member's message id is no longer unique; it stays indexed, for the lookups
by message (a member's success, a failure report, the safety net's history join).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint('uq_batch_members_message_id', 'batch_members', type_='unique')
    op.create_index(op.f('ix_batch_members_message_id'), 'batch_members', ['message_id'])


def downgrade() -> None:
    # Only possible while no two members share a message (batches of one figure per message).
    op.drop_index(op.f('ix_batch_members_message_id'), table_name='batch_members')
    op.create_unique_constraint('uq_batch_members_message_id', 'batch_members', ['message_id'])
