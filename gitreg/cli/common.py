"""Shared CLI plumbing: the app, output (data to stdout, messages to stderr), error mapping."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import typer

from gitreg.errors import GitregError, InternalError

if TYPE_CHECKING:
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="gitreg",
    help="gitreg: a git-native model registry. Versions, stages, approvals and rollbacks "
    "are git commits and GTO-compatible tags; artifacts live in DVC.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

STATE: dict[str, Any] = {"traceback": False, "path": None}


def out() -> Console:
    from rich.console import Console  # imported when output is made, not at start-up (issue 6)

    return Console(file=sys.stdout, soft_wrap=True, highlight=False)


def err() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, soft_wrap=True, highlight=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def message(text: str) -> None:
    err().print(text, markup=False)


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
            for extra in getattr(exc, "violations", []) or getattr(exc, "problems", []):
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

    def deco(fn: F) -> F:
        return target.command(name, **kwargs)(handle_errors(fn))  # type: ignore[return-value]

    return deco


def registry() -> Any:
    from gitreg.api import Registry

    reg = Registry(STATE["path"] or Path("."), env=dict(os.environ))
    STATE.setdefault("registries", []).append(reg)  # its warnings are shown when the command ends
    return reg


# Shared option declarations.
JSON_OPTION = typer.Option(False, "--json", help="Print JSON (stable keys, see README) to stdout.")
PUSH_OPTION = typer.Option(False, "--push", help="Push the commit and tags to the git remote (and artifacts to the DVC remote).")
SIGN_OPTION = typer.Option(False, "--sign", help="Sign the commit and tags with your git signing key.")
