"""`gitreg doctor` and `gitreg verify`: is the registry whole, and is it signed.

doctor reports drift between the committed manifests (the truth) and the tags (derived):
missing, wrong-commit, extra and lightweight tags, and ignores foreign ones with a warning;
--fix recreates what is missing and never deletes or moves anything. verify checks the
signatures of a model's tags and of the commits that changed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitreg.core import events as ev
from gitreg.core.tags import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN, parse_tag
from gitreg.ops import adopt, gto_tags, reads
from gitreg.ops.context import Context
from gitreg.store import MANIFEST_FILE, MODELS_DIR


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
    gto: list[dict[str, Any]] = field(default_factory=list)  # gto-written tags history lacks
    gto_lines: list[str] = field(default_factory=list)  # the same, one line each
    adopted: dict[str, Any] | None = None  # what --adopt did (Result.to_dict())
    summaries: list[str] = field(default_factory=list)  # committed summaries that lie or cannot be read
    stale_summaries: list[str] = field(default_factory=list)  # models a cold read takes from manifests
    summaries_written: list[str] = field(default_factory=list)  # what --fix rewrote (one commit)
    ignored_summaries: list[str] = field(default_factory=list)  # models whose summary .gitignore keeps out

    @property
    def clean(self) -> bool:
        return not (self.missing or self.wrong_commit or self.extra or self.lightweight
                    or self.interrupted or self.unreadable or self.unbacked or self.gto
                    or set(self.temp_files) - set(self.removed)
                    or (self.summaries and not self.summaries_written))

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean, "missing": self.missing, "wrong_commit": self.wrong_commit,
            "extra": self.extra, "lightweight": self.lightweight, "ignored": self.ignored,
            "fixed": self.fixed, "unfixable": self.unfixable, "unbacked": self.unbacked,
            "interrupted": self.interrupted, "recovered": self.recovered,
            "unreadable": self.unreadable, "temp_files": self.temp_files, "removed": self.removed,
            "gto": self.gto, "adopted": self.adopted, "summaries": self.summaries,
            "stale_summaries": self.stale_summaries, "summaries_written": self.summaries_written,
            "ignored_summaries": self.ignored_summaries,
        }


def registration_commits(ctx: Context) -> dict[str, str]:
    """manifest path -> the commit that added it, in one `git log` pass."""
    proc = ctx.git.run(["log", "--diff-filter=A", "--format=%x00%H", "--name-only", "HEAD", "--",
                        MODELS_DIR], check=False)
    found: dict[str, str] = {}
    commit = None
    for line in proc.stdout.splitlines():
        if line.startswith("\x00"):
            commit = line[1:]
        elif line.endswith("/" + MANIFEST_FILE) and commit:
            found[line] = commit  # log is newest first: the last seen is the oldest
    return found


def expected_tags(ctx: Context) -> list[Expected]:
    """Every tag the manifests' history calls for, per model in the order they are written."""
    return _scan(ctx, unbacked=False)[0]


def unbacked_entries(ctx: Context) -> list[str]:
    """History entries and approvals of the committed registry that no commit backs."""
    return _scan(ctx, expected=False)[1]


def _scan(ctx: Context, expected: bool = True, unbacked: bool = True) -> tuple[list[Expected], list[str]]:
    """expected_tags and unbacked_entries in one pass over the models: each model's
    manifests are loaded once (at 10,000 versions, loading them twice was a fifth of
    doctor's time), and one model's at a time (all of them at once: 65 MB per 10,000)."""
    from gitreg import provenance

    adds = registration_commits(ctx) if expected else {}
    signed = ctx.store.lifecycle().signed_targets() if unbacked else set()
    names = sorted(ctx.store.model_tree())
    prov = provenance.read(ctx.git, names, signatures=bool(signed)) if unbacked else None
    refs: dict[str, str] | None = None
    out: list[Expected] = []
    problems: list[str] = []
    adopted: list[tuple[str, ev.Event]] = []
    for name in names:
        manifests, model = ctx.store.model_manifests(name)
        events = ev.model_events(manifests.values(), model)
        if expected:
            refs = _expected_of(ctx, name, events, adds, refs, out)
        if prov is not None:
            for version, msg in provenance.problems(name, manifests, prov, signed):
                problems.append(f"{name} {version}: {msg}" if version else f"{name}: {msg}")
            adopted += [(name, e) for e in events]
    if prov is not None:
        problems += gto_tags.adopted_problems(ctx.git, adopted)
    return out, problems


def _expected_of(ctx: Context, name: str, events: list[ev.Event], adds: dict[str, str],
                 refs: dict[str, str] | None, out: list[Expected]) -> dict[str, str] | None:
    """Append the tags one model's events call for to out; the tag refs, once read."""
    from gitreg.core.messages import tag_summary

    tags = ev.model_tags(name, events)
    superseded = ev.superseded_reassertions(tags)
    # a version adopted from `gto register` is at the commit gto registered, not at the
    # commit that added its manifest
    gto_registered = {t.version: t.tag for t in tags if t.kind == REGISTER
                      and t.event.data.get("adopted_from")}
    if gto_registered and refs is None:
        refs = {r.name: r.target for r in ctx.store.tags()}
    at = {v: (refs or {}).get(tag) for v, tag in gto_registered.items()}
    for t in tags:
        summary = f"register {name} {t.version}" if t.kind == REGISTER else tag_summary(name, t)
        target = at[t.version] if t.version in at else \
            adds.get(f"{MODELS_DIR}/{name}/{t.version}/{MANIFEST_FILE}")
        out.append(Expected(t.tag, name, t.version, target,
                            t.seq, t.event.action, dict(t.event.data), t.kind,
                            t.tag in superseded, summary))
    return refs


def doctor(ctx: Context, fix: bool = False, adopt_tags: bool = False, push: bool = False) -> DoctorReport:
    """Drift between manifests and tags; fix=True recreates missing tags (never deletes).

    An interrupted change (a crash left its journal under .git) is reported; fix=True
    first finishes it (it was committed: its tags are made) or undoes it (it was not).
    adopt_tags=True first records the tags gto wrote as history (ops/adopt.py), one commit.
    """
    adopted = adopt.adopt(ctx, push=push) if adopt_tags else None
    recovered = None
    removed: list[str] = []
    if fix:
        with ctx.store.locked(recovering=True):
            recovered = ctx.store.recover_interrupted()
            # under the lock no gitreg write is under way here: these are a dead one's
            for rel in ctx.store.temp_files():
                (ctx.root / rel).unlink(missing_ok=True)
                removed.append(rel)
    interrupted = ctx.store.interrupted_change()
    report = diagnose(ctx, fix=fix)
    report.interrupted = [interrupted] if interrupted else []
    report.recovered = [recovered] if recovered else []
    report.temp_files = removed or ctx.store.temp_files()
    report.removed = removed
    report.adopted = adopted.to_dict() if adopted is not None else None
    _check_summaries(ctx, report, fix and not report.interrupted)
    return report


def _check_summaries(ctx: Context, report: DoctorReport, fix: bool) -> None:
    """The committed per-model summaries (gitreg.store.summary) against the manifests; with
    fix, the wrong, missing and stale ones written again in one commit."""
    from gitreg.store import Change, summary

    report.summaries, stale = summary.check(ctx.store)
    # an ignore rule (`*.json`, `.gitreg/`) keeps new summaries out: reads take the manifests
    refused = ctx.git.refused([summary.summary_path(n) for n in stale]) if stale else set()
    report.ignored_summaries = sorted(n for n in stale if summary.summary_path(n) in refused)
    report.stale_summaries = [n for n in stale if summary.summary_path(n) not in refused]
    if not fix or not (report.summaries or report.stale_summaries):
        return
    bad = [p.split(":", 1)[0] for p in report.summaries]
    names = sorted(set(report.stale_summaries) | {p.rsplit("/", 1)[-1].removesuffix(".json") for p in bad})
    texts = summary.refresh(ctx.store, names)
    if not texts:
        return
    with ctx.store.locked():
        ctx.store.require_branch(ctx.lifecycle())
        ctx.store.require_clean((summary.SUMMARY_DIR,))
        change = Change(ctx.store, "")
        for rel, text in texts.items():
            change.write(rel, text)
        change.run(summary.refresh_message(len(texts)))
    report.summaries_written = sorted(texts)


def diagnose(ctx: Context, fix: bool = False) -> DoctorReport:
    report = DoctorReport()
    expected, unbacked = _scan(ctx)
    want = {e.tag: e for e in expected}
    models = {e.model for e in expected}
    refs = {r.name: r for r in ctx.store.tags()}
    # a model with an unreadable manifest: its tags cannot be judged, only the file named
    broken = {model for (rev, model), files in ctx.store.broken.items() if rev == "HEAD" and files}
    report.unreadable = [f for (rev, _), files in sorted(ctx.store.broken.items()) if rev == "HEAD"
                         for f in files]
    # tags gto wrote that history does not account for: named, and adopted by --adopt
    found = gto_tags.gto_tags(ctx, want, (set(ctx.store.model_tree()) | gto_tags.gto_models(ctx)) - broken)
    report.gto = [t.to_dict() for t in found]
    report.gto_lines = [t.line() for t in found]
    from_gto = {t.tag for t in found}
    for name, ref in sorted(refs.items()):
        parsed = parse_tag(name)
        if name in from_gto:
            continue
        if parsed is None:
            if "@" in name or "#" in name:
                report.ignored.append(f"{name}: not in GTO's tag grammar, ignored")
            continue
        if parsed.name in broken:
            continue
        if parsed.kind not in (REGISTER, DEREGISTER, ASSIGN, UNASSIGN, DEPRECATE):
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
    report.unbacked = unbacked
    # a superseded re-assertion recreated now would be newer than the later tags of its
    # stage (registries tagged before gitreg wrote re-assertions lack them all)
    missing = [e for e in expected if e.tag not in refs and not e.optional]
    report.missing = [{"tag": e.tag, "model": e.model, "version": e.version, "seq": e.seq,
                       "commit": e.target} for e in missing]
    if fix and missing:
        _fix(ctx, missing, report)
    return report


def _fix(ctx: Context, missing: list[Expected], report: DoctorReport) -> None:
    from gitreg.core.messages import tag_message as _tag_message
    from gitreg.store import Change

    by_model: dict[str, list[Expected]] = {}
    for e in missing:
        by_model.setdefault(e.model, []).append(e)
    with ctx.store.locked():
        for model, items in by_model.items():
            items.sort(key=lambda e: e.seq)
            change = Change(ctx.store, model)
            when = change._first_tag_time(lambda: ctx.clock().timestamp())
            for i, e in enumerate(items):
                if e.version == ev.MODEL_LEVEL:  # `NAME@deprecated`: GTO tags any commit (HEAD)
                    e.target = ctx.git.head()
                if not e.target:
                    report.unfixable.append(f"{e.tag}: the commit that registered {model} {e.version} "
                                            "is not in this branch's history")
                    continue
                msg = _tag_message(e.summary + " [recreated by gitreg doctor --fix]", e.action,
                                   str(e.entry.get("by", "unknown")), e.seq, e.entry.get("reason"),
                                   e.entry.get("approved_by")).replace("Gitreg-Commit: {commit}\n", "")
                by = e.entry.get("by")
                ctx.git.create_tag(e.tag, e.target, msg, when + i,
                                   actor=by if isinstance(by, str) and by else None)
                report.fixed.append(e.tag)


# -- verify -------------------------------------------------------------------------------
# `git log --format=%G?` codes
_SIGNATURE_CODES = {
    "G": "good signature", "U": "good signature, unknown validity",
    "B": "bad signature", "X": "good signature, expired", "Y": "signed by an expired key",
    "R": "signed by a revoked key", "E": "cannot be checked (unknown key)", "N": "unsigned",
}


def verify(ctx: Context, name: str) -> dict[str, Any]:
    """Check the signatures of a model's tags and of the commits that changed it."""
    reads.find_model(ctx, name)  # an unknown model is a NotFoundError, not an empty report
    tags = []
    for ref in ctx.store.tags(name):
        if ref.objecttype != "tag":
            tags.append({"tag": ref.name, "ok": False, "status": "lightweight (unsigned)"})
            continue
        proc = ctx.git.run(["verify-tag", "--raw", "--", ref.name], check=False)
        ok = proc.returncode == 0
        status = "good signature" if ok else _signature_problem(proc.stderr)
        tags.append({"tag": ref.name, "ok": ok, "status": status})
    proc = ctx.git.run(["log", "--format=%H %G? %GK", "HEAD", "--", f"{MODELS_DIR}/{name}"], check=False)
    commits = []
    for line in proc.stdout.splitlines():
        parts = line.split(" ")
        if len(parts) >= 2:
            status = _SIGNATURE_CODES.get(parts[1], parts[1])
            ok_commit = parts[1] == "G"
            if parts[1] == "U":
                # GPG: a known but uncertified key (verify-commit accepts it, as verify-tag
                # does); SSH: a key in no allowed-signers line (verify-commit refuses it)
                check = ctx.git.run(["verify-commit", "--", parts[0]], check=False)
                ok_commit = check.returncode == 0
                if not ok_commit:
                    status = _signature_problem(check.stderr)
            commits.append({"commit": parts[0], "ok": ok_commit, "status": status})
    ok = all(t["ok"] for t in tags) and all(c["ok"] for c in commits)
    return {"name": name, "ok": ok, "tags": tags, "commits": commits}


def _signature_problem(stderr: str) -> str:
    low = stderr.lower()
    if "no signature" in low or "cannot verify a non-signed" in low:
        return "unsigned"
    if "bad signature" in low:
        return "bad signature"
    if "no public key" in low or "no_pubkey" in low or "can't check signature" in low \
            or "no principal matched" in low or "allowedsignersfile" in low:
        return "signed by an unknown key"
    return (stderr.strip().splitlines() or ["verification failed"])[-1]
