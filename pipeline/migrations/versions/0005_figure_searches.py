"""figure_searches: each figure's search of a day, even one that found nothing

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'figure_searches',
        sa.Column('minifigure_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('searched_on', sa.Date(), nullable=False),
        sa.Column('marketplace', sa.String(length=16), nullable=False),
        sa.Column('listings', sa.Integer(), nullable=False),
        sa.Column('included', sa.Integer(), nullable=False),
        sa.Column('searched_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['minifigure_id'], ['minifigures.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('minifigure_id', 'searched_on', 'marketplace'),
    )
    # The searches before this table, as far as their listings tell: a day a figure had listings
    # (a search that found none left nothing to tell).
    op.execute("""
        INSERT INTO figure_searches (minifigure_id, searched_on, marketplace, listings, included, searched_at)
        SELECT minifigure_id, observed_on, COALESCE(marketplace, 'EBAY_US'), count(*),
               count(*) FILTER (WHERE excluded_reason IS NULL), max(last_seen_at)
        FROM price_observations GROUP BY minifigure_id, observed_on, COALESCE(marketplace, 'EBAY_US')
    """)


def downgrade() -> None:
    op.drop_table('figure_searches')
