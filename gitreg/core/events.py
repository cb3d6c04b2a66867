"""History events, replayed in seq order into stage state (never ordered by timestamps)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from gitreg.core.names import NONE_STAGE
from gitreg.core.tags import (ASSIGN, DEPRECATE as DEPRECATE_TAG, DEREGISTER, UNASSIGN, assign_tag,
                              deprecate_tag, deregister_tag, register_tag, unassign_tag)
from gitreg.core.version import parse_version

REGISTER = "register"
REQUEST = "request"
APPROVE = "approve"
REJECT = "reject"
PROMOTE = "promote"
ARCHIVE = "archive"
ROLLBACK = "rollback"
ALIAS = "alias"  # on the version that gets the alias: {alias, replaced?}
UNALIAS = "unalias"  # on the version that loses it: {alias, replaced_by?}
ANNOTATE = "annotate"  # {description?, set_tags?, unset_tags?}; model-level in model.yaml
CREATE = "create"  # model.yaml only: the model exists before any version
DEPRECATE = "deprecate"  # a version {from?, aliases?}, or a whole model in model.yaml
UNDEPRECATE = "undeprecate"
ACTIONS = (REGISTER, REQUEST, APPROVE, REJECT, PROMOTE, ARCHIVE, ROLLBACK,
           ALIAS, UNALIAS, ANNOTATE, CREATE, DEPRECATE, UNDEPRECATE)
# model.yaml's own history holds model-level events; their Event.version is this
MODEL_LEVEL = ""
# Actions that move a version between stages (and so get a GTO stage tag).
MOVES = (PROMOTE, ARCHIVE, ROLLBACK)


@dataclass(frozen=True)
class Event:
    seq: int
    version: str
    action: str
    data: Mapping[str, Any]

    @property
    def source(self) -> str | None:
        return self.data.get("from")

    @property
    def target(self) -> str | None:
        return self.data.get("to")


def model_events(manifests: Iterable[Mapping[str, Any]],
                 model: Mapping[str, Any] | None = None) -> list[Event]:
    """All events of one model's versions (and, given model.yaml, its model-level ones), by seq."""
    events = [
        Event(int(h["seq"]), str(m["version"]), str(h["action"]), h)
        for m in manifests
        for h in (m.get("history") or [])
    ]
    events += [Event(int(h["seq"]), MODEL_LEVEL, str(h["action"]), h)
               for h in _history(model)]
    events.sort(key=lambda e: e.seq)
    return events


def max_seq(manifests: Iterable[Mapping[str, Any]], model: Mapping[str, Any] | None = None) -> int:
    """The model's last seq: one counter covers its versions' histories and model.yaml's."""
    seqs = [int(h["seq"]) for m in manifests for h in (m.get("history") or [])]
    seqs += [int(h["seq"]) for h in _history(model)]
    return max(seqs, default=0)


def _history(model: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    history = (model or {}).get("history") or []
    if not isinstance(history, list):
        return []
    # model.yaml is not shape-checked like manifests: skip what is not an entry
    return [h for h in history if (type(h) is dict or isinstance(h, Mapping)) and type(h.get("seq")) is int
            and isinstance(h.get("action"), str)]


def last_assignment_seq(manifest: Mapping[str, Any], stage: str) -> int:
    """Seq of the event that put this version in `stage` (0 if none is recorded)."""
    for h in reversed(manifest.get("history") or []):
        if h.get("action") in MOVES and h.get("to") == stage:
            return int(h["seq"])
    return 0


def stage_holders(manifests: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """stage -> versions in it, the most recently assigned first."""
    ranked: dict[str, list[tuple[int, str]]] = {}
    for m in manifests:
        stage = m.get("stage") or NONE_STAGE
        if stage == NONE_STAGE:
            continue
        ranked.setdefault(stage, []).append((last_assignment_seq(m, stage), str(m["version"])))
    return {
        stage: [v for _, v in sorted(pairs, key=lambda p: (p[0], parse_version(p[1])), reverse=True)]
        for stage, pairs in ranked.items()
    }


def holder_stack(events: Iterable[Event], stage: str) -> list[str]:
    """The versions that held `stage`, as a stack: promotions push, rollbacks pop.

    A rollback to a version still on the stack pops down to it; a rollback to one
    already popped pushes it again. A holder displaced by another version (`replaced_by`:
    an exclusive promotion or a rollback) stays on the stack below the new holder; one
    leaving the stage with no replacement (a manual archive) is popped, so the one below
    becomes the rollback target.
    """
    stack: list[str] = []
    for e in events:
        # a deprecation leaves its stage with no replacement, like a manual archive
        if e.action not in MOVES and not (e.action == DEPRECATE and e.source):
            continue
        if e.target == stage:
            if e.action == ROLLBACK and e.version in stack:
                while stack and stack[-1] != e.version:
                    stack.pop()
            else:
                stack.append(e.version)
        elif e.source == stage and e.data.get("replaced_by"):
            # displaced by another version (a promotion archived it, or a rollback pushed
            # over it): it stays below, so a later rollback can restore it
            continue
        elif e.source == stage and stack and stack[-1] == e.version:
            stack.pop()
        elif e.source == stage and e.version in stack:
            # left the stage while not on top (non-exclusive stage): drop its last entry
            idx = len(stack) - 1 - stack[::-1].index(e.version)
            del stack[idx]
    return stack


def held_stage_before(events: Iterable[Event], version: str, stage: str) -> bool:
    return any(e.version == version and e.target == stage and e.action in MOVES for e in events)


def event_tags(name: str, e: Event) -> list[str]:
    """The GTO tags of one event, in the order they are written (one second apart).

    Leaving a stage writes an unassignment and entering one an assignment, so that
    `gto show` (latest active assignment per stage) sees exactly the stage each manifest
    records. The unassignment comes first so that `dvc artifacts get --stage S`, which
    takes the newest tag matching NAME#S, lands on the new holder.
    """
    if e.action == REGISTER:
        return [register_tag(name, e.version)]
    if e.action == DEPRECATE:
        gto = deprecate_tag(name) if e.version == MODEL_LEVEL else deregister_tag(name, e.version)
        left = [unassign_tag(name, e.source, e.seq)] if e.source and e.source != NONE_STAGE else []
        lost = [unassign_tag(name, a, e.seq) for a in e.data.get("aliases") or [] if isinstance(a, str)]
        return left + lost + [gto]
    if e.action in (ALIAS, UNALIAS) and isinstance(e.data.get("alias"), str):
        make = assign_tag if e.action == ALIAS else unassign_tag
        return [make(name, e.data["alias"], e.seq)]
    if e.action not in MOVES:
        return []
    tags = []
    if e.source and e.source != NONE_STAGE:
        tags.append(unassign_tag(name, e.source, e.seq))
    if e.target and e.target != NONE_STAGE:
        tags.append(assign_tag(name, e.target, e.seq))
    return tags


REASSERT = "reassert"
ADOPTED = "adopted"  # an adopted alias, unalias or deprecation: exactly the tag gto wrote


@dataclass(frozen=True)
class EventTag:
    """One tag a model's history calls for: `version` is the version it points at."""

    tag: str
    version: str
    seq: int
    kind: str  # register | unassign | reassert | assign | adopted
    event: Event  # the event that writes it (for a reassert: the departure)


def model_tags(name: str, events: Iterable[Event]) -> list[EventTag]:
    """Every tag of one model's history, replayed in seq order, in the order they are written.

    A move writes the unassignment of its source stage, then (if the source still has
    holders) a re-assertion `NAME#SOURCE#N` of the holder gitreg shows there (the most
    recently assigned, as stage_holders ranks them), then the assignment of its target.
    `dvc artifacts get --stage S` takes the newest tag matching `NAME#S` of any kind, so
    without the re-assertion it would resolve the version that just left S.
    """
    held: dict[str, tuple[str, int]] = {}  # version -> (stage, seq of its assignment)
    alias_held: dict[str, str] = {}  # alias -> the version holding it
    out: list[EventTag] = []
    for e in sorted(events, key=lambda x: x.seq):
        # adopted from a gto-written tag: that tag is the event's own, never written again
        adopted = e.data.get("adopted_from")
        if e.action == REGISTER:
            out.append(EventTag(register_tag(name, e.version), e.version, e.seq, REGISTER, e))
            continue
        if e.action in (DEPRECATE, UNDEPRECATE):
            _deprecation_tags(name, e, held, out, adopted if isinstance(adopted, str) else None)
            continue
        if e.action in (ALIAS, UNALIAS) and isinstance(e.data.get("alias"), str):
            _alias_tags(name, e, alias_held, out, adopted if isinstance(adopted, str) else None)
            continue
        if e.action not in MOVES:
            if isinstance(adopted, str) and adopted:
                out.append(EventTag(adopted, e.version, e.seq, ADOPTED, e))
            continue
        source, target = e.source, e.target
        held[e.version] = (target or NONE_STAGE, e.seq)
        if source and source != NONE_STAGE and source != target:
            left = adopted if adopted and not (target and target != NONE_STAGE) else None
            out += _leave(name, source, e, held, left)
        if target and target != NONE_STAGE:
            out.append(EventTag(adopted or assign_tag(name, target, e.seq), e.version, e.seq, ASSIGN, e))
    return out


def _alias_tags(name: str, e: Event, alias_held: dict[str, str], out: list[EventTag],
                adopted: str | None) -> None:
    """An alias is a GTO stage with one holder: NAME#ALIAS#N when set, NAME#ALIAS!#N when it
    leaves. gitreg's own move is an unalias then an alias, so the unassignment is older. An
    adopted `gto assign` comes first and its old holder's unalias after it (written now, so
    newer): a re-assertion of the new holder then follows, or DVC would fetch the old one."""
    alias = e.data["alias"]
    if e.action == ALIAS:
        alias_held[alias] = e.version
        out.append(EventTag(adopted or assign_tag(name, alias, e.seq), e.version, e.seq,
                            ADOPTED if adopted else ASSIGN, e))
        return
    out.append(EventTag(adopted or unassign_tag(name, alias, e.seq), e.version, e.seq,
                        ADOPTED if adopted else UNASSIGN, e))
    holder = alias_held.get(alias)
    if holder is not None and holder != e.version:
        out.append(EventTag(assign_tag(name, alias, e.seq), holder, e.seq, REASSERT, e))
    else:
        alias_held.pop(alias, None)


def _leave(name: str, source: str, e: Event, held: Mapping[str, tuple[str, int]],
           tag: str | None) -> list[EventTag]:
    """The unassignment of `source` (`tag` when adopted), then the re-assertion of its holder."""
    out = [EventTag(tag or unassign_tag(name, source, e.seq), e.version, e.seq, UNASSIGN, e)]
    rest = [(seq, parse_version(v), v) for v, (st, seq) in held.items() if st == source]
    if rest:
        out.append(EventTag(assign_tag(name, source, e.seq), max(rest)[2], e.seq, REASSERT, e))
    return out


def _deprecation_tags(name: str, e: Event, held: dict[str, tuple[str, int]],
                      out: list[EventTag], adopted: str | None = None) -> None:
    """A deprecation: the stage it left (unassignment, re-assertion), then GTO's `NAME@vX!`
    (a version) or `NAME@deprecated` (a whole model). Undeprecating drops that tag from
    what the history calls for: GTO's only reverse is deleting it. An adopted deprecation
    expects gto's own tag; the stage it left is gitreg's to unassign (DVC follows stage
    tags, and gto's deregistration left the stage in gto's eyes only)."""
    tag = adopted or (deprecate_tag(name) if e.version == MODEL_LEVEL else deregister_tag(name, e.version))
    out[:] = [t for t in out if t.tag != tag]
    if e.action == UNDEPRECATE:
        return
    source = e.source
    if source and source != NONE_STAGE and e.version != MODEL_LEVEL:
        held[e.version] = (NONE_STAGE, e.seq)
        out += _leave(name, source, e, held, None)
    # the aliases it held leave it too (GTO stages with one holder each)
    out += [EventTag(unassign_tag(name, a, e.seq), e.version, e.seq, UNASSIGN, e)
            for a in e.data.get("aliases") or [] if isinstance(a, str)]
    kind = ADOPTED if adopted else DEPRECATE_TAG if e.version == MODEL_LEVEL else DEREGISTER
    out.append(EventTag(tag, e.version, e.seq, kind, e))


def is_deprecated(entity: Mapping[str, Any]) -> bool:
    """Is this version (manifest) or model (model.yaml) deprecated? Its last deprecate or
    undeprecate entry decides (the summaries' fast scanner reads only seq/action/to)."""
    last = [h.get("action") for h in _history(entity) if h.get("action") in (DEPRECATE, UNDEPRECATE)]
    return bool(last) and last[-1] == DEPRECATE


def superseded_reassertions(tags: Iterable[EventTag]) -> set[str]:
    """Re-assertion tags followed by a later event on the same stage.

    Such a tag only mattered until that later event; written now (with a new tagger
    time, after every later tag) it would make GTO and DVC see a stale holder.
    """
    tags = list(tags)
    last: dict[str, int] = {}
    for t in tags:
        for stage in (t.event.source, t.event.target, _alias_of(t.event)):
            if stage and stage != NONE_STAGE and t.kind != REGISTER:
                last[stage] = max(last.get(stage, 0), t.seq)
    return {t.tag for t in tags if t.kind == REASSERT
            and last.get(_alias_of(t.event) or t.event.source or "", 0) > t.seq}


def _alias_of(e: Event) -> str | None:
    alias = e.data.get("alias") if e.action in (ALIAS, UNALIAS) else None
    return alias if isinstance(alias, str) else None
