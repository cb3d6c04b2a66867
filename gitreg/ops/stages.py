"""Stage changes: promote, and the steps every stage change shares (one commit with its tags)."""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping, Sequence

from gitreg import schema, yamlio
from gitreg.core import events as ev
from gitreg.core import manifest as mf
from gitreg.core import policy
from gitreg.core.messages import commit_message, tag_message, tag_summary
from gitreg.core.names import NONE_STAGE
from gitreg.core.policy import require_signature
from gitreg.core.stages import Lifecycle
from gitreg.core.timefmt import rfc3339
from gitreg.core.version import parse_version
from gitreg.errors import ConflictError, NotFoundError, PolicyError, UserError
from gitreg.git import Ref
from gitreg.ops import reads, studio, sync
from gitreg.ops.context import Context, epoch
from gitreg.ops.results import Result
from gitreg.store import DVC_YAML, Change, PlannedTag, manifest_path, model_file_path


# -- the steps every stage change shares ------------------------------------------------
def stage_context(ctx: Context, name: str | None = None) -> tuple[Lifecycle, str]:
    """The lifecycle and the actor of a stage change, once the branch and tree allow one."""
    lifecycle = ctx.lifecycle()
    actor = ctx.actor()
    ctx.store.require_branch(lifecycle)
    ctx.store.require_clean(model=name)
    return lifecycle, actor


def find_version(ctx: Context, name: str, version: str) -> tuple[str, dict[str, dict]]:
    """(normalised version, the model's manifests), or NotFoundError naming the versions there are."""
    ver = str(parse_version(version))
    manifests, _ = reads.find_model(ctx, name)
    if ver not in manifests:
        raise NotFoundError(f"{name} has no version {ver}",
                            f"registered versions: {reads.versions_text(manifests)}")
    return ver, manifests


def find_live_version(ctx: Context, name: str, version: str) -> tuple[str, dict[str, dict]]:
    """find_version for a stage change: a deprecated version or model is refused (exit 3)."""
    ver = str(parse_version(version))
    manifests, model = reads.find_model(ctx, name)
    policy.require_model_not_deprecated(name, model)
    if ver not in manifests:
        raise NotFoundError(f"{name} has no version {ver}",
                            f"registered versions: {reads.versions_text(manifests)}")
    policy.require_not_deprecated(name, ver, manifests[ver])
    return ver, manifests


def promotion_steps(lifecycle: Lifecycle, manifests: dict[str, dict], ver: str, target: str,
                    keep_existing: bool, reason: str | None, approved_by: list[str] | None,
                    action: str = ev.PROMOTE) -> list[dict[str, Any]]:
    """The history steps of moving `ver` to `target`: archive the old holders of an exclusive stage."""
    current = manifests[ver].get("stage") or NONE_STAGE
    steps: list[dict[str, Any]] = []
    others = [v for v in ev.stage_holders(manifests.values()).get(target, []) if v != ver]
    if lifecycle.is_exclusive(target) and others:
        if keep_existing:
            raise PolicyError(
                f"{target} is exclusive in gitreg.yaml, so --keep-existing cannot keep {others[0]} there",
                "drop --keep-existing (the old holder is archived), or remove the stage from exclusive:")
        archive = lifecycle.archive_stage
        if archive is None:
            raise PolicyError(f"{target} is exclusive but gitreg.yaml names no archive_stage",
                              "set archive_stage: in gitreg.yaml")
        for other in others:
            if not lifecycle.allowed(target, archive):
                raise PolicyError(f"archiving {other} needs {target} -> {archive}, which gitreg.yaml forbids",
                                  f"allow it under transitions.{target}")
            steps.append({"version": other, "action": ev.ARCHIVE, "from": target, "to": archive,
                          "reason": f"replaced by {ver}" + (f": {reason}" if reason else ""),
                          "replaced_by": ver})
    steps.append({"version": ver, "action": action, "from": current, "to": target,
                  "reason": reason, "approved_by": approved_by})
    return steps


def _copy(manifest: dict) -> dict:
    return json.loads(json.dumps(manifest))


def _append_history(manifests: Mapping[str, dict], steps: list[dict[str, Any]], now: str,
                    actor: str, model: Mapping[str, Any] | None = None,
                    ) -> tuple[dict[str, dict], list[int], dict | None]:
    """The changed manifests with one history entry per step, the seqs given to them, and
    model.yaml if a step changed it (a step whose version is ev.MODEL_LEVEL)."""
    seq = ev.max_seq(manifests.values(), model)  # one counter per model, model.yaml's too
    changed: dict[str, dict] = {}
    changed_model: dict | None = None
    seqs: list[int] = []
    for step in steps:
        seq += 1
        seqs.append(seq)
        ver = step["version"]
        if ver == ev.MODEL_LEVEL:
            changed_model = changed_model or _copy(dict(model or {}))
            m = changed_model
        else:
            m = changed.setdefault(ver, _copy(manifests[ver]))
        entry: dict[str, Any] = {"seq": seq, "action": step["action"]}
        for key in ("from", "to"):
            if step.get(key) is not None:
                entry[key] = step[key]
        entry["at"] = now
        entry["by"] = actor
        for key in ("alias", "replaced", "reason", "approved_by", "requested_by", "replaced_by",
                    "results", "observed", "set_tags", "unset_tags"):
            if step.get(key) not in (None, "", [], {}):
                entry[key] = step[key]
        if step.get("description") is not None:  # "" clears a description: it is kept
            entry["description"] = step["description"]
        m.setdefault("history", []).append(entry)
        if step["action"] in ev.MOVES:
            m["stage"] = step["to"]
        elif step["action"] in (ev.ALIAS, ev.UNALIAS) and step.get("alias"):
            _set_alias(m, step["alias"], step["action"] == ev.ALIAS)
        if step["action"] == ev.ANNOTATE:
            m.update(mf.apply_annotation(m, entry))
    return changed, seqs, changed_model


def _set_alias(manifest: dict, alias: str, held: bool) -> None:
    # the manifest's mutable `aliases:` is the replayed state, kept sorted (absent when empty)
    names = set(manifest.get("aliases") or [])
    names = names | {alias} if held else names - {alias}
    if names:
        manifest["aliases"] = sorted(names)
    else:
        manifest.pop("aliases", None)


def _planned_tags(ctx: Context, name: str, manifests: Mapping[str, dict], changed: Mapping[str, dict],
                  seqs: list[int], actor: str, model_tags: Sequence[Ref]) -> list[PlannedTag]:
    # the tags come from replaying the whole model: a re-assertion names the holder left behind
    new_tags = [t for t in ev.model_tags(name, ev.model_events({**manifests, **changed}.values()))
                if t.seq in seqs and t.kind != ev.REGISTER]
    reg_commits = _registration_commits(ctx, name, sorted({t.version for t in new_tags}), model_tags)
    planned = []
    for t in new_tags:
        if t.version not in reg_commits:
            raise ConflictError(f"cannot find the registration commit of {name} {t.version}",
                                "run `gitreg doctor` to inspect the registry")
        planned.append(PlannedTag(t.tag, reg_commits[t.version], tag_message(
            tag_summary(name, t), t.event.action, actor, t.seq, t.event.data.get("reason"),
            t.event.data.get("approved_by"))))
    return planned


def _registration_commits(ctx: Context, name: str, versions: Sequence[str],
                          model_tags: Sequence[Ref]) -> dict[str, str]:
    """reads.registration_commits from the model's tags already read (one for-each-ref per
    change, issue 16): the register tag's commit, else the commit that added the manifest."""
    found = {ref.name[len(name) + 2:]: ref.target for ref in model_tags
             if ref.name.startswith(f"{name}@v") and ref.name[len(name) + 2:] in versions}
    missing = [v for v in versions if v not in found]
    if missing:
        found.update(reads.registration_commits(ctx, name, missing, by_manifest=True))
    return found


def commit_moves(
    ctx: Context,
    name: str,
    manifests: dict[str, dict],
    steps: list[dict[str, Any]],
    *,
    action: str,
    version: str,
    source: str | None,
    target: str | None,
    reason: str | None,
    actor: str,
    sign: bool,
    approvals: Mapping[str, dict | None] | None = None,
    extra_trailers: Mapping[str, str] | None = None,
    branch_commit: Callable[[Change], None] | None = None,
    model: Mapping[str, Any] | None = None,
) -> Result:
    """Append history steps (each {version, action, from?, to?, ...}) in one commit with tags.

    `model` is models/NAME/model.yaml (read from HEAD when not given): its history shares the
    model's seq counter, and a step with version ev.MODEL_LEVEL is recorded there.
    """
    if model is None:
        model = read_model_file(ctx, name)
    changed, seqs, changed_model = _append_history(manifests, steps, rfc3339(ctx.clock()), actor,
                                                   model)
    planned = _planned_tags(ctx, name, manifests, changed, seqs, actor, model_tags := ctx.store.tags(name))
    for ver, approval in (approvals or {}).items():
        m = changed.setdefault(ver, _copy(manifests[ver]))
        if approval is None:
            m.pop("approval", None)
        else:
            m["approval"] = approval
    extra = schema.extra_validator(ctx.root, ctx.lifecycle().extra_schema)
    change = Change(ctx.store, name, actor)
    change.model_tags = model_tags
    for ver, m in changed.items():
        problems = schema.errors(schema.MANIFEST, m, extra)
        if problems:
            raise UserError(f"the change would make {name} {ver}'s manifest invalid: {problems[0][1]}",
                            "check the reason and results you gave")
        change.write(manifest_path(name, ver), yamlio.dump(mf.ordered(m)))
    if changed_model is not None:
        problems = schema.errors(schema.MODEL, changed_model)
        if problems:
            raise UserError(f"the change would make {name}'s model.yaml invalid: {problems[0][1]}",
                            "check the description and tags you gave")
        change.write(model_file_path(name), yamlio.dump(changed_model))
    # Studio's view (desc, labels, meta with the stage holders) changes in the same commit
    _refresh_dvc_yaml(ctx, change, name, {**manifests, **changed}, changed_model or model)
    change.tags = planned
    message = commit_message(action, name, version, source, target, seqs, reason, extra_trailers)
    if branch_commit is not None:
        branch_commit(change)
    commit, tags = change.run(message, sign=sign, now=epoch(ctx.clock))
    return Result(action, name, version, commit, tags, seqs)


def _refresh_dvc_yaml(ctx: Context, change: Change, name: str, manifests: Mapping[str, dict],
                      model: Mapping[str, Any] | None) -> None:
    dvc_text, canonical = studio.refreshed_entry(ctx.root, name, manifests, model,
                                                 state_dir=ctx.store.state_dir)
    if dvc_text is not None:
        change.write(DVC_YAML, dvc_text)
        if canonical:  # remembered once committed: the next change splices it
            change.after_commit.append(lambda: studio.remember(ctx.store.state_dir, dvc_text))


def read_model_file(ctx: Context, name: str, rev: str = "HEAD") -> dict | None:
    """models/NAME/model.yaml at rev (one `git show`), or None if there is none."""
    raw = ctx.git.show_file(rev, model_file_path(name))
    if raw is None:
        return None
    data = yamlio.loads(raw, model_file_path(name))
    return data if isinstance(data, dict) else None


# -- promote -----------------------------------------------------------------------------
def _check_promotion(lifecycle: Lifecycle, name: str, ver: str, current: str, target: str,
                     metrics: Mapping[str, Any], actor: str, sign: bool) -> None:
    if current == target:
        raise UserError(f"{name} {ver} is already in {target}", "nothing to do")
    pol = lifecycle.policy(target)
    if pol.via_pull_request:
        raise PolicyError(
            f"{target} is changed only through a reviewed pull request (via_pull_request in gitreg.yaml)",
            f"run `gitreg promote {name} {ver} {target} --via-pr`")
    require_signature(lifecycle, target, sign)
    violations = policy.promotion_violations(
        lifecycle, current, target, metrics, approvers=[], requester=actor,
        check_gates=target != NONE_STAGE)
    if violations:
        hint = "fix what is listed, or change the policy in gitreg.yaml"
        if any("approval" in v for v in violations):
            hint = (f"ask for approval: `gitreg request {name} {ver} {target} --reason ...`, "
                    "then another person runs `gitreg approve`")
        raise PolicyError(f"cannot promote {name} {ver} to {target}: " + "; ".join(violations),
                          hint, violations)


def _promote_locked(ctx: Context, name: str, version: str, stage: str, reason: str | None,
                    keep_existing: bool, sign: bool) -> Result:
    lifecycle, actor = stage_context(ctx, name)
    target = lifecycle.stage(stage, allow_none=True)
    ver, manifests = find_live_version(ctx, name, version)
    current = manifests[ver].get("stage") or NONE_STAGE
    _check_promotion(lifecycle, name, ver, current, target, manifests[ver].get("metrics") or {},
                     actor, sign)
    steps = promotion_steps(lifecycle, manifests, ver, target, keep_existing, reason, None)
    approval = manifests[ver].get("approval")
    approvals = None
    if approval and approval.get("status") == "pending" and approval.get("stage") == target:
        # a direct promotion into a stage with no approvals policy settles the request
        # as the promoter's own approval; that promote commit is authored by them
        approvals = {ver: {**approval, "status": "approved", "approver": actor,
                           "date": rfc3339(ctx.clock())}}
    result = commit_moves(ctx, name, manifests, steps, action="promote", version=ver,
                          source=current, target=target, reason=reason, actor=actor,
                          sign=sign, approvals=approvals)
    archived = [s["version"] for s in steps if s["action"] == ev.ARCHIVE]
    result.message = f"promoted {name} {ver}: {current} -> {target}" + (
        f"; archived {', '.join(archived)}" if archived else "")
    result.details = {"from": current, "to": target, "archived": archived}
    return result


def promote(ctx: Context, name: str, version: str, stage: str, *, reason: str | None = None,
            keep_existing: bool = False, push: bool = False, sign: bool = False) -> Result:
    """Move a version to a stage (checks transitions and the stage's policy).

    There is no way to pass approvers in: an approval counts only as gitreg's own
    `approve` commit by the approver (or a pull request's reviews and merge).
    """
    return sync.mutate(ctx, name, push, lambda: _promote_locked(
        ctx, name, version, stage, reason, keep_existing, sign))
