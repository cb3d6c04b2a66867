"""Tree objects written by gitreg (gitreg.git.looseobj, issue 16) are the objects git
writes: the same bytes once inflated, the same file mode, read by git and passed by
`git fsck`; an object already there is freshened, not rewritten; a config that changes how
git writes objects, or a file system that refuses, leaves the writing to git."""

from __future__ import annotations

import errno
import os
import subprocess
import zlib
from pathlib import Path

import pytest

from gitreg.git import looseobj
from gitreg.git.repo import Git
from tests.conftest import git


@pytest.fixture
def work(tmp_path: Path) -> Path:
    root = tmp_path / "w"
    root.mkdir()
    git(root, "init", "-q")
    (root / "a.txt").write_text("a\n")
    git(root, "add", "a.txt")
    git(root, "commit", "-qm", "base")
    return root


def _tree_body(root: Path, entries: dict[str, str]) -> bytes:
    """A tree object's body with these file names and contents (blobs written by git)."""
    parts = []
    for name in sorted(entries):
        sha = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=root, input=entries[name].encode(),
                             capture_output=True, check=True).stdout.decode().strip()
        parts.append(b"100644 " + name.encode() + b"\x00" + bytes.fromhex(sha))
    return b"".join(parts)


def _object_file(root: Path, sha: str) -> Path:
    return root / ".git" / "objects" / sha[:2] / sha[2:]


def _by_git(root: Path, body: bytes) -> str:
    return subprocess.run(["git", "hash-object", "-w", "-t", "tree", "--stdin"], cwd=root, input=body,
                          capture_output=True, check=True).stdout.decode().strip()


def test_a_tree_written_here_is_the_one_git_writes(work: Path, tmp_path: Path) -> None:
    body = _tree_body(work, {"model.yaml": "name: churn\n", "b.txt": "b\n"})
    twin = tmp_path / "twin"
    subprocess.run(["git", "clone", "-q", str(work), str(twin)], check=True)
    writer = looseobj.writer(Git(work))
    assert writer is not None
    sha = writer.write(b"tree", body)
    assert not _object_file(twin, sha).exists()
    assert _by_git(twin, body) == sha
    ours, theirs = _object_file(work, sha), _object_file(twin, sha)
    assert zlib.decompress(ours.read_bytes()) == zlib.decompress(theirs.read_bytes())
    assert oct(ours.stat().st_mode & 0o777) == oct(theirs.stat().st_mode & 0o777)
    assert subprocess.run(["git", "cat-file", "tree", sha], cwd=work, capture_output=True,
                          check=True).stdout == body
    git(work, "fsck", "--strict", "--no-dangling")  # check=True: any problem fails the test
    assert not list((work / ".git" / "objects").glob("*/tmp_obj_*"))


def test_an_object_already_there_is_freshened_not_rewritten(work: Path) -> None:
    body = _tree_body(work, {"x": "x\n"})
    sha = _by_git(work, body)
    path = _object_file(work, sha)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    inode = path.stat().st_ino
    writer = looseobj.writer(Git(work))
    assert writer is not None and writer.write(b"tree", body) == sha
    assert path.stat().st_ino == inode
    assert path.stat().st_mtime > 1_000_000_000


@pytest.mark.parametrize("key,value", [
    ("core.sharedRepository", "group"), ("core.fsync", "loose-object"), ("core.fsyncObjectFiles", "true"),
    ("core.looseCompression", "9"), ("core.compression", "0"), ("extensions.worktreeConfig", "true"),
])
def test_a_config_that_changes_how_git_writes_objects_leaves_it_to_git(work: Path, key: str, value: str) -> None:
    git(work, "config", key, value)
    assert looseobj.writer(Git(work)) is None


def test_a_refused_hard_link_falls_back_to_a_rename_as_git_does(work: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(looseobj.os, "link", refuse)
    body = _tree_body(work, {"y": "y\n"})
    writer = looseobj.writer(Git(work))
    assert writer is not None
    sha = writer.write(b"tree", body)
    assert subprocess.run(["git", "cat-file", "tree", sha], cwd=work, capture_output=True,
                          check=True).stdout == body
    assert not list((work / ".git" / "objects").glob("*/tmp_obj_*"))


def test_a_full_disk_raises_and_leaves_no_temp_file(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def full(fd: int, data: object) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[-1].startswith("tmp_obj_"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)  # type: ignore[arg-type]

    body = _tree_body(work, {"z": "z\n"})
    writer = looseobj.writer(Git(work))
    assert writer is not None
    monkeypatch.setattr(looseobj.os, "write", full)
    with pytest.raises(OSError):
        writer.write(b"tree", body)
    assert not list((work / ".git" / "objects").glob("*/tmp_obj_*"))
    sha = subprocess.run(["git", "hash-object", "-t", "tree", "--stdin"], cwd=work, input=body,
                         capture_output=True, check=True).stdout.decode().strip()
    assert not _object_file(work, sha).exists()
