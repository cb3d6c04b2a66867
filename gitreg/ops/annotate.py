"""Edits after registration (annotate) and a model before its first version (create)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from gitreg.core import events as ev
from gitreg.core import manifest as mf
from gitreg.core.names import check_name
from gitreg.core.timefmt import rfc3339
from gitreg.errors import ConflictError, UserError
from gitreg.ops import reads, stages, sync
from gitreg.ops.context import Context
from gitreg.ops.results import Result
from gitreg.store import MODELS_DIR


def _edit_step(doc: Mapping[str, Any], what: str, description: str | None,
               set_tags: Any, unset_tags: Sequence[str]) -> dict[str, Any]:
    """The annotate step that changes `doc` as asked, or UserError if it changes nothing."""
    wanted = mf.parse_tags(set_tags or {})
    unset = list(dict.fromkeys(mf.check_tag_key(k, "--unset-tag") for k in unset_tags or []))
    current = mf.tag_map(doc.get("tags"))
    both = sorted(set(wanted) & set(unset))
    if both:
        raise UserError(f"tag {both[0]!r} is both set and unset", "give each key once")
    missing = [k for k in unset if k not in current]
    if missing:
        raise UserError(f"{what} has no tag {missing[0]!r} to unset",
                        f"its tags: {', '.join(sorted(current)) or 'none'}")
    if description is not None and len(description) > 10000:
        raise UserError("the description is over 10000 characters", "shorten it")
    step: dict[str, Any] = {"action": ev.ANNOTATE}
    if description is not None and description != (doc.get("description") or ""):
        step["description"] = description
    changed_tags = {k: v for k, v in wanted.items() if current.get(k) != v or k not in current}
    if changed_tags:
        step["set_tags"] = changed_tags
    if unset:
        step["unset_tags"] = unset
    if len(step) == 1:
        raise UserError(f"nothing to change: {what} already has that description and those tags",
                        "give --description, --set-tag KEY=VALUE or --unset-tag KEY with a new value")
    return step


def _annotate_locked(ctx: Context, name: str, version: str | None, description: str | None,
                     set_tags: Any, unset_tags: Sequence[str], reason: str | None,
                     sign: bool) -> Result:
    _, actor = stages.stage_context(ctx, name)
    if version is None:
        manifests, model = reads.find_model(ctx, name, allow_empty=True)
        ver, doc, what = ev.MODEL_LEVEL, dict(model or {"schema_version": 1, "name": name}), name
        model = doc
    else:
        ver, manifests = stages.find_version(ctx, name, version)
        doc, what, model = manifests[ver], f"{name} {ver}", None
    step = _edit_step(doc, what, description, set_tags, unset_tags)
    step.update(version=ver, reason=reason)
    result = stages.commit_moves(ctx, name, manifests, [step], action=ev.ANNOTATE, version=ver,
                                 source=None, target=None, reason=reason, actor=actor, sign=sign,
                                 model=model)
    edits = [k for k in ("description", "set_tags", "unset_tags") if k in step]
    result.message = f"annotated {what}: " + ", ".join(e.replace("_", " ") for e in edits)
    result.details = {k: step[k] for k in edits}
    return result


def annotate(ctx: Context, name: str, version: str | None = None, *, description: str | None = None,
             set_tags: Any = None, unset_tags: Sequence[str] = (), reason: str | None = None,
             push: bool = False, sign: bool = False) -> Result:
    """Change a version's (or, with no version, the model's) description and tags: one commit.

    The edit is an `annotate` history entry; no GTO tag is written (GTO has none for it).
    """
    return sync.mutate(ctx, name, push, lambda: _annotate_locked(
        ctx, name, version, description, set_tags, unset_tags, reason, sign))


# -- create -------------------------------------------------------------------------------
def _draft_model(ctx: Context, name: str, description: str | None, owner: str | None,
                 use_case: str | None, tags: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"schema_version": 1, "name": name}
    for key, value in (("description", description), ("owner", owner), ("use_case", use_case)):
        if value:
            doc[key] = value
    parsed = mf.parse_tags(tags or [])
    if parsed:
        doc["tags"] = parsed
    doc["created_at"] = rfc3339(ctx.clock())
    return doc


def _create_locked(ctx: Context, name: str, description: str | None, owner: str | None,
                   use_case: str | None, tags: Any, sign: bool) -> Result:
    _, actor = stages.stage_context(ctx, name)
    manifests, model = ctx.store.model_manifests(name)
    if manifests or model is not None or ctx.store.broken_files(name):
        raise UserError(f"model {name!r} already exists",
                        f"change it with `gitreg annotate {name} --description ...`, "
                        f"or register a version with `gitreg register {name} PATH`")
    if (ctx.root / MODELS_DIR / name).exists():
        raise ConflictError(f"{MODELS_DIR}/{name} already exists but is not committed",
                            "remove it or commit it first")
    doc = _draft_model(ctx, name, description, owner, use_case, tags)
    step = {"version": ev.MODEL_LEVEL, "action": ev.CREATE}
    result = stages.commit_moves(ctx, name, {}, [step], action=ev.CREATE, version=ev.MODEL_LEVEL,
                                 source=None, target=None, reason=None, actor=actor, sign=sign,
                                 model=doc)
    result.message = f"created model {name} (no versions yet)"
    return result


def create(ctx: Context, name: str, *, description: str | None = None, owner: str | None = None,
           use_case: str | None = None, tags: Any = None, push: bool = False,
           sign: bool = False) -> Result:
    """Create a model with no versions (MLflow's create_registered_model): models/NAME/model.yaml."""
    check_name(name)
    mf.parse_tags(tags or [])  # refused before anything is touched
    return sync.mutate(ctx, name, push, lambda: _create_locked(
        ctx, name, description, owner, use_case, tags, sign))
