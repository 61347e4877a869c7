"""A small server-side SVG chart: the median line over the p25–p75 band (pure, no I/O).

Rendered on the server so the page needs no script and no network to show it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from html import escape

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 30, 36


@dataclass(frozen=True)
class ChartPoint:
    day: date
    median: float | None
    p25: float | None
    p75: float | None
    n: int
    thin: bool = False


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _segments(points: list[ChartPoint], attr: str) -> list[list[ChartPoint]]:
    """Runs of consecutive points that all have `attr` (a missing value breaks the line)."""
    runs: list[list[ChartPoint]] = [[]]
    for p in points:
        if getattr(p, attr) is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(p)
    return [r for r in runs if r]


def price_chart(points: list[ChartPoint], title: str, currency: str) -> str:
    points = sorted(points, key=lambda p: p.day)
    values = [v for p in points for v in (p.median, p.p25, p.p75) if v is not None]
    label = escape(title)
    if not values:
        return (f'<svg class="chart" viewBox="0 0 {WIDTH} 60" role="img" aria-label="{label}">'
                f'<text x="10" y="35" fill="#666">No prices for {label} yet.</text></svg>')
    ticks = nice_ticks(min(values), max(values))
    y_low, y_high = ticks[0], ticks[-1]
    first, last = points[0].day.toordinal(), points[-1].day.toordinal()
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: date) -> float:
        if last == first:
            return LEFT + plot_w / 2
        return LEFT + (day.toordinal() - first) / (last - first) * plot_w

    def y(value: float) -> float:
        return TOP + (1 - (value - y_low) / (y_high - y_low)) * plot_h

    out = [(f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{label}" '
            f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11">'),
           f"<title>{label}</title>",
           f'<text x="{LEFT}" y="16" font-size="13" font-weight="600" fill="#222">{label}</text>']
    for tick in ticks:
        ty = y(tick)
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" '
                   'stroke="#e5e5e5"/>')
        out.append(f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" fill="#555">{tick:,.2f}</text>')
    out.append(f'<text x="12" y="{TOP + plot_h / 2:.0f}" transform="rotate(-90 12 {TOP + plot_h / 2:.0f})" '
               f'text-anchor="middle" fill="#555">{escape(currency)}</text>')
    step = max(1, math.ceil(len(points) / 7))
    for p in points[::step]:
        out.append(f'<text x="{x(p.day):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" fill="#555">'
                   f"{p.day:%b %d}</text>")
    base = TOP + plot_h
    out.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}" stroke="#999"/>')
    for run in _segments([p for p in points if p.p25 is not None], "p75"):
        upper = [f"{x(p.day):.1f},{y(p.p75):.1f}" for p in run]  # type: ignore[arg-type]
        lower = [f"{x(p.day):.1f},{y(p.p25):.1f}" for p in reversed(run)]  # type: ignore[arg-type]
        if len(run) == 1:
            px, top, bottom = x(run[0].day), y(run[0].p75), y(run[0].p25)  # type: ignore[arg-type]
            out.append(f'<line class="band" x1="{px:.1f}" x2="{px:.1f}" y1="{top:.1f}" y2="{bottom:.1f}" '
                       'stroke="#9cc3ea" stroke-width="8"/>')
        else:
            out.append(f'<polygon class="band" points="{" ".join(upper + lower)}" fill="#9cc3ea" fill-opacity="0.55"/>')
    for run in _segments(points, "median"):
        coords = " ".join(f"{x(p.day):.1f},{y(p.median):.1f}" for p in run)  # type: ignore[arg-type]
        out.append(f'<polyline class="median" points="{coords}" fill="none" stroke="#1f5fa8" stroke-width="2"/>')
    for p in points:
        if p.median is None:
            continue
        band = f" (p25 {p.p25:,.2f} – p75 {p.p75:,.2f})" if p.p25 is not None and p.p75 is not None else ""
        thin = ", thin" if p.thin else ""
        tip = escape(f"{p.day.isoformat()}: median {p.median:,.2f} {currency}{band}, n={p.n}{thin}")
        fill = "#fff" if p.thin else "#1f5fa8"
        out.append(f'<circle cx="{x(p.day):.1f}" cy="{y(p.median):.1f}" r="3" fill="{fill}" stroke="#1f5fa8">'
                   f"<title>{tip}</title></circle>")
    lx = WIDTH - RIGHT - 250
    out.append(f'<rect x="{lx}" y="6" width="14" height="10" fill="#9cc3ea"/>'
               f'<text x="{lx + 18}" y="15" fill="#333">p25–p75</text>'
               f'<line x1="{lx + 80}" x2="{lx + 96}" y1="11" y2="11" stroke="#1f5fa8" stroke-width="2"/>'
               f'<text x="{lx + 100}" y="15" fill="#333">median asking price</text>')
    out.append("</svg>")
    return "".join(out)
