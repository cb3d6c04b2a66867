"""`gitreg doctor`: drift between the committed manifests (the truth) and the tags (derived).

Reports missing, wrong-commit, extra and lightweight tags and ignores foreign ones with a
warning; --fix recreates what is missing and never deletes or moves anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitreg.core import events as ev
from gitreg.core.tags import ASSIGN, REGISTER, UNASSIGN, parse_tag
from gitreg.store import MANIFEST_FILE, MODELS_DIR

if TYPE_CHECKING:
    from gitreg.api import Registry


@dataclass
class Expected:
    tag: str
    model: str
    version: str
    target: str | None
    seq: int
    action: str
    entry: dict[str, Any]
    kind: str = ""  # register | unassign | reassert | assign (gitreg.core.events.model_tags)
    optional: bool = False  # a superseded re-assertion: kept if present, never recreated
    summary: str = ""  # first line of the tag message


@dataclass
class DoctorReport:
    missing: list[dict[str, Any]] = field(default_factory=list)
    wrong_commit: list[dict[str, Any]] = field(default_factory=list)
    extra: list[dict[str, Any]] = field(default_factory=list)
    lightweight: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    unfixable: list[str] = field(default_factory=list)
    unbacked: list[str] = field(default_factory=list)  # entries/approvals no commit backs
    interrupted: list[str] = field(default_factory=list)  # a crashed change's journal is left
    recovered: list[str] = field(default_factory=list)  # what --fix did about it
    unreadable: list[str] = field(default_factory=list)  # committed files that cannot be read
    temp_files: list[str] = field(default_factory=list)  # leftovers of killed atomic writes
    removed: list[str] = field(default_factory=list)  # the temp files --fix removed

    @property
    def clean(self) -> bool:
        return not (self.missing or self.wrong_commit or self.extra or self.lightweight
                    or self.interrupted or self.unreadable or self.unbacked
                    or set(self.temp_files) - set(self.removed))

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean, "missing": self.missing, "wrong_commit": self.wrong_commit,
            "extra": self.extra, "lightweight": self.lightweight, "ignored": self.ignored,
            "fixed": self.fixed, "unfixable": self.unfixable, "unbacked": self.unbacked,
            "interrupted": self.interrupted, "recovered": self.recovered,
            "unreadable": self.unreadable, "temp_files": self.temp_files, "removed": self.removed,
        }


def registration_commits(reg: Registry) -> dict[str, str]:
    """manifest path -> the commit that added it, in one `git log` pass."""
    proc = reg.git.run(["log", "--diff-filter=A", "--format=%x00%H", "--name-only", "HEAD", "--",
                        MODELS_DIR], check=False)
    found: dict[str, str] = {}
    commit = None
    for line in proc.stdout.splitlines():
        if line.startswith("\x00"):
            commit = line[1:]
        elif line.endswith("/" + MANIFEST_FILE) and commit:
            found[line] = commit  # log is newest first: the last seen is the oldest
    return found


def expected_tags(reg: Registry) -> list[Expected]:
    """Every tag the manifests' history calls for, per model in the order they are written."""
    from gitreg.core.messages import tag_summary

    adds = registration_commits(reg)
    out: list[Expected] = []
    for name in sorted(reg.store.model_tree()):
        manifests, _ = reg.store.model_manifests(name)
        tags = ev.model_tags(name, ev.model_events(manifests.values()))
        superseded = ev.superseded_reassertions(tags)
        for t in tags:
            summary = f"register {name} {t.version}" if t.kind == REGISTER else tag_summary(name, t)
            out.append(Expected(t.tag, name, t.version,
                                adds.get(f"{MODELS_DIR}/{name}/{t.version}/{MANIFEST_FILE}"),
                                t.seq, t.event.action, dict(t.event.data), t.kind,
                                t.tag in superseded, summary))
    return out


def unbacked_entries(reg: Registry) -> list[str]:
    """History entries and approvals of the committed registry that no commit backs."""
    from gitreg import provenance

    lifecycle = reg.store.lifecycle()
    signed = [s for s in lifecycle.stages if lifecycle.policy(s).require_signed]
    names = sorted(reg.store.model_tree())
    prov = provenance.read(reg.git, names, signatures=bool(signed))
    out = []
    for name in names:
        manifests, _ = reg.store.model_manifests(name)
        for version, msg in provenance.problems(name, manifests, prov, signed):
            out.append(f"{name} {version}: {msg}" if version else f"{name}: {msg}")
    return out


def diagnose(reg: Registry, fix: bool = False) -> DoctorReport:
    report = DoctorReport()
    expected = expected_tags(reg)
    want = {e.tag: e for e in expected}
    models = {e.model for e in expected}
    refs = {r.name: r for r in reg.store.tags()}
    # a model with an unreadable manifest: its tags cannot be judged, only the file named
    broken = {model for (rev, model), files in reg.store.broken.items() if rev == "HEAD" and files}
    report.unreadable = [f for (rev, _), files in sorted(reg.store.broken.items()) if rev == "HEAD"
                         for f in files]
    for name, ref in sorted(refs.items()):
        parsed = parse_tag(name)
        if parsed is None:
            if "@" in name or "#" in name:
                report.ignored.append(f"{name}: not in GTO's tag grammar, ignored")
            continue
        if parsed.name in broken:
            continue
        if parsed.kind not in (REGISTER, ASSIGN, UNASSIGN):
            report.ignored.append(f"{name}: {parsed.kind} tags are not written by gitreg, ignored")
            continue
        if ref.objecttype != "tag":
            report.lightweight.append(name)
        exp = want.get(name)
        if exp is None:
            if parsed.name in models:
                report.extra.append({"tag": name, "commit": ref.target})
            else:
                report.ignored.append(f"{name}: no model {parsed.name} in models/, ignored")
        elif exp.target and ref.target != exp.target:
            report.wrong_commit.append({"tag": name, "commit": ref.target, "expected": exp.target})
    report.unbacked = unbacked_entries(reg)
    # a superseded re-assertion recreated now would be newer than the later tags of its
    # stage (registries tagged before gitreg wrote re-assertions lack them all)
    missing = [e for e in expected if e.tag not in refs and not e.optional]
    report.missing = [{"tag": e.tag, "model": e.model, "version": e.version, "seq": e.seq,
                       "commit": e.target} for e in missing]
    if fix and missing:
        _fix(reg, missing, report)
    return report


def _fix(reg: Registry, missing: list[Expected], report: DoctorReport) -> None:
    from gitreg.core.messages import tag_message as _tag_message
    from gitreg.store import Change

    by_model: dict[str, list[Expected]] = {}
    for e in missing:
        by_model.setdefault(e.model, []).append(e)
    with reg.store.locked():
        for model, items in by_model.items():
            items.sort(key=lambda e: e.seq)
            change = Change(reg.store, model)
            when = change._first_tag_time(lambda: reg.clock().timestamp())
            for i, e in enumerate(items):
                if not e.target:
                    report.unfixable.append(f"{e.tag}: the commit that registered {model} {e.version} "
                                            "is not in this branch's history")
                    continue
                msg = _tag_message(e.summary + " [recreated by gitreg doctor --fix]", e.action,
                                   str(e.entry.get("by", "unknown")), e.seq, e.entry.get("reason"),
                                   e.entry.get("approved_by")).replace("Gitreg-Commit: {commit}\n", "")
                by = e.entry.get("by")
                reg.git.create_tag(e.tag, e.target, msg, when + i,
                                   actor=by if isinstance(by, str) and by else None)
                report.fixed.append(e.tag)
