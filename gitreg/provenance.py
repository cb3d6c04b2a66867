"""Who recorded each history entry, read from git's commit objects, never from file content.

A history entry says who acted (`by`) and who approved (`approved_by`); anyone can write
that into a manifest. What backs an entry is the commit that added it: its author and,
where a policy asks for it, its signature. One `git log --raw` over the manifests finds
for every entry the commit that introduced it, by comparing each manifest's blob before
and after the commit. Commit-message trailers (`Gitreg-Model`, `Gitreg-Seq`) are only a
claim: a plain commit can write them, so they are checked against the diff, never used
to attribute an entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from gitreg import yamlio
from gitreg.core import events as ev
from gitreg.core.names import NONE_STAGE
from gitreg.errors import UserError
from gitreg.git import Git

MODELS_DIR = "models"
MANIFEST_FILE = "manifest.yaml"
MODEL_FILE = "model.yaml"
_ZERO = "0" * 40
_MAX_BLOB = 5 * 1024 * 1024


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author_name: str
    author_email: str
    time: int  # committer time (unix)
    signature: str = ""  # git's %G? code (G good, N none, ...); "" when not checked
    signer: str = ""  # %GS: the signer's identity (an allowed-signers principal or a GPG uid)
    claims: tuple[tuple[str, int], ...] = ()  # (model, seq) named by the message's trailers

    def signed_by(self, who: str) -> bool:
        return self.signature == "G" and bool(who) and who in self.signer


@dataclass
class Provenance:
    """The recording commit of every history entry of the models read."""

    recorded: dict[tuple[str, int], str] = field(default_factory=dict)  # (model, seq) -> sha
    commits: dict[str, CommitInfo] = field(default_factory=dict)
    introduced: dict[str, set[tuple[str, int]]] = field(default_factory=dict)  # sha -> entries
    rewritten: list[tuple[str, str, int, str]] = field(default_factory=list)  # model, version, seq, sha
    complete: bool = True  # False: git log could not be read (nothing here is an answer to keep)

    def commit_of(self, model: str, seq: int) -> CommitInfo | None:
        sha = self.recorded.get((model, seq))
        return self.commits.get(sha) if sha else None


def read(git: Git, names: Sequence[str] | None = None, rev: str = "HEAD",
         signatures: bool = False, first_parent: bool = False, by_directory: bool = False) -> Provenance:
    """Provenance of the given models' history entries (all models when names is None).

    first_parent: follow only the branch's own line, so an entry merged from a pull request
    is attributed to the merge commit (when it landed) rather than to the branch's commit.
    by_directory: walk the log of each model's directory (`models/NAME/`) instead of the
    glob of its manifests, and keep only the commits that change a manifest. A literal path
    lets git skip unrelated commits' trees (and use a commit-graph's changed-path filters,
    which a glob never can): `history` at 190,000 commits (issue 16).
    """
    prov = Provenance()
    log = _log(git, names, rev, signatures, first_parent, by_directory and names is not None)
    if log is None:
        prov.complete = False
        return prov
    changes = _commits(log, prov, by_directory)
    blobs = sorted({b for _, diffs in changes for d in diffs for b in d[2:] if b != _ZERO})
    _attribute(prov, changes, _histories(git, blobs))
    return prov


def _log(git: Git, names: Sequence[str] | None, rev: str, signatures: bool,
         first_parent: bool, by_directory: bool = False) -> str | None:
    """One `git log --raw` of the manifests' commits (None: nothing to read, or no such rev)."""
    sig = "%G?%x1f%GS" if signatures else "%x1f"
    fmt = ("%x1e%H%x1f%an%x1f%ae%x1f%ct%x1f" + sig + "%x1f"
           "%(trailers:key=Gitreg-Model,valueonly,separator=%x2c)%x1f"
           "%(trailers:key=Gitreg-Seq,valueonly,separator=%x2c)%x1f")
    # model.yaml's history (create, a model's annotate) shares the model's seqs
    if names is None:
        specs = [f":(glob){MODELS_DIR}/*/*/{MANIFEST_FILE}", f":(glob){MODELS_DIR}/*/{MODEL_FILE}"]
    elif by_directory:
        specs = [f"{MODELS_DIR}/{n}/" for n in names]
    else:
        specs = [s for n in names for s in (f":(glob){MODELS_DIR}/{n}/*/{MANIFEST_FILE}",
                                            f"{MODELS_DIR}/{n}/{MODEL_FILE}")]
    if not specs:
        return None
    args = ["log", "--topo-order", "--raw", "--no-abbrev", "--no-renames", f"--format={fmt}"]
    if first_parent:
        args += ["--first-parent", "--diff-merges=first-parent"]
    proc = git.run([*args, rev, "--", *specs], check=False)
    return proc.stdout if proc.returncode == 0 else None


_Diff = tuple[str, str, str, str]  # model, version, old blob, new blob


def _commits(log: str, prov: Provenance, manifests_only: bool = False) -> list[tuple[str, list[_Diff]]]:
    """Each commit of the log (newest first) with its manifest diffs; its CommitInfo into prov.

    manifests_only: leave out commits that change no manifest (a directory's log has them;
    the manifests' glob would not)."""
    changes: list[tuple[str, list[_Diff]]] = []
    for rec in log.split("\x1e")[1:]:
        head, _, raw = rec.partition("\x1f\n")
        parts = head.split("\x1f")
        if len(parts) < 8:
            continue
        sha, an, ae, ct, gcode, signer, models, seqs = parts[:8]
        diffs = _diffs(raw)
        if manifests_only and not diffs:
            continue
        claims = _claims(models, seqs)
        prov.commits[sha] = CommitInfo(sha, an, ae, int(ct or 0), gcode, signer, claims)
        changes.append((sha, diffs))
    return changes


def _diffs(raw: str) -> list[_Diff]:
    diffs = []
    for line in raw.splitlines():
        if not line.startswith(":"):
            continue
        meta, _, path = line.partition("\t")
        fields = meta.split(" ")
        if len(fields) < 5:
            continue
        p = path.split("/")
        if len(p) == 3 and p[0] == MODELS_DIR and p[2] == MODEL_FILE:
            diffs.append((p[1], ev.MODEL_LEVEL, fields[2], fields[3]))
        elif len(p) == 4 and p[0] == MODELS_DIR and p[3] == MANIFEST_FILE:
            diffs.append((p[1], p[2], fields[2], fields[3]))
    return diffs


def _attribute(prov: Provenance, changes: list[tuple[str, list[_Diff]]],
               histories: Mapping[str, dict[int, Any]]) -> None:
    """Each entry to the commit that added it; changed or removed entries to `rewritten`."""
    for sha, diffs in reversed(changes):  # oldest first: the first commit to hold an entry wins
        mine = prov.introduced.setdefault(sha, set())
        for model, version, old, new in diffs:
            before = histories.get(old, {})
            after = histories.get(new, {})
            for seq, entry in after.items():
                if seq not in before:
                    mine.add((model, seq))
                    prov.recorded.setdefault((model, seq), sha)
                elif before[seq] != entry:
                    prov.rewritten.append((model, version, seq, sha))
            for seq in before:
                if seq not in after:
                    prov.rewritten.append((model, version, seq, sha))


def _claims(models: str, seqs: str) -> tuple[tuple[str, int], ...]:
    names = [m.strip() for m in models.split(",") if m.strip()]
    if len(names) != 1:
        return ()
    return tuple((names[0], int(s)) for s in seqs.replace("\n", ",").split(",")
                 if s.strip().isdigit())


def _histories(git: Git, shas: Sequence[str]) -> dict[str, dict[int, Any]]:
    """blob -> {seq: entry} of the manifest it holds (empty when it is not a manifest)."""
    out: dict[str, dict[int, Any]] = {}
    if not shas:
        return out
    sizes = git.blob_sizes(list(shas))  # never read a blob too big to be a manifest
    small = [sha for sha in shas if 0 <= sizes.get(sha, -1) <= _MAX_BLOB]
    for sha, data in git.cat_blobs(small).items():
        try:
            doc = yamlio.loads(data, sha)
        except UserError:
            continue
        hist = doc.get("history") if isinstance(doc, dict) else None
        entries: dict[int, Any] = {}
        for h in hist if isinstance(hist, list) else []:
            if isinstance(h, dict) and isinstance(h.get("seq"), int) and not isinstance(h["seq"], bool):
                entries.setdefault(h["seq"], h)
        out[sha] = entries
    return out


# -- judging ------------------------------------------------------------------------------

def people(value: Any) -> list[str]:
    """approved_by as a list (it may be written as one string)."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str) and v]
    return []


def goal(e: ev.Event) -> str | None:
    """What an event asks for or does: its target stage, or `@ALIAS` for an alias's events."""
    alias = e.data.get("alias")
    return f"@{alias}" if isinstance(alias, str) else e.target


def latest_request(events: Sequence[ev.Event], version: str, stage: str) -> int:
    """Seq of the latest request to move `version` to `stage` (0: none): approvals start there.

    `stage` may be `@ALIAS`: a request for an alias (its approvals are bound the same way)."""
    return max((e.seq for e in events if e.version == version and goal(e) == stage
                and e.action == ev.REQUEST), default=0)


def backed_approvers(events: Sequence[ev.Event], prov: Provenance, model: str, version: str,
                     stage: str, before_seq: int | None = None,
                     signed: bool = False) -> set[str]:
    """Who approved moving `version` to `stage` since its latest request, backed by commits.

    An approval counts when gitreg's `approve` event for it was recorded in a commit
    authored by the approver (and, with `signed`, signed by a key mapped to them).
    """
    relevant = [e for e in events if e.version == version and goal(e) == stage
                and (before_seq is None or e.seq < before_seq)]
    start = latest_request(relevant, version, stage)
    who: set[str] = set()
    for e in relevant:
        if e.action != ev.APPROVE or e.seq < start:
            continue
        by = e.data.get("by")
        info = prov.commit_of(model, e.seq)
        if not isinstance(by, str) or info is None or info.author_email != by:
            continue
        if signed and not info.signed_by(by):
            continue
        who.add(by)
    return who


def problems(model: str, manifests: Mapping[str, Mapping[str, Any]], prov: Provenance,
             signed_stages: Iterable[str] = (), committed: Mapping[str, set[int]] | None = None,
             ) -> list[tuple[str, str]]:
    """(version, message) for every entry or approval of one model that nothing backs.

    committed: version -> seqs present in the committed manifest; entries outside it are
    uncommitted edits (None: everything given is committed).
    """
    out: list[tuple[str, str]] = []
    signed = set(signed_stages)
    events = ev.model_events(_well_formed(manifests))
    for e in events:
        by = e.data.get("by")
        if committed is not None and e.seq not in committed.get(e.version, set()):
            out.append((e.version, f"history seq {e.seq} ({e.action}) is not committed: only gitreg "
                                   "records history, in its own commits"))
            continue
        info = prov.commit_of(model, e.seq)
        if info is None:
            out.append((e.version, f"history seq {e.seq} ({e.action}) was added by no commit's "
                                   "change to this manifest (a merge or rewrite made it)"))
            continue
        # an adopted entry's actor is the gto tag's tagger (doctor checks the tag says so)
        if info.author_email != by and not e.data.get("adopted_from"):
            out.append((e.version, f"history seq {e.seq} ({e.action} by {by}) was recorded by commit "
                                   f"{info.sha[:12]} authored by {info.author_email}: an entry is "
                                   "recorded by its actor's own commit"))
        if e.action in ev.MOVES or e.action in (ev.APPROVE, ev.ALIAS):
            for approver in people(e.data.get("approved_by")):
                target = goal(e) or NONE_STAGE
                if approver not in backed_approvers(events, prov, model, e.version, target,
                                                    e.seq + 1, target in signed):
                    out.append((e.version, _unbacked(e, approver, target in signed)))
    for version, m in sorted(manifests.items()):
        out += [(version, msg) for msg in _approval_problems(model, version, m, events, prov, signed)]
    for (m_name, version, seq, sha) in prov.rewritten:
        if m_name == model:
            out.append((version, f"history seq {seq} was changed or removed by commit {sha[:12]}: "
                                 "history is append-only"))
    for sha, info in prov.commits.items():
        made = prov.introduced.get(sha, set())
        for claim in info.claims:
            if claim[0] == model and claim not in made:
                out.append(("", f"commit {sha[:12]} claims Gitreg-Seq {claim[1]} of {model} in its "
                                "message but did not record that entry"))
    return out


def _unbacked(e: ev.Event, approver: str, signed: bool) -> str:
    need = "a signed `gitreg approve` commit" if signed else "a `gitreg approve` commit authored"
    return (f"seq {e.seq} ({e.action} to {e.target}) names {approver} as approver, but no approval "
            f"by {approver} backs it ({need} by {approver}): approvals written into files never count")


def _approval_problems(model: str, version: str, m: Mapping[str, Any], events: Sequence[ev.Event],
                       prov: Provenance, signed: set[str]) -> list[str]:
    approval = m.get("approval")
    if not isinstance(approval, dict):
        return []
    stage = approval.get("stage")
    if isinstance(approval.get("alias"), str):
        stage = f"@{approval['alias']}"  # a request for an alias: approvals bound the same way
    if not isinstance(stage, str):
        return []
    out = []
    if approval.get("via_pull_request"):
        if approval.get("status") == "approved" or approval.get("approver") or approval.get("approvers"):
            out.append(f"approval to {stage} is marked approved in the file, but a pull request's "
                       "approval is its reviews and merge, recorded by `gitreg ci publish` in the tag")
        return out
    backed = backed_approvers(events, prov, model, version, stage, signed=stage in signed)
    if approval.get("status") == "approved":
        # a direct promotion into a stage without an approvals policy settles the request as
        # the promoter's own approval: their promote commit backs it
        start = latest_request(events, version, stage)
        for e in events:
            info = prov.commit_of(model, e.seq)
            if (e.version == version and e.target == stage and e.action in ev.MOVES
                    and e.seq > start and info is not None and info.author_email == e.data.get("by")):
                backed.add(str(e.data.get("by")))
    claimed = set(people(approval.get("approvers")))
    if approval.get("status") == "approved" and isinstance(approval.get("approver"), str):
        claimed.add(approval["approver"])
    for who in sorted(claimed - backed):
        out.append(f"approval to {stage} lists {who}, but no `gitreg approve` commit by {who} backs "
                   "it: approvals written into files never count")
    return out


def _well_formed(manifests: Mapping[str, Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for m in manifests.values():
        hist = m.get("history")
        if not isinstance(hist, list) or "version" not in m:
            continue
        clean = [h for h in hist if isinstance(h, dict) and isinstance(h.get("seq"), int)
                 and "action" in h]
        out.append({**m, "history": clean})
    return out
