"""`stonks prices FIGURE`: a figure's latest snapshots, and what its latest search found."""

from __future__ import annotations

import uuid

import click

from actors.cli.output import emit, json_option, table
from pipeline import db
from pipeline.errors import InvalidInput
from pipeline.models import PriceSnapshot
from pipeline.services import prices as pricing
from pipeline.sql import snapshots


@click.command("prices")
@click.argument("figure")
@json_option
def prices(figure: str, as_json: bool) -> None:
    """The latest asking-price snapshot of FIGURE (a BrickLink number, a Rebrickable id or an id) per
    condition and currency, and whether it has live listings."""
    with db.session_scope() as session:
        try:
            found = pricing.load_figure(session, uuid.UUID(figure)) if _is_uuid(figure) else \
                pricing.find_figure(session, figure.strip().casefold())
        except InvalidInput as exc:
            raise click.ClickException(str(exc)) from None
        search = pricing.search_status(session, found.id)
        latest: dict[tuple[str, str], PriceSnapshot] = {}
        for snap in snapshots.of_figure(session, found.id):
            latest[(snap.condition, snap.currency)] = snap
    rows = [[s.snapshot_date, s.condition, s.currency, s.n, s.median_price, s.p25_price, s.p75_price,
             s.excluded_total, "thin" if s.thin else ""] for s in latest.values()]
    header = ["day", "condition", "currency", "n", "median", "p25", "p75", "excluded", ""]
    text = f"{found.name} ({found.bricklink_id or found.rebrickable_id or found.id}): {search['text']}"
    if rows:
        text += "\n" + table(rows, header)
    data = {"minifigure_id": str(found.id), "name": found.name, "search": search,
            "latest": [dict(zip(header[:-1], row[:-1], strict=True)) | {"thin": bool(row[-1])} for row in rows]}
    emit(data, as_json, text)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
