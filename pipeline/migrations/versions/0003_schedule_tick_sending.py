"""schedule ticks: sent_at and send_error

A tick is claimed (with its message id) before its message is sent; sent_at says
the send happened, so a claim whose send failed is visible and sent again.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('schedule_ticks', sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('schedule_ticks', sa.Column('send_error', sa.Text(), nullable=True))
    # Claims made before this revision recorded their message id only once sent.
    op.execute("UPDATE schedule_ticks SET sent_at = claimed_at WHERE message_id IS NOT NULL")


def downgrade() -> None:
    op.drop_column('schedule_ticks', 'send_error')
    op.drop_column('schedule_ticks', 'sent_at')
