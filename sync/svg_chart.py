"""Charts as inline SVG text, drawn on the server: stacked horizontal bars and a line chart.

The HTML report embeds them as they are: no script, no library to bundle, nothing fetched
when the page is opened; they print sharp and show with scripts off. Every text put in a
chart (a customer's name, a label) is escaped here, so a name from the books cannot become
markup.

Geometry only: values arrive as plain numbers (minor units, days) with their labels
already written in the reader's language by the caller.

Example: `stacked_bars([Bar("TOTAL", [Segment("not due", 700, "#4c9f70", "€7.00"),
Segment("90+", 300, "#b2182b", "€3.00")])])` is one bar, 70 % green then 30 % red, each
segment with its amount as a tooltip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

BAR_HEIGHT = 22
BAR_GAP = 10
LABEL_WIDTH = 220
CHART_WIDTH = 720
LEGEND_HEIGHT = 28
FONT = 12


@dataclass(frozen=True)
class Segment:
    """One part of a bar: its label, its value (≥ 0), its colour and its value in words."""

    label: str
    value: int
    colour: str
    text: str


@dataclass(frozen=True)
class Bar:
    """One stacked bar: a label (left of the bar) and its segments, left to right."""

    label: str
    segments: Sequence[Segment]

    @property
    def total(self) -> int:
        """The sum of the segments: the bar's length on the common scale."""
        return sum(segment.value for segment in self.segments)


@dataclass(frozen=True)
class Series:
    """One line of a line chart: a name, a colour and its points (None leaves a gap)."""

    name: str
    colour: str
    points: Sequence[tuple[date, Decimal | None]]


def _text(x: float, y: float, content: str, anchor: str = "start", extra: str = "") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{FONT}" text-anchor="{anchor}"{extra}>'
        f"{escape(content)}</text>"
    )


def _legend(items: Sequence[tuple[str, str]], y: float) -> list[str]:
    parts, x = [], float(LABEL_WIDTH)
    for label, colour in items:
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 16, y + 10, label))
        x += 16 + 7 * len(label) + 18
    return parts


def stacked_bars(bars: Sequence[Bar], title: str) -> str:
    """Horizontal stacked bars on one scale (the longest bar fills the width), a legend below.

    A bar's segments of value 0 take no room; a segment's tooltip (`<title>`) gives its
    label and amount. With no positive value at all, the bars are empty outlines.
    """
    longest = max((bar.total for bar in bars), default=0)
    span = CHART_WIDTH - LABEL_WIDTH - 10
    height = len(bars) * (BAR_HEIGHT + BAR_GAP) + LEGEND_HEIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {CHART_WIDTH} {height}"'
        f' width="{CHART_WIDTH}" height="{height}">',
        f"<title>{escape(title)}</title>",
    ]
    for row, bar in enumerate(bars):
        y = row * (BAR_HEIGHT + BAR_GAP)
        parts.append(_text(LABEL_WIDTH - 8, y + BAR_HEIGHT - 6, _cut(bar.label), "end"))
        x = float(LABEL_WIDTH)
        for segment in bar.segments:
            if segment.value <= 0:
                continue
            width = span * segment.value / longest
            parts.append(
                f'<rect x="{x:.2f}" y="{y}" width="{width:.2f}" height="{BAR_HEIGHT}" '
                f'fill="{segment.colour}"><title>{escape(segment.label)}: '
                f"{escape(segment.text)}</title></rect>"
            )
            x += width
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{x - LABEL_WIDTH:.2f}" '
            f'height="{BAR_HEIGHT}" fill="none" stroke="#555" stroke-width="0.5"/>'
        )
    legend: dict[str, str] = {}
    for bar in bars:
        legend.update({segment.label: segment.colour for segment in bar.segments})
    parts += _legend(list(legend.items()), height - LEGEND_HEIGHT + 10)
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: Sequence[Series], title: str, *, day_text: str, date_text: dict[date, str]
) -> str:
    """Lines over dates, on a y axis from 0 to a round maximum, with a legend below.

    `day_text` is the unit under the axis ("days"); `date_text` writes each date of the x
    axis in the reader's language. Points are spaced by date; a single date is a point in
    the middle. The last value of each series is written beside its last point.
    """
    width, height, left, top, bottom = CHART_WIDTH, 270, 60, 30, 56
    plot_w, plot_h = width - left - 90, height - top - bottom
    days = sorted({day for line in series for day, _ in line.points})
    values = [value for line in series for _, value in line.points if value is not None]
    ceiling = _round_up(max(values, default=Decimal(0)))
    first, last = (days[0], days[-1]) if days else (None, None)

    def x_of(day: date) -> float:
        if first is None or last is None or first == last:
            return left + plot_w / 2
        return left + plot_w * (day - first).days / (last - first).days

    def y_of(value: Decimal) -> float:
        return top + plot_h - plot_h * float(value / ceiling)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}">',
        f"<title>{escape(title)}</title>",
    ]
    for step in range(5):
        value = ceiling * step / 4
        y = y_of(value)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#ddd" stroke-width="1"/>'
        )
        parts.append(_text(left - 6, y + 4, f"{value:.0f}", "end"))
    parts.append(_text(left - 6, top - 16, day_text, "end"))
    for day in _spread(days, 6):
        parts.append(_text(x_of(day), top + plot_h + 16, date_text[day], "middle"))
    for line in series:
        points = [(x_of(day), y_of(value)) for day, value in line.points if value is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{line.colour}" stroke-width="2"/>'
            )
        for x, y in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{line.colour}"/>')
        known = [value for _, value in line.points if value is not None]
        if points:
            x, y = points[-1]
            parts.append(_text(x + 6, y + 4, f"{known[-1]:.1f}", extra=f' fill="{line.colour}"'))
    parts += _legend([(line.name, line.colour) for line in series], height - 22)
    parts.append("</svg>")
    return "".join(parts)


def _round_up(value: Decimal) -> Decimal:
    """The next multiple of 10 at or above `value` (at least 10): the top of the y axis."""
    tens = int(value // 10) + (1 if value % 10 else 0)
    return Decimal(max(tens, 1) * 10)


def _spread(days: Sequence[date], most: int) -> list[date]:
    """At most `most` of the dates, evenly spread, the first and the last among them."""
    if len(days) <= most:
        return list(days)
    step = (len(days) - 1) / (most - 1)
    return [days[round(i * step)] for i in range(most)]


def _cut(label: str, width: int = 32) -> str:
    """A bar's label fits beside it: longer ones end with "…" (the full name is in the table)."""
    return label if len(label) <= width else label[: width - 1] + "…"
