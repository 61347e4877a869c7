"""Alembic environment: migrations run against the URL the caller configured."""

from alembic import context
from sqlalchemy import create_engine, pool

from pipeline.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            # Two processes upgrading at once (worker and scheduler start together) serialize here.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7461626)")
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `stonks db upgrade`")
run_migrations_online()
