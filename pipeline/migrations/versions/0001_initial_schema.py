"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 20:23:39.113075
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('minifigures',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('bricklink_id', sa.String(length=32), nullable=True),
    sa.Column('rebrickable_id', sa.String(length=32), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('theme', sa.Text(), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('category', sa.Text(), nullable=True),
    sa.Column('image_url', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_priced_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_minifigures')),
    sa.UniqueConstraint('bricklink_id', name=op.f('uq_minifigures_bricklink_id')),
    sa.UniqueConstraint('rebrickable_id', name=op.f('uq_minifigures_rebrickable_id'))
    )
    op.create_index(op.f('ix_minifigures_last_priced_at'), 'minifigures', ['last_priced_at'], unique=False)
    op.create_index(op.f('ix_minifigures_theme'), 'minifigures', ['theme'], unique=False)
    op.create_table('run_events',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=True),
    sa.Column('worker', sa.String(length=128), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run_events'))
    )
    op.create_index('ix_run_events_message', 'run_events', ['message_id', 'id'], unique=False)
    op.create_table('runs',
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=True),
    sa.Column('queue', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('args', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('kwargs', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('retries', sa.Integer(), server_default='0', nullable=False),
    sa.Column('worker', sa.String(length=128), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('group_id', sa.String(length=64), nullable=True),
    sa.Column('parent_id', sa.String(length=64), nullable=True),
    sa.Column('schedule_name', sa.String(length=128), nullable=True),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=True),
    sa.Column('progress_done', sa.Integer(), nullable=True),
    sa.Column('progress_total', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_runs'))
    )
    op.create_index('ix_runs_actor_enqueued', 'runs', ['actor', 'enqueued_at'], unique=False)
    op.create_index(op.f('ix_runs_group_id'), 'runs', ['group_id'], unique=False)
    op.create_index(op.f('ix_runs_parent_id'), 'runs', ['parent_id'], unique=False)
    op.create_index('ix_runs_status_updated', 'runs', ['status', 'updated_at'], unique=False)
    op.create_table('schedule_ticks',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('schedule_name', sa.String(length=128), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('claimed_by', sa.String(length=128), nullable=False),
    sa.Column('runner', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=True),
    sa.Column('late_by_ms', sa.Integer(), nullable=True),
    sa.Column('catch_up', sa.Boolean(), server_default='false', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_ticks')),
    sa.UniqueConstraint('schedule_name', 'scheduled_for', name=op.f('uq_schedule_ticks_schedule_name_scheduled_for'))
    )
    op.create_table('workers',
    sa.Column('worker_id', sa.String(length=128), nullable=False),
    sa.Column('hostname', sa.Text(), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('queues', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('in_flight', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('processed', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('failed', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('rss_mb', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_workers'))
    )
    op.create_index(op.f('ix_workers_last_seen_at'), 'workers', ['last_seen_at'], unique=False)
    op.create_table('price_observations',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('minifigure_id', sa.UUID(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('listing_id', sa.String(length=64), nullable=False),
    sa.Column('observed_on', sa.Date(), nullable=False),
    sa.Column('marketplace', sa.String(length=16), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('shipping', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('shipping_currency', sa.String(length=3), nullable=True),
    sa.Column('shipping_type', sa.String(length=16), nullable=True),
    sa.Column('condition', sa.String(length=8), nullable=True),
    sa.Column('condition_id', sa.String(length=8), nullable=True),
    sa.Column('condition_text', sa.Text(), nullable=True),
    sa.Column('buying_options', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('bid_count', sa.Integer(), nullable=True),
    sa.Column('seller', sa.Text(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('excluded_reason', sa.String(length=16), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('times_seen', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['minifigure_id'], ['minifigures.id'], name=op.f('fk_price_observations_minifigure_id_minifigures'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_observations')),
    sa.UniqueConstraint('source', 'listing_id', 'observed_on', name=op.f('uq_price_observations_source_listing_id_observed_on'))
    )
    op.create_index('ix_price_observations_figure_day', 'price_observations', ['minifigure_id', 'observed_on'], unique=False)
    op.create_index('ix_price_observations_observed_on', 'price_observations', ['observed_on'], unique=False)
    op.create_table('price_snapshots',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('minifigure_id', sa.UUID(), nullable=False),
    sa.Column('snapshot_date', sa.Date(), nullable=False),
    sa.Column('condition', sa.String(length=8), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('price_kind', sa.String(length=8), server_default='asking', nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('min_price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('max_price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('mean_price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('median_price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('p25_price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('p75_price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('excluded', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('excluded_total', sa.Integer(), server_default='0', nullable=False),
    sa.Column('thin', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('method_version', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['minifigure_id'], ['minifigures.id'], name=op.f('fk_price_snapshots_minifigure_id_minifigures'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_snapshots')),
    sa.UniqueConstraint('minifigure_id', 'snapshot_date', 'condition', 'currency', name=op.f('uq_price_snapshots_minifigure_id_snapshot_date_condition_currency'))
    )
    op.create_index(op.f('ix_price_snapshots_snapshot_date'), 'price_snapshots', ['snapshot_date'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_price_snapshots_snapshot_date'), table_name='price_snapshots')
    op.drop_table('price_snapshots')
    op.drop_index('ix_price_observations_observed_on', table_name='price_observations')
    op.drop_index('ix_price_observations_figure_day', table_name='price_observations')
    op.drop_table('price_observations')
    op.drop_index(op.f('ix_workers_last_seen_at'), table_name='workers')
    op.drop_table('workers')
    op.drop_table('schedule_ticks')
    op.drop_index('ix_runs_status_updated', table_name='runs')
    op.drop_index(op.f('ix_runs_parent_id'), table_name='runs')
    op.drop_index(op.f('ix_runs_group_id'), table_name='runs')
    op.drop_index('ix_runs_actor_enqueued', table_name='runs')
    op.drop_table('runs')
    op.drop_index('ix_run_events_message', table_name='run_events')
    op.drop_table('run_events')
    op.drop_index(op.f('ix_minifigures_theme'), table_name='minifigures')
    op.drop_index(op.f('ix_minifigures_last_priced_at'), table_name='minifigures')
    op.drop_table('minifigures')
