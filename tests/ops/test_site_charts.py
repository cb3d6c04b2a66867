"""gitreg.ops.site.charts and chart_layout: pure SVG charts, as parameter tables and properties (no repository)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitreg.ops.site.chart_layout import (
    STAGE_FONT, VALUE_FONT, X_FONT, Point, format_value, label_box, nice_ticks, overlaps, points_for,
)
from gitreg.ops.site.charts import STAGE_COLORS, metric_chart, metrics_figure, sparkline, stage_color

NS = {"s": "http://www.w3.org/2000/svg"}


def svg(text: str) -> ET.Element:
    return ET.fromstring(text)


def circles(root: ET.Element) -> list[ET.Element]:
    return root.findall(".//s:circle", NS)


@pytest.mark.parametrize("lo, hi, expected", [
    (0.86, 0.92, [0.86, 0.88, 0.9, 0.92]),
    (0.8, 0.88, [0.8, 0.82, 0.84, 0.86, 0.88]),
    (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (0.0, 100.0, [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]),
    (-3.0, 7.0, [-5.0, 0.0, 5.0, 10.0]),
    (5.0, 5.0, [4.6, 4.8, 5.0, 5.2, 5.4]),          # equal values get a band around them
    (0.0, 0.0, [-1.0, -0.5, 0.0, 0.5, 1.0]),
    (12.0, 3.0, [0.0, 5.0, 10.0, 15.0]),  # reversed bounds are swapped
    (float("nan"), 1.0, [0.0]),
])
def test_nice_ticks(lo: float, hi: float, expected: list[float]) -> None:
    assert nice_ticks(lo, hi) == pytest.approx(expected)


@given(st.floats(-1e9, 1e9), st.floats(-1e9, 1e9))
def test_nice_ticks_cover_the_range_with_round_even_steps(a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    ticks = nice_ticks(lo, hi)
    assert 2 <= len(ticks) <= 12
    steps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert all(s > 0 for s in steps)
    step = steps[0]
    assert ticks[0] <= lo + 1e-9 * step and ticks[-1] >= hi - 1e-9 * step
    assert all(math.isclose(s, step, rel_tol=1e-6) for s in steps)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 5, 10))


@pytest.mark.parametrize("value, text", [
    (0, "0"), (0.921, "0.921"), (0.87654321, "0.8765"), (120, "120"), (1500000, "1.5e+06"),
    (0.0001234, "0.000123"), (-2.5, "-2.5"),
])
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text


def test_points_for_keeps_version_order_and_drops_what_is_not_a_number() -> None:
    rows = [
        {"version": "1.0.0", "stage": "production", "metrics": {"f1": 0.8}},
        {"version": "1.1.0", "stage": "none", "metrics": {"f1": True}},
        {"version": "1.2.0", "metrics": {"f1": float("nan")}},
        {"version": "1.3.0", "stage": "staging", "metrics": {"f1": float("inf")}},
        {"version": "2.0.0", "stage": "staging", "metrics": {"auc": 0.9}},
        {"version": "2.1.0", "stage": "archived", "metrics": {"f1": 1}},
    ]
    assert points_for("f1", rows) == [
        Point("1.0.0", 0.8, "production"), Point("1.1.0", None, "none"), Point("1.2.0", None, "none"),
        Point("1.3.0", None, "staging"), Point("2.0.0", None, "staging"), Point("2.1.0", 1.0, "archived"),
    ]


def test_chart_marks_production_and_staging_and_colours_points_by_stage() -> None:
    pts = [Point("1.0.0", 0.86, "production"), Point("1.1.0", 0.89, "archived"),
           Point("2.0.0", 0.92, "staging"), Point("2.1.0", 0.90, "none")]
    root = svg(metric_chart("accuracy", pts))
    assert root.get("width") == "360" and root.get("height") == "220"
    assert root.get("viewBox") == "0 0 360 220"
    dots = {c.get("data-version"): c for c in circles(root)}
    assert list(dots) == ["1.0.0", "1.1.0", "2.0.0", "2.1.0"]
    for p in pts:
        assert dots[p.version].get("fill") == STAGE_COLORS[p.stage]
        assert dots[p.version].find("s:title", NS).text.startswith(f"{p.version} ({p.stage})")
    marks = [ln for ln in root.findall(".//s:line", NS) if ln.get("class") == "stage-mark"]
    assert sorted(m.get("data-stage") for m in marks) == ["production", "staging"]
    # higher values are drawn higher (smaller y), x follows the given order
    cy = {v: float(c.get("cy")) for v, c in dots.items()}
    cx = [float(c.get("cx")) for c in dots.values()]
    assert cy["2.0.0"] < cy["2.1.0"] < cy["1.1.0"] < cy["1.0.0"]
    assert cx == sorted(cx) and len(set(cx)) == 4
    # every point sits inside the drawing
    assert all(0 < x < 360 for x in cx) and all(0 < y < 220 for y in cy.values())
    assert len(root.findall(".//s:path", NS)) == 1


def test_a_version_without_the_metric_breaks_the_line() -> None:
    pts = [Point("1", 1.0), Point("2", 2.0), Point("3", None), Point("4", 3.0), Point("5", 4.0)]
    root = svg(metric_chart("m", pts))
    paths = root.findall(".//s:path", NS)
    assert len(paths) == 2 and all(p.get("d").count("L") == 1 for p in paths)
    assert len(circles(root)) == 4


@pytest.mark.parametrize("pts", [
    [],
    [Point("1.0.0", None)],
    [Point("1.0.0", 0.5, "production")],
    [Point("1", 3.0), Point("2", 3.0), Point("3", 3.0)],
    [Point("1", -5.0), Point("2", 1e12)],
    [Point(f"1.{i}.0", float(i % 7)) for i in range(60)],
])
def test_edge_cases_still_make_a_valid_svg(pts: list[Point]) -> None:
    root = svg(metric_chart("m", pts))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    numeric = [p for p in pts if p.value is not None]
    assert len(circles(root)) == len(numeric)
    if not numeric:
        assert "no numeric values" in ET.tostring(root, encoding="unicode")
    for c in circles(root):
        assert math.isfinite(float(c.get("cx"))) and math.isfinite(float(c.get("cy")))
    labels = [t.text for t in root.findall(".//s:text", NS)]
    if len(pts) == 60:  # long histories thin their x labels but keep the last one
        assert "1.59.0" in labels and len([t for t in labels if t and t.startswith("1.")]) <= 16


def _boxes(root: ET.Element, cls: str, font: float) -> list[tuple[str, tuple[float, ...]]]:
    out = []
    for t in root.findall(".//s:text", NS):
        if t.get("class") == cls:
            assert float(t.get("font-size")) == font
            out.append((t.text or "", label_box(float(t.get("x")), float(t.get("y")), t.text or "",
                                                font, t.get("text-anchor") or "start")))
    return out


def _assert_apart(boxes: list[tuple[str, tuple[float, ...]]], width: float) -> None:
    for k, (text, box) in enumerate(boxes):
        assert 0 <= box[0] and box[2] <= width, (text, box)
        for other, obox in boxes[k + 1:]:
            assert not overlaps(box, obox, gap=0), (text, other)


@pytest.mark.parametrize("n", [12, 30, 100])
@pytest.mark.parametrize("layout", ["spread", "adjacent", "at-the-ends"])
@pytest.mark.parametrize("width", [360, 412])  # the model page's chart, compare --plot's cell
def test_labels_never_overlap_at_any_count(n: int, layout: str, width: int) -> None:
    stages = {"spread": {n // 3: "production", 2 * n // 3: "staging", n - 1: "staging"},
              "adjacent": {n - 3: "staging", n - 2: "production", n - 1: "staging"},
              "at-the-ends": {0: "production", 1: "staging", n - 1: "staging"}}[layout]
    pts = [Point(f"1.{i}.0", 0.80 + 0.001 * (i % 5), stages.get(i, "archived")) for i in range(n)]
    root = svg(metric_chart("accuracy", pts, width=width))
    xs = _boxes(root, "x-label", X_FONT)
    labelled = [text for text, _ in xs]
    assert labelled[0] == "1.0.0" and labelled[-1] == f"1.{n - 1}.0"  # first and last, always
    assert len(labelled) >= 4  # thinned, not emptied
    _assert_apart(xs, width)
    marks = _boxes(root, "stage-label", STAGE_FONT)
    assert sorted(t for t, _ in marks) == sorted(stages.values())  # every holder keeps its label
    _assert_apart(marks, width)
    values = _boxes(root, "value", VALUE_FONT)
    _assert_apart(values, width)
    prod = next(i for i, s in stages.items() if s == "production")
    assert any(t.get("data-version") == f"1.{prod}.0" for t in root.findall(".//s:text", NS)
               if t.get("class") == "value")  # what is live always shows its value


def test_user_text_is_escaped_in_svg() -> None:
    name = '<script>alert(1)</script>&"x'
    text = metric_chart(name, [Point('1.0.0-<b>"', 1.0, "staging")])
    assert "<script>" not in text
    root = svg(text)
    assert root.get("data-metric") == name
    assert root.find("s:title", NS).text == f"{name} across versions"


def test_custom_stages_get_distinct_stable_colours() -> None:
    stages = ["dev", "qa", "production"]
    assert stage_color("production", stages) == STAGE_COLORS["production"]
    assert stage_color("dev", stages) != stage_color("qa", stages)
    assert stage_color("dev", stages) == stage_color("dev", stages)
    assert stage_color(None) == STAGE_COLORS["none"]


def test_sparkline_and_figure_are_valid_svg() -> None:
    pts = [Point("1", 0.1, "production"), Point("2", 0.3, "staging"), Point("3", 0.2)]
    spark = svg(sparkline(pts, label="f1"))
    assert len(circles(spark)) == 2  # only production and staging get a dot
    assert svg(sparkline([], label="x")).find("s:title", NS).text == "x"
    rows = [{"version": p.version, "stage": p.stage, "metrics": {"f1": p.value, "auc": 0.9}} for p in pts]
    figure = metrics_figure("churn", ["f1", "auc", "missing"], rows, columns=2)
    root = svg(figure)
    assert figure.startswith("<?xml")
    assert root.get("width") == "840" and root.get("height") == str(36 + 2 * 230)
    charts = root.findall("s:g/s:svg", NS)
    assert [c.get("data-metric") for c in charts] == ["f1", "auc", "missing"]
    assert "no metrics recorded" in ET.tostring(svg(metrics_figure("x", [], rows)), encoding="unicode")
