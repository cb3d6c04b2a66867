"""The clean-tree check without `git status` (gitreg.git.indexstamp, issue 16): it refuses
exactly what `git status` refused, with the same message, and trusts only a checksum of
the index file that is the index's own."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest

from gitreg import Registry
from gitreg.errors import ConflictError
from gitreg.git import indexstamp
from gitreg.git.repo import Git
from tests.conftest import git

M = "churn"


@pytest.fixture
def two(reg: Registry, repo: Path, make_artifact: Callable[..., Path]) -> Path:
    reg.register(M, [make_artifact()], version="1.0.0")
    reg.register(M, [make_artifact()], version="1.1.0")
    reg.register("fraud", [make_artifact()], version="0.1.0")
    return repo


def _stamp(repo: Path) -> Path:
    return repo / ".git" / indexstamp.STAMP_NAME


def _refusal(repo: Path) -> str | None:
    try:
        Registry(repo).promote(M, "1.0.0", "staging")
    except ConflictError as exc:
        return str(exc)
    return None


def _staged_only(repo: Path, rel: str) -> None:
    """A change staged, then the work-tree file written back as it was (git status: M)."""
    path = repo / rel
    was = path.read_bytes()
    path.write_bytes(was + b"# staged\n")
    git(repo, "add", rel)
    path.write_bytes(was)


def _chmod_x(repo: Path) -> None:
    (repo / "models" / M / "1.0.0" / "manifest.yaml").chmod(0o755)


def _nested_repo(repo: Path) -> None:
    subprocess.run(["git", "init", "-q", str(repo / "models" / M / "sub")], check=True)


DIRTY: dict[str, Callable[[Path], None]] = {
    "modified": lambda r: (r / "models" / M / "1.1.0" / "manifest.yaml").write_text("x: 1\n"),
    "deleted": lambda r: (r / "models" / M / "1.1.0" / "manifest.yaml").unlink(),
    "untracked": lambda r: (r / "models" / M / "notes.txt").write_text("n\n"),
    "untracked dir": lambda r: (r / "models" / M / "extra" / "deep").mkdir(parents=True)
    or (r / "models" / M / "extra" / "deep" / "f").write_text("f\n"),
    "staged, then the file put back": lambda r: _staged_only(r, f"models/{M}/1.1.0/manifest.yaml"),
    "removed from the index only": lambda r: git(r, "rm", "-q", "--cached", f"models/{M}/1.1.0/manifest.yaml"),
    "intent to add, then deleted": lambda r: (
        (r / "models" / M / "new.txt").write_text("n\n"), git(r, "add", "-N", f"models/{M}/new.txt"),
        (r / "models" / M / "new.txt").unlink()),
    "executable bit": _chmod_x,
    "dvc.yaml edited": lambda r: (r / "dvc.yaml").write_text((r / "dvc.yaml").read_text() + "# x\n"),
    "gitreg.yaml staged": lambda r: _staged_only(r, "gitreg.yaml"),
    "nested repository": _nested_repo,
    "a file where a directory was": lambda r: (
        git(r, "rm", "-q", "-r", "--cached", f"models/{M}/1.1.0"),
        __import__("shutil").rmtree(r / "models" / M / "1.1.0"),
        (r / "models" / M / "1.1.0").write_text("f\n")),
}


@pytest.mark.parametrize("racy", [True, False], ids=["files hashed", "stat data trusted"])
@pytest.mark.parametrize("kind", list(DIRTY))
def test_dirty_model_files_are_refused_as_git_status_refused_them(two, tmp_path, kind, racy):
    if not racy:  # the index written after the files: their entries' stat data is trusted
        later = time.time() + 10
        os.utime(two / ".git" / "index", (later, later))
    assert indexstamp.known(Registry(two).git, git(two, "rev-parse", "HEAD").strip())
    DIRTY[kind](two)
    with_stamp = _refusal(two)
    assert with_stamp is not None and with_stamp.startswith("uncommitted changes in the registry: ")
    # the same refusal from git status alone (no stamp: it decides, as before issue 16)
    _stamp(two).unlink(missing_ok=True)
    os.utime(two / ".git" / "index")  # nothing else changes
    assert _refusal(two) == with_stamp


def test_changes_elsewhere_are_not_refused_as_before(two):
    (two / "models" / "fraud" / "0.1.0" / "manifest.yaml").write_text("x: 1\n")
    (two / "README.md").write_text("r\n")
    git(two, "add", "README.md")
    assert _refusal(two) is None


def test_ignored_and_temp_files_are_no_reason_to_refuse(two):
    (two / "models" / M / "1.0.0" / "model.pkl").write_bytes(b"pulled artifact")  # DVC's .gitignore
    (two / "models" / M / "1.0.0" / ".manifest.yaml.abcd1234.tmp").write_text("left by a kill\n")
    head = git(two, "rev-parse", "HEAD").strip()
    assert indexstamp.known(Registry(two).git, head)
    assert indexstamp.worktree_clean(Registry(two).git, [f"models/{M}"], lambda p: p.endswith(".tmp"))
    assert _refusal(two) is None


def test_the_stamp_follows_the_index_and_head(two):
    g = Registry(two).git
    head = git(two, "rev-parse", "HEAD").strip()
    assert indexstamp.known(g, head)
    line = _stamp(two).read_text()
    assert line == f"{indexstamp.MAGIC} {indexstamp.checksum(g)} {head}\n"
    # any write of the index is another checksum: unknown again
    (two / "README.md").write_text("r\n")
    git(two, "add", "README.md")
    assert not indexstamp.known(g, head)
    # a commit by hand: another HEAD
    git(two, "commit", "-qm", "readme")
    assert not indexstamp.known(g, git(two, "rev-parse", "HEAD").strip())
    # proved again by the next change, and kept by it
    assert _refusal(two) is None
    assert indexstamp.known(g, git(two, "rev-parse", "HEAD").strip())


@pytest.mark.parametrize("content", ["", "garbage\n", f"{indexstamp.MAGIC} {'0' * 40} {'1' * 40}\n", None])
def test_a_wrong_or_damaged_stamp_is_never_trusted(two, content):
    g = Registry(two).git
    stamp = _stamp(two)
    if content is None:  # a stamp naming the right index but another HEAD
        content = f"{indexstamp.MAGIC} {indexstamp.checksum(g)} {'2' * 40}\n"
    stamp.write_text(content)
    _staged_only(two, f"models/{M}/1.1.0/manifest.yaml")
    assert not indexstamp.known(g, git(two, "rev-parse", "HEAD").strip())
    assert (_refusal(two) or "").startswith(f"uncommitted changes in the registry: models/{M}/1.1.0/manifest.yaml")


def _hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the clean check hashes (`git hash-object --stdin-paths`)."""
    seen: list[str] = []
    real = Git.run

    def run(self: Git, args, *a, **k):  # type: ignore[no-untyped-def]
        if list(args) == ["hash-object", "--stdin-paths"]:
            seen.extend(k.get("input", "").split())
        return real(self, args, *a, **k)

    monkeypatch.setattr(Git, "run", run)
    return seen


def _model_files(repo: Path) -> list[str]:
    return sorted(git(repo, "ls-files", f"models/{M}").split())


def test_files_the_index_shows_unchanged_are_not_hashed(two, monkeypatch):
    later = time.time() + 10  # the index written after the files (not racily clean)
    os.utime(two / ".git" / "index", (later, later))
    hashed = _hashed(monkeypatch)
    g = Registry(two).git
    assert indexstamp.worktree_clean(g, [f"models/{M}"], lambda p: False)
    assert hashed == []
    # other stat data (the same content): hashed, and clean
    rel = f"models/{M}/1.0.0/manifest.yaml"
    (two / rel).write_bytes((two / rel).read_bytes())
    assert indexstamp.worktree_clean(g, [f"models/{M}"], lambda p: False)
    assert hashed == [rel]


def test_racily_clean_entries_are_hashed_as_git_hashes_them(two, monkeypatch):
    hashed = _hashed(monkeypatch)
    index = two / ".git" / "index"
    newest = max((two / p).stat().st_mtime for p in _model_files(two))
    os.utime(index, (newest, newest))  # the files' mtimes are not before the index file's
    g = Registry(two).git
    assert indexstamp.worktree_clean(g, [f"models/{M}"], lambda p: False)
    assert sorted(hashed) == [p for p in _model_files(two)
                              if int((two / p).stat().st_mtime) >= int(newest)] != []


def test_without_the_index_map_every_file_is_hashed(two, monkeypatch):
    (two / ".git" / indexstamp.MAP_NAME).unlink()
    hashed = _hashed(monkeypatch)
    assert indexstamp.worktree_clean(Registry(two).git, [f"models/{M}"], lambda p: False)
    assert sorted(hashed) == _model_files(two)
