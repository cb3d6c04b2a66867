"""Knowing the index holds nothing staged without reading it (issue 16).

Before a change gitreg refuses uncommitted changes in the paths it writes. `git status`
answers that by reading the whole index (300,000 entries at 100,000 versions) and, in a
fresh clone or copy, rewriting it. The index file ends with the SHA-1 of its content (git
writes it on every write), so "this index equals HEAD's tree" can be remembered by that
checksum and HEAD's id, in `<git dir>/gitreg-index-clean`: the same checksum is the same
content, so the fact can never be stale; any write of the index (`git add`, `git status`
refreshing it, a commit) or a new HEAD makes it unknown again. It is proved by
`git diff-index --cached --quiet HEAD` (staged changes, intent-to-add and unmerged
entries all count), and written after gitreg's own commits: the index then had HEAD's
tree, and got exactly the committed paths (gitreg.git.pathcommit).

With it known, the work tree alone is compared with HEAD (Store.require_clean); anything
that is not plainly clean is left to `git status` as before.
"""

from __future__ import annotations

import mmap
import os
import stat
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from gitreg import yamlio
from gitreg.git import indexmap, settings

if TYPE_CHECKING:
    from gitreg.git.repo import Git

STAMP_NAME = "gitreg-index-clean"
MAP_NAME = "gitreg-index-map"
MAGIC = "gitreg-index-clean-v1"


def locations(git: Git) -> tuple[Path, Path, Path]:
    """The index file, the clean stamp and the index map (gitreg.git.indexfile), as git places them."""
    return _paths(git)[:3]  # type: ignore[return-value]


def objects_dir(git: Git) -> Path:
    """The object directory, as git places it (gitreg.git.looseobj)."""
    return _paths(git)[3]


def _paths(git: Git) -> tuple[Path, ...]:
    cached = getattr(git, "_index_locations", None)
    if cached is None:
        lines = git.out("rev-parse", "--git-path", "index", "--git-path", STAMP_NAME,
                        "--git-path", MAP_NAME, "--git-path", "objects").splitlines()
        cached = tuple(Path(p) if Path(p).is_absolute() else git.root / p for p in lines[:4])
        git._index_locations = cached  # type: ignore[attr-defined]
    return cached


def checksum(git: Git) -> str | None:
    """The index file's trailing checksum (hex), or None (no index, or a git that skips it)."""
    index = locations(git)[0]
    try:
        with open(index, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            if size < 32:
                return None
            fh.seek(size - 20)
            tail = fh.read(20)
    except OSError:
        return None
    if len(tail) != 20 or tail == b"\x00" * 20:
        return None
    return tail.hex()


def _line(index_sum: str, head: str) -> str:
    return f"{MAGIC} {index_sum} {head}\n"


def known(git: Git, head: str | None, index_sum: str | None = None) -> bool:
    """Is the index (as it is now, or the one with checksum index_sum) known to equal HEAD's tree?"""
    index_sum = index_sum or checksum(git)
    if not head or not index_sum:
        return False
    if getattr(git, "_index_proved", None) == (index_sum, head):
        return True
    stamp = locations(git)[1]
    try:
        return stamp.read_text("utf-8") == _line(index_sum, head)
    except (OSError, UnicodeDecodeError):
        return False


def record(git: Git, index_sum: str | None, head: str) -> None:
    stamp = locations(git)[1]
    try:
        if index_sum:
            yamlio.write_atomic(stamp, _line(index_sum, head), durable=False)
        else:
            stamp.unlink()
    except OSError:
        pass  # a read-only .git: git status decides every time


def prove(git: Git, head: str | None) -> bool:
    """Check (one `git diff-index --cached`) that the index equals HEAD's tree; remembered."""
    before = checksum(git)
    if not head or not before:
        return False
    proc = git.run(["diff-index", "--cached", "--quiet", head, "--"], check=False)
    if proc.returncode != 0 or checksum(git) != before:
        return False
    # remembered by this process only: the stamp file is written after gitreg's own commit
    # (nothing is written before a change's journal)
    git._index_proved = (before, head)  # type: ignore[attr-defined]
    return True


def worktree_clean(git: Git, paths: Sequence[str], untracked_ok: Callable[[str], bool]) -> bool:
    """Do the work-tree files under `paths` match HEAD exactly: every tracked file there
    with HEAD's content (hashed as `git add` would) and a plain mode, and no untracked file
    git would show (not ignored, not untracked_ok)? False whenever in doubt."""
    config = settings.values(git)
    if config is None or config.get("core.ignorecase", "false").lower() not in ("false", "no", "off", "0"):
        return False  # a case-insensitive work tree: git status knows its rules
    listing = {e.path: e for e in git.ls_tree("HEAD", list(paths))}
    root = git.root
    tracked_dirs = {"/".join(p.split("/")[:i]) for p in listing for i in range(1, p.count("/") + 1)}
    if not all(_plain(e.kind, e.mode, _lstat(root / path)) for path, e in listing.items()):
        return False
    visit: list[str] = []
    untracked: list[str] = []
    for p in paths:
        st = _lstat(root / p)
        if st is None or p in listing:
            continue
        (visit if stat.S_ISDIR(st.st_mode) and p in tracked_dirs else untracked).append(p)
    while visit or untracked:
        deeper: list[str] = []
        for d in visit:
            try:
                entries = list(os.scandir(root / d))
            except OSError:
                return False
            for e in entries:
                rel = f"{d}/{e.name}"
                if e.name == ".git":
                    return False  # a nested repository: git status shows it its own way
                if rel in listing:
                    continue
                if rel in tracked_dirs and e.is_dir(follow_symlinks=False):
                    deeper.append(rel)
                else:
                    untracked.append(rel)
        visit = deeper
        if not untracked:
            continue
        proc = git.run(["check-ignore", "--no-index", "-z", "--stdin"],
                       input="".join(u + "\0" for u in untracked), check=False)
        if proc.returncode not in (0, 1):
            return False
        ignored = set(proc.stdout.split("\0"))
        for rel in untracked:
            if rel in ignored:
                continue
            st = _lstat(root / rel)
            if st is not None and stat.S_ISDIR(st.st_mode) and not stat.S_ISLNK(st.st_mode):
                visit.append(rel)  # an untracked directory: git shows each file in it
            elif not untracked_ok(rel):
                return False
        untracked = []
    same = _unchanged(git, {p: e.sha for p, e in listing.items()})
    files = sorted(p for p in listing if p not in same)
    if not files:
        return True
    proc = git.run(["hash-object", "--stdin-paths"], input="".join(p + "\n" for p in files), check=False)
    shas = proc.stdout.split()
    return proc.returncode == 0 and shas == [listing[p].sha for p in files]


def _unchanged(git: Git, files: Mapping[str, str]) -> set[str]:
    """The files (path: HEAD's blob) whose index entry shows them unchanged, as git status
    tells: the entry has that blob, the file the stat data recorded when it was hashed, and
    the entry is not racily clean (its mtime is before the index file's). Only with the
    index map (gitreg.git.indexmap); any file not shown so is hashed."""
    index, _, map_path = locations(git)
    try:
        with open(index, "rb") as fh:
            since = indexmap.seconds(os.fstat(fh.fileno()).st_mtime_ns)
            data = mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ)
    except (OSError, ValueError):
        return set()
    try:
        if len(data) < 32 or data[:4] != b"DIRC" or indexmap.u32(data, 4) != 2:
            return set()
        layout = indexmap.load(map_path, data, indexmap.u32(data, 8))
        if layout is None:
            return set()
        out: set[str] = set()
        raws = {rel.encode("utf-8", "surrogateescape"): rel for rel in files}
        for raw, at in indexmap.locate_all(data, layout, sorted(raws)).items():
            rel, sha = raws[raw], files[raws[raw]]
            st = _lstat(git.root / rel)
            if data[at + 60] & 0xF0 or st is None:
                continue
            want = indexmap.stat_fields(st)
            if want[2] < since and struct.unpack_from(">10I", data, at) == want and data[at + 40:at + 60].hex() == sha:
                out.add(rel)
        return out
    except (ValueError, IndexError, struct.error):
        return set()
    finally:
        data.close()


def _plain(kind: str, mode: str, st: os.stat_result | None) -> bool:
    """A tracked plain file that is a plain file in the work tree (anything else: git status)."""
    return kind == "blob" and mode == "100644" and st is not None and stat.S_ISREG(st.st_mode) \
        and not st.st_mode & 0o111


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None
