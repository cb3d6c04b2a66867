"""doctor and verify."""

from __future__ import annotations

from typing import Any

import typer

from gitreg.cli.common import JSON_OPTION, command, message, print_json, registry
from gitreg.errors import PolicyError, UsageError, UserError


@command("doctor")
def doctor_cmd(
    fix: bool = typer.Option(False, "--fix", help="Recreate missing tags from the manifests (never deletes)."),
    adopt: bool = typer.Option(False, "--adopt", help="Record the tags gto wrote (assign, deprecate, "
                               "register) as history, in one commit."),
    push: bool = typer.Option(False, "--push", help="With --adopt: push the commit and the tags."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Find drift between the committed manifests and the tags."""
    if push and not adopt:
        raise UsageError("--push goes with --adopt", "run `gitreg doctor --adopt --push`")
    report = registry().doctor(fix=fix, adopt=adopt, push=push)
    if as_json:
        print_json(report.to_dict())
    if report.adopted:
        message(report.adopted["message"] + (", pushed" if report.adopted.get("pushed") else ""))
    elif adopt:
        message("nothing to adopt: gitreg's history accounts for every gto tag")
    for line in report.gto_lines:
        message(f"gto: {line}")
    for line in report.ignored:
        message(f"warning: {line}")
    for line in report.recovered:
        message(f"recovered: {line}")
    for line in report.interrupted:
        message(f"interrupted: a gitreg change did not finish ({line}); `gitreg doctor --fix` finishes or undoes it")
    for m in report.missing:
        state = "recreated" if m["tag"] in report.fixed else "missing"
        message(f"{state}: {m['tag']} ({m['model']} {m['version']}, seq {m['seq']})")
    for w in report.wrong_commit:
        message(f"wrong commit: {w['tag']} points at {w['commit'][:10]}, expected {w['expected'][:10]}")
    for x in report.extra:
        message(f"extra: {x['tag']} has no matching event in the manifests")
    for t in report.lightweight:
        message(f"lightweight: {t} is not annotated, so GTO ignores it")
    for u in report.unfixable:
        message(f"cannot fix: {u}")
    for t in report.temp_files:
        message(f"removed: {t} (a temp file left by a killed gitreg write)" if t in report.removed else
                f"temp file: {t} was left by a killed gitreg write; `gitreg doctor --fix` removes it")
    for bad in report.unreadable:
        message(f"unreadable: {bad}")
    remaining = (len(report.missing) - len(report.fixed) + len(report.wrong_commit)
                 + len(report.extra) + len(report.lightweight) + len(report.interrupted)
                 + len(report.unreadable) + len(set(report.temp_files) - set(report.removed))
                 + len(report.gto) + _summary_lines(report))
    for u in report.unbacked:
        message(f"unbacked: {u}")
    if report.unbacked and not remaining:
        raise UserError(f"{len(report.unbacked)} history entr(ies) or approval(s) that no commit backs",
                        "someone wrote them into the files by hand: find the commit with `git log -p "
                        "models/NAME`, revert it, and record the change with gitreg")
    if report.gto and remaining == len(report.gto):
        raise UserError(f"{len(report.gto)} tag(s) written by gto that gitreg's history does not record",
                        "run `gitreg doctor --adopt` to record them (actor and time from each tag)")
    if remaining:
        raise UserError(f"{remaining} problem(s) between manifests and tags",
                        "run `gitreg doctor --fix` to recreate missing tags; wrong or extra tags "
                        "need a person's decision (gitreg never deletes tags)")
    message("ok: tags match the manifests" + (f" ({len(report.fixed)} recreated)" if report.fixed else ""))


def _summary_lines(report: Any) -> int:
    """Say what doctor found of the committed summaries; how many problems remain."""
    if report.summaries_written:
        message(f"summaries: wrote {len(report.summaries_written)} model summar(ies) in one commit")
        return 0
    for bad in report.summaries:
        message(f"summary: {bad}; `gitreg doctor --fix` writes it again from the manifests")
    if report.stale_summaries:
        shown = ", ".join(report.stale_summaries[:3]) + (" ..." if len(report.stale_summaries) > 3 else "")
        message(f"note: {len(report.stale_summaries)} model(s) have no up-to-date summary ({shown}): "
                "a fresh clone's first read takes their manifests; `gitreg doctor --fix` writes them")
    if report.ignored_summaries:
        first = f".gitreg/summaries/{report.ignored_summaries[0]}.json"
        message(f"note: {len(report.ignored_summaries)} model(s) have no summary: an ignore rule matches "
                f"{first}, so reads take their manifests; stop ignoring .gitreg/summaries/ in "
                ".gitignore (e.g. `!.gitreg/summaries/*.json`) to let gitreg commit them")
    return len(report.summaries)


@command("verify")
def verify_cmd(
    name: str = typer.Argument(..., help="Model name."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check the signatures of a model's tags and of the commits that changed it."""
    data = registry().verify(name)
    if as_json:
        print_json(data)
    for item in data["tags"]:
        message(f"{'ok' if item['ok'] else 'FAIL'}  tag {item['tag']}: {item['status']}")
    for item in data["commits"]:
        message(f"{'ok' if item['ok'] else 'FAIL'}  commit {item['commit'][:10]}: {item['status']}")
    if not data["ok"]:
        bad = sum(1 for i in data["tags"] + data["commits"] if not i["ok"])
        raise PolicyError(f"{bad} unsigned or unverifiable object(s) for {name}",
                          "sign changes with --sign and make sure the signing keys are trusted")
    message(f"ok: every tag and commit of {name} is signed and verified")
