"""`ci publish`: after a merge, tag the merged stage changes with the merger as approver (issue 4).

It runs on the registry branch and creates the GTO tags the merged stage changes have no tag
for yet, then (optionally) pushes them and writes release notes. It reads the CI environment
from the Context's env, never from os.environ.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gitreg.core import events as ev
from gitreg.core.names import NONE_STAGE
from gitreg.core.tags import ASSIGN, parse_tag
from gitreg.core.timefmt import rfc3339_utc
from gitreg.errors import ConflictError, UserError
from gitreg.ops.ci_report import (PublishReport, append_step_summary, gh_ready, metrics_table,
                                  publish_summary, run_gh)
from gitreg.ops.context import Context


def ci_publish(ctx: Context, *, release: bool = False, actor: str | None = None,
               push: bool | None = None, notes_dir: str | Path | None = None) -> PublishReport:
    """Create (and push) the tags of merged changes that have none yet; idempotent.

    actor: who approved by merging (default $GITHUB_ACTOR from the env given to the
    Registry, else the git identity); recorded in each tag message as the approver.
    push: default True when the clone has an `origin` remote.
    """
    from gitreg.ops import doctor

    report = PublishReport(_approver(ctx, actor))
    push = _wants_push(ctx, push)
    lifecycle = ctx.store.lifecycle()
    with ctx.store.locked():
        ctx.store.require_branch(lifecycle)
        remote_tags: set[str] = set()
        if push:
            ctx.git.fetch("origin", tags=True)
            remote_tags = _remote_tags(ctx)
        expected = doctor.expected_tags(ctx)  # type: ignore[arg-type]
        local = {r.name for r in ctx.store.tags()}
        by_model = _missing_by_model(expected, local, report)
        try:
            _create_tags(ctx, by_model, report)
            if push:
                wanted = [e.tag for e in expected if e.tag not in remote_tags
                          and (e.tag in local or e.tag in report.created)]
                if wanted:
                    _push_tags(ctx, wanted)
                    report.pushed = wanted
        except BaseException:
            for tag in report.created:
                ctx.git.delete_tag(tag)
            raise
    fresh = report.pushed if push else report.created
    if release:
        _releases(ctx, fresh, expected, report.approver, notes_dir, report)
    report.summary = publish_summary(report)
    append_step_summary(ctx.env, report.summary)
    return report


def _approver(ctx: Context, actor: str | None) -> str:
    who = actor or (ctx.env or {}).get("GITHUB_ACTOR") or ctx.actor()
    if not who.strip() or len(who) > 320 or "\n" in who:
        raise UserError(f"invalid approver {who!r}", "give --approver NAME (a login or e-mail)")
    return who


def _wants_push(ctx: Context, push: bool | None) -> bool:
    has_origin = ctx.git.remote_url("origin") is not None
    if push is None:
        return has_origin
    if push and not has_origin:
        raise UserError("there is no git remote 'origin' to push the tags to",
                        "add one with `git remote add origin URL`, or use --no-push")
    return push


def _missing_by_model(expected: Sequence[Any], local: set[str], report: PublishReport) -> dict[str, list[Any]]:
    """The required tags this clone lacks, per model; a warning for each that cannot be placed."""
    by_model: dict[str, list[Any]] = {}
    for e in expected:
        if e.tag in local or e.optional:
            continue
        if not e.target:
            report.warnings.append(f"{e.tag}: the commit that registered {e.model} {e.version} "
                                   "is not in this branch's history; not tagged")
            continue
        by_model.setdefault(e.model, []).append(e)
    return by_model


def _create_tags(ctx: Context, by_model: Mapping[str, list[Any]], report: PublishReport) -> None:
    from gitreg import provenance
    from gitreg.store import Change

    # the commit that added each entry, and the commit on the branch's own line
    # that landed it (a pull request's merge: its time is the approval's time)
    recorded = provenance.read(ctx.git, sorted(by_model))
    landed = provenance.read(ctx.git, sorted(by_model), first_parent=True)
    for model, items in sorted(by_model.items()):
        items.sort(key=lambda x: x.seq)
        when = Change(ctx.store, model)._first_tag_time(lambda: ctx.clock().timestamp())  # type: ignore[attr-defined]
        events = ev.model_events(ctx.store.model_manifests(model)[0].values())
        for i, e in enumerate(items):
            merge = landed.commit_of(model, e.seq)
            approved_at = rfc3339_utc(merge.time) if merge else None
            # approvers written into the file count only when gitreg's approve
            # commits back them; otherwise the merger approved it
            backed = provenance.backed_approvers(events, recorded, model, e.version,
                                                 str(e.entry.get("to")), e.seq + 1)
            approvers = [a for a in provenance.people(e.entry.get("approved_by")) if a in backed]
            message = _publish_message(e, report.approver, recorded.recorded.get((model, e.seq)),
                                       approved_at, approvers)
            by = e.entry.get("by")
            ctx.git.create_tag(e.tag, e.target, message, when + i,
                               actor=by if isinstance(by, str) and by else None)
            report.created.append(e.tag)


def _remote_tags(ctx: Context) -> set[str]:
    proc = ctx.git.run(["ls-remote", "--tags", "--refs", "origin"], check=False, network=True)
    if proc.returncode != 0:
        raise ConflictError("could not list the tags on origin: "
                            + (proc.stderr.strip().splitlines() or ["failed"])[-1],
                            "check the remote URL and your access")
    return {line.split("\t", 1)[1][len("refs/tags/"):] for line in proc.stdout.splitlines()
            if "\trefs/tags/" in line}


def _push_tags(ctx: Context, tags: Sequence[str]) -> None:
    proc = ctx.git.push("origin", [f"refs/tags/{t}:refs/tags/{t}" for t in tags])
    if proc.returncode == 0:
        return
    if set(tags) <= _remote_tags(ctx):
        return  # another publish run pushed the same tags meanwhile
    raise ConflictError("pushing the tags was rejected: "
                        + (proc.stderr.strip().splitlines() or ["remote refused"])[-1],
                        "pull, run `gitreg doctor`, then run `gitreg ci publish` again")


def _releases(ctx: Context, fresh: Sequence[str], expected: Sequence[Any], who: str,
              notes_dir: str | Path | None, report: PublishReport) -> None:
    by_tag = {e.tag: e for e in expected}
    folder = Path(notes_dir) if notes_dir else ctx.store.state_dir / "releases"
    folder.mkdir(parents=True, exist_ok=True)
    exe = gh_ready(ctx.root, ctx.env)
    for tag in fresh:
        parsed = parse_tag(tag)
        if parsed is None or parsed.kind != ASSIGN or tag not in by_tag:
            continue
        e = by_tag[tag]
        if e.entry.get("replaced_by") or e.kind == ev.REASSERT:
            continue  # the old holder archived by this promotion, or one left in place
        manifests, _ = ctx.store.model_manifests(e.model)
        m = manifests.get(e.version, {})
        title = f"{e.model} {e.version} → {e.entry.get('to')}"
        notes = release_notes(e, m, who)
        path = folder / (re.sub(r"[^A-Za-z0-9._-]+", "_", tag) + ".md")
        path.write_text(notes, encoding="utf-8")
        args = ["release", "create", tag, "--title", title, "--notes-file", str(path), "--verify-tag"]
        item: dict[str, Any] = {"tag": tag, "title": title, "notes_file": str(path), "created": False,
                                "command": ["gh", *args]}
        if exe:
            proc = run_gh(exe, args, ctx.root, ctx.env)
            if proc.returncode == 0:
                item["created"] = True
                item["url"] = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else None
            else:
                report.warnings.append(f"gh release create {tag} failed: "
                                       + (proc.stderr.strip().splitlines() or ["error"])[-1])
        else:
            report.warnings.append(f"gh is not installed or not authenticated: release notes for {tag} "
                                   f"are in {path}")
        report.releases.append(item)


def _publish_message(e: Any, approver: str, commit: str | None, approved_at: str | None = None,
                     backed: Sequence[str] = ()) -> str:
    from gitreg.core.messages import tag_message as _tag_message

    summary = e.summary
    # approvals recorded by gitreg's own approve commits stay as they are; a change landed
    # by a pull request is approved by its merger, at the merge
    approved: Sequence[str] | str = list(backed) or approver
    text = _tag_message(summary, e.action, str(e.entry.get("by", "unknown")), e.seq,
                        e.entry.get("reason"), approved)
    text = text.replace("{commit}", commit) if commit else text.replace("Gitreg-Commit: {commit}\n", "")
    if approved_at and not backed:
        text += f"Gitreg-Approved-At: {approved_at}\n"
    return text + f"Gitreg-Published-By: {approver}\n"


def release_notes(e: Any, manifest: Mapping[str, Any], approver: str) -> str:
    entry = e.entry
    lines = [f"## {e.model} {e.version}: {entry.get('from', NONE_STAGE)} → {entry.get('to')}", "",
             f"- action: {e.action} (seq {e.seq})", f"- by: {entry.get('by')}",
             f"- approved by: {approver}"]
    if entry.get("reason"):
        lines.append(f"- reason: {' '.join(str(entry['reason']).split())}")
    if manifest.get("description"):
        lines.append(f"- description: {manifest['description']}")
    lines += ["", "### Metrics", "", metrics_table(e.version, manifest.get("metrics") or {}, [], "this version")]
    return "\n".join(lines)
