"""deprecate, undeprecate: GTO's deregistration and deprecation, recorded in history."""

from __future__ import annotations

from typing import Optional

import typer

from gitreg.cli.common import JSON_OPTION, PUSH_OPTION, SIGN_OPTION, command, message, print_json, registry


def _report(result, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        print_json(result.to_dict())
    suffix = "; pushed" if result.pushed else ""
    message(f"{result.message}{suffix} [{(result.commit or '')[:10]}]")


@command("deprecate")
def deprecate_cmd(
    name: str = typer.Argument(..., help="Model name."),
    version: Optional[str] = typer.Argument(None, help="Version, e.g. 1.2.0; leave out to deprecate the whole model."),
    reason: str = typer.Option(..., "--reason", help="Why; recorded in history and the tag."),
    push: bool = PUSH_OPTION,
    sign: bool = SIGN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Deprecate a version (it leaves its stage, is never the latest, is kept) or a whole model."""
    _report(registry().deprecate(name, version, reason=reason, push=push, sign=sign), as_json)


@command("undeprecate")
def undeprecate_cmd(
    name: str = typer.Argument(..., help="Model name."),
    version: Optional[str] = typer.Argument(None, help="Version; leave out for the whole model."),
    reason: str = typer.Option(..., "--reason", help="Why; recorded in history."),
    push: bool = PUSH_OPTION,
    sign: bool = SIGN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Reverse a deprecation (GTO's tag is deleted; the history keeps both events)."""
    _report(registry().undeprecate(name, version, reason=reason, push=push, sign=sign), as_json)
