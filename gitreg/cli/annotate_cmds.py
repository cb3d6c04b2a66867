"""annotate, create: edits after registration and a model before its first version."""

from __future__ import annotations

from typing import List, Optional

import typer

from gitreg.cli.common import JSON_OPTION, PUSH_OPTION, SIGN_OPTION, command, message, print_json, registry


def _report(result, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        print_json(result.to_dict())
    suffix = "; pushed" if result.pushed else ""
    message(f"{result.message}{suffix} [{(result.commit or '')[:10]}]")


@command("annotate")
def annotate_cmd(
    name: str = typer.Argument(..., help="Model name."),
    version: Optional[str] = typer.Argument(None, help="Version, e.g. 2.1.0 (omit it to edit the model itself: models/NAME/model.yaml)."),
    description: Optional[str] = typer.Option(None, "--description", "-m", help="The new description (\"\" clears it)."),
    set_tag: List[str] = typer.Option([], "--set-tag", help="Set a tag KEY=VALUE, or KEY for an empty value (repeatable)."),
    unset_tag: List[str] = typer.Option([], "--unset-tag", help="Remove the tag KEY (repeatable; it must be set)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why; recorded in history."),
    push: bool = PUSH_OPTION,
    sign: bool = SIGN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a description or tags after registration: one commit, an `annotate` history entry."""
    result = registry().annotate(name, version, description=description, set_tags=list(set_tag),
                                 unset_tags=list(unset_tag), reason=reason, push=push, sign=sign)
    _report(result, as_json)


@command("create")
def create_cmd(
    name: str = typer.Argument(..., help="Model name, e.g. churn."),
    description: Optional[str] = typer.Option(None, "--description", "-m", help="What the model is."),
    owner: Optional[str] = typer.Option(None, "--owner", help="Model owner (e-mail or team)."),
    use_case: Optional[str] = typer.Option(None, "--use-case", help="Business use case."),
    tag: List[str] = typer.Option([], "--tag", help="A tag KEY=VALUE, or a LABEL (value \"\"); repeatable."),
    push: bool = PUSH_OPTION,
    sign: bool = SIGN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a model before its first version (models/NAME/model.yaml, one commit)."""
    result = registry().create(name, description=description, owner=owner, use_case=use_case,
                               tags=list(tag), push=push, sign=sign)
    _report(result, as_json)
