"""`ci check`: judge a pull request's registry changes like a required check (issue 4).

It judges the changes against the base branch's gitreg.yaml, so a pull request cannot loosen
the policy it is judged by, and reads the CI environment from the Context's env, never from
os.environ. The approvals gate counts the pull request's reviews (gitreg.github), never names
written into files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gitreg import yamlio
from gitreg.core import events as ev
from gitreg.core.names import NONE_STAGE
from gitreg.core.stages import Lifecycle, lifecycle_from_config
from gitreg.errors import GitregError, UserError
from gitreg.ops.ci_report import (CheckReport, StageChange, append_step_summary, check_summary,
                                  comparison_columns, gate_results, metrics_table)
from gitreg.ops.context import Context


def ci_check(ctx: Context, base: str, *, summary_file: str | Path | None = None) -> CheckReport:
    """Judge the registry changes between `base` and the work tree like a PR check.

    Returns the report (never raises for violations: report.ok says); writes the
    Markdown summary to summary_file and appends it to $GITHUB_STEP_SUMMARY when set.
    """
    from gitreg.ops import validate
    from gitreg.store import CONFIG_FILE, MANIFEST_FILE, MODEL_FILE, MODELS_DIR

    base_rev = ctx.git.rev(base)
    if base_rev is None:
        raise UserError(f"unknown git reference {base!r}",
                        "fetch it first, e.g. `git fetch origin main`, and pass --base origin/main")
    proc = ctx.git.run(["merge-base", base_rev, "HEAD"], check=False)
    fork = proc.stdout.strip()
    if proc.returncode != 0 or not fork:
        raise UserError(f"HEAD shares no history with {base}", "check out the pull request branch")
    report = CheckReport(base, base_rev)
    diff = ctx.git.run(["diff", "--name-only", "-z", "--no-renames", fork, "--",
                         MODELS_DIR, CONFIG_FILE])
    report.changed = sorted(p for p in diff.stdout.split("\x00") if p)
    lifecycle = _base_lifecycle(ctx, base_rev, report)
    if CONFIG_FILE in report.changed:
        report.notes.append(f"{CONFIG_FILE} changes in this pull request; its stage changes are "
                            f"judged by the policy in {base}")
    files = [p for p in report.changed if p.endswith((f"/{MANIFEST_FILE}", f"/{MODEL_FILE}"))]
    present = [p for p in files if (ctx.root / p).is_file()]
    if present:
        validation = validate.validate(ctx, [str(ctx.root / p) for p in present], base=base)
        report.violations += validation.problems
    else:
        for p in files:
            report.violations.append(f"{p}:1:1: deleted since {base}: registered versions are never deleted")
    models = sorted({p.split("/")[1] for p in files if p.count("/") >= 2})
    _check_summaries(ctx, fork, report)
    ctx.cache.pop("reviews", None)  # read from GitHub once per check, when a gated stage change needs them
    for name in models:
        _check_model(ctx, name, base_rev, base, lifecycle, report)
    report.summary = check_summary(report)
    if summary_file is not None:
        Path(summary_file).write_text(report.summary, encoding="utf-8")
        report.summary_files.append(str(summary_file))
    step = append_step_summary(ctx.env, report.summary)
    if step:
        report.summary_files.append(step)
    return report


def _check_summaries(ctx: Context, fork: str, report: CheckReport) -> None:
    """A summary the pull request changes must say what its model's manifests say, where
    its key matches (a cold `gitreg list` shows it instead of reading them)."""
    from gitreg.store import summary

    diff = ctx.git.run(["diff", "--name-only", "-z", "--no-renames", fork, "--", summary.SUMMARY_DIR])
    names = sorted(p.rsplit("/", 1)[-1].removesuffix(".json") for p in diff.stdout.split("\x00") if p)
    if names:
        report.violations += [f"{p}; {summary.FIX_HINT}"
                              for p in summary.check(ctx.store, "HEAD", names)[0]]


def _base_lifecycle(ctx: Context, base_rev: str, report: CheckReport) -> Lifecycle:
    from gitreg import schema
    from gitreg.store import CONFIG_FILE

    raw = ctx.git.show_file(base_rev, CONFIG_FILE)
    if raw is None:
        return ctx.store.lifecycle()
    data = yamlio.loads(raw, f"{report.base}:{CONFIG_FILE}")
    problems = schema.errors(schema.CONFIG, data)
    if problems:
        raise UserError(f"{report.base}:{CONFIG_FILE}: {problems[0][1]}",
                        "fix gitreg.yaml on the base branch first")
    return lifecycle_from_config(data)


def _work_tree_manifests(ctx: Context, name: str) -> dict[str, dict]:
    from gitreg.store import MANIFEST_FILE, MODELS_DIR

    out: dict[str, dict] = {}
    for path in sorted((ctx.root / MODELS_DIR / name).glob(f"*/{MANIFEST_FILE}")):
        try:
            data = yamlio.load_file(path, str(path.relative_to(ctx.root)))
        except UserError:
            continue  # validate reports it
        if isinstance(data, dict) and isinstance(data.get("history"), list):
            out[path.parent.name] = data
    return out


def _check_model(ctx: Context, name: str, base_rev: str, base: str, lifecycle: Lifecycle,
                 report: CheckReport) -> None:
    old, old_model = ctx.store.model_manifests(name, rev=base_rev)
    new = _work_tree_manifests(ctx, name)
    base_max = ev.max_seq(old.values(), old_model)  # one seq counter, model.yaml's too
    holders = ev.stage_holders(old.values())
    events = _new_events(old, new)
    _file_approvals(name, events, old, new, report)
    for e in events + _new_model_events(ctx, name, old_model):
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
            report.changes.append(_judge_move(ctx, name, e, src, dst, old, new, holders,
                                              lifecycle, report))
    _check_recorded_stages(name, old, new, state, moves, lifecycle, report)
    _check_aliases(ctx, name, events, old, new, lifecycle, report)


def _new_model_events(ctx: Context, name: str, old_model: Mapping[str, Any] | None) -> list[ev.Event]:
    """The entries the pull request appends to models/NAME/model.yaml's history."""
    from gitreg.store import model_file_path

    path = ctx.root / model_file_path(name)
    try:
        data = yamlio.load_file(path, model_file_path(name)) if path.is_file() else None
    except UserError:
        return []  # validate reports it
    old_seqs = {e.seq for e in ev.model_events([], old_model)}
    return [e for e in ev.model_events([], data if isinstance(data, dict) else None)
            if e.seq not in old_seqs]


def _new_events(old: Mapping[str, dict], new: Mapping[str, dict]) -> list[ev.Event]:
    """The history entries the pull request adds, in seq order."""
    events: list[ev.Event] = []
    for version, m in new.items():
        old_seqs = {h.get("seq") for h in (old.get(version, {}).get("history") or []) if isinstance(h, dict)}
        for h in m["history"]:
            if isinstance(h, dict) and isinstance(h.get("seq"), int) and h["seq"] not in old_seqs:
                events.append(ev.Event(h["seq"], version, str(h.get("action")), h))
    events.sort(key=lambda e: e.seq)
    return events


def _check_recorded_stages(name: str, old: Mapping[str, dict], new: Mapping[str, dict],
                           state: Mapping[str, str], moves: Sequence[ev.Event], lifecycle: Lifecycle,
                           report: CheckReport) -> None:
    """Each `stage:` is where its history leaves it, and exclusive stages have one holder."""
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


def _check_aliases(ctx: Context, name: str, events: Sequence[ev.Event], old: Mapping[str, dict],
                   new: Mapping[str, dict], lifecycle: Lifecycle, report: CheckReport) -> None:
    """The alias entries a pull request adds meet the base's gitreg.yaml as `gitreg alias` does
    (allowed names, the alias's gates on the base's metrics, its approvals as the pull
    request's reviews, never a deprecated version), and each `aliases:` is what history replays."""
    from gitreg.core.aliases import alias_holders
    from gitreg.core.policy import alias_violations

    for e in events:
        if e.action not in (ev.ALIAS, ev.UNALIAS):
            continue
        try:
            alias = lifecycle.alias(e.data.get("alias"))
        except GitregError as exc:
            report.violations.append(f"{name} {e.version}: history seq {e.seq}: {exc.message}")
            continue
        if e.action != ev.ALIAS:
            continue
        if (new.get(e.version) or {}).get("deprecated"):
            report.violations.append(f"{name} {e.version} @{alias}: the version is deprecated")
        metrics = dict((old.get(e.version) or new.get(e.version) or {}).get("metrics") or {})
        for problem in alias_violations(lifecycle, alias, metrics, [], None, check_approvals=False):
            report.violations.append(f"{name} {e.version} @{alias}: {problem}")
        need = lifecycle.alias_policy(alias).approvals
        if need:
            _review_gate(ctx, name, e.version, f"@{alias}", need, report)
    replayed = alias_holders(ev.model_events(new.values()))
    for version, m in new.items():
        recorded = sorted(str(a) for a in m.get("aliases") or [])
        expected = sorted(a for a, v in replayed.items() if v == version)
        if recorded != expected:
            report.violations.append(
                f"{name} {version}: aliases are [{', '.join(recorded)}] but its history gives "
                f"[{', '.join(expected)}] (set aliases with `gitreg alias`, never by editing aliases:)")


def _judge_move(ctx: Context, name: str, e: ev.Event, src: str, dst: str, old: Mapping[str, dict],
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
            change.gates.append(_review_gate(ctx, name, e.version, dst, pol.approvals, report))
    return change


def _review_gate(ctx: Context, name: str, version: str, dst: str, need: int,
                 report: CheckReport) -> dict[str, Any]:
    """The approvals gate on a pull request: its reviews, never names written into files."""
    from gitreg import github

    if "reviews" not in ctx.cache:
        ctx.cache["reviews"] = github.read_reviews(ctx.env or {})
    reviews = ctx.cache["reviews"]
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
