"""`stonks db`: the database schema."""

from __future__ import annotations

import click

from pipeline import db


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Bring the database schema to the latest revision (a no-op when it is there)."""
    before = db.current_revision()
    db.upgrade(revision=revision)
    after = db.current_revision()
    click.echo(f"schema at {after}" + ("" if before != after else " (already there)"))


@db_group.command("current")
def db_current() -> None:
    """Print the schema revision of the database and of the code."""
    click.echo(f"database: {db.current_revision()}\ncode:     {db.head_revision()}")
