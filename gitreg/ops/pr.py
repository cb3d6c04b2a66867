"""`promote/request --via-pr`: the stage change as one commit on a branch, pushed, and a PR.

The commit is made in a temporary git worktree on a new branch `gitreg/<name>-<version>-<stage>`
started from the registry branch, so the user's checkout (its branch, index and files) is never
touched and their registry branch does not diverge. The commit carries the same manifest edits
a promotion makes (history steps, stage, old holder archived) with the approval pending and
marked `via_pull_request`, but no tags: `gitreg ci publish` tags the change after the merge.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitreg.core import events as ev
from gitreg.core import policy
from gitreg.core.names import NONE_STAGE, check_name
from gitreg.core.version import parse_version
from gitreg.errors import ConflictError, PolicyError, UserError
from gitreg.ops import ci_report
from gitreg.ops.context import Context
from gitreg.ops.results import Result
from gitreg.ops.stages import commit_moves, find_version, promotion_steps

REMOTE = "origin"


def branch_name(name: str, version: str, stage: str) -> str:
    return f"gitreg/{name}-{version}-{stage}"


def open_promotion(ctx: Context, name: str, version: str, stage: str, *, reason: str | None = None,
                   sign: bool = False, results: Mapping[str, Any] | None = None) -> Result:
    """Commit the stage change on its own branch, push it and open (or describe) the PR."""
    from gitreg.core.timefmt import rfc3339

    check_name(name)
    ver = str(parse_version(version))
    lifecycle = ctx.lifecycle()
    target = lifecycle.stage(stage, allow_none=True)
    actor = ctx.actor()
    branch = branch_name(name, ver, target)
    registry_branch = lifecycle.branch
    has_origin = ctx.git.remote_url(REMOTE) is not None
    with ctx.store.locked():
        if ctx.git.rev(f"refs/heads/{branch}"):
            raise ConflictError(f"branch {branch} already exists in this clone",
                                f"a pull request for this change may be open; delete the branch "
                                f"(`git branch -D {branch}`) to start again")
        base = _base_commit(ctx, registry_branch, has_origin)
        tmp = Path(tempfile.mkdtemp(prefix="gitreg-pr-"))
        created_branch = False
        try:
            ctx.git.run(["-c", "core.hooksPath=/dev/null", "worktree", "add", "-q", "-b", branch,
                         str(tmp), base])
            created_branch = True
            work = Context.open(tmp, env=ctx.env, clock=ctx.clock, actor=actor)
            result, body = _commit_on_branch(work, name, ver, target, actor, reason, sign, results,
                                             rfc3339(ctx.clock()))
            result.details.update(branch=branch, base=registry_branch, base_commit=base)
            pushed = False
            if has_origin:
                proc = ctx.git.push(REMOTE, [f"refs/heads/{branch}:refs/heads/{branch}"], atomic=False)
                if proc.returncode != 0:
                    raise ConflictError(
                        f"could not push {branch} to {REMOTE}: "
                        + (proc.stderr.strip().splitlines() or ["remote refused"])[-1],
                        "a branch of that name may already exist there (an open pull request?); "
                        "check with `git ls-remote origin`")
                pushed = True
        except BaseException:
            _remove_worktree(ctx, tmp)
            if created_branch:
                ctx.git.run(["branch", "-D", branch], check=False)
            raise
        _remove_worktree(ctx, tmp)
        if pushed:
            # the remote branch is the pull request; keep no local copy to go stale
            ctx.git.run(["branch", "-D", branch], check=False)
    result.pushed = pushed
    _open_pull_request(ctx, result, branch, registry_branch, body, has_origin)
    return result


def _base_commit(ctx: Context, branch: str, has_origin: bool) -> str:
    """The newer of the local registry branch and origin's; refuse when they diverged."""
    local = ctx.git.rev(f"refs/heads/{branch}")
    remote = None
    if has_origin:
        ctx.git.fetch(REMOTE, [f"+refs/heads/{branch}:refs/remotes/{REMOTE}/{branch}"], tags=False)
        remote = ctx.git.rev(f"refs/remotes/{REMOTE}/{branch}")
    if local is None and remote is None:
        raise UserError(f"there is no registry branch {branch} here or on {REMOTE}",
                        f"check `branch:` in gitreg.yaml, or `git fetch {REMOTE}`")
    if local is None or remote is None or local == remote:
        return local or remote  # type: ignore[return-value]
    if _is_ancestor(ctx, local, remote):
        return remote
    if _is_ancestor(ctx, remote, local):
        return local  # unpushed commits (say a registration) travel with the pull request
    raise ConflictError(f"your {branch} and {REMOTE}/{branch} have diverged",
                        f"run `git pull --rebase {REMOTE} {branch}` first")


def _is_ancestor(ctx: Context, a: str, b: str) -> bool:
    return ctx.git.run(["merge-base", "--is-ancestor", a, b], check=False).returncode == 0


def _remove_worktree(ctx: Context, tmp: Path) -> None:
    ctx.git.run(["worktree", "remove", "--force", str(tmp)], check=False)
    shutil.rmtree(tmp, ignore_errors=True)
    ctx.git.run(["worktree", "prune"], check=False)


def _commit_on_branch(work: Context, name: str, ver: str, target: str, actor: str,
                      reason: str | None, sign: bool, results: Mapping[str, Any] | None,
                      now: str) -> tuple[Result, str]:
    from gitreg.core.policy import require_signature

    lifecycle = work.lifecycle()
    target = lifecycle.stage(target, allow_none=True)
    ver, manifests = find_version(work, name, ver)
    current = manifests[ver].get("stage") or NONE_STAGE
    if current == target:
        raise UserError(f"{name} {ver} is already in {target}", "nothing to do")
    require_signature(lifecycle, target, sign)
    # Approvals are the pull request's reviews, so only the other gates are checked here.
    violations = policy.promotion_violations(
        lifecycle, current, target, manifests[ver].get("metrics") or {}, [], actor,
        check_gates=target != NONE_STAGE, check_approvals=False)
    if violations:
        raise PolicyError(f"cannot propose {name} {ver} -> {target}: " + "; ".join(violations),
                          "fix what is listed, or change the policy in gitreg.yaml", violations)
    steps = promotion_steps(lifecycle, manifests, ver, target, False, reason, None)
    if results:
        steps[-1]["results"] = dict(results)
    approval: dict[str, Any] = {"status": "pending", "stage": target, "requested_by": actor,
                                "requested_at": now, "via_pull_request": True}
    if reason:
        approval["reason"] = reason
    if results:
        approval["results"] = dict(results)
    holders = ev.stage_holders(manifests.values())
    result = commit_moves(
        work, name, manifests, steps, action="promote", version=ver, source=current, target=target,
        reason=reason, actor=actor, sign=sign, approvals={ver: approval},
        extra_trailers={"Gitreg-Via": "pull-request"},
        branch_commit=lambda change: change.tags.clear())  # tags come from `ci publish`
    archived = [s["version"] for s in steps if s["action"] == ev.ARCHIVE]
    result.message = (f"proposed {name} {ver}: {current} -> {target} on branch "
                      f"{branch_name(name, ver, target)}")
    result.details = {"from": current, "to": target, "archived": archived, "via_pr": True}
    body = pr_body(work, name, ver, current, target, manifests, holders, reason, results, actor)
    return result, body


def pr_body(ctx: Context, name: str, ver: str, current: str, target: str,
            manifests: Mapping[str, dict], holders: Mapping[str, list[str]], reason: str | None,
            results: Mapping[str, Any] | None, actor: str) -> str:
    lifecycle = ctx.lifecycle()
    metrics = manifests[ver].get("metrics") or {}
    holder, columns = ci_report.comparison_columns(holders, manifests, ver, target, lifecycle.rollback_stage)
    lines = [f"Promote **{name} {ver}**: `{current}` → `{target}`", "",
             f"- requested by: {actor}"]
    if reason:
        lines.append(f"- reason: {' '.join(reason.split())}")
    if holder and lifecycle.is_exclusive(target):
        lines.append(f"- {holder} leaves {target} (archived) when this merges")
    if results:
        lines.append("- validation results: " + ", ".join(f"{k}={v}" for k, v in results.items()))
    lines += ["", "### Metrics", "", ci_report.metrics_table(ver, metrics, columns).rstrip("\n"), "",
              "### Gates", "", ci_report.gates_markdown(ci_report.gate_results(lifecycle, current, target, metrics)).rstrip("\n")]
    pol = lifecycle.policy(target)
    if pol.approvals and target != NONE_STAGE:
        lines.append(f"- ⏳ {pol.approvals} approving review(s) of this pull request "
                     "(the merge is the approval)")
    lines += ["", ("Merging this pull request lands the change on the registry branch; "
                   "`gitreg ci publish` then writes the GTO tags with the merger as approver.")]
    return "\n".join(lines) + "\n"


def _open_pull_request(ctx: Context, result: Result, branch: str, base: str, body: str,
                       has_origin: bool) -> None:
    title = result.message.split(" on branch ")[0].replace("proposed", "gitreg: promote", 1)
    result.details["title"] = title
    result.details["body"] = body
    compare = ci_report.github_repo_url(ctx.git.remote_url(REMOTE))
    compare_url = f"{compare}/compare/{base}...{branch}?expand=1" if compare else None
    result.details["compare_url"] = compare_url
    result.details["pr_url"] = None
    gh_args = ["pr", "create", "--base", base, "--head", branch, "--title", title, "--body-file", "-"]
    commands: list[list[str]] = []
    if not has_origin:
        commands.append(["git", "remote", "add", "origin", "URL"])
        commands.append(["git", "push", "origin", f"{branch}:{branch}"])
        result.warnings.append(f"no git remote {REMOTE}: the change is on the local branch {branch}")
    exe = ci_report.gh_ready(ctx.root, ctx.env) if has_origin else None
    if exe:
        proc = ci_report.run_gh(exe, gh_args, ctx.root, ctx.env, input=body)
        if proc.returncode == 0:
            url = (proc.stdout.strip().splitlines() or [None])[-1]
            result.details["pr_url"] = url
            result.message += f"; opened pull request {url}"
            result.details["commands"] = []
            return
        result.warnings.append("gh pr create failed: " + (proc.stderr.strip().splitlines() or ["error"])[-1])
    commands.append(["gh", *gh_args[:-2], "--body", body])
    result.details["commands"] = commands
    how = f"open it at {compare_url}" if compare_url else "open a pull request for it on your git host"
    result.message += f"; {how} (or run `gh pr create --base {base} --head {branch}`)"
