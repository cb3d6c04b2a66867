"""Where an index file's entries are: found by a walk, or remembered (issue 16).

Finding an entry of git's index needs the offsets of the ones before it (entries have
the length of their path), which only a walk over every entry gives: about 90 ms at
300,000 entries. What a walk finds is remembered in `<git dir>/gitreg-index-map`, keyed
by the index file's checksum (the same checksum is the same content, so the map is never
stale; any other write of the index makes it unknown): every 512th entry's path and
offset, where the entries end, and what git's racy-clean rule needs (the entries whose
mtime is not before the index file's, and the latest mtime of all the others), and the
offsets of the cache tree's records two levels deep (gitreg.git.cachetree). After
gitreg's own write (gitreg.git.indexfile) the map is carried over to the new file, so
the next change needs no walk. A map whose marks are not entries with those paths is
walked again.
"""

from __future__ import annotations

import json
import os
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from gitreg.git import cachetree
from gitreg.git.cachetree import Data

MAGIC = "gitreg-index-map-v1"
EVERY = 512  # entries between two remembered offsets
MAX_RECENT = 128  # more entries this recent (a fresh checkout): left to git's own write
FIRST = 12  # the header: b"DIRC", version, number of entries


@dataclass
class Layout:
    """Where an index file's entries are (offsets into the file)."""

    count: int
    end: int  # where the entries end and the extensions begin
    keys: list[bytes]  # the path of every EVERY-th entry, the first one included
    offsets: list[int]  # ... and its offset
    since: int  # the index file's mtime (seconds) when `recent` was made
    recent: list[bytes]  # paths of entries whose mtime (seconds) is not before `since`
    older: int  # the latest mtime (seconds) of every other entry
    tree: dict[str, int] | None = None  # cache-tree records (gitreg.git.cachetree), if it has one
    found: dict[bytes, int] = field(default_factory=dict)  # marks met on long walks


@dataclass
class Written:
    layout: Layout
    checksum: str
    size: int


def u32(data: Data, at: int) -> int:
    return int.from_bytes(data[at:at + 4], "big")


def namelen(data: Data, at: int) -> int:
    n = (data[at + 60] & 0x0F) << 8 | data[at + 61]
    if n == 0xFFF:  # a longer name: up to its NUL
        n = data.find(b"\x00", at + 62) - at - 62
        if n < 0:
            raise ValueError("an entry's name without its end")
    return n


def entry_size(n: int) -> int:
    return (62 + n + 8) & ~7


def walk(data: Data, count: int, since: int) -> Layout | None:
    """Every entry's place, found by reading them all (the map unknown or wrong)."""
    keys: list[bytes] = []
    offsets: list[int] = []
    recent: list[bytes] = []
    limit = since.to_bytes(4, "big")
    latest = b"\x00\x00\x00\x00"
    pos = FIRST
    end = len(data) - 20
    try:
        for first in range(0, count, EVERY):
            n = namelen(data, pos)
            keys.append(data[pos + 62:pos + 62 + n])
            offsets.append(pos)
            for _ in range(min(EVERY, count - first)):
                n = (data[pos + 60] & 0x0F) << 8 | data[pos + 61]
                if n == 0xFFF:
                    n = namelen(data, pos)
                m = data[pos + 8:pos + 12]
                if m >= limit:
                    recent.append(data[pos + 62:pos + 62 + n])
                    if len(recent) > MAX_RECENT:
                        return None  # e.g. a fresh checkout: git's write smudges them
                elif m > latest:
                    latest = m
                pos += (62 + n + 8) & ~7
    except (IndexError, ValueError):
        return None
    if pos > end:
        return None
    layout = Layout(count, pos, keys, offsets, since, recent, int.from_bytes(latest, "big"))
    span = tree_span(data, pos)
    if span is None:
        return None
    if span[0] < span[1]:
        layout.tree = cachetree.index(data, *span)
        if layout.tree is None:
            return None
    return layout


def tree_span(data: Data, end: int) -> tuple[int, int] | None:
    """(start, stop) of the cache tree's data after the entries ending at `end` (start ==
    stop: there is none), when the extensions are whole and only that; else None."""
    stop = len(data) - 20
    if end == stop:
        return end, end
    if end + 8 > stop or data[end:end + 4] != b"TREE" or end + 8 + u32(data, end + 4) != stop:
        return None
    return end + 8, stop


def locate(data: Data, layout: Layout, raw: bytes) -> tuple[int, bytes | None, int, int]:
    """(offset, path, flags, size) of the first entry whose path is not before `raw`
    (path None: there is none; offset is then where the entries end)."""
    i = bisect_right(layout.keys, raw) - 1
    pos = layout.offsets[max(i, 0)] if layout.keys else layout.end
    steps = 0
    while pos < layout.end:
        n = namelen(data, pos)
        name = data[pos + 62:pos + 62 + n]
        if name >= raw:
            return pos, name, data[pos + 60] << 8 | data[pos + 61], entry_size(n)
        steps += 1
        if steps % EVERY == 0:
            layout.found[name] = pos
        pos += entry_size(n)
    return layout.end, None, 0, 0


def locate_all(data: Data, layout: Layout, raws: list[bytes]) -> dict[bytes, int]:
    """{path: offset} of the entries the index has among `raws` (sorted), walking on from
    one to the next while it is nearer than a mark (a model's files are one run of
    entries: 150 locates from their marks walked 40,000 entries)."""
    out: dict[bytes, int] = {}
    pos, name, size = layout.end, None, 0
    for raw in raws:
        i = bisect_right(layout.keys, raw) - 1
        mark = layout.offsets[max(i, 0)] if layout.keys else layout.end
        if name is None or pos < mark:
            pos, name, _, size = locate(data, layout, raw)
        while name is not None and name < raw:
            pos += size
            if pos >= layout.end:
                name = None
                break
            n = namelen(data, pos)
            name, size = data[pos + 62:pos + 62 + n], entry_size(n)
        if name == raw:
            out[raw] = pos
    return out


def carry(layout: Layout, ops: list[tuple[int, int, bytes]], count: int, end: int, mtime: int,
           times: dict[bytes, int], tree_edits: list[tuple[int, int, bytes]]) -> Layout:
    """The layout of the file just written: the marks moved by what was put in before them."""
    marks = dict(zip(layout.keys, layout.offsets))
    marks.update(layout.found)
    keys = sorted(marks)
    offsets = []
    for key in keys:
        at = marks[key]
        offsets.append(at + sum(len(new) - old for op_at, old, new in ops
                                if op_at < at or (op_at == at and old == 0)))
    older = layout.older
    recent: list[bytes] = []
    for raw, t in times.items():  # the written entries and the old recent ones
        if t >= mtime:
            recent.append(raw)  # checked against the index file's mtime next time
        else:
            older = max(older, t)
    tree = None if layout.tree is None else cachetree.carry(layout.tree, tree_edits)
    return Layout(count, end, keys, offsets, mtime, sorted(recent), older, tree)


def seconds(ns: int) -> int:
    """A time as the index records it: whole seconds, the low 32 bits."""
    return ns // 1_000_000_000 & 0xFFFFFFFF


def stat_fields(st: os.stat_result) -> tuple[int, ...]:
    """An entry's first ten fields for a plain file with this stat data, as git records
    them: ctime and mtime (seconds, nanoseconds), device, inode, mode 100644, uid, gid and
    size, each its low 32 bits."""
    ctime, mtime = divmod(st.st_ctime_ns, 1_000_000_000), divmod(st.st_mtime_ns, 1_000_000_000)
    fields = (*ctime, *mtime, st.st_dev, st.st_ino, 0o100644, st.st_uid, st.st_gid, st.st_size)
    return tuple(f & 0xFFFFFFFF for f in fields)


# the maps this process loaded or wrote, by file: (index checksum, size, count, layout)
_known: dict[str, tuple[bytes, int, int, Layout]] = {}


def load(path: Path, data: Data, count: int) -> Layout | None:
    """The map of the index in `data`, when `path` holds a right one. A map this process
    already checked against an index with the same checksum, size and count (the same
    content) is not read and checked again: a change's clean check and its index write
    both need it."""
    known = _known.get(str(path))
    if known is not None and known[:3] == (bytes(data[-20:]), len(data), count):
        return known[3]
    layout = _load(path, data, count)
    if layout is not None:
        _known[str(path)] = (bytes(data[-20:]), len(data), count, layout)
    return layout


def forget() -> None:
    """Drop what this process remembers of the maps (as a new process starts)."""
    _known.clear()


def _load(path: Path, data: Data, count: int) -> Layout | None:
    try:
        saved = json.loads(path.read_bytes())
        if saved["magic"] != MAGIC or saved["sum"] != data[-20:].hex() or saved["size"] != len(data) \
                or saved["count"] != count:
            return None
        keys = [k.encode("latin-1") for k in saved["keys"]]
        offsets = [int(o) for o in saved["offsets"]]
        recent = [r.encode("latin-1") for r in saved["recent"]]
        tree = saved["tree"]
        layout = Layout(count, int(saved["end"]), keys, offsets, int(saved["since"]), recent,
                        int(saved["older"]), None if tree is None else {str(d): int(at) for d, at in tree.items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeError):
        return None
    if len(keys) != len(offsets) or keys != sorted(keys) or not FIRST <= layout.end <= len(data) - 20:
        return None
    for key, at in zip(keys, offsets):  # each mark must be an entry with that path
        if not FIRST <= at <= layout.end - 62 or data[at + 62:at + 62 + len(key) + 1] != key + b"\x00" \
                or namelen(data, at) != len(key):
            return None
    if keys and offsets[0] != FIRST:
        return None
    span = tree_span(data, layout.end)
    if span is None or (span[0] < span[1]) != (layout.tree is not None) \
            or (layout.tree is not None and not cachetree.check(data, span[0], layout.tree)):
        return None
    return layout


def save(path: Path, written: Written) -> None:
    lay = written.layout
    _known[str(path)] = (bytes.fromhex(written.checksum), written.size, lay.count, lay)
    text = json.dumps({
        "magic": MAGIC, "sum": written.checksum, "size": written.size, "count": lay.count,
        "end": lay.end, "since": lay.since, "older": lay.older,
        "recent": [r.decode("latin-1") for r in lay.recent],
        "keys": [k.decode("latin-1") for k in lay.keys], "offsets": lay.offsets, "tree": lay.tree,
    })
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, "latin-1")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only .git: the next change walks the index
