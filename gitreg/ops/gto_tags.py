"""The tags gto wrote on a registry that gitreg's history does not account for, in GTO's order.

gto (`gto assign`, `gto deprecate`, `gto register`) writes tags that gto and DVC follow; a
tag gitreg wrote carries Gitreg- trailers and is never one of these. `gitreg doctor` names
them; ops/adopt.py records them as history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from gitreg.core import events as ev
from gitreg.core.tags import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN, Tag, parse_tag
from gitreg.git import Git
from gitreg.ops.context import Context

# the kinds gto writes and gitreg can record
KINDS = (REGISTER, DEREGISTER, ASSIGN, UNASSIGN, DEPRECATE)


@dataclass
class GtoTag:
    """One gto-written tag gitreg's history does not account for."""

    tag: str
    parsed: Tag
    target: str  # the commit it points at
    time: int  # tagger time (GTO's clock)
    email: str  # tagger email (GTO's "who")
    message: str
    version: str | None = None  # the version it is about (assignments: found by commit)
    problem: str = ""  # why it cannot be adopted ("" = adoptable)

    @property
    def model(self) -> str:
        return self.parsed.name

    def line(self) -> str:
        what = describe(self)
        if self.problem:
            return f"{self.tag}: {what}, cannot be adopted: {self.problem}"
        return f"{self.tag}: {what} by {self.email}, written by gto; `gitreg doctor --adopt` records it"

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "model": self.model, "kind": self.parsed.kind,
                "version": self.version, "stage": self.parsed.stage, "by": self.email,
                "at": self.time, "problem": self.problem or None}


def describe(t: GtoTag) -> str:
    kind, v = t.parsed.kind, t.version or "?"
    if kind == ASSIGN:
        return f"{t.model} {v} assigned to {t.parsed.stage}"
    if kind == UNASSIGN:
        return f"{t.model} {v} unassigned from {t.parsed.stage}"
    if kind == REGISTER:
        return f"{t.model} {v} registered"
    if kind == DEREGISTER:
        return f"{t.model} {v} deregistered"
    return f"{t.model} deprecated"


def expected_names(ctx: Context, models: Iterable[str]) -> set[str]:
    """Every tag the committed history calls for (doctor's expected tags, by name)."""
    out: set[str] = set()
    for name in models:
        manifests, model = ctx.store.model_manifests(name)
        out |= {t.tag for t in ev.model_tags(name, ev.model_events(manifests.values(), model))}
    return out


def tag_details(ctx: Context, names: Iterable[str]) -> dict[str, tuple[str, int, str, str]]:
    """tag -> (tagger email, tagger time, message, object type), in one `git for-each-ref`."""
    return _tag_details(ctx.git, names)


def _tag_details(git: Git, names: Iterable[str]) -> dict[str, tuple[str, int, str, str]]:
    refs = [f"refs/tags/{n}" for n in names]
    if not refs:
        return {}
    fmt = "%(refname:strip=2)%00%(taggeremail:trim)%00%(taggerdate:unix)%00%(objecttype)%00%(contents)%1e"
    proc = git.run(["for-each-ref", f"--format={fmt}", *refs], check=False)
    out: dict[str, tuple[str, int, str, str]] = {}
    for rec in proc.stdout.split("\x1e"):
        parts = rec.lstrip("\n").split("\x00")
        if len(parts) == 5:
            out[parts[0]] = (parts[1], int(parts[2] or 0), parts[4], parts[3])
    return out


def adopted_problems(git: Git, entries: Iterable[tuple[str, ev.Event]]) -> list[str]:
    """An adopted entry is backed by the gto tag it names, whose tagger is the entry's actor:
    a line for each (model, event) whose tag is missing or was made by someone else."""
    entries = [(n, e) for n, e in entries if isinstance(e.data.get("adopted_from"), str)]
    taggers = _tag_details(git, sorted({str(e.data["adopted_from"]) for _, e in entries}))
    out = []
    for name, e in entries:
        tag, by = str(e.data["adopted_from"]), e.data.get("by")
        who = taggers.get(tag, ("",))[0]
        if who == by:
            continue
        head = (f"{name} {e.version or '(model)'}: history seq {e.seq} ({e.action} by {by}) "
                f"says it was adopted from {tag}")
        out.append(f"{head}, whose tagger is {who}" if who else
                   f"{head}, but there is no such tag (fetch the tags: `git fetch --tags`)")
    return out


def gto_models(ctx: Context) -> set[str]:
    """Every model a tag in GTO's grammar names (gitreg's name rule), in models/ or not."""
    return {p.name for p in (parse_tag(r.name) for r in ctx.store.tags()) if p is not None}


def gto_tags(ctx: Context, expected: Iterable[str], models: Iterable[str]) -> list[GtoTag]:
    """Tags of `models` in GTO's grammar, annotated, not written by gitreg and not expected.

    A tag gitreg wrote (its message has Gitreg- trailers) that history no longer calls
    for is doctor's "extra", never adopted. Ordered as GTO orders them.
    """
    want = set(expected)
    names = set(models)
    refs = {r.name: r for r in ctx.store.tags()}
    candidates = []
    for name, ref in refs.items():
        parsed = parse_tag(name)
        if parsed is None or parsed.kind not in KINDS or parsed.name not in names or name in want:
            continue
        if ref.objecttype != "tag":
            continue  # gto ignores lightweight tags; doctor names them
        candidates.append((name, parsed, ref.target))
    details = tag_details(ctx, [c[0] for c in candidates])
    out = []
    for name, parsed, target in candidates:
        email, time, message, _ = details.get(name, ("", 0, "", ""))
        if "\nGitreg-Action: " in "\n" + message:
            continue
        out.append(GtoTag(name, parsed, target, time, email, message.strip()))
    out.sort(key=lambda t: (t.time, t.tag))
    _resolve_versions(ctx, out, refs)
    return out


def _resolve_versions(ctx: Context, found: list[GtoTag], refs: Mapping[str, Any]) -> None:
    """Each tag's version: its own for (de)registrations, by commit for assignments (gto's rule)."""
    at: dict[tuple[str, str], list[str]] = {}
    for name, ref in refs.items():
        parsed = parse_tag(name)
        if parsed is not None and parsed.kind == REGISTER and parsed.version:
            at.setdefault((parsed.name, ref.target), []).append(parsed.version)
    for t in found:
        if t.parsed.kind in (REGISTER, DEREGISTER):
            t.version = t.parsed.version
        elif t.parsed.kind in (ASSIGN, UNASSIGN):
            versions = at.get((t.model, t.target), [])
            if len(versions) == 1:
                t.version = versions[0]
            elif versions:
                t.problem = (f"its commit {t.target[:10]} holds several versions "
                             f"({', '.join(sorted(versions))}), so gto cannot tell which")
            else:
                t.problem = (f"its commit {t.target[:10]} has no registered version of {t.model} "
                             f"(register one there, or delete the tag: `git tag -d {t.tag}`)")
