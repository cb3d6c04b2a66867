"""What a chart shows and where: its points, y ticks, number labels and label placement (pure, no SVG)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

MARKED_STAGES = ("production", "staging")  # stages drawn with a guide line and a label
X_FONT, STAGE_FONT, VALUE_FONT = 11, 10, 11  # font sizes of the chart's labels
CHAR_EM = 0.62  # a label's width per character, in em: wider than system-ui's average glyph
LABEL_GAP = 4.0  # pixels kept free between two labels


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
    texts = [clip(p.version, 16) for p in points]
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


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
