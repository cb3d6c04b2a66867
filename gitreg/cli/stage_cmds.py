"""promote, request, approve, reject, rollback: stage changes as commits and GTO tags."""

from __future__ import annotations

from typing import List, Optional

import typer

from gitreg.cli.common import JSON_OPTION, PUSH_OPTION, SIGN_OPTION, command, message, print_json, registry
from gitreg.errors import UsageError


def _report(result, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        print_json(result.to_dict())
    suffix = "; pushed" if result.pushed else ""
    message(f"{result.message}{suffix} [{(result.commit or '')[:10]}]")


def _stage_or_alias(stage: str | None, alias: str | None) -> None:
    if (stage is None) == (alias is None):
        raise UsageError("give either STAGE or --alias ALIAS", "e.g. `production` or `--alias champion`")


@command("promote")
def promote_cmd(
    name: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version, e.g. 2.1.0."),
    stage: str = typer.Argument(..., help="Target stage, e.g. staging or production (case-insensitive)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why; recorded in history and the tag."),
    keep_existing: bool = typer.Option(False, "--keep-existing", help="Keep the current holder(s) of a non-exclusive stage (exclusive stages always archive the old holder)."),
    via_pr: bool = typer.Option(False, "--via-pr", help="Commit the change on a branch and open a pull request instead of changing the registry branch."),
    push: bool = PUSH_OPTION,
    sign: bool = SIGN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Move a version to a stage; checks transitions and the stage's policy gates."""
    reg = registry()
    if via_pr:
        from gitreg.ops import pr

        result = pr.open_promotion(reg.ctx, name, version, stage, reason=reason, sign=sign)
    else:
        result = reg.promote(name, version, stage, reason=reason, keep_existing=keep_existing,
                             push=push, sign=sign)
    _report(result, as_json)


@command("request")
def request_cmd(
    name: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version."),
    stage: Optional[str] = typer.Argument(None, help="Requested stage (omit with --alias)."),
    reason: str = typer.Option(..., "--reason", help="Why this version should move."),
    alias: Optional[str] = typer.Option(None, "--alias", help="Request this alias (e.g. champion) instead of a stage."),
    result_kv: List[str] = typer.Option([], "--result", help="A validation result k=v (repeatable), e.g. accuracy=0.92."),
    via_pr: bool = typer.Option(False, "--via-pr", help="Open a pull request for the request instead."),
    push: bool = PUSH_OPTION,
    sign: bool = SIGN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Ask for a stage change; someone else approves it with `gitreg approve`."""
    from gitreg.core.manifest import parse_key_values

    results = parse_key_values(result_kv, "--result", numeric=False)
    _stage_or_alias(stage, alias)
    if alias is not None and via_pr:
        raise UsageError("--via-pr is for stage changes, not aliases", "drop --via-pr")
    reg = registry()
    if alias is not None:
        result = reg.request(name, version, reason=reason, results=results, push=push, sign=sign,
                             alias=alias)
    elif via_pr:
        from gitreg.ops import pr

        result = pr.open_promotion(reg.ctx, name, version, str(stage), reason=reason, sign=sign,
                                   results=results)
    else:
        result = reg.request(name, version, stage, reason=reason, results=results, push=push, sign=sign)
    _report(result, as_json)


@command("approve")
def approve_cmd(
    name: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version."),
    stage: Optional[str] = typer.Argument(None, help="The requested stage (omit with --alias)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="A note for the record."),
    alias: Optional[str] = typer.Option(None, "--alias", help="Approve the request for this alias instead of a stage."),
    push: bool = PUSH_OPTION,
    sign: bool = SIGN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Approve a pending request (not your own); enough approvals perform the promotion."""
    _stage_or_alias(stage, alias)
    _report(registry().approve(name, version, stage, reason=reason, push=push, sign=sign, alias=alias),
            as_json)


@command("reject")
def reject_cmd(
    name: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version."),
    stage: str = typer.Argument(..., help="The requested stage."),
    reason: str = typer.Option(..., "--reason", help="Why the request is rejected."),
    push: bool = PUSH_OPTION,
    sign: bool = SIGN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Reject a pending request, recording who and why."""
    _report(registry().reject(name, version, stage, reason=reason, push=push, sign=sign), as_json)


@command("rollback")
def rollback_cmd(
    name: str = typer.Argument(..., help="Model name."),
    to: Optional[str] = typer.Option(None, "--to", help="Roll back to this version (default: the previous production holder)."),
    reason: str = typer.Option(..., "--reason", help="Why; recorded in both versions' history."),
    push: bool = PUSH_OPTION,
    sign: bool = SIGN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Restore the version that held production before; archive the current one."""
    _report(registry().rollback(name, to=to, reason=reason, push=push, sign=sign), as_json)
