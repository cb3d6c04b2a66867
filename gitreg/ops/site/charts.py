"""SVG charts of one metric across a model's versions, made at build time (no JS, no network).

Pure: plain data in, an SVG string out. Used by `gitreg site` (inline in the model page)
and `gitreg compare NAME --plot FILE.svg`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Iterable, Mapping, Sequence

# Stage colours, shared with the site's CSS (site.py) so a badge and a chart dot match.
STAGE_COLORS: dict[str, str] = {
    "production": "#1a7f37",
    "staging": "#bf8700",
    "archived": "#8c959f",
    "none": "#0969da",
}
_EXTRA_COLORS = ("#8250df", "#cf222e", "#1b7c83", "#bc4c00", "#6e7781")
LINE_COLOR = "#0969da"
MARKED_STAGES = ("production", "staging")  # stages drawn with a guide line and a label
X_FONT, STAGE_FONT, VALUE_FONT = 11, 10, 11  # font sizes of the chart's labels
CHAR_EM = 0.62  # a label's width per character, in em: wider than system-ui's average glyph
LABEL_GAP = 4.0  # pixels kept free between two labels


def stage_color(stage: str | None, stages: Sequence[str] = ()) -> str:
    """A stable colour per stage: fixed for the usual ones, by position for custom stages."""
    stage = stage or "none"
    if stage in STAGE_COLORS:
        return STAGE_COLORS[stage]
    others = [s for s in stages if s not in STAGE_COLORS]
    idx = others.index(stage) if stage in others else sum(map(ord, stage))
    return _EXTRA_COLORS[idx % len(_EXTRA_COLORS)]


@dataclass(frozen=True)
class Point:
    """One version on the chart: value None (or not finite) leaves a gap in the line."""

    version: str
    value: float | None
    stage: str = "none"


def points_for(metric: str, versions: Iterable[Mapping[str, object]]) -> list[Point]:
    """Points of one metric from manifests (or compare rows) already in version order."""
    out = []
    for m in versions:
        metrics = m.get("metrics") or {}
        raw = metrics.get(metric) if isinstance(metrics, Mapping) else None
        out.append(Point(str(m.get("version")), _number(raw), str(m.get("stage") or "none")))
    return out


def _number(raw: object) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 x 10^k steps) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi < lo:
        lo, hi = hi, lo
    if not math.isfinite(hi - lo):  # beyond what a float axis can show evenly
        return [lo, hi]
    if (hi - lo) / max(count - 1, 1) < max(abs(lo), abs(hi), 1e-300) * 1e-12:
        pad = abs(hi) * 0.05 or 1.0  # (almost) equal values get a band around them
        lo, hi = lo - pad, hi + pad
    raw_step = (hi - lo) / max(count - 1, 1)
    exponent = math.floor(math.log10(raw_step))
    mag = 10.0 ** exponent

    def span(step: float) -> tuple[int, int]:
        return math.floor(lo / step + 1e-10), math.ceil(hi / step - 1e-10)  # float noise

    def intervals(step: float) -> int:
        first, last = span(step)
        return last - first

    # the round step whose tick count is closest to `count` (ties: fewer ticks)
    step = min((m * mag for m in (1, 2, 5, 10)),
               key=lambda s: (abs(intervals(s) - (count - 1)), -s))
    first, last = span(step)
    last = max(last, first + 1)
    digits = max(0, 2 - exponent)  # enough decimals to undo float noise (0.1 * 3)
    return [float(round(k * step, digits)) for k in range(first, last + 1)]


def format_value(value: float) -> str:
    """A short, exact-enough label: 0.921, 1.5e+06, 120."""
    if value == 0:
        return "0"
    if abs(value) >= 1e6 or abs(value) < 1e-3:
        return f"{value:.3g}"
    return f"{value:.4g}"


def text_width(text: str, font_size: float) -> float:
    """An upper estimate of a label's width: no font is measured at build time."""
    return len(text) * font_size * CHAR_EM


def label_box(x: float, y: float, text: str, font_size: float,
              anchor: str = "middle") -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of an SVG <text> at baseline y with that text-anchor."""
    w = text_width(text, font_size)
    left = {"start": x, "middle": x - w / 2, "end": x - w}[anchor]
    return left, y - font_size, left + w, y + font_size * 0.25


def overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float],
             gap: float = LABEL_GAP) -> bool:
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] and b[1] < a[3]


def x_label_indices(points: Sequence[Point], xs: Sequence[float], width: float) -> list[int]:
    """Which versions get an x-axis label: first and last always, then the production and
    staging holders, then every k-th version, k chosen so even the widest label fits; any
    label that would touch one already placed is skipped."""
    n = len(points)
    if n == 0:
        return []
    texts = [_clip(p.version, 16) for p in points]
    spacing = (xs[-1] - xs[0]) / (n - 1) if n > 1 else float(width)
    widest = max(text_width(t, X_FONT) for t in texts)
    step = max(1, math.ceil((widest + LABEL_GAP) / max(spacing, 1e-9)))
    marked = sorted((i for i, p in enumerate(points) if p.stage in MARKED_STAGES),
                    key=lambda i: (points[i].stage != "production", -i))
    chosen: list[int] = []
    spans: list[tuple[float, float]] = []
    for k, i in enumerate(dict.fromkeys([0, n - 1, *marked, *range(0, n, step)])):
        w = text_width(texts[i], X_FONT)
        span = (xs[i] - w / 2, xs[i] + w / 2)
        if k >= 2 and any(span[0] < b + LABEL_GAP and a < span[1] + LABEL_GAP for a, b in spans):
            continue  # (first and last are always kept)
        chosen.append(i)
        spans.append(span)
    return sorted(chosen)


def stage_label_positions(points: Sequence[Point], xs: Sequence[float],
                          width: float) -> list[tuple[int, float]]:
    """(index, left x) of a stage label under each production/staging point, nudged apart so
    none overlap and all stay inside the chart; when they cannot all fit, one per stage (its
    newest holder)."""
    marked = [i for i, p in enumerate(points) if p.stage in MARKED_STAGES]

    def layout(idx: list[int]) -> list[tuple[int, float]] | None:
        widths = [text_width(points[i].stage, STAGE_FONT) for i in idx]
        if sum(widths) + LABEL_GAP * (len(idx) + 1) > width:
            return None
        lefts: list[float] = []
        for k, i in enumerate(idx):  # push right past the previous label
            left = max(xs[i] - widths[k] / 2, 2.0)
            if lefts:
                left = max(left, lefts[-1] + widths[k - 1] + LABEL_GAP)
            lefts.append(left)
        for k in range(len(idx) - 1, -1, -1):  # then back left from the chart's right edge
            limit = width - 2.0 if k == len(idx) - 1 else lefts[k + 1] - LABEL_GAP
            lefts[k] = min(lefts[k], limit - widths[k])
        return list(zip(idx, lefts))

    placed = layout(marked)
    if placed is None:
        newest = {points[i].stage: i for i in marked}
        placed = layout(sorted(newest.values())) or []
    return placed


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
    pad_l, pad_r, pad_t, pad_b = 48, 14, 34, 44
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    values = [p.value for p in points if p.value is not None]
    label = title if title is not None else metric
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)} across versions" '
        f'data-metric="{escape(metric)}" font-family="system-ui, -apple-system, Segoe UI, '
        f'Helvetica, Arial, sans-serif">',
        f"<title>{escape(label)} across versions</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" rx="6" fill="#ffffff"/>',
        f'<text x="{pad_l}" y="20" font-size="13" font-weight="600" fill="#1f2328">'
        f"{escape(_clip(label, 48))}</text>",
    ]
    if not values:
        parts.append(
            f'<text x="{width / 2:.1f}" y="{height / 2:.1f}" font-size="12" fill="#656d76" '
            f'text-anchor="middle">no numeric values</text></svg>')
        return "".join(parts)
    lo, hi = min(values), max(values)
    margin = (hi - lo) * 0.08  # keep the extreme points off the plot's edges
    bottom = max(lo - margin, 0.0) if lo >= 0 else lo - margin  # no negative axis for rates
    ticks = nice_ticks(bottom, hi + margin)
    y_lo, y_hi = ticks[0], ticks[-1]
    n = len(points)
    inset = 28  # first and last points (and their stage labels) stay inside the plot

    def x_at(i: int) -> float:
        if n == 1:
            return pad_l + plot_w / 2
        return pad_l + inset + (plot_w - 2 * inset) * i / (n - 1)

    def y_at(v: float) -> float:
        return pad_t + plot_h * (1 - (v - y_lo) / (y_hi - y_lo))

    for t in ticks:  # grid and y labels
        y = y_at(t)
        parts.append(f'<line x1="{pad_l}" x2="{pad_l + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#d8dee4" stroke-width="1"/>')
        parts.append(f'<text x="{pad_l - 6}" y="{y + 4:.1f}" font-size="11" fill="#656d76" '
                     f'text-anchor="end">{escape(format_value(t))}</text>')
    axis_y = pad_t + plot_h + 18
    for i in x_label_indices(points, [x_at(i) for i in range(n)], width):  # thinned x labels
        parts.append(f'<text class="x-label" x="{x_at(i):.1f}" y="{axis_y}" font-size="{X_FONT}" '
                     f'fill="#424a53" text-anchor="middle">{escape(_clip(points[i].version, 16))}</text>')
    marked = [i for i, p in enumerate(points) if p.stage in MARKED_STAGES]
    for i in marked:  # guide lines for the stages people care about
        color = stage_color(points[i].stage, stages)
        x = x_at(i)
        parts.append(f'<line class="stage-mark" data-stage="{escape(points[i].stage)}" x1="{x:.1f}" '
                     f'x2="{x:.1f}" y1="{pad_t}" y2="{pad_t + plot_h}" stroke="{color}" '
                     f'stroke-width="1.5" stroke-dasharray="4 3"/>')
    for i, left in stage_label_positions(points, [x_at(i) for i in range(n)], width):
        color = stage_color(points[i].stage, stages)
        parts.append(f'<text class="stage-label" data-stage="{escape(points[i].stage)}" '
                     f'x="{left:.1f}" y="{pad_t + plot_h + 33}" font-size="{STAGE_FONT}" '
                     f'font-weight="600" fill="{color}" text-anchor="start">'
                     f"{escape(points[i].stage)}</text>")
    segment: list[str] = []
    paths: list[str] = []
    for i, p in enumerate(points):  # the line, broken where a version lacks the metric
        if p.value is None:
            if len(segment) > 1:
                paths.append(" ".join(segment))
            segment = []
            continue
        segment.append(f"{'M' if not segment else 'L'}{x_at(i):.1f},{y_at(p.value):.1f}")
    if len(segment) > 1:
        paths.append(" ".join(segment))
    for d in paths:
        parts.append(f'<path d="{d}" fill="none" stroke="{LINE_COLOR}" stroke-width="2" '
                     f'stroke-linejoin="round"/>')
    # the value of what is live and of the candidate, readable without hovering; production
    # first, each placed beside its point where it overlaps no other value label (else skipped:
    # the point's tooltip still has it)
    placed: list[tuple[float, float, float, float]] = []
    order = sorted((i for i in marked if points[i].value is not None),
                   key=lambda i: (points[i].stage != "production", i))
    for i in order:
        value = points[i].value
        assert value is not None
        text = format_value(value)
        x, y = x_at(i), y_at(value)
        for dx, dy, anchor in ((9, -7, "start"), (-9, -7, "end"), (9, 15, "start"), (-9, 15, "end")):
            box = label_box(x + dx, y + dy, text, VALUE_FONT, anchor)
            if (box[0] >= 0 and box[2] <= width and box[1] >= pad_t - 10 and box[3] <= pad_t + plot_h
                    and not any(overlaps(box, other) for other in placed)):
                placed.append(box)
                parts.append(f'<text class="value" data-version="{escape(points[i].version)}" '
                             f'x="{x + dx:.1f}" y="{y + dy:.1f}" font-size="{VALUE_FONT}" '
                             f'font-weight="600" fill="{stage_color(points[i].stage, stages)}" '
                             f'text-anchor="{anchor}" stroke="#ffffff" stroke-width="3" '
                             f'paint-order="stroke">{escape(text)}</text>')
                break
    for i, p in enumerate(points):  # points last, so they sit on top
        if p.value is None:
            continue
        color = stage_color(p.stage, stages)
        big = p.stage in MARKED_STAGES
        parts.append(
            f'<circle class="point" data-version="{escape(p.version)}" data-stage="{escape(p.stage)}" '
            f'cx="{x_at(i):.1f}" cy="{y_at(p.value):.1f}" r="{6 if big else 4.5}" fill="{color}" '
            f'stroke="#ffffff" stroke-width="2"><title>{escape(p.version)} ({escape(p.stage)}): '
            f"{escape(metric)} = {escape(format_value(p.value))}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


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


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
