"""Opt-in figures from the consent records: counted per day and category, shown as a terminal
table or a small self-contained HTML page with an SVG chart (no script, no external asset).

A visitor counts once a day, by their last decision of that day: whoever accepted analytics in
the morning and refused it in the afternoon counts as one refusal. Records arrive sorted by
consent id and time, so only one visitor's day is held at a time, and memory stays bounded by
days × categories however many records there are.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

#: The chart's size in CSS pixels, and its margins for the axes and the legend.
CHART_WIDTH = 720
CHART_HEIGHT = 320
CHART_MARGIN = 48
LEGEND_WIDTH = 160
#: The most day labels under the chart (one per 50 pixels of plot width).
MAX_DAY_LABELS = (CHART_WIDTH - 2 * CHART_MARGIN - LEGEND_WIDTH) // 50
#: Colours of the categories' lines, in turn (distinguishable with the common colour-vision
#: deficiencies).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000")


@dataclass(frozen=True, slots=True)
class Count:
    accepted: int = 0
    refused: int = 0

    @property
    def rate(self) -> float | None:
        """The share of visitors who accepted, or ``None`` when nobody chose."""
        total = self.accepted + self.refused
        return self.accepted / total if total else None


@dataclass(slots=True)
class OptInStats:
    """Counts per (day, category) of the visitors who accepted and who refused."""

    counts: dict[tuple[date, str], Count] = field(default_factory=dict)
    _visitor: str | None = None
    _days: dict[date, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)

    def add(
        self, consent_id: str, moment: datetime, granted: Iterable[str], refused: Iterable[str]
    ) -> None:
        """One decision; decisions must come sorted by consent id, then time."""
        if consent_id != self._visitor:
            self._count_visitor()
            self._visitor = consent_id
        self._days[moment.date()] = (tuple(granted), tuple(refused))

    def finish(self) -> OptInStats:
        self._count_visitor()
        return self

    def _count_visitor(self) -> None:
        for day, (granted, refused) in self._days.items():
            for category in granted:
                count = self.counts.get((day, category), Count())
                self.counts[day, category] = Count(count.accepted + 1, count.refused)
            for category in refused:
                count = self.counts.get((day, category), Count())
                self.counts[day, category] = Count(count.accepted, count.refused + 1)
        self._days.clear()

    @property
    def days(self) -> list[date]:
        return sorted({day for day, _ in self.counts})

    @property
    def categories(self) -> list[str]:
        return sorted({category for _, category in self.counts})

    def table(self) -> str:
        """A plain-text table: one line per day and category."""
        rows = [("day", "category", "accepted", "refused", "opt-in")]
        for day, category in sorted(self.counts):
            count = self.counts[day, category]
            rows.append(
                (
                    day.isoformat(),
                    category,
                    str(count.accepted),
                    str(count.refused),
                    _percent(count.rate),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = []
        for number, row in enumerate(rows):
            cells = [
                cell.ljust(width) if i < 2 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ]
            lines.append("  ".join(cells).rstrip())
            if number == 0:
                lines.append("  ".join("-" * width for width in widths))
        return "\n".join(lines) + "\n"

    def html(self, title: str) -> str:
        """A self-contained HTML page: the chart of opt-in rates, then the table."""
        rows = "\n".join(
            _html_row(day.isoformat(), category, count)
            for (day, category), count in sorted(self.counts.items())
        )
        return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 2em; color: #111; }}
table {{ border-collapse: collapse; margin-top: 1.5em; }}
th, td {{ padding: 0.2em 0.8em; border-bottom: 1px solid #ccc; text-align: right; }}
th:nth-child(-n+2), td:nth-child(-n+2) {{ text-align: left; }}
svg text {{ font: 12px system-ui, sans-serif; fill: #111; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>Share of visitors who accepted each category, per day (UTC); each visitor counts once a day,
by their last decision of that day.</p>
{self.chart()}
<table>
<thead><tr><th>day</th><th>category</th><th>accepted</th><th>refused</th><th>opt-in</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body>
</html>
"""

    def chart(self) -> str:
        """An SVG line chart of each category's opt-in rate per day."""
        days, categories = self.days, self.categories
        width = CHART_WIDTH - 2 * CHART_MARGIN - LEGEND_WIDTH
        height = CHART_HEIGHT - 2 * CHART_MARGIN
        step = width / max(len(days) - 1, 1)
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" '
            f'height="{CHART_HEIGHT}" role="img" aria-label="Opt-in rate per day and category">'
        ]
        for percent in (0, 25, 50, 75, 100):
            y = CHART_MARGIN + height * (1 - percent / 100)
            parts.append(
                f'<line x1="{CHART_MARGIN}" y1="{y:.1f}" x2="{CHART_MARGIN + width}" '
                f'y2="{y:.1f}" stroke="#ddd"/>'
                f'<text x="{CHART_MARGIN - 6}" y="{y + 4:.1f}" text-anchor="end">{percent}%</text>'
            )
        every = -(-len(days) // MAX_DAY_LABELS)  # labels at most this often, so none overlap
        for index, day in enumerate(days):
            if index % every == 0:
                x = CHART_MARGIN + index * step
                parts.append(
                    f'<text x="{x:.1f}" y="{CHART_HEIGHT - CHART_MARGIN + 18}" '
                    f'text-anchor="middle">{day.strftime("%m-%d")}</text>'
                )
        for number, category in enumerate(categories):
            colour = PALETTE[number % len(PALETTE)]
            points = []
            for index, day in enumerate(days):
                rate = self.counts.get((day, category), Count()).rate
                if rate is not None:
                    x = CHART_MARGIN + index * step
                    y = CHART_MARGIN + height * (1 - rate)
                    points.append((x, y))
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            parts.extend(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points
            )
            legend_y = CHART_MARGIN + 18 * number
            legend_x = CHART_WIDTH - LEGEND_WIDTH
            parts.append(
                f'<rect x="{legend_x}" y="{legend_y}" width="12" height="12" fill="{colour}"/>'
                f'<text x="{legend_x + 18}" y="{legend_y + 11}">{html.escape(category)}</text>'
            )
        parts.append("</svg>")
        return "\n".join(parts)


def _html_row(day: str, category: str, count: Count) -> str:
    cells = (day, html.escape(category), count.accepted, count.refused, _percent(count.rate))
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"
