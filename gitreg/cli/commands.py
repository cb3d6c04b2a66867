"""The Typer app with every command group registered (gitreg.cli.main starts it)."""

from __future__ import annotations

from pathlib import Path

import typer

from gitreg import __version__
from gitreg.cli import common
from gitreg.cli import (  # noqa: F401  (each module registers its commands)
    alias_cmds, annotate_cmds, ci_cmds, consume_cmds, deprecate_cmds, doctor_cmds, import_cmds,
    read_cmds,
    registry_cmds, site_cmds, stage_cmds,
)
from gitreg.cli.common import app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gitreg {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    path: Path = typer.Option(None, "-C", help="Run as if gitreg was started in this directory.",
                              show_default=False),
    traceback: bool = typer.Option(False, "--traceback", help="Show the Python traceback on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """gitreg: a git-native model registry."""
    common.STATE["traceback"] = traceback
    common.STATE["path"] = path
