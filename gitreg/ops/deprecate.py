"""Deprecating a version or a whole model (GTO's `NAME@vX.Y.Z!` and `NAME@deprecated`), and back.

Nothing is ever deleted: the version's files, manifest and DVC data stay, and the history
keeps every deprecation. A deprecated version leaves its stage (and its aliases), is never
the latest, and cannot be promoted until it is undeprecated.
"""

from __future__ import annotations

import json
from typing import Any

from gitreg import schema, yamlio
from gitreg.core import events as ev
from gitreg.core import manifest as mf
from gitreg.core.messages import commit_message, tag_message, tag_summary
from gitreg.core.names import NONE_STAGE
from gitreg.core.tags import deprecate_tag, deregister_tag
from gitreg.core.timefmt import rfc3339
from gitreg.core.version import parse_version
from gitreg.errors import ConflictError, NotFoundError, UserError
from gitreg.ops import reads, stages, sync
from gitreg.ops.context import Context, epoch
from gitreg.ops.results import Result
from gitreg.store import Change, PlannedTag, manifest_path, model_file_path


def deprecate(ctx: Context, name: str, version: str | None = None, *, reason: str,
              push: bool = False, sign: bool = False) -> Result:
    """Deprecate a version (it leaves its stage and aliases) or, with no version, the model."""
    return sync.mutate(ctx, name, push, lambda: _change(ctx, name, version, reason, sign, ev.DEPRECATE))


def undeprecate(ctx: Context, name: str, version: str | None = None, *, reason: str,
                push: bool = False, sign: bool = False) -> Result:
    """Reverse a deprecation: GTO's tag is deleted (locally and, with push, on origin)."""
    return sync.mutate(ctx, name, push, lambda: _change(ctx, name, version, reason, sign, ev.UNDEPRECATE))


def _change(ctx: Context, name: str, version: str | None, reason: str, sign: bool,
            action: str) -> Result:
    if not (reason or "").strip():
        raise UserError(f"{action} needs a reason", "add --reason TEXT (the history records why)")
    _, actor = stages.stage_context(ctx, name)
    manifests, model = reads.find_model(ctx, name)
    entry: dict[str, Any] = {"seq": ev.max_seq(manifests.values(), model) + 1, "action": action}
    now = rfc3339(ctx.clock())
    if version is None:
        return _model_change(ctx, name, manifests, model, entry, now, actor, reason, sign)
    ver = str(parse_version(version))
    if ver not in manifests:
        raise NotFoundError(f"{name} has no version {ver}",
                            f"registered versions: {reads.versions_text(manifests)}")
    return _version_change(ctx, name, ver, manifests, model, entry, now, actor, reason, sign)


def _version_change(ctx: Context, name: str, ver: str, manifests: dict[str, dict], model: dict | None,
                    entry: dict[str, Any], now: str, actor: str, reason: str, sign: bool) -> Result:
    m = json.loads(json.dumps(manifests[ver]))
    deprecating = entry["action"] == ev.DEPRECATE
    _require_state(name, ver, bool(m.get("deprecated")), deprecating)
    current = m.get("stage") or NONE_STAGE
    aliases = sorted(m.get("aliases") or [])
    if deprecating and current != NONE_STAGE:
        entry["from"] = current
    entry.update(at=now, by=actor, reason=reason)
    if deprecating and aliases:
        entry["aliases"] = aliases
    m.setdefault("history", []).append(entry)
    if deprecating:
        m["stage"] = NONE_STAGE
        m["deprecated"] = {"at": now, "by": actor, "reason": reason}
        if "aliases" in m:
            m["aliases"] = []
    else:
        m.pop("deprecated", None)
    change = Change(ctx.store, name, actor)
    _validate(ctx, schema.MANIFEST, m, f"{name} {ver}'s manifest")
    change.write(manifest_path(name, ver), yamlio.dump(mf.ordered(m)))
    tags = _planned_tags(ctx, name, {**manifests, ver: m}, model, entry, actor)
    return _commit(ctx, change, tags, name, ver, entry, reason, sign,
                   deregister_tag(name, ver), (current if deprecating else None))


def _model_change(ctx: Context, name: str, manifests: dict[str, dict], model: dict | None,
                  entry: dict[str, Any], now: str, actor: str, reason: str, sign: bool) -> Result:
    doc = json.loads(json.dumps(model or {"schema_version": 1, "name": name}))
    deprecating = entry["action"] == ev.DEPRECATE
    _require_state(name, None, bool(doc.get("deprecated")), deprecating)
    entry.update(at=now, by=actor, reason=reason)
    doc.setdefault("history", []).append(entry)
    if deprecating:
        doc["deprecated"] = {"at": now, "by": actor, "reason": reason}
    else:
        doc.pop("deprecated", None)
    change = Change(ctx.store, name, actor)
    _validate(ctx, schema.MODEL, doc, f"{name}'s model.yaml")
    change.write(model_file_path(name), yamlio.dump(doc))
    tags = _planned_tags(ctx, name, manifests, doc, entry, actor)
    return _commit(ctx, change, tags, name, "", entry, reason, sign, deprecate_tag(name), None)


def _require_state(name: str, ver: str | None, deprecated: bool, deprecating: bool) -> None:
    what = f"{name} {ver}" if ver else f"model {name}"
    args = f"{name} {ver}" if ver else name
    if deprecating and deprecated:
        raise UserError(f"{what} is already deprecated",
                        f"nothing to do; `gitreg undeprecate {args} --reason ...` reverses it")
    if not deprecating and not deprecated:
        raise UserError(f"{what} is not deprecated", "nothing to do")


def _validate(ctx: Context, kind: str, doc: dict, what: str) -> None:
    extra = schema.extra_validator(ctx.root, ctx.lifecycle().extra_schema) if kind == schema.MANIFEST else None
    problems = schema.errors(kind, doc, extra)
    if problems:
        raise UserError(f"the change would make {what} invalid: {problems[0][1]}",
                        "check the reason you gave")


def _planned_tags(ctx: Context, name: str, manifests: dict[str, dict], model: dict | None,
                  entry: dict[str, Any], actor: str) -> list[PlannedTag]:
    """The tags this entry calls for, replayed over the whole model (as stage moves are)."""
    new = [t for t in ev.model_tags(name, ev.model_events(manifests.values(), model))
           if t.seq == entry["seq"]]
    commits = reads.registration_commits(ctx, name, sorted({t.version for t in new if t.version}))
    planned = []
    for t in new:
        target = commits.get(t.version) if t.version else None  # a model's: this change's commit
        if t.version and target is None:
            raise ConflictError(f"cannot find the registration commit of {name} {t.version}",
                                "run `gitreg doctor` to inspect the registry")
        planned.append(PlannedTag(t.tag, target, tag_message(
            tag_summary(name, t), t.event.action, actor, t.seq, entry.get("reason"))))
    return planned


def _commit(ctx: Context, change: Change, tags: list[PlannedTag], name: str, ver: str,
            entry: dict[str, Any], reason: str, sign: bool, gto_tag: str, left: str | None) -> Result:
    action = entry["action"]
    change.tags = tags
    deleted = []
    if action == ev.UNDEPRECATE:
        change.drop_tags = [r.name for r in ctx.store.tags(name) if r.name == gto_tag]
        deleted = [gto_tag]  # on origin too with --push (it may be there even if not here)
    source, target = (left, NONE_STAGE) if left and left != NONE_STAGE else (None, None)
    message = commit_message(action, name, ver or "(model)", source, target, [entry["seq"]], reason)
    commit, made = change.run(message, sign=sign, now=epoch(ctx.clock))
    what = f"{name} {ver}" if ver else f"model {name}"
    text = f"{action}d {what}" + (f" (left {left})" if source else "")
    return Result(action, name, ver, commit, made, [entry["seq"]], text,
                  details={"deleted_tags": deleted, "left": source})
