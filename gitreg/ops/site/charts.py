"""SVG charts of one metric across a model's versions, made at build time (no JS, no network).

Pure: plain data in, an SVG string out. Used by `gitreg site` (inline in the model page)
and `gitreg compare NAME --plot FILE.svg`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Mapping, Sequence

from gitreg.ops.site.chart_layout import (
    MARKED_STAGES, STAGE_FONT, VALUE_FONT, X_FONT, Point, clip, format_value, label_box, nice_ticks,
    overlaps, points_for, stage_label_positions, x_label_indices,
)

# Stage colours, shared with the site's pages (html.badge) so a badge and a chart dot match.
STAGE_COLORS: dict[str, str] = {
    "production": "#1a7f37",
    "staging": "#bf8700",
    "archived": "#8c959f",
    "none": "#0969da",
}
_EXTRA_COLORS = ("#8250df", "#cf222e", "#1b7c83", "#bc4c00", "#6e7781")
LINE_COLOR = "#0969da"


def stage_color(stage: str | None, stages: Sequence[str] = ()) -> str:
    """A stable colour per stage: fixed for the usual ones, by position for custom stages."""
    stage = stage or "none"
    if stage in STAGE_COLORS:
        return STAGE_COLORS[stage]
    others = [s for s in stages if s not in STAGE_COLORS]
    idx = others.index(stage) if stage in others else sum(map(ord, stage))
    return _EXTRA_COLORS[idx % len(_EXTRA_COLORS)]


# the plot area inside a metric chart, in pixels: left room for y labels, bottom for x labels
PAD_L, PAD_R, PAD_T, PAD_B = 48, 14, 34, 44
INSET = 28  # first and last points (and their stage labels) stay inside the plot


@dataclass(frozen=True)
class Frame:
    """Where a chart's points land: version index i -> x, metric value v -> y."""

    width: int
    height: int
    n: int
    y_lo: float
    y_hi: float

    @property
    def plot_w(self) -> int:
        return self.width - PAD_L - PAD_R

    @property
    def plot_h(self) -> int:
        return self.height - PAD_T - PAD_B

    def x_at(self, i: int) -> float:
        if self.n == 1:
            return PAD_L + self.plot_w / 2
        return PAD_L + INSET + (self.plot_w - 2 * INSET) * i / (self.n - 1)

    def y_at(self, v: float) -> float:
        return PAD_T + self.plot_h * (1 - (v - self.y_lo) / (self.y_hi - self.y_lo))

    def xs(self) -> list[float]:
        return [self.x_at(i) for i in range(self.n)]


def metric_chart(
    metric: str,
    points: Sequence[Point],
    *,
    width: int = 360,
    height: int = 220,
    stages: Sequence[str] = (),
    title: str | None = None,
) -> str:
    """An SVG line/point chart of `metric` across versions (x: versions in the given order).

    Each point is coloured by its version's stage; production and staging holders also
    get a dashed guide line and a label, so the chart answers "how does the candidate
    compare with what is live?" at a glance. Every text is escaped.
    """
    values = [p.value for p in points if p.value is not None]
    label = title if title is not None else metric
    parts = [chart_head(metric, label, width, height)]
    if not values:
        parts.append(
            f'<text x="{width / 2:.1f}" y="{height / 2:.1f}" font-size="12" fill="#656d76" '
            f'text-anchor="middle">no numeric values</text></svg>')
        return "".join(parts)
    ticks = y_ticks(values)
    frame = Frame(width, height, len(points), ticks[0], ticks[-1])
    marked = [i for i, p in enumerate(points) if p.stage in MARKED_STAGES]
    parts += grid_lines(frame, ticks)
    parts += x_labels(frame, points)
    parts += stage_marks(frame, points, marked, stages)
    parts += line_paths(frame, points)
    parts += value_labels(frame, points, marked, stages)
    parts += point_dots(frame, points, metric, stages)
    parts.append("</svg>")
    return "".join(parts)


def chart_head(metric: str, label: str, width: int, height: int) -> str:
    """The opening <svg>, its title (for screen readers and tooltips), background and heading."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)} across versions" '
        f'data-metric="{escape(metric)}" font-family="system-ui, -apple-system, Segoe UI, '
        f'Helvetica, Arial, sans-serif">'
        f"<title>{escape(label)} across versions</title>"
        f'<rect x="0" y="0" width="{width}" height="{height}" rx="6" fill="#ffffff"/>'
        f'<text x="{PAD_L}" y="20" font-size="13" font-weight="600" fill="#1f2328">'
        f"{escape(clip(label, 48))}</text>")


def y_ticks(values: Sequence[float]) -> list[float]:
    """The y axis's ticks: the values' range with a margin, from 0 up for non-negative values."""
    lo, hi = min(values), max(values)
    margin = (hi - lo) * 0.08  # keep the extreme points off the plot's edges
    bottom = max(lo - margin, 0.0) if lo >= 0 else lo - margin  # no negative axis for rates
    return nice_ticks(bottom, hi + margin)


def grid_lines(frame: Frame, ticks: Sequence[float]) -> list[str]:
    parts = []
    for t in ticks:  # grid and y labels
        y = frame.y_at(t)
        parts.append(f'<line x1="{PAD_L}" x2="{PAD_L + frame.plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#d8dee4" stroke-width="1"/>')
        parts.append(f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" font-size="11" fill="#656d76" '
                     f'text-anchor="end">{escape(format_value(t))}</text>')
    return parts


def x_labels(frame: Frame, points: Sequence[Point]) -> list[str]:
    axis_y = PAD_T + frame.plot_h + 18
    return [f'<text class="x-label" x="{frame.x_at(i):.1f}" y="{axis_y}" font-size="{X_FONT}" '
            f'fill="#424a53" text-anchor="middle">{escape(clip(points[i].version, 16))}</text>'
            for i in x_label_indices(points, frame.xs(), frame.width)]  # thinned x labels


def stage_marks(frame: Frame, points: Sequence[Point], marked: Sequence[int],
                stages: Sequence[str]) -> list[str]:
    """A dashed guide line at each production/staging holder, then the stage labels below."""
    parts = []
    for i in marked:  # guide lines for the stages people care about
        color = stage_color(points[i].stage, stages)
        x = frame.x_at(i)
        parts.append(f'<line class="stage-mark" data-stage="{escape(points[i].stage)}" x1="{x:.1f}" '
                     f'x2="{x:.1f}" y1="{PAD_T}" y2="{PAD_T + frame.plot_h}" stroke="{color}" '
                     f'stroke-width="1.5" stroke-dasharray="4 3"/>')
    for i, left in stage_label_positions(points, frame.xs(), frame.width):
        color = stage_color(points[i].stage, stages)
        parts.append(f'<text class="stage-label" data-stage="{escape(points[i].stage)}" '
                     f'x="{left:.1f}" y="{PAD_T + frame.plot_h + 33}" font-size="{STAGE_FONT}" '
                     f'font-weight="600" fill="{color}" text-anchor="start">'
                     f"{escape(points[i].stage)}</text>")
    return parts


def line_paths(frame: Frame, points: Sequence[Point]) -> list[str]:
    segment: list[str] = []
    paths: list[str] = []
    for i, p in enumerate(points):  # the line, broken where a version lacks the metric
        if p.value is None:
            if len(segment) > 1:
                paths.append(" ".join(segment))
            segment = []
            continue
        segment.append(f"{'M' if not segment else 'L'}{frame.x_at(i):.1f},{frame.y_at(p.value):.1f}")
    if len(segment) > 1:
        paths.append(" ".join(segment))
    return [f'<path d="{d}" fill="none" stroke="{LINE_COLOR}" stroke-width="2" '
            f'stroke-linejoin="round"/>' for d in paths]


def value_labels(frame: Frame, points: Sequence[Point], marked: Sequence[int],
                 stages: Sequence[str]) -> list[str]:
    """The value of what is live and of the candidate, readable without hovering; production
    first, each placed beside its point where it overlaps no other value label (else skipped:
    the point's tooltip still has it)."""
    parts = []
    placed: list[tuple[float, float, float, float]] = []
    order = sorted((i for i in marked if points[i].value is not None),
                   key=lambda i: (points[i].stage != "production", i))
    for i in order:
        value = points[i].value
        assert value is not None
        text = format_value(value)
        x, y = frame.x_at(i), frame.y_at(value)
        for dx, dy, anchor in ((9, -7, "start"), (-9, -7, "end"), (9, 15, "start"), (-9, 15, "end")):
            box = label_box(x + dx, y + dy, text, VALUE_FONT, anchor)
            if (box[0] >= 0 and box[2] <= frame.width and box[1] >= PAD_T - 10
                    and box[3] <= PAD_T + frame.plot_h and not any(overlaps(box, other) for other in placed)):
                placed.append(box)
                parts.append(f'<text class="value" data-version="{escape(points[i].version)}" '
                             f'x="{x + dx:.1f}" y="{y + dy:.1f}" font-size="{VALUE_FONT}" '
                             f'font-weight="600" fill="{stage_color(points[i].stage, stages)}" '
                             f'text-anchor="{anchor}" stroke="#ffffff" stroke-width="3" '
                             f'paint-order="stroke">{escape(text)}</text>')
                break
    return parts


def point_dots(frame: Frame, points: Sequence[Point], metric: str, stages: Sequence[str]) -> list[str]:
    """A dot per version with a value, coloured by stage, its tooltip naming version and value
    (drawn last, so they sit on top)."""
    parts = []
    for i, p in enumerate(points):
        if p.value is None:
            continue
        color = stage_color(p.stage, stages)
        big = p.stage in MARKED_STAGES
        parts.append(
            f'<circle class="point" data-version="{escape(p.version)}" data-stage="{escape(p.stage)}" '
            f'cx="{frame.x_at(i):.1f}" cy="{frame.y_at(p.value):.1f}" r="{6 if big else 4.5}" fill="{color}" '
            f'stroke="#ffffff" stroke-width="2"><title>{escape(p.version)} ({escape(p.stage)}): '
            f"{escape(metric)} = {escape(format_value(p.value))}</title></circle>")
    return parts


def sparkline(points: Sequence[Point], *, width: int = 120, height: int = 28,
              stages: Sequence[str] = (), label: str = "") -> str:
    """A tiny chart for the index table: the line and the production/staging dots."""
    values = [p.value for p in points if p.value is not None]
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(label)}"><title>{escape(label)}</title>')
    if not values:
        return head + "</svg>"
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    n = len(points)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = 4 + (width - 8) * (0.5 if n == 1 else i / (n - 1))
        return x, 4 + (height - 8) * (1 - (v - lo) / (hi - lo))

    coords = [(xy(i, p.value), p) for i, p in enumerate(points) if p.value is not None]
    d = " ".join(f"{'M' if k == 0 else 'L'}{x:.1f},{y:.1f}" for k, ((x, y), _) in enumerate(coords))
    body = [f'<path d="{d}" fill="none" stroke="{LINE_COLOR}" stroke-width="1.5"/>']
    for (x, y), p in coords:
        if p.stage in MARKED_STAGES:
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" '
                        f'fill="{stage_color(p.stage, stages)}"/>')
    return head + "".join(body) + "</svg>"


def metrics_figure(name: str, metrics: Sequence[str], versions: Sequence[Mapping[str, object]],
                   *, stages: Sequence[str] = (), columns: int = 2) -> str:
    """One standalone SVG with a chart per metric in a grid (for `compare --plot`)."""
    cell_w, cell_h, head = 420, 230, 36
    cols = max(1, min(columns, len(metrics) or 1))
    rows = max(1, math.ceil(len(metrics) / cols))
    width, height = cols * cell_w, head + rows * cell_h
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="system-ui, -apple-system, Segoe UI, '
        f'Helvetica, Arial, sans-serif">',
        f"<title>{escape(name)}: metrics across versions</title>",
        f'<rect width="{width}" height="{height}" fill="#f6f8fa"/>',
        f'<text x="16" y="24" font-size="15" font-weight="600" fill="#1f2328">'
        f"{escape(name)}: metrics across versions</text>",
    ]
    if not metrics:
        parts.append(f'<text x="16" y="{head + 24}" font-size="12" fill="#656d76">'
                     "no metrics recorded</text>")
    for k, metric in enumerate(metrics):
        x, y = (k % cols) * cell_w, head + (k // cols) * cell_h
        chart = metric_chart(metric, points_for(metric, versions), width=cell_w - 8,
                             height=cell_h - 8, stages=stages)
        # nested <svg> positions each chart; drop its namespace (inherited from the outer one)
        chart = chart.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)
        parts.append(f'<g transform="translate({x + 4},{y + 4})">{chart}</g>')
    parts.append("</svg>\n")
    return "".join(parts)
