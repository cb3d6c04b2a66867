"""ci check, ci publish (pull requests as approvals, run in CI) and codeowners."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from gitreg.cli.common import JSON_OPTION, _Panels, app, command, message, panel, print_json, registry
from gitreg.errors import PolicyError

ci_app = typer.Typer(name="ci", help="Commands for CI: check a pull request, publish tags after a merge.",
                     no_args_is_help=True, add_completion=False, rich_markup_mode=None, cls=_Panels)
app.add_typer(ci_app, name="ci", rich_help_panel=panel("ci"))


@command("check", parent=ci_app)
def check_cmd(
    base: str = typer.Option(..., "--base", help="The branch the pull request targets, e.g. origin/main."),
    summary: Optional[Path] = typer.Option(None, "--summary", help="Write the Markdown summary to this file instead of stdout."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check a pull request's registry changes: schema, immutability, transitions, gates, one stage change per model."""
    report = registry().ci_check(base, summary_file=summary)
    if as_json:
        print_json(report.to_dict())
    elif summary is None:
        sys.stdout.write(report.summary)
    if not report.ok:
        raise PolicyError(f"{len(report.violations)} violation(s) in the registry changes against {base}",
                          "fix each one listed above (see the summary)", report.violations)
    message(f"ok: {len(report.changes)} stage change(s), {len(report.changed)} registry file(s) checked")


@command("publish", parent=ci_app)
def publish_cmd(
    release: bool = typer.Option(False, "--release", help="Write release notes per new stage tag and create a GitHub Release with gh when it is installed."),
    approver: Optional[str] = typer.Option(None, "--approver", help="Who approved by merging (default: $GITHUB_ACTOR, else your git user.email)."),
    push: Optional[bool] = typer.Option(None, "--push/--no-push", help="Push the tags to origin (default: when origin exists)."),
    notes_dir: Optional[Path] = typer.Option(None, "--notes-dir", help="Where --release writes the notes (default .git/gitreg/releases)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """After a merge, create and push the tags of stage changes that have none yet (idempotent)."""
    report = registry().ci_publish(release=release, actor=approver, push=push, notes_dir=notes_dir)
    if as_json:
        print_json(report.to_dict())
    for w in report.warnings:
        message(f"warning: {w}")
    for tag in report.created:
        message(f"created {tag}")
    for tag in report.pushed:
        message(f"pushed {tag}")
    for r in report.releases:
        message(f"release {r['title']}: " + (r.get("url") or "created" if r["created"] else f"notes in {r['notes_file']}"))
    if not report.changed:
        message("nothing to publish: every change already has its tags")
    else:
        message(f"published {len(report.created)} new tag(s) with approver {report.approver}")


@command("codeowners")
def codeowners_cmd(as_json: bool = JSON_OPTION) -> None:
    """Write .github/CODEOWNERS so each model's owner must review changes to its directory."""
    data = registry().codeowners()
    if as_json:
        print_json(data)
    for name in data["missing"]:
        message(f"warning: {name} has no owner (set owner: in models/{name}/model.yaml or register with --owner)")
    state = "wrote" if data["changed"] else "unchanged:"
    message(f"{state} {data['path']} ({len(data['owners'])} model(s) with an owner); commit it to take effect")
