"""`gitreg doctor --adopt`: tags that gto wrote on a registry, recorded as gitreg history.

gto (`gto assign`, `gto deprecate`, `gto register`) writes tags that gitreg's history does not
account for; gto and DVC follow them, gitreg did not. Adoption replays them in GTO's own
order (tagger time, then tag name) into history entries with their real action, the actor
and time taken from the tag and `adopted_from: <tag>`, in one commit. The adopted tag is the
event's own (core/events.model_tags), so nothing is tagged twice; gitreg writes only the
tags its own rules add (a version leaving its previous stage, the old holder of an
exclusive stage archived), so that gto shows what gitreg records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from gitreg.core import events as ev
from gitreg.core.names import NONE_STAGE
from gitreg.core.stages import Lifecycle
from gitreg.core.tags import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN, parse_tag
from gitreg.core.timefmt import rfc3339
from gitreg.ops.context import Context
from gitreg.ops.gto_tags import GtoTag, expected_names, gto_models, gto_tags


# -- the plan: history entries in GTO's order -------------------------------------------
@dataclass
class ModelPlan:
    """One model's adoption: its changed manifests and model.yaml, and the seqs given."""

    name: str
    manifests: dict[str, dict]  # the state as adoption goes (copies)
    model: dict | None
    seq: int
    changed: set[str] = field(default_factory=set)  # versions whose manifest changed
    model_changed: bool = False
    files: dict[str, str] = field(default_factory=dict)  # new files (a gto-registered version's)
    seqs: list[int] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)

    def next_seq(self) -> int:
        self.seq += 1
        self.seqs.append(self.seq)
        return self.seq

    def entry(self, version: str, action: str, **data: Any) -> dict[str, Any]:
        """Append one history entry to a version (version "" = model.yaml)."""
        at, by = data.pop("at"), data.pop("by")
        entry: dict[str, Any] = {"seq": self.next_seq(), "action": action}
        entry.update({k: v for k, v in data.items() if k in ("from", "to") and v is not None})
        entry["at"], entry["by"] = at, by
        entry.update({k: v for k, v in data.items()
                      if k not in ("from", "to") and v not in (None, "", [], {})})
        if version == ev.MODEL_LEVEL:
            self.new_model(at)
            assert self.model is not None
            self.model.setdefault("history", []).append(entry)
            self.model_changed = True
        else:
            self.manifests[version].setdefault("history", []).append(entry)
            self.changed.add(version)
        return entry

    def new_model(self, at: str) -> None:
        """model.yaml for a model gto made (a GTO repository has none)."""
        if self.model is None:
            self.model = {"schema_version": 1, "name": self.name, "created_at": at}
            self.model_changed = True

    def stage_of(self, version: str) -> str:
        return self.manifests[version].get("stage") or NONE_STAGE


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def start_seq(manifests: Mapping[str, dict], model: Mapping[str, Any] | None,
              tags: Iterable[str]) -> int:
    """Above every seq and every tag's N: a tag gitreg writes never takes a name gto used."""
    ns = [p.seq for p in (parse_tag(t) for t in tags) if p is not None and p.seq]
    return max([ev.max_seq(manifests.values(), model), *ns])


def apply(plan: ModelPlan, t: GtoTag, lifecycle: Lifecycle, actor: str, now: str) -> None:
    """Record one adoptable tag (its version exists in plan.manifests) as history."""
    who = {"at": rfc3339_of(t.time), "by": t.email or "unknown", "adopted_from": t.tag,
           "reason": (t.message.splitlines() or [""])[0] or None}
    kind, stage = t.parsed.kind, (t.parsed.stage or "").lower()
    ver = t.version or ""
    if kind in (ASSIGN, UNASSIGN) and stage not in lifecycle.stages:
        _alias(plan, t, ver, stage, kind == ASSIGN, who, actor, now)
    elif kind == ASSIGN:
        _assign(plan, ver, stage, lifecycle, who, actor, now)
    elif kind == UNASSIGN:
        plan.entry(ver, ev.ARCHIVE, **{"from": stage, "to": NONE_STAGE}, **who)
        plan.manifests[ver]["stage"] = NONE_STAGE
    elif kind == DEREGISTER:
        m = plan.manifests[ver]
        lost = sorted(m.get("aliases") or [])
        plan.entry(ver, ev.DEPRECATE, **{"from": _real(plan.stage_of(ver))}, aliases=lost, **who)
        m["stage"], m["aliases"] = NONE_STAGE, []
        m["deprecated"] = _deprecated(who)
    elif kind == DEPRECATE:
        plan.entry(ev.MODEL_LEVEL, ev.DEPRECATE, **who)
        assert plan.model is not None
        plan.model["deprecated"] = _deprecated(who)
    plan.adopted.append(t.tag)


def _real(stage: str) -> str | None:
    return None if stage == NONE_STAGE else stage


def _deprecated(who: Mapping[str, Any]) -> dict[str, Any]:
    out = {"at": who["at"], "by": who["by"]}
    if who.get("reason"):
        out["reason"] = who["reason"]
    return out


def _assign(plan: ModelPlan, ver: str, stage: str, lifecycle: Lifecycle, who: dict[str, Any],
            actor: str, now: str) -> None:
    current = plan.stage_of(ver)
    holders = [v for v, m in plan.manifests.items() if v != ver and m.get("stage") == stage]
    plan.entry(ver, ev.PROMOTE, **{"from": current, "to": stage}, **who)
    plan.manifests[ver]["stage"] = stage
    if lifecycle.is_exclusive(stage) and current != stage:
        # gto shows the latest assignment: gitreg's rule for an exclusive stage archives the
        # rest. After the adopted event, so the re-assertion of `ver` gitreg then writes is
        # the stage's newest tag (what `dvc artifacts get --stage` follows), not the archiving
        archive = lifecycle.archive_stage or NONE_STAGE
        for other in sorted(holders):
            plan.entry(other, ev.ARCHIVE, **{"from": stage, "to": archive}, at=now, by=actor,
                       reason=f"replaced by {ver} (adopted from {who['adopted_from']})",
                       replaced_by=ver)
            plan.manifests[other]["stage"] = archive


def _alias(plan: ModelPlan, t: GtoTag, ver: str, alias: str, assign: bool, who: dict[str, Any],
           actor: str, now: str) -> None:
    """A gto stage that is not in the lifecycle: an alias (one holder), as the aliases lane writes it."""
    m = plan.manifests[ver]
    current = set(m.get("aliases") or [])
    if assign:
        old = [v for v, other in plan.manifests.items() if v != ver and alias in (other.get("aliases") or [])]
        plan.entry(ver, ev.ALIAS, alias=alias, replaced=old[0] if old else None, **who)
        m["aliases"] = sorted(current | {alias})
        # the old holder's unalias after the adopted event (as for an exclusive stage): its
        # tag is written now, so model_tags re-asserts the new holder after it for DVC
        for other in sorted(old):
            plan.entry(other, ev.UNALIAS, at=now, by=actor, alias=alias, replaced_by=ver)
            plan.manifests[other]["aliases"] = sorted(set(plan.manifests[other]["aliases"]) - {alias})
    else:
        plan.entry(ver, ev.UNALIAS, alias=alias, **who)
        m["aliases"] = sorted(current - {alias})


def rfc3339_of(epoch_seconds: int) -> str:
    from datetime import datetime, timezone

    return rfc3339(datetime.fromtimestamp(epoch_seconds, timezone.utc))


def check(plan: ModelPlan, t: GtoTag, lifecycle: Lifecycle) -> str:
    """Why `t` cannot be adopted on top of the plan so far ("" when it can)."""
    if t.problem:
        return t.problem
    kind, ver = t.parsed.kind, t.version or ""
    if kind == DEPRECATE:
        return ""
    if ver not in plan.manifests:
        return f"{t.model} has no version {ver} in models/"
    m = plan.manifests[ver]
    stage = (t.parsed.stage or "").lower()
    if m.get("deprecated") and kind != UNASSIGN:
        return f"{t.model} {ver} is deprecated"
    if kind == UNASSIGN:
        held = stage == plan.stage_of(ver) or stage in (m.get("aliases") or [])
        if not held:
            return (f"{t.model} {ver} does not hold {stage} here, so the unassignment changes nothing "
                    f"(delete it: `git tag -d {t.tag}`)")
    if kind in (ASSIGN, UNASSIGN) and stage not in lifecycle.stages and _looks_reserved(stage):
        return f"{stage} is not a stage in gitreg.yaml and cannot be an alias (it reads as a version or a keyword)"
    return ""


def _looks_reserved(alias: str) -> bool:
    return (alias[:1].isdigit() or (alias[:1] == "v" and alias[1:2].isdigit())
            or alias in ("latest", "deprecated", NONE_STAGE))


# -- the one commit ------------------------------------------------------------------------
def plan_all(ctx: Context, found: list[GtoTag], actor: str,
             lifecycle: Lifecycle | None = None) -> dict[str, ModelPlan]:
    """Every tag applied in GTO's order; the first that cannot be adopted refuses them all."""
    from gitreg.errors import UserError

    lifecycle = lifecycle or ctx.lifecycle()
    now = rfc3339(ctx.clock())
    plans: dict[str, ModelPlan] = {}
    for t in found:
        plan = plans.get(t.model)
        if plan is None:
            manifests, model = ctx.store.model_manifests(t.model)
            tags = [r.name for r in ctx.store.tags(t.model)]
            plan = plans[t.model] = ModelPlan(t.model, _copy(manifests), _copy(model) if model else None,
                                              start_seq(manifests, model, tags))
        why = _register(ctx, plan, t) if t.parsed.kind == REGISTER else check(plan, t, lifecycle)
        if why:
            raise UserError(f"cannot adopt {t.tag}: {why}; nothing was changed",
                            "fix or delete that tag, then run `gitreg doctor --adopt` again")
        if t.parsed.kind != REGISTER:
            apply(plan, t, lifecycle, actor, now)
    return plans


def _register(ctx: Context, plan: ModelPlan, t: GtoTag) -> str:
    """A version gto registered: its manifest and files into the plan ("" done, else why not)."""
    from gitreg.ops import adopt_register

    if t.version in plan.manifests:
        return f"{t.model} {t.version} is registered in models/ already"
    drafted = adopt_register.draft(ctx, t, plan.seq + 1)
    if isinstance(drafted, str):
        return drafted
    plan.next_seq()
    manifest, files = drafted
    plan.manifests[str(t.version)] = manifest
    plan.new_model(manifest["created_at"])
    plan.changed.add(str(t.version))
    plan.files.update(files)
    plan.adopted.append(t.tag)
    return ""


def planned_tags(ctx: Context, plan: ModelPlan) -> list[Any]:
    """The tags gitreg's own rules add to the adopted events (never the adopted tags)."""
    from gitreg.core.messages import tag_message, tag_summary
    from gitreg.errors import ConflictError
    from gitreg.ops import reads
    from gitreg.store import PlannedTag

    existing = {r.name for r in ctx.store.tags(plan.name)}
    seqs = set(plan.seqs)
    events = ev.model_events(plan.manifests.values(), plan.model)
    new = [t for t in ev.model_tags(plan.name, events)
           if t.seq in seqs and t.kind != ev.REGISTER and t.tag not in existing]
    commits = reads.registration_commits(ctx, plan.name, sorted({t.version for t in new}))
    out = []
    for t in new:
        if t.version not in commits:
            raise ConflictError(f"cannot find the registration commit of {plan.name} {t.version}",
                                "run `gitreg doctor` to inspect the registry")
        out.append(PlannedTag(t.tag, commits[t.version], tag_message(
            tag_summary(plan.name, t), t.event.action, str(t.event.data.get("by")), t.seq,
            t.event.data.get("reason"))))
    return out


def commit(ctx: Context, plans: Mapping[str, ModelPlan], actor: str, sign: bool = False,
           lifecycle: Lifecycle | None = None, files: Mapping[str, str] | None = None) -> Any:
    """All plans in one commit (through the store's Change) with the tags gitreg adds.

    files: more files for the same commit (a GTO repository's new gitreg.yaml).
    """
    from gitreg import schema, yamlio
    from gitreg.core import manifest as mf
    from gitreg.errors import UserError
    from gitreg.ops.results import Result
    from gitreg.store import Change, manifest_path, model_file_path

    extra = schema.extra_validator(ctx.root, (lifecycle or ctx.lifecycle()).extra_schema)
    names = sorted(plans)
    change = Change(ctx.store, names[0], actor)
    for rel, text in (files or {}).items():
        change.write(rel, text)
    for plan in plans.values():
        for ver in sorted(plan.changed):
            m = plan.manifests[ver]
            problems = schema.errors(schema.MANIFEST, m, extra)
            if problems:
                raise UserError(f"adopting would make {plan.name} {ver}'s manifest invalid: "
                                f"{problems[0][1]}; nothing was changed",
                                "fix or delete the tag named, then run `gitreg doctor --adopt` again")
            change.write(manifest_path(plan.name, ver), yamlio.dump(mf.ordered(m)))
        for rel, text in plan.files.items():
            change.write(rel, text)
        if plan.model_changed and plan.model is not None:
            change.write(model_file_path(plan.name), yamlio.dump(plan.model))
        change.tags += planned_tags(ctx, plan)
    adopted = [t for p in plans.values() for t in p.adopted]
    seqs = [s for p in plans.values() for s in p.seqs]
    last = max((r.tagger_time or 0 for n in names for r in ctx.store.tags(n)), default=0)
    clock = ctx.clock

    def now() -> float:  # gitreg's tags come after every tag of these models, gto's too
        return max(clock().timestamp(), last + 1)

    message = (f"gitreg: adopt {len(adopted)} gto tag(s) of {', '.join(names)}\n\n"
               + "\n".join(f"Gitreg-Adopted: {t}" for t in adopted) + "\n\n"
               + f"Gitreg-Action: adopt\nGitreg-Model: {','.join(names)}\n"
               + "".join(f"Gitreg-Seq: {s}\n" for s in seqs))
    sha, tags = change.run(message, sign=sign, now=now)
    result = Result("adopt", names[0] if len(names) == 1 else ",".join(names), "", sha, tags, seqs)
    result.message = (f"adopted {len(adopted)} gto tag(s) into history ({', '.join(names)})"
                      + (f"; {len(tags)} tag(s) written" if tags else ""))
    result.details = {"adopted": adopted, "models": names}
    return result


def adopt(ctx: Context, *, push: bool = False, sign: bool = False, _attempt: int = 0) -> Any:
    """Record every gto-written tag gitreg's history does not account for, in one commit.

    None when there is none. Refuses them all (nothing changed) if one cannot be adopted.
    """
    from gitreg.ops import stages, sync

    if push:
        sync.require_remote(ctx)
    with ctx.store.locked():
        _, actor = stages.stage_context(ctx)
        models = sorted(set(ctx.store.model_tree()) | gto_models(ctx))
        found = gto_tags(ctx, expected_names(ctx, models), models)
        if not found:
            return None
        result = commit(ctx, plan_all(ctx, found, actor), actor, sign)
        if push:
            try:
                sync.push(ctx, result)
                push_adopted(ctx, result.details["adopted"])
            except sync.PushRaceLost as lost:
                if lost.touched or _attempt + 1 >= sync.PUSH_ATTEMPTS:
                    raise
                sync.backoff(_attempt)
                return adopt(ctx, push=True, sign=sign, _attempt=_attempt + 1)
        return result


def push_adopted(ctx: Context, adopted: list[str]) -> None:
    """gto's own tags to origin too (gto may have left them local), so origin agrees."""
    from gitreg.errors import ConflictError

    proc = ctx.git.push("origin", [f"refs/tags/{t}:refs/tags/{t}" for t in adopted])
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["remote refused"])[-1]
        raise ConflictError(f"adopted and pushed, but gto's tags were not pushed: {why}",
                            "run `git push origin --tags`")
