"""alias: point MLflow-style aliases (champion, challenger) at versions, or delete them."""

from __future__ import annotations

from typing import Optional

import typer

from gitreg.cli.common import JSON_OPTION, PUSH_OPTION, SIGN_OPTION, command, message, print_json, registry
from gitreg.errors import UsageError


@command("alias")
def alias_cmd(
    name: str = typer.Argument(..., help="Model name."),
    alias: str = typer.Argument(..., help="Alias, e.g. champion (case-insensitive; never a version)."),
    version: Optional[str] = typer.Argument(None, help="Version that gets the alias (omit with --delete)."),
    delete: bool = typer.Option(False, "--delete", help="Delete the alias from the version holding it."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why; recorded in history and the tag."),
    push: bool = PUSH_OPTION,
    sign: bool = SIGN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Point an alias at a version (moving it from its old holder), or --delete it."""
    if delete == (version is not None):
        raise UsageError("give either VERSION or --delete",
                         f"`gitreg alias {name} {alias} 1.2.0` or `gitreg alias {name} {alias} --delete`")
    reg = registry()
    if delete:
        result = reg.unalias(name, alias, reason=reason, push=push, sign=sign)
    else:
        result = reg.alias(name, alias, str(version), reason=reason, push=push, sign=sign)
    if as_json:
        print_json(result.to_dict())
    suffix = "; pushed" if result.pushed else ""
    message(f"{result.message}{suffix} [{(result.commit or '')[:10]}]")
