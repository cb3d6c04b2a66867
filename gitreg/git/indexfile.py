"""A change's index entries written without `git update-index` (issue 16).

`git update-index --add -- PATHS` reads the whole index and writes it back: at 100,000
versions that is 300,000 entries and 34 MB, 220 ms of every promotion. The file is simple
(git's Documentation/gitformat-index.txt): a header, the entries sorted by path, the
extensions, and the SHA-1 of all of it. A change replaces or adds a handful of entries, so
the new file is the old one's bytes with those entries spliced in, hashed once.

The entries' offsets come from gitreg.git.indexmap (a walk, or the map of the last file
gitreg wrote).

As git's own write does:
- each path's entry gets the file's stat data (the low 32 bits of ctime, mtime, device,
  inode, uid, gid and size) and mode 100644, as `git add` records them;
- an entry that is racily clean (its mtime not before the index file's) and whose file
  changed without its size or mtime changing gets size 0, so that git hashes it again
  ("smudged"; here whenever its size and mtime still match and its content does not).

- the cache tree's records of the directories above each path are marked unknown
  (gitreg.git.cachetree), the others kept.

Everything else is left to `git update-index` (update() returns False, nothing written):
an index that is not version 2 or holds an extension other than TREE (or one git
would change more: a directory record where a file now goes); a config that
changes how git writes the index (core.splitIndex, core.untrackedCache, core.fsmonitor,
core.sharedRepository, core.ignoreCase, feature.manyFiles, index.*); a path whose entry is
unmerged, assume-valid or not 100644, or that would clash with a directory; a file that
changed since it was hashed; more than 32 racy entries (128 recent ones); an index.lock held by someone else.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from gitreg import yamlio
from gitreg.git import cachetree, indexmap, indexstamp, settings
from gitreg.git.indexmap import FIRST, Data, Layout

if TYPE_CHECKING:
    from gitreg.git.repo import Git

MAX_RACY = 32
_FALSE = ("false", "no", "off", "0", "")
_CONFIG = (r"^(core\.(splitindex|untrackedcache|fsmonitor|sharedrepository|ignorecase)"
           r"|feature\.manyfiles|index\..*)$")


def update(git: Git, shas: Mapping[str, str], stats: Mapping[str, os.stat_result]) -> bool:
    """Give each path (relative to the root; a plain, non-executable file hashed to its sha
    when it had the stat data in `stats`) its entry, as `git update-index --add` would; False
    (nothing written) when only git can be sure to do the same."""
    if not shas or not _config_plain(git):
        return False
    index, _, map_path = indexstamp.locations(git)
    lock = index.with_name(index.name + ".lock")
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError:
        return False  # held (git says so, in its own words), or not ours to write
    lockfile = _Lock(fd)
    try:
        written = _update_locked(git, lockfile, shas, stats, index, map_path)
        if written is None:
            return False
        try:
            os.replace(lock, index)
        except OSError:
            return False
        lockfile.renamed = True
        indexmap.save(map_path, written)
        return True
    finally:
        lockfile.close()
        if not lockfile.renamed:
            try:
                os.unlink(lock)
            except OSError:
                pass


@dataclass
class _Lock:
    fd: int
    open: bool = True
    renamed: bool = False

    def close(self) -> None:
        if self.open:
            self.open = False
            os.close(self.fd)


def _config_plain(git: Git) -> bool:
    """No setting that makes git write the index some other way."""
    found = settings.matching(git, _CONFIG)
    if found is None:
        return False
    for key, value in found.items():
        value = value.strip().lower()
        if key.lower() == "index.version" and value == "2":
            continue
        if key.lower().startswith("index.") or value not in _FALSE:
            return False
    return True


def _update_locked(git: Git, lock: _Lock, shas: Mapping[str, str], stats: Mapping[str, os.stat_result],
                   index: Path, map_path: Path) -> indexmap.Written | None:
    try:
        fh = open(index, "rb")
    except OSError:
        return None
    with fh:
        try:
            st = os.fstat(fh.fileno())
            if st.st_size < FIRST + 20:
                return None
            # mapped, not read: 34 MB copied would be a third of the time
            data = mmap.mmap(fh.fileno(), 0, flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0),
                             prot=mmap.PROT_READ)
        except (OSError, ValueError):
            return None
        old = _Old(data, fh.fileno())
        try:
            return _splice(git, lock, old, indexmap.seconds(st.st_mtime_ns), shas, stats, map_path)
        finally:
            for view in old.views:
                view.release()
            data.close()


@dataclass
class _Old:
    """The index file being replaced: mapped, and open for copy_file_range."""

    data: mmap.mmap
    fd: int
    views: list[memoryview] = field(default_factory=list)
    origin: dict[int, int] = field(default_factory=dict)  # id(view) -> its offset in the file

    def span(self, start: int, stop: int) -> memoryview:
        if not self.views:
            self.views.append(memoryview(self.data))
        view = self.views[0][start:stop]
        self.views.append(view)
        self.origin[id(view)] = start
        return view


def _splice(git: Git, lock: _Lock, old: _Old, since: int, shas: Mapping[str, str],
            stats: Mapping[str, os.stat_result], map_path: Path) -> indexmap.Written | None:
    """The new index written to the lock file: the old one with the entries put in and the
    cache tree's records above them marked unknown."""
    data = old.data
    magic, version, count = struct.unpack_from(">4sII", data, 0)
    if magic != b"DIRC" or version != 2:
        return None
    targets = sorted((p.encode("utf-8", "surrogateescape"), p) for p in shas)
    found = _layout(data, count, since, map_path, [raw for raw, _ in targets])
    if found is None:
        return None
    layout, span, edits = found
    ops = _entry_ops(git, data, layout, targets, shas, stats)
    racy = _smudge(git, data, layout, since, {raw for raw, _ in targets}) if ops is not None else None
    if ops is None or racy is None:
        return None
    smudged, times = racy
    ops += smudged
    ops.sort(key=lambda op: (op[0], op[1] != 0, op[2][62:]))
    added = sum(1 for op in ops if op[1] == 0)
    pieces: list[bytes | memoryview] = [struct.pack(">4sII", b"DIRC", 2, count + added)]
    for start, stop, new in _spans(ops, FIRST, layout.end):
        pieces += [old.span(start, stop), new]
    if span[0] < span[1]:  # the cache tree, with its edits
        tree: list[bytes | memoryview] = []
        for start, stop, new in _spans([(span[0] + at, n, b) for at, n, b in edits], span[0], span[1]):
            tree += [old.span(start, stop), new]
        pieces += [b"TREE", struct.pack(">I", sum(len(t) for t in tree)), *tree]
    written = _write(lock, pieces, old)
    if written is None:
        return None
    trailer, size, mtime = written
    for _, _, new in ops:
        times[new[62:62 + indexmap.namelen(new, 0)]] = indexmap.u32(new, 8)
    end = layout.end + sum(len(new) - n for _, n, new in ops)
    return indexmap.Written(indexmap.carry(layout, ops, count + added, end, mtime, times, edits),
                            trailer.hex(), size)


def _layout(data: Data, count: int, since: int, map_path: Path, paths: list[bytes]
            ) -> tuple[Layout, tuple[int, int], list[tuple[int, int, bytes]]] | None:
    """The file's layout (from its map, else a walk), its cache tree's span, and the edits
    that mark the paths' directories unknown there; None when only git can say."""
    remembered = indexmap.load(map_path, data, count)
    found = _edits(data, remembered, paths) if remembered is not None else None
    if found is None:  # no map, or one wrong in the cache tree
        walked = indexmap.walk(data, count, since)
        found = _edits(data, walked, paths) if walked is not None else None
    return found


def _edits(data: Data, layout: Layout, paths: list[bytes]
           ) -> tuple[Layout, tuple[int, int], list[tuple[int, int, bytes]]] | None:
    span = indexmap.tree_span(data, layout.end)
    if span is None:
        return None
    edits = cachetree.invalidate(data, span[0], layout.tree, paths) if layout.tree is not None else []
    return None if edits is None else (layout, span, edits)


def _spans(ops: list[tuple[int, int, bytes]], start: int, stop: int) -> list[tuple[int, int, bytes]]:
    """The old file's spans between the edits (offset, old length, new bytes; in order),
    each with the bytes that follow it (b"" after the last)."""
    out = []
    pos = start
    for at, old, new in ops:
        out.append((pos, at, new))
        pos = at + old
    out.append((pos, stop, b""))
    return out


def _entry_ops(git: Git, data: Data, layout: Layout, targets: list[tuple[bytes, str]],
               shas: Mapping[str, str], stats: Mapping[str, os.stat_result]) -> list[tuple[int, int, bytes]] | None:
    """(offset, old length, new entry) of each path: its entry replaced, or a new one put in."""
    ops: list[tuple[int, int, bytes]] = []
    for raw, rel in targets:
        st = _same_stat(git.root / rel, stats.get(rel))
        if st is None or len(raw) >= 0xFFF:
            return None
        at, name, flags, size = indexmap.locate(data, layout, raw)
        if name == raw:
            if flags & 0xF000 or indexmap.u32(data, at + 24) != 0o100644:
                return None  # unmerged, assume-valid or not a plain file: git's business
            ops.append((at, size, _entry(raw, bytes.fromhex(shas[rel]), st)))
        elif _clashes(data, layout, raw):
            return None
        else:
            ops.append((at, 0, _entry(raw, bytes.fromhex(shas[rel]), st)))
    return ops


def _write(lock: _Lock, pieces: list[bytes | memoryview], old: _Old) -> tuple[bytes, int, int] | None:
    """Write the pieces and their SHA-1 to the lock file: (checksum, size, the file's mtime
    in seconds); None if the file system refused. The SHA-1 is computed on another thread
    while the pieces are written (both let go of the GIL): 34 MB take 18 ms to hash and
    about 10 ms to write, one after the other 28 ms (issue 16)."""
    digest = hashlib.sha1()

    def hash_all() -> None:
        for piece in pieces:
            digest.update(piece)

    hasher = threading.Thread(target=hash_all)
    hasher.start()
    size = sum(len(p) for p in pieces) + digest.digest_size
    try:
        yamlio.reserve_blocks(lock.fd, size)
        for piece in pieces:
            start = old.origin.get(id(piece))
            if start is None:
                _write_all(lock.fd, piece)
            else:
                _copy(old.fd, lock.fd, start, piece)
        hasher.join()
        trailer = digest.digest()
        _write_all(lock.fd, trailer)
        mtime = indexmap.seconds(os.fstat(lock.fd).st_mtime_ns)
        lock.close()
    except OSError:
        return None
    finally:
        hasher.join()
    return trailer, size, mtime


def _copy(src: int, dst: int, start: int, piece: bytes | memoryview) -> None:
    """The old file's bytes `piece` (from offset `start`) copied in the kernel, or written
    where it cannot."""
    _write_all(dst, piece[yamlio.copy_in_kernel(src, dst, start, len(piece)):])


def _write_all(fd: int, piece: bytes | memoryview) -> None:
    view = memoryview(piece)
    while view:
        view = view[os.write(fd, view):]


def _entry(raw: bytes, sha: bytes, st: os.stat_result) -> bytes:
    """An index entry as git writes it for a plain file with this stat data."""
    head = struct.pack(">10I", *indexmap.stat_fields(st)) + sha + struct.pack(">H", len(raw))
    return head + raw + b"\x00" * (indexmap.entry_size(len(raw)) - 62 - len(raw))


def _same_stat(path: Path, before: os.stat_result | None) -> os.stat_result | None:
    """The file's stat data now, when it is the one it had when it was hashed."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if before is None or not stat.S_ISREG(st.st_mode) or st.st_mode & 0o111:
        return None
    same = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev, st.st_mode) == \
        (before.st_mtime_ns, before.st_ctime_ns, before.st_size, before.st_ino, before.st_dev, before.st_mode)
    return st if same else None


def _clashes(data: Data, layout: Layout, raw: bytes) -> bool:
    """Would a new entry at `raw` clash with a directory: a file where one of its parents
    is, or entries under it?"""
    parts = raw.split(b"/")
    for i in range(1, len(parts)):
        parent = b"/".join(parts[:i])
        if indexmap.locate(data, layout, parent)[1] == parent:
            return True
    under = indexmap.locate(data, layout, raw + b"/")[1]
    return under is not None and under.startswith(raw + b"/")


def _smudge(git: Git, data: Data, layout: Layout, since: int,
            targets: set[bytes]) -> tuple[list[tuple[int, int, bytes]], dict[bytes, int]] | None:
    """The racily clean entries (mtime not before the index file's) whose file changed
    without its size and mtime changing, with size 0, as git's write gives them; None when
    that cannot be told (too many, or not plain files)."""
    if layout.older >= since:
        return None  # an entry elsewhere may be racy: only a walk would say which
    candidates: list[tuple[int, bytes, str]] = []
    times: dict[bytes, int] = {}  # the recent entries' mtimes, for the next file's map
    for raw in layout.recent:
        if raw in targets:
            continue
        at, name, _, size = indexmap.locate(data, layout, raw)
        if name != raw:
            continue
        times[raw] = indexmap.u32(data, at + 8)
        if times[raw] < since:
            continue
        rel = raw.decode("utf-8", "surrogateescape")
        try:
            st = os.lstat(git.root / rel)
        except OSError:
            continue  # gone: git sees it as deleted whatever the entry says
        if times[raw] != indexmap.seconds(st.st_mtime_ns) or indexmap.u32(data, at + 36) != st.st_size & 0xFFFFFFFF:
            continue  # git sees it as changed already
        if indexmap.u32(data, at + 24) not in (0o100644, 0o100755) or not stat.S_ISREG(st.st_mode):
            return None
        candidates.append((at, data[at:at + size], rel))
    if len(candidates) > MAX_RACY:
        return None
    if not candidates:
        return [], times
    proc = git.run(["hash-object", "--stdin-paths"], input="".join(c[2] + "\n" for c in candidates),
                   check=False)
    now = proc.stdout.split()
    if proc.returncode != 0 or len(now) != len(candidates):
        return None
    out = []
    for (at, entry, _), sha in zip(candidates, now):
        if entry[40:60].hex() != sha:
            out.append((at, len(entry), entry[:36] + b"\x00\x00\x00\x00" + entry[40:]))
    return out, times


