"""Shared CLI plumbing: the app, output (data to stdout, messages to stderr), error mapping."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

import typer
from typer.core import TyperGroup

from gitreg.cli.tables import err as err, out as out, print_table as print_table, printable
from gitreg.errors import GitregError, InternalError

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
