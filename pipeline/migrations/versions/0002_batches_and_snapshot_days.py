"""batches, batch members, snapshot days, applied messages

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('applied_messages',
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_applied_messages'))
    )
    op.create_index(op.f('ix_applied_messages_applied_at'), 'applied_messages', ['applied_at'], unique=False)
    op.create_table('batches',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('day', sa.Date(), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='running', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batches'))
    )
    op.create_index('ix_batches_status_created', 'batches', ['status', 'created_at'], unique=False)
    op.create_table('snapshot_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('aggregated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('method_version', sa.Integer(), nullable=False),
    sa.Column('listings', sa.Integer(), nullable=False),
    sa.Column('snapshots', sa.Integer(), nullable=False),
    sa.Column('listings_deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_snapshot_days'))
    )
    op.create_table('batch_members',
    sa.Column('batch_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_batch_members_batch_id_batches'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('batch_id', 'key', name=op.f('pk_batch_members')),
    sa.UniqueConstraint('message_id', name=op.f('uq_batch_members_message_id'))
    )


def downgrade() -> None:
    op.drop_table('batch_members')
    op.drop_table('snapshot_days')
    op.drop_index('ix_batches_status_created', table_name='batches')
    op.drop_table('batches')
    op.drop_index(op.f('ix_applied_messages_applied_at'), table_name='applied_messages')
    op.drop_table('applied_messages')
