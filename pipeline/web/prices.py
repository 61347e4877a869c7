"""Prices: find a minifigure, see its asking-price history, export its snapshots as CSV."""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from pipeline.models import Minifigure, PriceSnapshot
from pipeline.services import prices
from pipeline.sql import catalog, snapshots
from pipeline.web.chart import ChartPoint, price_chart
from pipeline.web.deps import db_session
from pipeline.web.pages import render

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/v1", tags=["prices"])
CHANGE_DAYS = (7, 30, 90)
CSV_COLUMNS = ("snapshot_date", "condition", "currency", "price_kind", "n", "min_price", "p25_price", "median_price",
               "p75_price", "max_price", "mean_price", "excluded_total", "excluded", "thin", "method_version",
               "computed_at")


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def change_pct(snapshots: list[PriceSnapshot], days: int) -> float | None:
    """Median change from the latest day to the last day at least `days` before it; None without that history."""
    priced = [s for s in snapshots if s.median_price is not None]
    if not priced:
        return None
    latest = priced[-1]
    older = [s for s in priced if s.snapshot_date <= latest.snapshot_date - timedelta(days=days)]
    if not older or not older[-1].median_price or latest.median_price is None:
        return None
    return round((float(latest.median_price) / float(older[-1].median_price) - 1) * 100, 1)


@dataclass
class Series:
    condition: str
    currency: str
    snapshots: list[PriceSnapshot]
    changes: dict[int, float | None] = field(default_factory=dict)

    @property
    def latest(self) -> PriceSnapshot:
        return self.snapshots[-1]

    def chart(self, name: str) -> str:
        points = [ChartPoint(s.snapshot_date, _f(s.median_price), _f(s.p25_price), _f(s.p75_price), s.n, s.thin)
                  for s in self.snapshots]
        return price_chart(points, f"{name}: asking prices, {self.condition}", self.currency)


def series_of(snapshots: list[PriceSnapshot]) -> list[Series]:
    groups: dict[tuple[str, str], list[PriceSnapshot]] = {}
    for s in snapshots:
        groups.setdefault((s.condition, s.currency), []).append(s)
    return [Series(c, cur, rows, {d: change_pct(rows, d) for d in CHANGE_DAYS}) for (c, cur), rows in groups.items()]


def snapshot_row(s: PriceSnapshot) -> dict[str, Any]:
    row = {col: getattr(s, col) for col in CSV_COLUMNS}
    row["excluded"] = json.dumps(s.excluded or {}, sort_keys=True)
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()}


def get_figure(session: Session, figure_id: uuid.UUID) -> Minifigure:
    figure = catalog.get(session, figure_id)
    if figure is None:
        raise HTTPException(404, f"no minifigure with id {figure_id}")
    return figure


@router.get("/prices")
def prices_page(request: Request, q: str = "", session: Session = Depends(db_session)) -> Response:
    return render(request, "prices.html", q=q, figures=catalog.search(session, q))


@router.get("/prices/{figure_id}")
def figure_page(request: Request, figure_id: uuid.UUID, session: Session = Depends(db_session)) -> Response:
    figure = get_figure(session, figure_id)
    return render(request, "figure.html", figure=figure, series=series_of(snapshots.of_figure(session, figure_id)),
                  change_days=CHANGE_DAYS, search=prices.search_status(session, figure_id))


@router.get("/prices/{figure_id}/snapshots.csv")
def snapshots_csv(figure_id: uuid.UUID, session: Session = Depends(db_session)) -> Response:
    figure = get_figure(session, figure_id)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for s in snapshots.of_figure(session, figure_id):
        writer.writerow(snapshot_row(s))
    name = (figure.bricklink_id or str(figure.id)).replace('"', "")
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}-asking-price-snapshots.csv"'})


@api.get("/minifigures")
def minifigures(q: str = "", limit: int = Query(50, ge=1, le=500),
                session: Session = Depends(db_session)) -> list[dict[str, Any]]:
    """Search minifigures by name, BrickLink or Rebrickable number, or theme."""
    return [{"id": str(f.id), "bricklink_id": f.bricklink_id, "name": f.name, "theme": f.theme, "year": f.year}
            for f in catalog.search(session, q, limit)]


@api.get("/minifigures/{figure_id}/snapshots")
def minifigure_snapshots(figure_id: uuid.UUID, session: Session = Depends(db_session)) -> dict[str, Any]:
    """Daily asking-price snapshots, oldest first, with the 7/30/90-day median changes per condition."""
    get_figure(session, figure_id)
    return {"minifigure_id": str(figure_id), "price_kind": "asking", "search": prices.search_status(session, figure_id),
            "series": [
        {"condition": s.condition, "currency": s.currency, "change_pct": s.changes,
         "snapshots": [snapshot_row(x) for x in s.snapshots]}
        for s in series_of(snapshots.of_figure(session, figure_id))]}
