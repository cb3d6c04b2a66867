"""Entry point: `run()`; the Typer app (gitreg.cli.commands) is imported on first use.

`gitreg list --json`, what scripts poll, answers without importing Typer and the
command modules (issue 16), and so does `gitreg --help` once its text is cached
(gitreg.cli.helpcache). Every other command line, and that one whenever it has an
error or a warning to report, goes through the Typer app, which says it as always.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("app", "main"):
        from gitreg.cli import commands

        return getattr(commands, name)
    raise AttributeError(f"module 'gitreg.cli.main' has no attribute {name!r}")


def run() -> None:
    if sys.argv[1:] == ["list", "--json"] and "_GITREG_COMPLETE" not in os.environ and _list_json():
        return
    if sys.argv[1:] == ["--help"] and "_GITREG_COMPLETE" not in os.environ:
        from gitreg.cli import helpcache

        helpcache.serve(_app)  # the exact text the app printed last time, or the app
        return
    _app()


def _app() -> None:
    from gitreg.cli.commands import app

    app(prog_name="gitreg")


def _list_json() -> bool:
    """Print what the Typer `list --json` prints; False, having printed nothing, when there
    is an error or a warning to report (the Typer command then reports it)."""
    import json
    from pathlib import Path

    try:
        from gitreg.ops import reads
        from gitreg.ops.context import Context

        ctx = Context.open(Path("."), env=dict(os.environ))
        data = reads.list_models(ctx, None)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        raise SystemExit(130) from None
    except Exception:  # noqa: BLE001 - the Typer command reports it (one line, its exit code)
        return False
    if ctx.store.warnings:
        return False
    try:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    except BrokenPipeError:
        raise SystemExit(0) from None
    return True
