"""gitreg's own index write (gitreg.git.indexfile, issue 16) gives the entries `git
update-index --add` gives, byte for byte, from the same index and the same files; its
map (gitreg.git.indexmap) is used only for the file it describes and walked again when
wrong; whatever it cannot do exactly is left to git with nothing written."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from gitreg.git import indexfile, indexmap, indexstamp
from gitreg.git.repo import Git
from tests.conftest import git


@pytest.fixture
def work(tmp_path: Path) -> Path:
    root = tmp_path / "w"
    root.mkdir()
    git(root, "init", "-q")
    for rel in ("a.txt", "dir/b.txt", "dir/sub/c.txt", "dir/sub/deep/e.txt", "dir/sub/deep/er/f.txt",
                "dir-x/d.txt", "z.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"{rel}\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


def _entries(data: bytes) -> tuple[bytes, bytes]:
    """(header and entries, extensions) of a version 2 index, read independently."""
    count = struct.unpack_from(">I", data, 8)[0]
    pos = 12
    for _ in range(count):
        n = struct.unpack_from(">H", data, pos + 60)[0] & 0xFFF
        pos += (62 + n + 8) & ~7
    return data[:pos], data[pos:-20]


def _change(root: Path, files: dict[str, str]) -> tuple[dict[str, str], dict[str, os.stat_result]]:
    """Write the files; their blob ids (hashed as git add would) and stat data."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    stats = {rel: os.lstat(root / rel) for rel in files}
    shas = subprocess.run(["git", "hash-object", "-w", "--stdin-paths"], cwd=root,
                          input="".join(f + "\n" for f in files), capture_output=True, text=True,
                          check=True).stdout.split()
    return dict(zip(files, shas)), stats


def _by_git(root: Path, files: dict[str, str]) -> bytes:
    subprocess.run(["git", "update-index", "--add", "-z", "--stdin"], cwd=root,
                   input="".join(f + "\0" for f in files), check=True, capture_output=True, text=True)
    return (root / ".git/index").read_bytes()


def _both(root: Path, files: dict[str, str], again: bool = True) -> tuple[bytes, bytes]:
    """(gitreg's index, git's index) for the same change to the same index file; again:
    gitreg's write is made a second time from the restored file (a map of another file)."""
    index = root / ".git/index"
    saved = root.parent / "index.saved"
    shutil.copy2(index, saved)  # the same bytes and mtime for both writers
    shas, stats = _change(root, files)
    assert indexfile.update(Git(root), shas, stats) is True
    ours = index.read_bytes()
    shutil.copy2(saved, index)
    theirs = _by_git(root, files)
    shutil.copy2(saved, index)
    if again:
        assert indexfile.update(Git(root), shas, stats) is True
        assert index.read_bytes() == ours
    return ours, theirs


CHANGES: dict[str, dict[str, str]] = {
    "a changed file": {"dir/b.txt": "new content\n"},
    "a new file among others": {"dir/bb.txt": "x\n"},
    "new files in a new directory": {"dir/new/one.txt": "1\n", "dir/new/two.txt": "2\n"},
    "first and last": {"0.txt": "0\n", "zz/last.txt": "z\n", "a.txt": "A\n"},
    "names sorting around a directory": {"dir.txt": ".\n", "dir-y.txt": "-\n", "dir0.txt": "0\n"},
    "files three and four directories deep": {"dir/sub/deep/e.txt": "3\n", "dir/sub/deep/er/f.txt": "4\n"},
    "a new file beside deep ones": {"dir/sub/deep/new.txt": "n\n", "dir-x/d.txt": "d\n"},
    "a long name": {"deep/" + "/".join(["n" * 200] * 3) + ".txt": "long\n"},
}


@pytest.mark.parametrize("files", list(CHANGES.values()), ids=list(CHANGES))
def test_the_entries_are_the_ones_git_update_index_writes(work: Path, files: dict[str, str]) -> None:
    ours, theirs = _both(work, files)
    assert _entries(ours)[0] == _entries(theirs)[0]
    assert _entries(ours)[1].startswith(b"TREE")  # the cache tree, its records above the paths unknown
    assert ours == theirs
    assert ours[-20:] == hashlib.sha1(ours[:-20]).digest()
    (work.parent / "theirs.index").write_bytes(theirs)
    by_git = {**os.environ, "GIT_INDEX_FILE": str(work.parent / "theirs.index")}
    status = git(work, "status", "--porcelain", "--untracked-files=no")
    assert status == git(work, "status", "--porcelain", "--untracked-files=no", env=by_git)
    assert all(line.startswith(("M  ", "A  ")) for line in status.splitlines())  # staged, clean
    assert git(work, "write-tree") == git(work, "write-tree", env=by_git)  # the same tree to commit
    git(work, "fsck", "--no-dangling")  # checks the index checksum too


def test_git_reads_the_index_as_its_own(work: Path) -> None:
    _both(work, {"dir/b.txt": "changed\n", "dir/new.txt": "new\n"})
    git(work, "commit", "-qm", "more")
    assert git(work, "status", "--porcelain") == ""
    assert git(work, "diff-index", "--cached", "HEAD") == ""
    assert "dir/new.txt" in git(work, "ls-files")


def test_a_second_change_uses_the_map_and_still_matches_git(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shas, stats = _change(work, {"dir/b.txt": "first\n"})
    assert indexfile.update(Git(work), shas, stats)
    assert indexstamp.locations(Git(work))[2].exists()

    def no_walk(*a: object, **k: object) -> None:
        raise AssertionError("walked the index although the map describes it")

    monkeypatch.setattr(indexmap, "walk", no_walk)
    ours, theirs = _both(work, {"dir/new/x.txt": "x\n", "a.txt": "second\n"}, again=False)
    assert ours == theirs


def test_the_map_this_process_wrote_is_used_without_reading_it(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change's clean check and its index write both need the map: the one this process
    wrote or checked for an index with the same checksum is used as it is."""
    shas, stats = _change(work, {"dir/b.txt": "first\n"})
    assert indexfile.update(Git(work), shas, stats)
    indexstamp.locations(Git(work))[2].unlink()  # not read: it is known

    def no_read(*a: object, **k: object) -> None:
        raise AssertionError("read the map again for the index it describes")

    monkeypatch.setattr(indexmap, "_load", no_read)
    monkeypatch.setattr(indexmap, "walk", no_read)
    ours, theirs = _both(work, {"dir/new/x.txt": "x\n", "a.txt": "second\n"}, again=False)
    assert ours == theirs


def _corrupt(kind: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        indexmap.forget()  # the next process finds the damaged file
        if kind == "garbage":
            path.write_bytes(b"\x00not json")
        else:
            saved = json.loads(path.read_text("latin-1"))
            if kind == "offsets":
                saved["offsets"] = [o + 8 for o in saved["offsets"]]
            elif kind == "keys":
                saved["keys"] = ["x" + k for k in saved["keys"]]
            elif kind == "end":
                saved["end"] = saved["end"] - 8
            elif kind == "tree":
                saved["tree"] = {d: at + 3 for d, at in saved["tree"].items()}
            path.write_text(json.dumps(saved), "latin-1")
    return damage


@pytest.mark.parametrize("kind", ["garbage", "offsets", "keys", "end", "tree"])
def test_a_damaged_map_is_walked_again(work: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    shas, stats = _change(work, {"dir/b.txt": "first\n"})
    assert indexfile.update(Git(work), shas, stats)
    _corrupt(kind)(indexstamp.locations(Git(work))[2])
    walks = []
    real = indexmap.walk
    monkeypatch.setattr(indexmap, "walk", lambda *a: walks.append(1) or real(*a))
    ours, theirs = _both(work, {"dir/sub/new.txt": "n\n"})
    assert ours == theirs
    assert walks  # "end" may still pass the marks: the extensions check sends it to a walk


def test_a_map_of_another_index_is_not_used(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shas, stats = _change(work, {"dir/b.txt": "first\n"})
    assert indexfile.update(Git(work), shas, stats)
    git(work, "add", "dir/b.txt")
    (work / "other.txt").write_text("o\n")
    git(work, "add", "other.txt")  # git's own write: the map is of the file before
    walks = []
    real = indexmap.walk
    monkeypatch.setattr(indexmap, "walk", lambda *a: walks.append(1) or real(*a))
    ours, theirs = _both(work, {"z.txt": "zz\n"})
    assert walks and ours == theirs


def test_a_racily_clean_entry_whose_file_changed_is_smudged_as_git_does(work: Path) -> None:
    git(work, "config", "core.trustctime", "false")  # else git sees the change by its ctime
    racy = work / "racy.txt"
    racy.write_text("aaaa\n")
    then = (int(os.stat(work / ".git/index").st_mtime) - 60) * 1_000_000_000
    os.utime(racy, ns=(then, then))
    git(work, "add", "racy.txt")
    git(work, "commit", "-qm", "racy")
    index = work / ".git/index"
    os.utime(index, ns=(then - 5_000_000_000, then - 5_000_000_000))  # the entry is racy
    racy.write_text("bbbb\n")  # same size, same mtime: only its content tells
    os.utime(racy, ns=(then, then))
    ours, theirs = _both(work, {"a.txt": "changed\n"})
    assert ours == theirs
    found = _entries(ours)[0].find(b"racy.txt\x00")
    entry_at = found - 62
    assert struct.unpack_from(">I", ours, entry_at + 36)[0] == 0  # smudged: size 0
    assert git(work, "status", "--porcelain").splitlines() == ["M  a.txt", " M racy.txt"]


def _unchanged(work: Path, files: dict[str, str], setup: Callable[[Path], None]) -> None:
    setup(work)
    before = (work / ".git/index").read_bytes()
    shas, stats = _change(work, files)
    assert indexfile.update(Git(work), shas, stats) is False
    assert (work / ".git/index").read_bytes() == before


FALLBACKS: dict[str, Callable[[Path], None]] = {
    "index version 3 (intent to add)": lambda w: ((w / "n.txt").write_text("n\n"), git(w, "add", "-N", "n.txt")),
    "index version 4": lambda w: git(w, "update-index", "--index-version", "4"),
    "untracked cache": lambda w: (git(w, "config", "core.untrackedCache", "true"),
                                  git(w, "update-index", "--untracked-cache"), git(w, "status")),
    "split index": lambda w: git(w, "config", "core.splitIndex", "true"),
    "index threads": lambda w: git(w, "config", "index.threads", "2"),
    "shared repository": lambda w: git(w, "config", "core.sharedRepository", "group"),
    "assume-unchanged entry": lambda w: git(w, "update-index", "--assume-unchanged", "dir/b.txt"),
    "executable entry": lambda w: git(w, "update-index", "--chmod=+x", "dir/b.txt"),
    "unmerged entry": lambda w: subprocess.run(
        ["git", "update-index", "--index-info"], cwd=w, check=True, text=True,
        input="0 0000000000000000000000000000000000000000\tdir/b.txt\n"
              f"100644 {git(w, 'rev-parse', 'HEAD:dir/b.txt').strip()} 1\tdir/b.txt\n"),
}


@pytest.mark.parametrize("setup", list(FALLBACKS.values()), ids=list(FALLBACKS))
def test_what_only_git_can_do_is_left_to_it_untouched(work: Path, setup: Callable[[Path], None]) -> None:
    _unchanged(work, {"dir/b.txt": "changed\n"}, setup)


def test_a_file_where_the_index_has_a_directory_is_left_to_git(work: Path) -> None:
    shutil.rmtree(work / "dir/sub")
    _unchanged(work, {"dir/sub": "a file where the index has dir/sub/c.txt\n"}, lambda w: None)


def test_a_file_under_an_indexed_file_is_left_to_git(work: Path) -> None:
    (work / "z.txt").unlink()
    _unchanged(work, {"z.txt/inner.txt": "under a file the index has\n"}, lambda w: None)


def test_a_file_changed_after_it_was_hashed_is_left_to_git(work: Path) -> None:
    before = (work / ".git/index").read_bytes()
    shas, stats = _change(work, {"a.txt": "hashed\n"})
    (work / "a.txt").write_text("changed again, longer\n")
    assert indexfile.update(Git(work), shas, stats) is False
    assert (work / ".git/index").read_bytes() == before


def test_a_held_lock_is_left_alone(work: Path) -> None:
    lock = work / ".git/index.lock"
    lock.write_text("someone else's\n")
    _unchanged(work, {"a.txt": "x\n"}, lambda w: None)
    assert lock.read_text() == "someone else's\n"


@pytest.mark.parametrize("where", ["write", "copy_file_range"])
def test_a_failed_write_leaves_the_index_and_no_lock(work: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    before = (work / ".git/index").read_bytes()
    shas, stats = _change(work, {"dir/b.txt": "x\n"})
    if where == "write":
        monkeypatch.setattr(indexfile, "_write_all", full)
    else:
        monkeypatch.setattr(os, "copy_file_range", full)
    assert indexfile.update(Git(work), shas, stats) is False
    monkeypatch.undo()
    assert (work / ".git/index").read_bytes() == before
    assert not (work / ".git/index.lock").exists()


@pytest.mark.parametrize("refusal", [errno.EXDEV, errno.ENOSYS, errno.EINVAL, None],
                         ids=["another file system", "an old kernel", "refused", "no copy_file_range"])
def test_where_the_kernel_cannot_copy_the_bytes_are_written_the_same(work: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     refusal: int | None) -> None:
    calls: list[int] = []
    real = os.copy_file_range

    def refuse(src: int, dst: int, count: int, *rest: object) -> int:
        calls.append(count)
        if len(calls) == 2:  # the first span copied, the second refused: written from there
            raise OSError(refusal, os.strerror(refusal or 0))
        return real(src, dst, count, *rest)  # type: ignore[arg-type]

    if refusal is None:
        monkeypatch.delattr(os, "copy_file_range")
    else:
        monkeypatch.setattr(os, "copy_file_range", refuse)
    ours, theirs = _both(work, CHANGES["a new file beside deep ones"], again=False)
    assert ours == theirs
    assert refusal is None or len(calls) >= 2


def test_one_wrong_cache_tree_offset_in_the_map_is_walked_again(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shas, stats = _change(work, {"dir/sub/c.txt": "first\n"})
    assert indexfile.update(Git(work), shas, stats)
    path = indexstamp.locations(Git(work))[2]
    saved = json.loads(path.read_text("latin-1"))
    saved["tree"]["dir/sub"] += 1  # one record only: the spot check may pass it
    path.write_text(json.dumps(saved), "latin-1")
    indexmap.forget()  # the next process finds the damaged file
    walks = []
    real = indexmap.walk
    monkeypatch.setattr(indexmap, "walk", lambda *a: walks.append(1) or real(*a))
    ours, theirs = _both(work, {"dir/sub/c.txt": "second\n"}, again=False)
    assert walks and ours == theirs


def test_locate_all_finds_what_locate_finds_one_by_one(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    _change(work, {f"m/{i:03d}/f.txt": f"{i}\n" for i in range(60)})
    git(work, "add", "-A")
    monkeypatch.setattr(indexmap, "EVERY", 4)  # marks every 4th entry: runs cross them
    data = (work / ".git/index").read_bytes()
    layout = indexmap.walk(data, indexmap.u32(data, 8), 0)
    assert layout is not None and len(layout.keys) > 10
    names = sorted(git(work, "ls-files").split())
    rng = random.Random(16)
    for _ in range(200):
        pick = rng.sample(names, rng.randint(0, 12)) + [f"m/{rng.randint(0, 99):03d}/g.txt" for _ in range(3)]
        raws = sorted({p.encode() for p in pick} | ({b"0", b"zz"} if rng.random() < 0.5 else set()))
        one_by_one = {}
        for raw in raws:
            at, name, _, _ = indexmap.locate(data, layout, raw)
            if name == raw:
                one_by_one[raw] = at
        assert indexmap.locate_all(data, layout, raws) == one_by_one
        assert len(one_by_one) == len({p for p in pick if p in names})  # every present one found
