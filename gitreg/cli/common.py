"""Shared CLI plumbing: the app, output (data to stdout, messages to stderr), error mapping."""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import typer
from typer.core import TyperGroup

from gitreg.errors import GitregError, InternalError

if TYPE_CHECKING:
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])

# `gitreg --help` lists the commands in these panels, in this order: a new command is one
# word in one of these tuples.
PANELS: dict[str, tuple[str, ...]] = {
    "Registry": ("init", "create", "register", "annotate", "validate", "deprecate", "undeprecate"),
    "Stages": ("request", "approve", "reject", "promote", "rollback", "alias"),
    "Read": ("list", "show", "history", "compare", "best", "resolve", "get"),
    "Automation": ("monitor", "ci", "codeowners", "site"),
    "Maintenance": ("doctor", "verify", "import", "demo"),
}
_ORDER = [name for names in PANELS.values() for name in names]


def panel(name: str | None) -> str | None:
    return next((title for title, names in PANELS.items() if name in names), None)


class _Panels(TyperGroup):
    """Typer's documented hook (cls=): the order of the commands, and their panels in --help.

    The help stays Typer's plain (Click) help, one section per rich_help_panel: Typer's rich
    help imports rich and renders boxes: `gitreg --help` took 0.6 s instead of 0.13 s here.
    """

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(super().list_commands(ctx),
                      key=lambda n: _ORDER.index(n) if n in _ORDER else len(_ORDER))

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        found = [(n, self.get_command(ctx, n)) for n in self.list_commands(ctx)]
        commands = [(n, c) for n, c in found if c is not None and not c.hidden]
        if not commands:
            return
        longest = max(len(n) for n, _ in commands)
        limit = formatter.width - 6 - longest
        sections: dict[str, list[tuple[str, str]]] = {}
        for name, cmd in commands:  # names padded: every section lines up the same
            title = getattr(cmd, "rich_help_panel", None) or "Commands"
            sections.setdefault(title, []).append((name.ljust(longest),
                                                   cmd.get_short_help_str(limit)))
        for title, rows in sections.items():
            with formatter.section(title):
                formatter.write_dl(rows)

    # Click 8.4 added its own "Did you mean ...?" to unknown commands and Typer adds one too,
    # so the message said it twice: Typer's only where Click has none (read on that error only).
    @property  # type: ignore[override]
    def suggest_commands(self) -> bool:
        return not _click_suggests()

    @suggest_commands.setter
    def suggest_commands(self, value: bool) -> None:
        pass


def _click_suggests() -> bool:
    from importlib import metadata

    try:
        major, minor = (int(p) for p in metadata.version("click").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (8, 4)


app = typer.Typer(
    cls=_Panels,
    name="gitreg",
    help="gitreg: a git-native model registry. Versions, stages, approvals and rollbacks "
    "are git commits and GTO-compatible tags; artifacts live in DVC.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

STATE: dict[str, Any] = {"traceback": False, "path": None}


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


def err() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, soft_wrap=True, highlight=False, emoji=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def message(text: str) -> None:
    err().print(printable(text), markup=False)


def error_line(exc: GitregError) -> str:
    text = exc.message.replace("\n", " ")
    return f"error: {text}" + (f" (hint: {exc.hint})" if exc.hint else "")


def handle_errors(fn: F) -> F:
    """Turn GitregError into one line on stderr and its exit code; bugs into exit 70."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            try:
                return fn(*args, **kwargs)
            finally:
                show_warnings()
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except GitregError as exc:
            if STATE["traceback"]:
                raise
            # the list comes first only when the error line does not already name each item
            for extra in getattr(exc, "violations", []) or getattr(exc, "problems", []):
                if extra not in exc.message:
                    message(f"  - {extra}")
            message(error_line(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            message("error: interrupted")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            raise typer.Exit(0) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if STATE["traceback"]:
                raise
            bug = InternalError(f"internal error: {type(exc).__name__}: {exc}",
                                "rerun with --traceback and report it")
            message(error_line(bug))
            raise typer.Exit(bug.exit_code) from None

    return wrapper  # type: ignore[return-value]


def show_warnings() -> None:
    """Committed files the command skipped because they cannot be read (issue 11), once each."""
    for reg in STATE.pop("registries", []):
        for text in getattr(reg.store, "warnings", []):
            message(f"warning: skipped {text}")


def command(name: str | None = None, parent: typer.Typer | None = None, **kwargs: Any) -> Callable[[F], F]:
    target = parent or app
    if parent is None:
        kwargs.setdefault("rich_help_panel", panel(name))

    def deco(fn: F) -> F:
        return target.command(name, **kwargs)(handle_errors(fn))  # type: ignore[return-value]

    return deco


def registry() -> Any:
    from gitreg.api import Registry

    reg = Registry(STATE["path"] or Path("."), env=dict(os.environ))
    STATE.setdefault("registries", []).append(reg)  # its warnings are shown when the command ends
    return reg


class _Reader:
    """Registry's read verbs (list, show, history) for the read commands' start-up.

    The same calls as `Registry`'s (one `reads` function each) without importing
    gitreg.api, which imports every use case and with them jsonschema, ssl and email:
    65 modules a read never uses, most of `gitreg list`'s start-up (issue 16)."""

    def __init__(self, path: Path) -> None:
        from gitreg.ops.context import Context

        self.ctx = Context.open(path, env=dict(os.environ))

    @property
    def store(self) -> Any:
        return self.ctx.store

    def lifecycle(self) -> Any:
        return self.store.lifecycle()

    def list_models(self, stage: str | None = None, include_deprecated: bool = False) -> dict[str, Any]:
        from gitreg.ops import reads

        return reads.list_models(self.ctx, stage, include_deprecated)

    def show(self, ref: str) -> dict[str, Any]:
        from gitreg.ops import reads

        return reads.show(self.ctx, ref)

    def history(self, name: str) -> dict[str, Any]:
        from gitreg.ops import reads

        return reads.history(self.ctx, name)


def reader() -> Any:
    """A registry for read commands only (see _Reader); warnings shown as registry()'s are."""
    reg = _Reader(STATE["path"] or Path("."))
    STATE.setdefault("registries", []).append(reg)
    return reg


# Shared option declarations.
JSON_OPTION = typer.Option(False, "--json", help="Print JSON (stable keys, see README) to stdout.")
PUSH_OPTION = typer.Option(False, "--push", help="Push the commit and tags to the git remote (and artifacts to the DVC remote).")
SIGN_OPTION = typer.Option(False, "--sign", help="Sign the commit and tags with your git signing key.")
