"""What people read: the output width, the consoles, tables that never cut a value, and
text from a registry's files made safe for a terminal."""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

PIPE_WIDTH = 80  # the layout width when stdout is not a terminal and COLUMNS is not set


def output_width() -> int:
    """COLUMNS when set, else the terminal's width, else 80: a pipe never depends on a guess.

    (Rich alone would take the width of whichever of stdin/stdout/stderr is a terminal.)
    """
    raw = os.environ.get("COLUMNS", "").strip()
    if raw.isdigit() and int(raw) >= 20:
        return int(raw)
    try:
        if sys.stdout.isatty():
            return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError, AttributeError):
        pass
    return PIPE_WIDTH


def out() -> Console:
    from rich.console import Console  # imported when output is made, not at start-up (issue 6)

    # emoji=False: rich would show a reason's ":fire:" as an emoji
    return Console(file=sys.stdout, soft_wrap=True, highlight=False, emoji=False, width=output_width())


def err() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, soft_wrap=True, highlight=False, emoji=False)


# What a registry's files must never send to a terminal: C0 and C1 controls but the newline
# (an escape sequence can move the cursor over a version or a stage, or recolour it), bidi
# marks, embeddings, overrides and isolates (they reorder what is shown), line and paragraph
# separators, and the byte-order mark.
_UNPRINTABLE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e"
                          "\u2066-\u2069\ufeff]")


def printable(text: str) -> str:
    """text as a terminal may be sent it: each character above shown as its escape (\\x1b,
    \\u202e), everything else as it is."""
    if not _UNPRINTABLE.search(text):
        return text
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}",
                            text)


Cell = Any  # str, or rich.text.Text for a styled cell


def _plain(cell: Cell) -> str:
    return cell.plain if hasattr(cell, "plain") else str(cell)


def _printable_cell(cell: Cell) -> Cell:
    if not hasattr(cell, "plain"):
        return printable(str(cell))
    if printable(cell.plain) == cell.plain:
        return cell
    from rich.text import Text

    return Text(printable(cell.plain), style=cell.style)


def print_table(columns: list[tuple[str, bool]], rows: list[list[Cell]], *, heading: int = 1,
                caption: str | None = None) -> None:
    """Print rows under columns (header, wraps) so that nothing is ever cut.

    Cells of a column that does not wrap (versions, stages, names, numbers, dates) are never
    wrapped or shortened; cells of a wrapping column (reasons, metric lists) break between
    words only. When that cannot fit the width, each row becomes a block: its first
    `heading` cells on one line, then one `header  value` line per other cell.
    """
    width = output_width()
    columns = [(printable(header), wraps) for header, wraps in columns]  # metric names are data
    rows = [[_printable_cell(c) for c in row] for row in rows]
    lo, hi = [], []
    for i, (header, wraps) in enumerate(columns):
        texts = [_plain(r[i]) for r in rows]
        lines = [ln for t in texts for ln in (t.splitlines() or [""])]
        words = [w for ln in lines for w in ln.split()] if wraps else lines
        lo.append(max([len(header), *map(len, words)]))
        hi.append(max([len(header), *map(len, lines)]))
    gaps = 2 * (len(columns) - 1)  # two spaces between columns, none at the edges
    if sum(lo) + gaps > width:
        _print_blocks(columns, rows, heading, width)
    else:
        widths = list(lo)
        extra = width - gaps - sum(widths)
        # spare room goes to the wrapping columns that need least first (they fit on one line)
        for i in sorted(range(len(widths)), key=lambda j: hi[j] - lo[j]):
            grow = min(hi[i] - widths[i], extra)
            widths[i] += grow
            extra -= grow
        fast = _grid_text(columns, rows, widths)
        if fast is not None:
            sys.stdout.write(fast)
        else:
            _print_grid(columns, rows, widths, out())
    if caption:
        import textwrap

        sys.stdout.write("".join(ln + "\n" for ln in textwrap.wrap(printable(caption), width)))


def _print_grid(columns: list[tuple[str, bool]], rows: list[list[Cell]], widths: list[int],
                console: Console) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 1),
                  collapse_padding=True)
    for (header, wraps), w in zip(columns, widths):
        table.add_column(header, width=w, no_wrap=not wraps, overflow="fold")
    for row in rows:
        table.add_row(*[c if isinstance(c, Text) else Text(str(c)) for c in row])
    with console.capture() as captured:
        console.print(table)
    # rich pads every cell to its column's width: no trailing blanks in what people pipe
    sys.stdout.write("".join(ln.rstrip() + "\n" for ln in captured.get().splitlines()))


_PLAIN_ASCII = re.compile("[\n\x20-\x7e]*")


def _grid_text(columns: list[tuple[str, bool]], rows: list[list[Cell]], widths: list[int]) -> str | None:
    """_print_grid's text, byte for byte, made here: rich's table took about 100 ms for the 150
    events of a model's history. Only for plain ASCII cells (None: rich lays it out): each
    line of a cell broken where rich breaks it (its own divide_line), padded to the
    column, two spaces between columns, a rule under the header."""
    texts = [h for h, _ in columns] + [c for row in rows for c in row]
    if not all(type(t) is str and _PLAIN_ASCII.fullmatch(t) for t in texts):
        return None
    try:
        from rich._wrap import divide_line
    except ImportError:
        return None

    def cell(text: str, width: int, wraps: bool) -> list[str]:
        out: list[str] = []
        for line in text.split("\n"):
            if not wraps or len(line) <= width:
                out.append(line[:width])
                continue
            cuts = [0, *divide_line(line, width, fold=True), len(line)]
            # past the width rich drops trailing blanks (rstrip_end), then crops (truncate)
            out += [line[a:b][:width] for a, b in zip(cuts, cuts[1:])]
        return out

    lines = []
    for n, row in enumerate([[h for h, _ in columns], *rows]):
        cells = [cell(t, w, wraps) for t, w, (_, wraps) in zip(row, widths, columns)]
        height = max(len(c) for c in cells)
        if n == 0:  # rich sets the header's cells on its last line
            cells = [[""] * (height - len(c)) + c for c in cells]
        for i in range(height):
            lines.append("  ".join((c[i] if i < len(c) else "").ljust(w) for c, w in zip(cells, widths)).rstrip())
        if n == 0:  # under the header (a metric name may hold a newline)
            lines.append("\u2500" * (sum(widths) + 2 * (len(widths) - 1)))
    return "".join(ln + "\n" for ln in lines)


def _print_blocks(columns: list[tuple[str, bool]], rows: list[list[Cell]], heading: int,
                  width: int) -> None:
    import textwrap

    label = max((len(h) for h, _ in columns[heading:]), default=0)
    indent = " " * (label + 4)
    lines: list[str] = []
    for n, row in enumerate(rows):
        if n:
            lines.append("")
        head = "  ".join(_plain(c) for c in row[:heading])
        lines += textwrap.wrap(head, width, break_on_hyphens=False) or [""]
        for (header, _), cell in zip(columns[heading:], row[heading:]):
            text = _plain(cell)
            if not text:
                continue
            first = f"  {header.ljust(label)}  "
            lines += textwrap.wrap(text, width, initial_indent=first, subsequent_indent=indent,
                                   break_on_hyphens=False) or [first.rstrip()]
    # wrapped already, and plain: written as it is (rich took 40 ms for 150 events)
    sys.stdout.write("".join(ln + "\n" for ln in lines))
