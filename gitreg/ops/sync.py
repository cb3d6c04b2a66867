"""Pushing a change: the remote check, the push, a lost race detected and undone."""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from gitreg import dvc
from gitreg.core.names import check_name
from gitreg.errors import ConflictError, UserError
from gitreg.ops.context import Context
from gitreg.ops.results import Result
from gitreg.store import MODELS_DIR


class PushRaceLost(ConflictError):
    """A --push lost a race to another clone; the local change was undone (exit 4)."""

    def __init__(self, message: str, hint: str, touched: bool):
        super().__init__(message, hint)
        self.touched = touched


PUSH_ATTEMPTS = 8


def backoff(attempt: int) -> None:
    # jittered exponential backoff, so clones that lost the same race do not collide again
    time.sleep(min(2.0, random.uniform(0.05, 0.15) * 2 ** attempt))


def mutate(ctx: Context, name: str | None, push_it: bool, run: Callable[[], Result],
           pushed: Callable[[Result], None] | None = None) -> Result:
    """The frame every registry change shares: the name checked, --push needing a remote
    before anything is done, the change made under the registry lock and, with push_it,
    pushed (then `pushed(result)`). A push that lost the race to a change of this model is
    refused (exactly one wins); one that lost to unrelated commits was undone, and the
    change is made again on top of them, up to PUSH_ATTEMPTS times."""
    if name is not None:
        check_name(name)
    if push_it:
        require_remote(ctx)
    for attempt in range(PUSH_ATTEMPTS):
        with ctx.store.locked():
            result = run()
            if not push_it:
                return result
            try:
                push(ctx, result)
                if pushed is not None:
                    pushed(result)
                return result
            except PushRaceLost as lost:
                if lost.touched or attempt + 1 >= PUSH_ATTEMPTS:
                    raise
        backoff(attempt)
    raise AssertionError("unreachable")  # pragma: no cover


# -- push --------------------------------------------------------------------------
def require_remote(ctx: Context, remote: str = "origin") -> None:
    """--push is checked before anything is done: without a remote nothing changes."""
    if ctx.git.remote_url(remote) is None:
        raise UserError(f"--push needs a git remote '{remote}', and this clone has none; nothing was changed",
                        f"add one with `git remote add {remote} URL`, or leave out --push")


def push(ctx: Context, result: Result, artifacts: Sequence[Path] = ()) -> None:
    """Push the change's commit and tags; a lost race undoes them and raises PushRaceLost."""
    remote = "origin"
    if ctx.git.remote_url(remote) is None:
        raise UserError(f"{result.action} done locally, but there is no git remote 'origin' to push to",
                        "add one with `git remote add origin URL`, then `git push --follow-tags`")
    if artifacts:
        dvc.push(ctx.root, artifacts, ctx.env)
    branch = ctx.git.current_branch()
    refspecs = [f"refs/heads/{branch}:refs/heads/{branch}"] + [f"refs/tags/{t}:refs/tags/{t}" for t in result.tags]
    proc = ctx.git.push(remote, refspecs)
    if proc.returncode == 0:
        _push_deletions(ctx, remote, result)
        result.pushed = True
        return
    why = (proc.stderr.strip().splitlines() or ["remote refused"])[-1]
    if branch and result.commit and lost_race(ctx, remote, branch, result.commit, proc):
        touched = undo_lost_push(ctx, remote, branch, result, artifacts)
        raise PushRaceLost(
            f"{result.action} {result.name} {result.version} lost a push race: origin got "
            + (f"other changes to {result.name}" if touched else "other commits") + " first; "
            "this clone's commit and tags for it were undone and it now matches origin",
            f"check `gitreg show {result.name}`, then run the command again if it still applies",
            touched=touched)
    raise ConflictError(
        f"{result.action} {result.name} {result.version} is committed locally, but the push "
        f"was rejected: {why}",
        "run `git pull --rebase` then `git push --follow-tags`, or `gitreg doctor --fix` after pulling")


def _push_deletions(ctx: Context, remote: str, result: Result) -> None:
    """Delete on the remote the tags the change deleted (an undeprecation's `NAME@vX!`).

    Pushed after the commit, one by one and not atomically: a tag that was never pushed is
    not on the remote, and git refuses to delete it there, which is fine.
    """
    for tag in result.details.get("deleted_tags") or []:
        proc = ctx.git.push(remote, [f":refs/tags/{tag}"], atomic=False)
        text = f"{proc.stdout}\n{proc.stderr}"
        if proc.returncode != 0 and "remote ref does not exist" not in text:
            why = (proc.stderr.strip().splitlines() or ["remote refused"])[-1]
            raise ConflictError(
                f"{result.action} {result.name} {result.version} is pushed, but deleting tag {tag} "
                f"on {remote} was refused: {why}",
                f"run `git push {remote} :refs/tags/{tag}` (gto and dvc follow the remote's tags)")


def lost_race(ctx: Context, remote: str, branch: str, commit: str, proc: Any) -> bool:
    """Did the push fail because origin moved meanwhile (or was busy with another push)?"""
    if ctx.git.head() != commit:
        return False
    text = f"{proc.stdout}\n{proc.stderr}".lower()
    busy = any(s in text for s in ("cannot lock ref", "failed to update ref", "incorrect old value",
                                   "atomic transaction failed"))
    try:
        ctx.git.fetch(remote, [f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}"], tags=False)
    except ConflictError:
        return False
    moved = ctx.git.run(["merge-base", "--is-ancestor", f"refs/remotes/{remote}/{branch}", commit],
                         check=False).returncode != 0
    return moved or busy


def undo_lost_push(ctx: Context, remote: str, branch: str, result: Result, artifacts: Sequence[Path]) -> bool:
    """Take back the local commit and tags of a change that lost a push race; sync to origin.

    Returns whether origin's new commits touched this model. Nothing a user made is lost:
    the artifact payload is in the DVC cache (and remote) and its source is untouched.
    """
    assert result.commit
    old = ctx.git.rev(f"{result.commit}^")
    upstream = f"refs/remotes/{remote}/{branch}"
    for tag in result.tags:
        ctx.git.delete_tag(tag)
    for path in artifacts:  # the git-ignored payload copy, so origin's files can take its place
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    base = old or upstream
    touched = ctx.git.run(["diff", "--quiet", base, upstream, "--", f"{MODELS_DIR}/{result.name}"],
                           check=False).returncode != 0
    if old and ctx.git.run(["merge-base", "--is-ancestor", old, upstream], check=False).returncode != 0:
        ctx.git.run(["reset", "-q", "--keep", old])
        raise ConflictError(
            f"{result.action} {result.name} {result.version} was not pushed: this clone's {branch} "
            f"has commits that {remote} does not, and {remote} has moved on; the change was undone",
            "run `git pull --rebase` (or push your other commits) and run the command again")
    ctx.git.run(["reset", "-q", "--keep", upstream])
    try:
        ctx.git.fetch(remote, [], tags=True)
    except ConflictError:
        pass  # tags are derived; `gitreg doctor` reports any drift
    return touched
