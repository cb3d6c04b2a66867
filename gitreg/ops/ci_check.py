"""Pull requests as approvals: ci check, ci publish, codeowners (Registry verbs, issue 4).

`ci check` judges a pull request's registry changes against the base branch (the base's
gitreg.yaml, so a PR cannot loosen the policy it is judged by). `ci publish` runs on the
registry branch after a merge and creates the GTO tags the merged stage changes have no
tag for yet, recording the merger as the approver. Both read the CI environment from the
env the Registry was given, never from os.environ.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitreg import yamlio
from gitreg.core import events as ev
from gitreg.core import policy
from gitreg.core.names import NONE_STAGE
from gitreg.core.stages import Lifecycle, lifecycle_from_config
from gitreg.core.tags import ASSIGN, parse_tag
from gitreg.core.timefmt import rfc3339_utc
from gitreg.errors import ConflictError, UserError

if TYPE_CHECKING:
    from gitreg.api import Registry

CODEOWNERS_FILE = ".github/CODEOWNERS"
_BEGIN = "# BEGIN gitreg (written by `gitreg codeowners`; edit owners in models/<name>/model.yaml)"
_END = "# END gitreg"


# -- reports ---------------------------------------------------------------------------
@dataclass
class StageChange:
    """One stage change found in a pull request, with what the summary shows about it."""

    model: str
    version: str
    action: str
    source: str
    target: str
    by: str | None
    via_pull_request: bool
    metrics: dict[str, Any]
    holder: str | None  # the version holding the target stage on the base branch
    holder_metrics: dict[str, Any]
    gates: list[dict[str, Any]] = field(default_factory=list)  # {gate, ok, detail}
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "action": self.action,
                "from": self.source, "to": self.target, "by": self.by,
                "via_pull_request": self.via_pull_request, "metrics": self.metrics,
                "holder": self.holder, "holder_metrics": self.holder_metrics,
                "gates": self.gates, "notes": self.notes}


@dataclass
class CheckReport:
    base: str
    base_commit: str
    changed: list[str] = field(default_factory=list)
    changes: list[StageChange] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: str = ""
    summary_files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "base": self.base, "base_commit": self.base_commit,
                "changed": self.changed, "changes": [c.to_dict() for c in self.changes],
                "violations": self.violations, "notes": self.notes}


@dataclass
class PublishReport:
    approver: str
    created: list[str] = field(default_factory=list)
    pushed: list[str] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.created or self.pushed)

    def to_dict(self) -> dict[str, Any]:
        return {"approver": self.approver, "created": self.created, "pushed": self.pushed,
                "releases": self.releases, "warnings": self.warnings}


# -- markdown helpers (shared with the pull-request body in gitreg.pr) ------------------------
def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def metrics_table(version: str, metrics: Mapping[str, Any], columns: Sequence[tuple[str, Mapping[str, Any]]],
                  label: str = "candidate") -> str:
    """A Markdown table: one row per metric, the candidate beside each other column."""
    names = list(dict.fromkeys([*metrics, *(k for _, m in columns for k in m)]))
    if not names:
        return "_no metrics recorded_\n"
    head = f"| metric | {version} ({label}) |" + "".join(f" {title} |" for title, _ in columns)
    sep = "|---|---:|" + "---:|" * len(columns)
    rows = [f"| {n} | {_fmt(metrics.get(n))} |" + "".join(f" {_fmt(m.get(n))} |" for _, m in columns)
            for n in names]
    return "\n".join([head, sep, *rows]) + "\n"


def gate_results(lifecycle: Lifecycle, source: str, target: str, metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each gate of the target stage's policy with whether the version passes it."""
    out: list[dict[str, Any]] = []
    allowed = lifecycle.allowed(source, target)
    out.append({"gate": f"transition {source} -> {target}", "ok": allowed,
                "detail": "allowed by gitreg.yaml" if allowed else
                f"gitreg.yaml allows from {source}: {', '.join(lifecycle.allowed_from(source)) or 'nothing'}"})
    if target == NONE_STAGE:
        return out
    pol = lifecycle.policy(target)
    if pol.from_stages is not None:
        ok = source in pol.from_stages
        out.append({"gate": f"from {', '.join(pol.from_stages)}", "ok": ok,
                    "detail": f"comes from {source}"})
    for metric, text in pol.metrics:
        cond = policy.parse_condition(metric, text)
        problem = policy.evaluate(cond, metrics)
        out.append({"gate": str(cond), "ok": problem is None,
                    "detail": problem or f"{metric} = {_fmt(metrics.get(metric))}"})
    return out


def gates_markdown(gates: Sequence[Mapping[str, Any]]) -> str:
    return "".join(f"- {'✅' if g['ok'] else '❌'} {g['gate']} ({g['detail']})\n" for g in gates)


def comparison_columns(holders: Mapping[str, list[str]], manifests: Mapping[str, Mapping[str, Any]],
                       version: str, target: str, rollback_stage: str) -> tuple[str | None, list[tuple[str, Mapping[str, Any]]]]:
    """The current holder of the target stage (and of production) as table columns."""
    columns: list[tuple[str, Mapping[str, Any]]] = []
    holder = next((v for v in holders.get(target, []) if v != version), None)
    if holder:
        columns.append((f"{holder} (current {target})", manifests[holder].get("metrics") or {}))
    prod = next((v for v in holders.get(rollback_stage, []) if v != version), None)
    if target != rollback_stage and prod and prod != holder:
        columns.append((f"{prod} (current {rollback_stage})", manifests[prod].get("metrics") or {}))
    return holder, columns


# -- the GitHub boundary -----------------------------------------------------------------------
def gh_path(env: Mapping[str, str] | None) -> str | None:
    return shutil.which("gh", path=(env or {}).get("PATH"))


def gh_ready(root: Path, env: Mapping[str, str] | None) -> str | None:
    """The gh executable when it is installed and authenticated, else None."""
    exe = gh_path(env)
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, "auth", "status"], cwd=root, env=dict(env or {}),
                              capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return exe if proc.returncode == 0 else None


def run_gh(exe: str, args: Sequence[str], root: Path, env: Mapping[str, str] | None,
           input: str | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([exe, *args], cwd=root, env=dict(env or {}), input=input,
                              capture_output=True, text=True, check=False, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess([exe, *args], 1, "", str(exc))


def github_repo_url(url: str | None) -> str | None:
    """https://github.com/OWNER/REPO for a github.com remote URL, else None."""
    if not url:
        return None
    m = re.fullmatch(r"(?:https?://(?:[^@/]+@)?|ssh://git@|git@)github\.com[:/]([^/]+)/([^/]+?)(?:\.git)?/?",
                     url.strip())
    return f"https://github.com/{m[1]}/{m[2]}" if m else None


def append_step_summary(env: Mapping[str, str] | None, text: str) -> str | None:
    path = (env or {}).get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")
    return path


# -- the verbs -------------------------------------------------------------------------------
# ci check ----------------------------------------------------------------------------
def ci_check(reg: Registry, base: str, *, summary_file: str | Path | None = None) -> CheckReport:
    """Judge the registry changes between `base` and the work tree like a PR check.

    Returns the report (never raises for violations: report.ok says); writes the
    Markdown summary to summary_file and appends it to $GITHUB_STEP_SUMMARY when set.
    """
    from gitreg.store import CONFIG_FILE, MANIFEST_FILE, MODEL_FILE, MODELS_DIR

    base_rev = reg.git.rev(base)
    if base_rev is None:
        raise UserError(f"unknown git reference {base!r}",
                        "fetch it first, e.g. `git fetch origin main`, and pass --base origin/main")
    proc = reg.git.run(["merge-base", base_rev, "HEAD"], check=False)
    fork = proc.stdout.strip()
    if proc.returncode != 0 or not fork:
        raise UserError(f"HEAD shares no history with {base}", "check out the pull request branch")
    report = CheckReport(base, base_rev)
    diff = reg.git.run(["diff", "--name-only", "-z", "--no-renames", fork, "--",
                         MODELS_DIR, CONFIG_FILE])
    report.changed = sorted(p for p in diff.stdout.split("\x00") if p)
    lifecycle = _base_lifecycle(reg, base_rev, report)
    if CONFIG_FILE in report.changed:
        report.notes.append(f"{CONFIG_FILE} changes in this pull request; its stage changes are "
                            f"judged by the policy in {base}")
    files = [p for p in report.changed if p.endswith((f"/{MANIFEST_FILE}", f"/{MODEL_FILE}"))]
    present = [p for p in files if (reg.root / p).is_file()]
    if present:
        validation = reg.validate([str(reg.root / p) for p in present], base=base)  # type: ignore[attr-defined]
        report.violations += validation.problems
    else:
        for p in files:
            report.violations.append(f"{p}:1:1: deleted since {base}: registered versions are never deleted")
    models = sorted({p.split("/")[1] for p in files if p.count("/") >= 2})
    reg.cache.pop("reviews", None)  # read from GitHub once per check, when a gated stage change needs them
    for name in models:
        _check_model(reg, name, base_rev, base, lifecycle, report)
    report.summary = check_summary(report)
    if summary_file is not None:
        Path(summary_file).write_text(report.summary, encoding="utf-8")
        report.summary_files.append(str(summary_file))
    step = append_step_summary(reg.env, report.summary)
    if step:
        report.summary_files.append(step)
    return report

def _base_lifecycle(reg: Registry, base_rev: str, report: CheckReport) -> Lifecycle:
    from gitreg import schema
    from gitreg.store import CONFIG_FILE

    raw = reg.git.show_file(base_rev, CONFIG_FILE)
    if raw is None:
        return reg.store.lifecycle()
    data = yamlio.loads(raw, f"{report.base}:{CONFIG_FILE}")
    problems = schema.errors(schema.CONFIG, data)
    if problems:
        raise UserError(f"{report.base}:{CONFIG_FILE}: {problems[0][1]}",
                        "fix gitreg.yaml on the base branch first")
    return lifecycle_from_config(data)

def _work_tree_manifests(reg: Registry, name: str) -> dict[str, dict]:
    from gitreg.store import MANIFEST_FILE, MODELS_DIR

    out: dict[str, dict] = {}
    for path in sorted((reg.root / MODELS_DIR / name).glob(f"*/{MANIFEST_FILE}")):
        try:
            data = yamlio.load_file(path, str(path.relative_to(reg.root)))
        except UserError:
            continue  # validate reports it
        if isinstance(data, dict) and isinstance(data.get("history"), list):
            out[path.parent.name] = data
    return out

def _check_model(reg: Registry, name: str, base_rev: str, base: str, lifecycle: Lifecycle,
                 report: CheckReport) -> None:
    old, _ = reg.store.model_manifests(name, rev=base_rev)
    new = _work_tree_manifests(reg, name)
    base_max = ev.max_seq(old.values())
    holders = ev.stage_holders(old.values())
    events: list[ev.Event] = []
    for version, m in new.items():
        old_seqs = {h.get("seq") for h in (old.get(version, {}).get("history") or []) if isinstance(h, dict)}
        for h in m["history"]:
            if isinstance(h, dict) and isinstance(h.get("seq"), int) and h["seq"] not in old_seqs:
                events.append(ev.Event(h["seq"], version, str(h.get("action")), h))
    events.sort(key=lambda e: e.seq)
    _file_approvals(name, events, old, new, report)
    for e in events:
        if e.seq <= base_max:
            report.violations.append(
                f"{name} {e.version}: history seq {e.seq} is not after {base}'s last seq {base_max} "
                f"(another change landed meanwhile: rebase this branch on {base})")
    state = {v: (m.get("stage") or NONE_STAGE) for v, m in old.items()}
    moves = [e for e in events if e.action in ev.MOVES]
    primary = [e for e in moves if not e.data.get("replaced_by")]
    if len(primary) > 1:
        listed = ", ".join(f"{e.version} {e.source or NONE_STAGE} -> {e.target}" for e in primary)
        report.violations.append(f"{name}: {len(primary)} stage changes in one pull request ({listed}); "
                                 "open one pull request per stage change")
    for e in moves:
        src = e.source or NONE_STAGE
        dst = e.target or NONE_STAGE
        was = state.get(e.version, NONE_STAGE)
        if src != was:
            report.violations.append(f"{name} {e.version}: history says it moved from {src}, "
                                     f"but it is in {was} on {base}")
        if not lifecycle.allowed(src, dst):
            report.violations.append(
                f"{name} {e.version}: transition {src} -> {dst} is not allowed by gitreg.yaml "
                f"(from {src}: {', '.join(lifecycle.allowed_from(src)) or 'nothing'})")
        state[e.version] = dst
        if e in primary:
            report.changes.append(_judge_move(reg, name, e, src, dst, old, new, holders,
                                                   lifecycle, report))
    for version, m in new.items():
        recorded = m.get("stage") or NONE_STAGE
        replayed = state.get(version, NONE_STAGE)
        if version not in old and not any(e.version == version for e in moves):
            replayed = NONE_STAGE
        if recorded != replayed:
            report.violations.append(
                f"{name} {version}: stage is {recorded} but its history leaves it in {replayed} "
                "(change stages with gitreg, never by editing stage:)")
    for stage in lifecycle.exclusive:
        held = sorted(v for v, m in new.items() if (m.get("stage") or NONE_STAGE) == stage)
        if len(held) > 1:
            report.violations.append(f"{name}: {stage} is exclusive but {', '.join(held)} all hold it")

def _judge_move(reg: Registry, name: str, e: ev.Event, src: str, dst: str, old: Mapping[str, dict],
                new: Mapping[str, dict], holders: Mapping[str, list[str]], lifecycle: Lifecycle,
                report: CheckReport) -> StageChange:
    m = new[e.version]
    # gates judge the metrics registered on the base, never ones edited in the PR itself
    metrics = dict((old.get(e.version) or m).get("metrics") or {})
    approval = m.get("approval") or {}
    via_pr = bool(approval.get("via_pull_request")) and approval.get("stage") == dst
    holder, columns = comparison_columns(holders, old, e.version, dst, lifecycle.rollback_stage)
    change = StageChange(name, e.version, e.action, src, dst, e.data.get("by"), via_pr, metrics,
                         holder, dict(columns[0][1]) if holder else {})
    change.gates = gate_results(lifecycle, src, dst, metrics)
    change.notes.append(metrics_table(e.version, metrics, columns))
    pol = lifecycle.policy(dst)
    if e.action == ev.ROLLBACK:
        # DESIGN 3: a rollback is bound by transitions only; it met the gates before.
        change.gates = change.gates[:1]
        if not ev.held_stage_before(ev.model_events(old.values()), e.version, dst):
            report.violations.append(f"{name} {e.version}: a rollback may only restore a version "
                                     f"that held {dst} before")
    else:
        for g in change.gates[1:]:
            if not g["ok"]:
                report.violations.append(f"{name} {e.version} -> {dst}: {g['detail']} (gate: {g['gate']})")
        if pol.via_pull_request and not via_pr:
            report.violations.append(
                f"{name} {e.version} -> {dst}: {dst} is changed only through a pull request made "
                f"with `gitreg promote {name} {e.version} {dst} --via-pr` (via_pull_request in gitreg.yaml)")
        if pol.approvals and dst != NONE_STAGE:
            change.gates.append(_review_gate(reg, name, e.version, dst, pol.approvals, report))
    return change

def _review_gate(reg: Registry, name: str, version: str, dst: str, need: int,
                 report: CheckReport) -> dict[str, Any]:
    """The approvals gate on a pull request: its reviews, never names written into files."""
    from gitreg import github

    if "reviews" not in reg.cache:
        reg.cache["reviews"] = github.read_reviews(reg.env or {})
    reviews = reg.cache["reviews"]
    gate = f"{need} approval(s)"
    if reviews.unavailable is not None:
        if reviews.pull is not None:  # a pull request whose reviews could not be read
            report.violations.append(f"{name} {version} -> {dst}: cannot check its {need} approval(s): "
                                     f"{reviews.unavailable}; re-run the check")
            return {"gate": gate, "ok": False, "detail": reviews.unavailable}
        report.notes.append(f"{name} {version} -> {dst}: the pull request's reviews were not read "
                            f"({reviews.unavailable}); the merge is the approval, recorded by "
                            "`gitreg ci publish`")
        return {"gate": gate, "ok": True,
                "detail": f"needs {need} approving review(s) by someone other than the pull "
                          "request's author; enforce it with branch protection and `gitreg codeowners`"}
    author = reviews.pull.author if reviews.pull else "the author"
    ok = len(reviews.approvers) >= need and not reviews.blocking
    detail = (f"approving reviews by {', '.join(reviews.approvers) or 'nobody'}"
              + (f"; changes requested by {', '.join(reviews.blocking)}" if reviews.blocking else ""))
    if not ok:
        report.violations.append(
            f"{name} {version} -> {dst}: needs {need} approving review(s) of this pull request by "
            f"someone other than its author ({author}); it has {len(reviews.approvers)}"
            + (f" and changes requested by {', '.join(reviews.blocking)}" if reviews.blocking else ""))
    return {"gate": gate, "ok": ok, "detail": detail}

# ci publish --------------------------------------------------------------------------
def ci_publish(reg: Registry, *, release: bool = False, actor: str | None = None,
               push: bool | None = None, notes_dir: str | Path | None = None) -> PublishReport:
    """Create (and push) the tags of merged changes that have none yet; idempotent.

    actor: who approved by merging (default $GITHUB_ACTOR from the env given to the
    Registry, else the git identity); recorded in each tag message as the approver.
    push: default True when the clone has an `origin` remote.
    """
    from gitreg import doctor
    from gitreg.store import Change

    env = reg.env or {}
    who = actor or env.get("GITHUB_ACTOR") or reg.actor()  # type: ignore[attr-defined]
    if not who.strip() or len(who) > 320 or "\n" in who:
        raise UserError(f"invalid approver {who!r}", "give --approver NAME (a login or e-mail)")
    report = PublishReport(who)
    has_origin = reg.git.remote_url("origin") is not None
    if push is None:
        push = has_origin
    if push and not has_origin:
        raise UserError("there is no git remote 'origin' to push the tags to",
                        "add one with `git remote add origin URL`, or use --no-push")
    lifecycle = reg.store.lifecycle()
    with reg.store.locked():
        reg.store.require_branch(lifecycle)
        remote_tags: set[str] = set()
        if push:
            reg.git.fetch("origin", tags=True)
            remote_tags = _remote_tags(reg)
        expected = doctor.expected_tags(reg)  # type: ignore[arg-type]
        local = {r.name for r in reg.store.tags()}
        missing = [e for e in expected if e.tag not in local and not e.optional]
        by_model: dict[str, list[Any]] = {}
        for e in missing:
            if not e.target:
                report.warnings.append(f"{e.tag}: the commit that registered {e.model} {e.version} "
                                       "is not in this branch's history; not tagged")
                continue
            by_model.setdefault(e.model, []).append(e)
        try:
            from gitreg import provenance

            # the commit that added each entry, and the commit on the branch's own line
            # that landed it (a pull request's merge: its time is the approval's time)
            recorded = provenance.read(reg.git, sorted(by_model))
            landed = provenance.read(reg.git, sorted(by_model), first_parent=True)
            for model, items in sorted(by_model.items()):
                items.sort(key=lambda x: x.seq)
                when = Change(reg.store, model)._first_tag_time(lambda: reg.clock().timestamp())  # type: ignore[attr-defined]
                events = ev.model_events(reg.store.model_manifests(model)[0].values())
                for i, e in enumerate(items):
                    merge = landed.commit_of(model, e.seq)
                    approved_at = rfc3339_utc(merge.time) if merge else None
                    # approvers written into the file count only when gitreg's approve
                    # commits back them; otherwise the merger approved it
                    backed = provenance.backed_approvers(events, recorded, model, e.version,
                                                         str(e.entry.get("to")), e.seq + 1)
                    approvers = [a for a in provenance.people(e.entry.get("approved_by"))
                                 if a in backed]
                    message = _publish_message(e, who, recorded.recorded.get((model, e.seq)),
                                               approved_at, approvers)
                    by = e.entry.get("by")
                    reg.git.create_tag(e.tag, e.target, message, when + i,
                                        actor=by if isinstance(by, str) and by else None)
                    report.created.append(e.tag)
            if push:
                wanted = [e.tag for e in expected if e.tag not in remote_tags
                          and (e.tag in local or e.tag in report.created)]
                if wanted:
                    _push_tags(reg, wanted)
                    report.pushed = wanted
        except BaseException:
            for tag in report.created:
                reg.git.delete_tag(tag)
            raise
    fresh = report.pushed if push else report.created
    if release:
        _releases(reg, fresh, expected, who, notes_dir, report)
    report.summary = publish_summary(report)
    append_step_summary(reg.env, report.summary)
    return report

def _remote_tags(reg: Registry) -> set[str]:
    proc = reg.git.run(["ls-remote", "--tags", "--refs", "origin"], check=False, network=True)
    if proc.returncode != 0:
        raise ConflictError("could not list the tags on origin: "
                            + (proc.stderr.strip().splitlines() or ["failed"])[-1],
                            "check the remote URL and your access")
    return {line.split("\t", 1)[1][len("refs/tags/"):] for line in proc.stdout.splitlines()
            if "\trefs/tags/" in line}

def _push_tags(reg: Registry, tags: Sequence[str]) -> None:
    proc = reg.git.push("origin", [f"refs/tags/{t}:refs/tags/{t}" for t in tags])
    if proc.returncode == 0:
        return
    if set(tags) <= _remote_tags(reg):
        return  # another publish run pushed the same tags meanwhile
    raise ConflictError("pushing the tags was rejected: "
                        + (proc.stderr.strip().splitlines() or ["remote refused"])[-1],
                        "pull, run `gitreg doctor`, then run `gitreg ci publish` again")

def _releases(reg: Registry, fresh: Sequence[str], expected: Sequence[Any], who: str,
              notes_dir: str | Path | None, report: PublishReport) -> None:
    by_tag = {e.tag: e for e in expected}
    folder = Path(notes_dir) if notes_dir else reg.store.state_dir / "releases"
    folder.mkdir(parents=True, exist_ok=True)
    exe = gh_ready(reg.root, reg.env)
    for tag in fresh:
        parsed = parse_tag(tag)
        if parsed is None or parsed.kind != ASSIGN or tag not in by_tag:
            continue
        e = by_tag[tag]
        if e.entry.get("replaced_by") or e.kind == ev.REASSERT:
            continue  # the old holder archived by this promotion, or one left in place
        manifests, _ = reg.store.model_manifests(e.model)
        m = manifests.get(e.version, {})
        title = f"{e.model} {e.version} → {e.entry.get('to')}"
        notes = release_notes(e, m, who)
        path = folder / (re.sub(r"[^A-Za-z0-9._-]+", "_", tag) + ".md")
        path.write_text(notes, encoding="utf-8")
        args = ["release", "create", tag, "--title", title, "--notes-file", str(path), "--verify-tag"]
        item: dict[str, Any] = {"tag": tag, "title": title, "notes_file": str(path), "created": False,
                                "command": ["gh", *args]}
        if exe:
            proc = run_gh(exe, args, reg.root, reg.env)
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

# codeowners ---------------------------------------------------------------------------
def codeowners(reg: Registry) -> dict[str, Any]:
    """Write .github/CODEOWNERS so each model's directory is owned by its owner."""
    from gitreg.store import MODELS_DIR

    owners: dict[str, str] = {}
    missing: list[str] = []
    for name in sorted(reg.store.model_tree()):
        manifests, model = reg.store.model_manifests(name)
        owner = (model or {}).get("owner")
        if not owner:
            for m in manifests.values():
                owner = (m.get("business") or {}).get("owner") or owner
        if owner and isinstance(owner, str):
            owners[name] = owner
        else:
            missing.append(name)
    lines = [_BEGIN]
    for name, owner in owners.items():
        lines.append(f"/{MODELS_DIR}/{name}/ " + " ".join(_codeowner(o) for o in re.split(r"[\s,]+", owner) if o))
    lines.append(_END)
    block = "\n".join(lines) + "\n"
    path = reg.root / CODEOWNERS_FILE
    old = path.read_text("utf-8") if path.exists() else ""
    if _BEGIN.split(" (")[0] in old:
        start = old.index(_BEGIN.split(" (")[0])
        end = old.find(_END, start)
        end = len(old) if end < 0 else old.index("\n", end) + 1 if "\n" in old[end:] else len(old)
        text = old[:start] + block + old[end:]
    else:
        text = old + ("\n" if old and not old.endswith("\n") else "") + block
    changed = text != old
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        yamlio.write_atomic(path, text)
    return {"path": CODEOWNERS_FILE, "changed": changed, "owners": owners, "missing": missing}


def _codeowner(owner: str) -> str:
    """CODEOWNERS wants @user, @org/team or an e-mail address."""
    if owner.startswith("@") or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", owner):
        return owner
    return "@" + owner


def _file_approvals(name: str, events: Sequence[ev.Event], old: Mapping[str, Mapping[str, Any]],
                    new: Mapping[str, Mapping[str, Any]], report: CheckReport) -> None:
    """On a pull request, approvals written into its files never count: name each one."""
    from gitreg.provenance import people

    why = ("approvals written into files never count on a pull request; its reviews and merge "
           "approve it (`gitreg promote --via-pr` opens one)")
    for e in events:
        if e.action == ev.APPROVE:
            report.violations.append(f"{name} {e.version}: history seq {e.seq} records an approval by "
                                     f"{e.data.get('by')}: {why}")
        elif people(e.data.get("approved_by")):
            report.violations.append(f"{name} {e.version}: history seq {e.seq} names "
                                     f"{', '.join(people(e.data.get('approved_by')))} as approver: {why}")
    for version, m in new.items():
        before = (old.get(version) or {}).get("approval") or {}
        after = m.get("approval") or {}
        if not isinstance(after, dict) or not isinstance(before, dict):
            continue
        added = set(people(after.get("approvers"))) - set(people(before.get("approvers")))
        if after.get("approver") and after.get("approver") != before.get("approver"):
            added.add(str(after["approver"]))
        if added:
            report.violations.append(f"{name} {version}: its approval lists {', '.join(sorted(added))}: {why}")


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


def check_summary(report: CheckReport) -> str:
    head = ("## gitreg ci check: ✅ passed" if report.ok
            else f"## gitreg ci check: ❌ {len(report.violations)} violation(s)")
    where = f"Base: `{report.base}` ({report.base_commit[:10]}); {len(report.changed)} registry file(s) changed."
    out = [head, "", where, ""]
    if not report.changes:
        out += ["No stage changes in this pull request.", ""]
    for c in report.changes:
        via = " via pull request" if c.via_pull_request else ""
        out += [f"### {c.model} {c.version}: {c.source} → {c.target}", "",
                f"{c.action} by {c.by or 'unknown'}{via}", ""]
        out += [n.rstrip("\n") for n in c.notes]
        out += ["", "Gates:", "", gates_markdown(c.gates).rstrip("\n"), ""]
    if report.violations:
        out += ["### Violations", ""] + [f"- {v}" for v in report.violations] + [""]
    if report.notes:
        out += ["### Notes", ""] + [f"- {n}" for n in report.notes] + [""]
    return "\n".join(out)


def publish_summary(report: PublishReport) -> str:
    out = ["## gitreg ci publish", ""]
    if not report.changed:
        out.append("Nothing to publish: every stage change already has its tags.")
    for t in report.created:
        out.append(f"- created `{t}`")
    for t in report.pushed:
        out.append(f"- pushed `{t}`")
    for r in report.releases:
        out.append(f"- release {r['title']}: {'created' if r['created'] else 'notes in ' + r['notes_file']}")
    out.append(f"\nApprover: {report.approver}")
    return "\n".join(out) + "\n"
