"""gitreg's own grid (issue 16) against rich's table, byte for byte, on random tables."""

from __future__ import annotations

import io
import random
import sys

from gitreg.cli import tables

WORDS = ["a", "to", "the", "1.0.0", "10.20.30-rc.12", "staging", "none -> production", "x" * 30,
         "reason,", "alice@example.com", "", " ", "  two  spaces  ", "-", "@champion", "#hash",
         "churn#staging#12"]


def _text(rng: random.Random) -> str:
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randrange(0, 12)))
             for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    if rng.random() < 0.05:
        lines.append("")  # a cell ending in a newline
    return "\n".join(lines)


def _rich(columns, rows, widths) -> str:
    buf, real = io.StringIO(), sys.stdout
    sys.stdout = buf
    try:
        tables._print_grid(columns, rows, widths, tables.out())
    finally:
        sys.stdout = real
    return buf.getvalue()


def _layout(columns, rows):
    """The widths print_table gives a grid: each column as wide as its longest word (or line,
    for a column that does not wrap), and some columns grown."""
    widths = []
    for i, (header, wraps) in enumerate(columns):
        lines = [ln for r in rows for ln in (r[i].splitlines() or [""])]
        words = [w for ln in lines for w in ln.split()] if wraps else lines
        widths.append(max([*map(len, header.splitlines()), *map(len, words)]))
    return widths


def test_the_grid_is_rich_s_table_byte_for_byte():
    rng = random.Random(16)
    compared = 0
    for _ in range(600):
        columns = [(rng.choice(["seq", "action", "version", "stage", "reason", "by", "tag", "two\nlines"])
                    + str(i), rng.random() < 0.4) for i in range(rng.randrange(1, 7))]
        rows = [[_text(rng) for _ in columns] for _ in range(rng.randrange(0, 8))]
        widths = [w + rng.choice([0, 0, 1, 5]) for w in _layout(columns, rows)]
        if sum(widths) + 2 * (len(widths) - 1) > tables.output_width():
            continue  # print_table makes blocks of it
        ours = tables._grid_text(columns, rows, widths)
        assert ours is not None
        assert ours == _rich(columns, rows, widths), (columns, rows, widths)
        compared += 1
    assert compared > 250


def test_the_grid_is_left_to_rich_for_styled_or_non_ascii_cells():
    from rich.text import Text

    columns = [("version", False), ("auc", False)]
    assert tables._grid_text(columns, [["1.0.0", Text("0.9 *", style="bold")]], [7, 5]) is None
    assert tables._grid_text(columns, [["1.0.0", "中文"]], [7, 5]) is None
    assert tables._grid_text(columns, [["1.0.0", "0.9"]], [7, 5]) == "version  auc\n" + "\u2500" * 14 + "\n1.0.0    0.9\n"
