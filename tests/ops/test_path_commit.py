"""Commits built from the changed paths (gitreg.git.pathcommit, issue 16) are the commits
`git add` + `git commit` made: the same ids, the same index, the same refusals."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from gitreg import Registry
from gitreg.errors import GitregError
from gitreg.git import looseobj, pathcommit, treeobj
from tests.conftest import BOB, as_user, git

WHEN = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
DATES = {"GIT_AUTHOR_DATE": "@1796212800 +0000", "GIT_COMMITTER_DATE": "@1796212800 +0000"}


def _two(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    other = tmp_path / "twin"
    shutil.copytree(repo, other, symlinks=True)
    return repo, other


def _reg(path: Path, who: str | None = None) -> Registry:
    env = {**os.environ, **DATES, **(as_user(who) if who else {})}
    return Registry(path, env=env, clock=lambda: WHEN)


def _state(path: Path) -> dict[str, str]:
    return {
        "head": git(path, "rev-parse", "HEAD"),
        "refs": git(path, "for-each-ref", "--format=%(refname) %(objectname)"),
        "index": git(path, "ls-files", "-s"),
        "status": git(path, "status", "--porcelain", "--untracked-files=all"),
        "reflog": git(path, "reflog", "-1", "--format=%gs"),
    }


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Each change's path commit: its sha, or None when pathcommit stepped aside (plan None:
    git add + git commit made it)."""
    seen: list[Any] = []
    real_plan, real_commit = pathcommit.plan, pathcommit.commit

    def plan(*args: Any, **kwargs: Any) -> Any:
        out = real_plan(*args, **kwargs)
        if out is None:
            seen.append(None)
        return out

    def commit(*args: Any, **kwargs: Any) -> Any:
        out = real_commit(*args, **kwargs)
        seen.append(out)
        return out

    monkeypatch.setattr(pathcommit, "plan", plan)
    monkeypatch.setattr(pathcommit, "commit", commit)
    return seen


def _index_commits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pathcommit, "plan", lambda *a, **k: None)


def _steps(artifact: Callable[..., Path]) -> list[Callable[[Path], Any]]:
    a1, a2, a3 = artifact(content=b"one" * 500), artifact(content=b"two" * 500), artifact(content=b"3" * 9)
    return [
        lambda p: _reg(p).register("churn", [a1], version="1.0.0"),
        lambda p: _reg(p).register("churn", [a2], version="1.1.0"),
        lambda p: _reg(p).register("fraud", [a3], version="0.1.0"),
        lambda p: _reg(p).promote("churn", "1.0.0", "staging", reason="r"),
        lambda p: _reg(p).request("churn", "1.0.0", "production", reason="go"),
        lambda p: _reg(p, BOB).approve("churn", "1.0.0", "production"),
        lambda p: _reg(p).promote("churn", "1.1.0", "staging"),
        lambda p: _reg(p).alias("churn", "champion", "1.0.0"),
        lambda p: _reg(p).annotate("fraud", description="fraud model", set_tags=["team=risk"]),
        lambda p: _reg(p).deprecate("fraud", "0.1.0", reason="old"),
    ]


@pytest.mark.parametrize("trees", ["loose", "mktree", "tree objects"])
def test_path_commits_are_the_index_commits(repo, tmp_path, make_artifact, spy, monkeypatch, trees):
    by_git: list[Any] = []
    if trees != "loose":  # written by git: small ones by mktree, or every one by hash-object -t tree
        monkeypatch.setattr(looseobj, "writer", lambda _git: None)
        monkeypatch.setattr(treeobj, "BIG_TREE", treeobj.BIG_TREE if trees == "mktree" else 1)
    else:
        real = treeobj.git_write_trees
        monkeypatch.setattr(treeobj, "git_write_trees", lambda *a: by_git.append(a) or real(*a))
    fast, slow = _two(repo, tmp_path)
    steps = _steps(make_artifact)
    for step in steps:
        step(fast)
    made = list(spy)
    assert made and all(isinstance(s, str) for s in made), made  # none fell back
    assert not by_git  # loose: every tree was written here
    _index_commits(monkeypatch)
    for step in steps:
        step(slow)
    a, b = _state(fast), _state(slow)
    assert a == b
    assert a["status"] == ""
    # the index is HEAD's tree exactly
    tree = git(fast, "ls-tree", "-r", "HEAD").split("\n")
    index = git(fast, "ls-files", "-s").split("\n")
    assert [t.split("\t")[1] + t.split(" ")[2][:40] for t in tree if t] == \
        [i.split("\t")[1] + i.split(" ")[1] for i in index if i]


def test_other_staged_changes_stay_staged_and_uncommitted_as_before(repo, tmp_path, make_artifact, spy,
                                                                    monkeypatch):
    _reg(repo).register("churn", [make_artifact()], version="1.0.0")
    fast, slow = _two(repo, tmp_path)
    for path in (fast, slow):
        (path / "README.md").write_text("notes\n")
        git(path, "add", "README.md")
    _reg(fast).promote("churn", "1.0.0", "staging")
    assert isinstance(spy[-1], str)
    _index_commits(monkeypatch)
    _reg(slow).promote("churn", "1.0.0", "staging")
    assert _state(fast) == _state(slow)
    assert "A  README.md" in _state(fast)["status"]
    assert "README.md" not in git(fast, "show", "--name-only", "--format=", "HEAD")


def test_ignored_files_in_a_new_version_directory_are_left_out_as_git_add_does(
        repo, tmp_path, make_artifact, spy, monkeypatch):
    fast, slow = _two(repo, tmp_path)
    for path in (fast, slow):
        (path / ".git" / "info" / "exclude").write_text("/models/*/*/.gitignore\n")
    _reg(fast).register("churn", [make_artifact(content=b"x" * 100)], version="1.0.0")
    assert isinstance(spy[-1], str)
    _index_commits(monkeypatch)
    _reg(slow).register("churn", [make_artifact(content=b"x" * 100)], version="1.0.0")
    assert _state(fast) == _state(slow)
    assert "models/churn/1.0.0/.gitignore" not in git(fast, "ls-files")


def test_an_ignored_named_file_falls_back_and_fails_as_before(repo, tmp_path, make_artifact, spy):
    (repo / ".git" / "info" / "exclude").write_text("model.yaml\n")
    before = _state(repo)
    with pytest.raises(GitregError):
        _reg(repo).register("churn", [make_artifact()], version="1.0.0")
    assert spy == [None]  # the path commit stepped aside; git add refused, the change undone
    assert _state(repo)["head"] == before["head"]
    assert _state(repo)["status"] == before["status"]


def test_an_executable_manifest_falls_back_to_git_add(repo, tmp_path, make_artifact, spy, monkeypatch):
    _reg(repo).register("churn", [make_artifact()], version="1.0.0")
    manifest = repo / "models" / "churn" / "1.0.0" / "manifest.yaml"
    manifest.chmod(0o755)
    git(repo, "commit", "-q", "-am", "exec bit")
    fast, slow = _two(repo, tmp_path)
    spy.clear()
    _reg(fast).promote("churn", "1.0.0", "staging")
    assert spy == [None]
    _index_commits(monkeypatch)
    _reg(slow).promote("churn", "1.0.0", "staging")
    assert _state(fast) == _state(slow)
    assert git(fast, "ls-tree", "HEAD", "models/churn/1.0.0/manifest.yaml").startswith("100755")


def test_trees_the_file_system_refuses_here_are_written_by_git(repo, tmp_path, make_artifact, spy, monkeypatch):
    fast, slow = _two(repo, tmp_path)

    def full(*_: Any) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(looseobj.Writer, "write", full)
    steps = _steps(make_artifact)[:4]
    for step in steps:
        step(fast)
    assert all(isinstance(s, str) for s in spy), spy
    _index_commits(monkeypatch)
    for step in steps:
        step(slow)
    assert _state(fast) == _state(slow)
    git(fast, "fsck", "--strict", "--no-dangling")
