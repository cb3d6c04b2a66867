"""Write a synthetic gitreg registry of a given size, fast and deterministically.

The registry is in gitreg's own format, exactly what `gitreg register`/`promote`/
`rollback` write: a `gitreg init` base commit, then one commit per event (each
registration is its own commit: GTO crashes on two versions of one artifact registered
on the same commit) with the `Gitreg-*` trailers; manifests, `.dvc` pointers (fake but
valid md5s, consistent with the manifest), a `.gitignore` per version directory,
`dvc.yaml` artifacts and `models/N/model.yaml`; GTO tags (`N@vX.Y.Z` on the
registration commit, `N#stage!#seq` then `N#stage#seq` on the version's registration
commit, and the re-assertion of a stage's remaining holder), tagger times strictly
increasing, one second apart.

Last, one commit writes every model's summary (`.gitreg/summaries/NAME.json`), as
`gitreg doctor --fix` does in a registry made before gitreg wrote them.

History per model (seeded): versions registered one after another (patch/minor/major
bumps); some go to staging, some from staging to production (archiving the previous
holder), and now and then a rollback restores the previous production holder.

No `git fast-import`: the objects are hashed here and written straight into a pack (see
_Pack), with the ids fast-import gave them; the tags go into the same pack and into
packed-refs. Each manifest's text is kept in parts (a move appends its history entry
instead of dumping the whole file again), the YAML is written without PyYAML's
representer (_dump), and each model's tags are replayed once, at its end: 2000 models x
50 versions in about two minutes.

    python benchmarks/generate.py DIR --models 100 --versions 10 [--seed 0]
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import os
import random
import re
import struct
import subprocess
import sys
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from gitreg import Registry, fastscan, yamlio
from gitreg.store.digest import summarize
from gitreg.store.summary import SUMMARY_DIR, refresh_message, render, summary_path
from gitreg.api import VersionInfo
from gitreg.ops.register import build_manifest
from gitreg.core.messages import commit_message as _commit_message
from gitreg.core.messages import tag_message as _tag_message
from gitreg.core.messages import tag_summary
from gitreg.core.timefmt import rfc3339
from gitreg.core import events as ev
from gitreg.core import manifest as mf
from gitreg.core.version import parse_version

BASE_TIME = 1767225600  # 2026-01-01T00:00:00Z
ACTORS = ("alice@example.com", "bob@example.com", "carol@example.com")
FRAMEWORKS = ("sklearn", "xgboost", "pytorch", "lightgbm")
STAGING, PRODUCTION, ARCHIVED = "staging", "production", "archived"


def _env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.setdefault("GIT_AUTHOR_NAME", "Alice")
    env.setdefault("GIT_AUTHOR_EMAIL", ACTORS[0])
    env.setdefault("GIT_COMMITTER_NAME", "Alice")
    env.setdefault("GIT_COMMITTER_EMAIL", ACTORS[0])
    env["DVC_NO_ANALYTICS"] = "1"
    return env


class _Clock:
    """One second per commit or tag, so every model's tags are strictly increasing."""

    def __init__(self, start: int) -> None:
        self.now = start

    def tick(self) -> int:
        self.now += 1
        return self.now


class _Pack:
    """Writes the registry's objects straight into one git pack (and its .idx), as
    `git fast-import` would store them, without fast-import.

    fast-import was most of the time at 2000 x 50: it hashed and deltified each
    commit's whole `models/` tree (2000 entries) and each registration's whole
    `dvc.yaml` (300 KB) against the previous version, searching for the change. Here the
    change is known: while one model's events are written, every `models/` tree and
    `dvc.yaml` is stored as a delta (one copy, one insert, one copy) against the
    first one written for that model, which is stored whole (chains one deep); only
    the SHA-1s are over the whole texts. Each model tree, version tree and manifest is a
    delta against its own previous version (chains of at most 16), and the last version
    of each, what HEAD reads, is held back and written whole into a second, small pack
    when the model is done. Commits, trees and blobs are hashed here, so commit ids are
    known at once and the tags go into the same pack. The object ids are exactly what
    fast-import wrote (same HEAD and tags: checked at 20x10, 200x50 and 2000x5).
    """

    TYPES = {b"commit": 1, b"tree": 2, b"blob": 3, b"tag": 4}

    def __init__(self, git_dir: Path, base_tree: list[tuple[bytes, bytes, bytes]],
                 models_tree: list[tuple[bytes, bytes, bytes]]) -> None:
        self.git_dir = git_dir
        packs = git_dir / "objects" / "pack"
        packs.mkdir(parents=True, exist_ok=True)
        self.main = _PackFile(packs / "tmp_gitreg_bench.pack")
        # the last version of each manifest and tree of a model (what HEAD reads), whole and
        # together in a second, small pack: `gitreg list` meets them side by side
        self.head = _PackFile(packs / "tmp_gitreg_bench_head.pack")
        self.pending: dict[Any, tuple[bytes, bytes, bytes]] = {}  # family -> (kind, content, id)
        self.seen: set[bytes] = set()
        # keyframes for the deltas: family -> (offset, content)
        self.frames: dict[str, tuple[int, bytes]] = {}
        self.chain: dict[Any, tuple[int, bytes, int]] = {}  # family -> (offset, content, depth)
        self.chain_model = b""
        self.hashed: dict[str, tuple[int, dict[tuple[int, int], Any]]] = {}  # family -> (keyframe, states)
        # tree state: the root's entries (name -> (mode, id)); models/'s entries, sorted
        self.root = {name: (mode, oid) for mode, name, oid in base_tree}
        self.mkeys = [_tree_key(mode, name) for mode, name, _ in models_tree]
        self.mentries = [_tree_entry(mode, name, oid) for mode, name, oid in models_tree]
        self.model_trees: dict[bytes, dict[bytes, tuple[bytes, bytes]]] = {}
        self.version_trees: dict[tuple[bytes, bytes], dict[bytes, tuple[bytes, bytes]]] = {}
        self.model_ids: dict[bytes, bytes] = {}  # model name -> its tree id, as last written
        self.summaries: dict[bytes, tuple[bytes, bytes]] = {}  # .gitreg/summaries/'s entries

    # -- objects ---------------------------------------------------------------------
    def put(self, kind: bytes, content: bytes, family: str | None = None, prefix: int | None = None,
            suffix: int = 0) -> bytes:
        """Store an object, return its binary id. With a family: content's first `prefix`
        and last `suffix` bytes are those of the family's keyframe (checked), so it is
        stored as a delta against it; no prefix makes it the family's new keyframe."""
        frame = self.frames.get(family) if family and prefix is not None else None
        view = memoryview(content)
        if frame is not None:
            base_off, base = frame
            end = len(content) - suffix
            if (end < prefix or len(base) < prefix + suffix
                    or not content.startswith(memoryview(base)[:prefix])
                    or (suffix and not content.endswith(memoryview(base)[len(base) - suffix:]))):
                frame = None
        if frame is not None:
            # the SHA-1 state after the header and the keyframe's prefix, kept: the prefix
            # (every model before this one) is most of dvc.yaml and of models/
            at, states = self.hashed.get(family, (-1, {}))
            if at != base_off:
                states = {}
                self.hashed[family] = (base_off, states)
            h = states.get((prefix, len(content)))
            if h is None:
                h = hashlib.sha1(b"%s %d\0" % (kind, len(content)))
                h.update(view[:prefix])
                states[prefix, len(content)] = h
            h = h.copy()
            h.update(view[prefix:])
        else:
            h = hashlib.sha1(b"%s %d\0" % (kind, len(content)))
            h.update(content)
        oid = h.digest()
        if oid in self.seen:
            return oid
        self.seen.add(oid)
        if frame is None:
            # a small window for small objects: zlib sets up a 4 KB window 3x faster
            data = zlib.compress(content, 1, wbits=12 if len(content) <= 4096 else 15)
            entry = _obj_header(self.TYPES[kind], len(content)) + data
            if family:
                self.frames[family] = (self.offset, content)
        else:
            delta = _delta(len(base), len(content), prefix, content[prefix:end],
                           len(base) - suffix, suffix)
            entry = _obj_header(6, len(delta)) + _ofs(self.offset - base_off) + zlib.compress(delta, 1, wbits=12)
        self._write(oid, entry)
        return oid

    def put_chained(self, kind: bytes, content: bytes, family: Any, depth: int = 16) -> bytes:
        """Store an object as a delta against the family's previous one (what they share at
        the start and at the end, found here), up to `depth` deep, then whole again: each
        version of a model's tree and of a manifest changes a little from the last."""
        h = hashlib.sha1(b"%s %d\0" % (kind, len(content)))
        h.update(content)
        oid = h.digest()
        if oid in self.seen:
            return oid
        self.seen.add(oid)
        held = self.pending.pop(family, None)
        self.pending[family] = (kind, content, oid)
        if held is not None:  # a newer version: the one held back is a delta base after all
            self._chained(held[0], held[1], held[2], family, depth)
        return oid

    def _chained(self, kind: bytes, content: bytes, oid: bytes, family: Any, depth: int) -> None:
        frame = self.chain.get(family)
        if frame is None or frame[2] >= depth:
            self.chain[family] = (self.offset, content, 0)
            entry = _obj_header(self.TYPES[kind], len(content)) + \
                zlib.compress(content, 1, wbits=12 if len(content) <= 4096 else 15)
        else:
            base_off, base, d = frame
            prefix = _common(base, content)
            suffix = _common(base, content, min(len(base), len(content)) - prefix)
            delta = _delta(len(base), len(content), prefix, content[prefix:len(content) - suffix],
                           len(base) - suffix, suffix)
            self.chain[family] = (self.offset, content, d + 1)
            entry = _obj_header(6, len(delta)) + _ofs(self.offset - base_off) + zlib.compress(delta, 1, wbits=12)
        self._write(oid, entry)

    @property
    def offset(self) -> int:
        return self.main.offset

    def _write(self, oid: bytes, entry: bytes) -> None:
        self.main.write(oid, entry)

    def _release(self) -> None:
        """The model is done: its held-back last versions go whole into the head pack."""
        for kind, content, oid in self.pending.values():
            self.head.write(oid, _obj_header(self.TYPES[kind], len(content)) +
                            zlib.compress(content, 1, wbits=12 if len(content) <= 4096 else 15))
        self.pending.clear()
        self.chain.clear()

    # -- commits ---------------------------------------------------------------------
    def commit(self, parent: str | None, when: int, message: str, files: Mapping[str, Any],
               actor: str = ACTORS[0]) -> str:
        """A commit of `files` (path -> text, or a _Spliced dvc.yaml) on top of the tree so far."""
        touched_versions: set[tuple[bytes, bytes]] = set()
        touched_models: set[bytes] = set()
        summaries: dict[bytes, tuple[bytes, bytes]] = {}
        for path, text in files.items():
            parts = path.encode().split(b"/")
            if path.startswith(SUMMARY_DIR + "/"):  # .gitreg/summaries/NAME.json
                summaries[parts[-1]] = (b"100644", self.put(b"blob", text.encode()))
                continue
            if len(parts) > 2 and parts[1] != self.chain_model:  # the next model
                self._release()
                self.chain_model = parts[1]
            if isinstance(text, _Spliced):
                oid = self.put(b"blob", text.content, "dvc.yaml", text.prefix)
            elif parts[-1] == b"manifest.yaml":
                oid = self.put_chained(b"blob", text.encode(), path)
            else:
                oid = self.put(b"blob", text.encode())
            if len(parts) == 1:
                self.root[parts[0]] = (b"100644", oid)
            elif len(parts) == 3:  # models/NAME/FILE
                self.model_trees.setdefault(parts[1], {})[parts[2]] = (b"100644", oid)
                touched_models.add(parts[1])
            else:  # models/NAME/VERSION/FILE
                assert len(parts) == 4 and parts[0] == b"models", path
                key = (parts[1], parts[2])
                self.version_trees.setdefault(key, {})[parts[3]] = (b"100644", oid)
                touched_versions.add(key)
                touched_models.add(parts[1])
        for name, ver in touched_versions:
            oid = self.put_chained(b"tree", _tree(self.version_trees[name, ver]), (name, ver))
            self.model_trees.setdefault(name, {})[ver] = (b"40000", oid)
        for name in touched_models:
            self._set_model(name, self.put_chained(b"tree", _tree(self.model_trees[name]), name))
        if touched_models:
            self.root[b"models"] = (b"40000", self._models_tree())
        if summaries:
            self.summaries.update(summaries)
            inner = self.put(b"tree", _tree(self.summaries))
            self.root[b".gitreg"] = (b"40000", self.put(b"tree", _tree({b"summaries": (b"40000", inner)})))
        tree = self.put(b"tree", _tree(self.root)).hex()
        who = f"{actor.split('@')[0].title()} <{actor}> {when} +0000"
        text = f"tree {tree}\n" + (f"parent {parent}\n" if parent else "") + \
            f"author {who}\ncommitter {who}\n\n{message}"
        return self.put(b"commit", text.encode()).hex()

    def _set_model(self, name: bytes, oid: bytes) -> None:
        self.model_ids[name] = oid
        key = name + b"/"
        i = bisect.bisect_left(self.mkeys, key)
        entry = _tree_entry(b"40000", name, oid)
        if i < len(self.mkeys) and self.mkeys[i] == key:
            self.mentries[i] = entry
        else:
            self.mkeys.insert(i, key)
            self.mentries.insert(i, entry)
            self.frames.pop("models", None)  # a new entry: the next models/ is a keyframe
        self._changed = i

    def _models_tree(self) -> bytes:
        """models/, as a delta (the one changed entry) against the keyframe."""
        i = self._changed
        content = b"".join(self.mentries)
        if "models" not in self.frames or self._frame_at != i:
            self._frame_at, self._prefix_at = i, -1
            return self.put(b"tree", content, "models")
        prefix = sum(map(len, self.mentries[:i])) if self._prefix_at != i else self._prefix
        self._prefix_at, self._prefix = i, prefix
        return self.put(b"tree", content, "models", prefix, len(content) - prefix - len(self.mentries[i]))

    _frame_at = _prefix_at = _changed = -1
    _prefix = 0

    def tag(self, name: str, target: str, when: int, actor: str, message: str) -> str:
        text = (f"object {target}\ntype commit\ntag {name}\n"
                f"tagger {actor.split('@')[0].title()} <{actor}> {when} +0000\n\n{message}")
        return self.put(b"tag", text.encode()).hex()

    def finish(self) -> list[Path]:
        """Write the held-back last versions, then both packs' trailers and .idx files."""
        self._release()
        self.frames.clear()
        return [self.main.finish(), self.head.finish()]


class _PackFile:
    """One pack being written: its entries, then (finish) the count, trailer and .idx."""

    def __init__(self, path: Path) -> None:
        self.tmp = path
        self.out = open(path, "wb", buffering=1 << 22)
        self.out.write(b"PACK\0\0\0\2\0\0\0\0")  # the count is patched in at the end
        self.offset = 12
        self.index: list[tuple[bytes, int, int]] = []  # (id, crc32, offset)

    def write(self, oid: bytes, entry: bytes) -> None:
        self.out.write(entry)
        self.index.append((oid, zlib.crc32(entry), self.offset))
        self.offset += len(entry)

    def finish(self) -> Path:
        """Patch the count in, write the trailer and the .idx; return the pack's path."""
        if not self.index:  # nothing held back (no models)
            self.out.close()
            self.tmp.unlink()
            return self.tmp
        self.out.flush()
        self.out.seek(8)
        self.out.write(struct.pack(">I", len(self.index)))
        self.out.close()
        h = hashlib.sha1()
        with open(self.tmp, "rb") as f:
            while chunk := f.read(1 << 24):
                h.update(chunk)
        digest = h.digest()
        with open(self.tmp, "ab") as f:
            f.write(digest)
        self.index.sort()
        fanout = [0] * 256
        for oid, _, _ in self.index:
            fanout[oid[0]] += 1
        total, counts = 0, []
        for n in fanout:
            total += n
            counts.append(total)
        big = [off for _, _, off in self.index if off >= 1 << 31]
        big_at = {off: i for i, off in enumerate(big)}
        idx = [b"\377tOc\0\0\0\2", struct.pack(">256I", *counts),
               b"".join(oid for oid, _, _ in self.index),
               struct.pack(f">{len(self.index)}I", *(crc for _, crc, _ in self.index)),
               struct.pack(f">{len(self.index)}I", *(off if off < 1 << 31 else (1 << 31) | big_at[off]
                                                      for _, _, off in self.index)),
               struct.pack(f">{len(big)}Q", *big), digest]
        body = b"".join(idx)
        name = self.tmp.parent / f"pack-{digest.hex()}"
        name.with_suffix(".idx").write_bytes(body + hashlib.sha1(body).digest())
        self.tmp.rename(name.with_suffix(".pack"))
        return name.with_suffix(".pack")


class _Spliced:
    """dvc.yaml's text, whose first `prefix` bytes are those of the current keyframe
    (every model before the one being registered); prefix None: a new keyframe."""

    __slots__ = ("content", "prefix")

    def __init__(self, content: bytes, prefix: int | None) -> None:
        self.content, self.prefix = content, prefix


def _common(a: bytes, b: bytes, suffix_limit: int | None = None) -> int:
    """How many bytes a and b share at their start, or with suffix_limit at their end (at
    most that many): a binary search of memcmp's."""
    view = memoryview(b)
    lo, hi = 0, min(len(a), len(b)) if suffix_limit is None else suffix_limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a.startswith(view[:mid]) if suffix_limit is None else a.endswith(view[len(b) - mid:]):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _tree_key(mode: bytes, name: bytes) -> bytes:
    return name + b"/" if mode == b"40000" else name


def _tree_entry(mode: bytes, name: bytes, oid: bytes) -> bytes:
    return mode + b" " + name + b"\0" + oid


def _tree(entries: Mapping[bytes, tuple[bytes, bytes]]) -> bytes:
    """A tree object's content, in git's order (a directory sorts as NAME/)."""
    return b"".join(_tree_entry(mode, name, oid) for name, (mode, oid) in
                    sorted(entries.items(), key=lambda e: _tree_key(e[1][0], e[0])))


def _obj_header(kind: int, size: int) -> bytes:
    out = bytearray()
    byte = (kind << 4) | (size & 15)
    size >>= 4
    while size:
        out.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    out.append(byte)
    return bytes(out)


def _ofs(distance: int) -> bytes:
    out = [distance & 0x7F]
    distance >>= 7
    while distance:
        distance -= 1
        out.append(0x80 | (distance & 0x7F))
        distance >>= 7
    return bytes(reversed(out))


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _copy(offset: int, size: int) -> bytes:
    out = bytearray()
    while size:
        n = min(size, 0xFFFFFF)
        op, args = 0x80, bytearray()
        for i in range(4):
            if (offset >> (8 * i)) & 0xFF:
                op |= 1 << i
                args.append((offset >> (8 * i)) & 0xFF)
        for i in range(3):
            if (n >> (8 * i)) & 0xFF:
                op |= 1 << (4 + i)
                args.append((n >> (8 * i)) & 0xFF)
        out.append(op)
        out += args
        offset += n
        size -= n
    return bytes(out)


def _delta(base_size: int, size: int, prefix: int, middle: bytes, suffix_at: int, suffix: int) -> bytes:
    """A git delta: copy the base's first `prefix` bytes, insert `middle`, copy `suffix`
    bytes from `suffix_at`."""
    out = [_varint(base_size), _varint(size), _copy(0, prefix)]
    for i in range(0, len(middle), 127):
        chunk = middle[i:i + 127]
        out.append(bytes((len(chunk),)) + chunk)
    out.append(_copy(suffix_at, suffix))
    return b"".join(out)


class _Unhandled(Exception):
    pass


_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.@/+-]*(?: [A-Za-z0-9_.@/+-]+)*|\d+\.\d+\.\d+")
_QUOTED = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@/+ -]*(?:: [A-Za-z0-9_.@/+ -]+)+"
                     r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_MD5 = re.compile(r"[0-9a-f]{32}(?:\.dir)?")
_BINARY = re.compile(r"0b[01_]*")
_FLOAT = re.compile(r"-?\d+\.\d+")
_RESOLVED = {"yes", "no", "true", "false", "on", "off", "null", "y", "n", "~"}
_scalars: dict[Any, str] = {}
_checks = {"left": 2000}  # the first dumps are also made by yamlio.dump and compared


def _scalar(v: Any) -> str:
    """v as yamlio.dump writes it after `key: ` (no folding: lines are checked short)."""
    if v is None:
        return "null"
    if v is True or v is False:
        return "true" if v else "false"
    if type(v) is int:
        return str(v)
    if type(v) is float:
        r = repr(v)
        if _FLOAT.fullmatch(r):
            return r
    elif type(v) is str:
        if v == "":
            return "''"
        if _PLAIN.fullmatch(v) and v.lower() not in _RESOLVED and "  " not in v:
            return v
        if _QUOTED.fullmatch(v) and not v.endswith(" ") and "  " not in v:
            return "'" + v + "'"
        if _MD5.fullmatch(v) and not v[:32].isdigit() and not _BINARY.fullmatch(v):
            return v  # a hex digest with a letter: never an int, float or date
    key = (type(v), v)
    if key not in _scalars:  # anything else: as PyYAML writes it alone, if that is one line
        text = yamlio.dump({"k": v})
        if not text.startswith("k: ") or text.count("\n") != 1:
            raise _Unhandled(v)
        _scalars[key] = text[3:-1]
    return _scalars[key]


def _lines(data: Any, indent: str, out: list[str], first: str | None = None) -> None:
    """Block YAML as PyYAML writes it (indent 2, sequences in mappings not indented)."""
    lead = indent if first is None else first
    if isinstance(data, dict):
        for k, v in data.items():
            if type(k) is not str or _scalar(k) != k:
                raise _Unhandled(k)
            if isinstance(v, dict):
                if not v:
                    out.append(f"{lead}{k}: {{}}\n")
                else:
                    out.append(f"{lead}{k}:\n")
                    _lines(v, indent + "  ", out)
            elif isinstance(v, list):
                if not v:
                    out.append(f"{lead}{k}: []\n")
                else:
                    out.append(f"{lead}{k}:\n")
                    _lines(v, indent, out)
            else:
                line = f"{lead}{k}: {_scalar(v)}\n"
                if len(line) > 90:
                    raise _Unhandled(line)
                out.append(line)
            lead = indent
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict) and item:
                _lines(item, indent + "  ", out, indent + "- ")
            elif isinstance(item, (dict, list)):
                raise _Unhandled(item)
            else:
                line = f"{indent}- {_scalar(item)}\n"
                if len(line) > 90:
                    raise _Unhandled(line)
                out.append(line)
    else:
        raise _Unhandled(data)


def _dump(data: Any) -> str:
    """Exactly yamlio.dump(data), without PyYAML for the plain mappings, lists and
    scalars the generator writes (PyYAML's representer took a third of the time);
    anything else, and the first dumps (as a check), go through yamlio.dump."""
    out: list[str] = []
    try:
        if not data:
            raise _Unhandled(data)
        _lines(data, "", out)
    except _Unhandled:
        return yamlio.dump(data)
    text = "".join(out)
    if _checks["left"]:
        _checks["left"] -= 1
        expected = yamlio.dump(data)
        assert text == expected, (text, expected)
    return text


def _fake_md5(*parts: Any) -> str:
    return hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()


def _dvc_file_text(out: Mapping[str, Any]) -> str:
    """yamlio.dump({"outs": [out]}) for the plain values a .dvc pointer holds (the smoke test
    compares them): 100,000 of them through PyYAML's representer took a minute."""
    if not any(c in "abcdef" for c in out["md5"]):  # all digits: YAML would quote it
        return yamlio.dump({"outs": [out]})
    lines = [f"  {k}: {v}" for k, v in out.items()]
    return "outs:\n-" + "\n".join(lines)[1:] + "\n"


def _next_version(rng: random.Random, current: Any) -> Any:
    roll = rng.random()
    return current.bump("major" if roll < 0.08 else "minor" if roll < 0.45 else "patch")


class _Model:
    def __init__(self, name: str) -> None:
        self.name = name
        self.manifests: dict[str, dict[str, Any]] = {}
        self.reg_commit: dict[str, str] = {}
        self.seq = 0
        self.events: list[ev.Event] = []
        self.tags: list[tuple[str, str, str, str]] = []  # (tag, version, event commit, message)
        # the manifests' text, kept in parts so a move appends instead of dumping it all again
        self.head: dict[str, str] = {}  # version -> every field before `stage`
        self.history_text: dict[str, str] = {}  # version -> the `history:` entries
        self.move_of: dict[int, tuple[str, str]] = {}  # seq -> (its commit id, actor)

    def manifest_text(self, ver: str) -> str:
        """Exactly yamlio.dump(mf.ordered(manifest)): stage and history are its last fields."""
        return (self.head[ver] + f"stage: {self.manifests[ver]['stage']}\n"
                + "history:\n" + self.history_text[ver])

    def holders(self, stage: str) -> list[str]:
        return ev.stage_holders(self.manifests.values()).get(stage, [])


class Generator:
    def __init__(self, root: Path, models: int, versions: int, seed: int, pack: _Pack,
                 clock: _Clock, base: str) -> None:
        self.root = root
        self.n_models = models
        self.n_versions = versions
        self.rng = random.Random(seed)
        self.s = pack
        self.clock = clock
        self.parent: str | None = base
        self.dvc_artifacts: dict[str, dict[str, Any]] = {}
        self.dvc_text: dict[str, str] = {}
        self.counts = {"commits": 0, "tags": 0, "promotions": 0, "rollbacks": 0}

    # -- events ------------------------------------------------------------------------
    def _commit(self, message: str, files: Mapping[str, Any], actor: str = ACTORS[0]) -> str:
        commit = self.s.commit(self.parent, self.clock.tick(), message, files, actor)
        self.parent = commit
        self.counts["commits"] += 1
        return commit

    def register(self, m: _Model, ver: str, actor: str) -> None:
        rng = self.rng
        m.seq += 1
        seq = m.seq
        now = datetime.fromtimestamp(self.clock.now + 1, timezone.utc)
        metrics = {"accuracy": round(rng.uniform(0.7, 0.99), 4), "f1": round(rng.uniform(0.6, 0.97), 4),
                   "auc": round(rng.uniform(0.7, 0.99), 4)}
        info = VersionInfo(
            description=f"{m.name} {ver}: retrained on the {rng.choice(('weekly', 'monthly', 'daily'))} data",
            framework=rng.choice(FRAMEWORKS), algorithm="GradientBoostingClassifier",
            hyperparameters={"n_estimators": rng.choice((100, 200, 400)), "max_depth": rng.randint(3, 12)},
            metrics=metrics, dataset_version=f"v2026.{rng.randint(1, 12):02d}",
            tags=["benchmark", m.name.split("-")[0]], created_by=actor,
        )
        manifest = build_manifest(m.name, ver, info, actor, now, seq, len(m.manifests) + 1)
        vdir = f"models/{m.name}/{ver}"
        is_dir = rng.random() < 0.1
        if is_dir:
            nfiles = rng.randint(2, 5)
            art = {"path": "model", "md5": _fake_md5(m.name, ver) + ".dir",
                   "size": rng.randint(10_000, 5_000_000), "nfiles": nfiles}
            out = {"md5": art["md5"], "size": art["size"], "nfiles": nfiles, "hash": "md5", "path": "model"}
        else:
            art = {"path": "model.pkl", "md5": _fake_md5(m.name, ver), "size": rng.randint(10_000, 5_000_000)}
            out = {"md5": art["md5"], "size": art["size"], "hash": "md5", "path": "model.pkl"}
        manifest["artifacts"] = [art]
        m.manifests[ver] = manifest
        ordered = mf.ordered(manifest)
        assert list(ordered)[-2:] == ["stage", "history"], list(ordered)
        m.head[ver] = _dump({k: v for k, v in ordered.items() if k not in ("stage", "history")})
        m.history_text[ver] = _dump(manifest["history"])
        files: dict[str, Any] = {
            f"{vdir}/manifest.yaml": m.manifest_text(ver),
            f"{vdir}/{art['path']}.dvc": _dvc_file_text(out),
            f"{vdir}/.gitignore": f"/{art['path']}\n",
        }
        if len(m.manifests) == 1:
            files[f"models/{m.name}/model.yaml"] = _dump(
                {"schema_version": 1, "name": m.name, "description": info.description,
                 "tags": info.tags, "created_at": rfc3339(now)})
        entry = {"path": f"{vdir}/{art['path']}", "type": "model", "desc": info.description,
                 "labels": info.tags}
        known = m.name in self.dvc_text and next(reversed(self.dvc_text)) == m.name
        self.dvc_artifacts[m.name] = entry
        block = "".join("  " + line + "\n" for line in _dump({m.name: entry}).splitlines())
        self.dvc_text[m.name] = block
        content = self._dvc_yaml().encode()
        # models are written one after another, so this one's entry is dvc.yaml's last: the
        # text before it is the keyframe's (the pack checks)
        files["dvc.yaml"] = _Spliced(content, len(content) - len(block.encode()) if known else None)
        message = _commit_message("register", m.name, ver, None, None, [seq], info.description)
        commit = self._commit(message, files, actor)
        m.reg_commit[ver] = commit
        m.move_of[seq] = (commit, actor)
        m.events.append(ev.Event(seq, ver, ev.REGISTER, manifest["history"][0]))

    def _dvc_yaml(self) -> str:
        # dvc.yaml is rewritten by every registration, as gitreg does. Dumping 1000 entries
        # 20,000 times is slow, so each entry's block-YAML text is kept and joined: the
        # same bytes as yamlio.dump({"artifacts": ...}) (checked by the smoke test).
        return "artifacts:\n" + "".join(self.dvc_text.values())

    def moves(self, m: _Model, steps: list[dict[str, Any]], action: str, version: str, source: str,
              target: str, reason: str, actor: str) -> None:
        now = rfc3339(datetime.fromtimestamp(self.clock.now + 1, timezone.utc))
        seqs = []
        changed: list[str] = []
        for step in steps:
            m.seq += 1
            seqs.append(m.seq)
            ver = step["version"]
            man = m.manifests[ver]
            if ver not in changed:
                changed.append(ver)
            entry: dict[str, Any] = {"seq": m.seq, "action": step["action"], "from": step["from"],
                                     "to": step["to"], "at": now, "by": actor}
            for key in ("reason", "approved_by", "replaced_by", "requested_by"):
                if step.get(key):
                    entry[key] = step[key]
            man["history"].append(entry)
            m.history_text[ver] += _dump([entry])
            if step["action"] in ev.MOVES:
                man["stage"] = step["to"]
            m.events.append(ev.Event(m.seq, ver, step["action"], entry))
        files = {f"models/{m.name}/{v}/manifest.yaml": m.manifest_text(v) for v in changed}
        commit = self._commit(_commit_message(action, m.name, version, source, target, seqs, reason), files,
                              actor)
        for seq in seqs:
            m.move_of[seq] = (commit, actor)

    def promote(self, m: _Model, ver: str, target: str, actor: str, approver: str | None) -> None:
        current = m.manifests[ver]["stage"]
        steps: list[dict[str, Any]] = []
        reason = f"{'ship' if target == PRODUCTION else 'try'} {ver}"
        if target == PRODUCTION:
            for other in m.holders(PRODUCTION):
                steps.append({"version": other, "action": ev.ARCHIVE, "from": PRODUCTION, "to": ARCHIVED,
                              "reason": f"replaced by {ver}: {reason}", "replaced_by": ver})
        steps.append({"version": ver, "action": ev.PROMOTE, "from": current, "to": target,
                      "reason": reason, "approved_by": [approver] if approver else None})
        if approver:
            # as `gitreg request` then `gitreg approve` by another person: the approval, the
            # archive and the promotion are the approver's own commit (issue 11)
            self.moves(m, [{"version": ver, "action": ev.REQUEST, "from": current, "to": target,
                            "reason": reason}], "request", ver, current, target, reason, actor)
            steps.insert(0, {"version": ver, "action": ev.APPROVE, "from": current, "to": target,
                             "requested_by": actor})
            self.moves(m, steps, "approve", ver, current, target, reason, approver)
        else:
            self.moves(m, steps, "promote", ver, current, target, reason, actor)
        self.counts["promotions"] += 1

    def rollback(self, m: _Model, actor: str) -> bool:
        holders = m.holders(PRODUCTION)
        stack = ev.holder_stack(m.events, PRODUCTION)
        while stack and stack[-1] in holders:
            stack.pop()
        if not stack or not holders:
            return False
        current, target = holders[0], stack[-1]
        reason = "error rate doubled after the release"
        target_from = m.manifests[target]["stage"]
        steps = [{"version": current, "action": ev.ROLLBACK, "from": PRODUCTION, "to": ARCHIVED,
                  "reason": reason, "replaced_by": target},
                 {"version": target, "action": ev.ROLLBACK, "from": target_from, "to": PRODUCTION,
                  "reason": reason}]
        self.moves(m, steps, "rollback", target, current, PRODUCTION, reason, actor)
        self.counts["rollbacks"] += 1
        return True

    # -- the whole registry --------------------------------------------------------------
    @staticmethod
    def model_names_for(n: int) -> list[str]:
        kinds = ("churn", "fraud", "ranker", "pricing", "forecast", "ner", "vision", "reco")
        return [f"{kinds[i % len(kinds)]}-{i:04d}" for i in range(n)]

    def model_names(self) -> list[str]:
        return self.model_names_for(self.n_models)

    def run(self) -> list[_Model]:
        rng = self.rng
        models = [_Model(n) for n in self.model_names()]
        for m in models:
            ver = parse_version(rng.choice(("0.1.0", "1.0.0")))
            for i in range(self.n_versions):
                if i:
                    ver = _next_version(rng, ver)
                v = str(ver)
                self.register(m, v, rng.choice(ACTORS))
                if rng.random() < 0.6:
                    self.promote(m, v, STAGING, rng.choice(ACTORS), None)
                    if rng.random() < 0.5:
                        actor, approver = rng.sample(ACTORS, 2)
                        self.promote(m, v, PRODUCTION, actor, approver)
                        if rng.random() < 0.15:
                            self.rollback(m, rng.choice(ACTORS))
            self.plan_tags(m)
        return models

    def write_summaries(self, models: list[_Model]) -> None:
        """The models' summaries (gitreg.store.summary), in one last commit: what `gitreg
        doctor --fix` writes in a registry made before summaries existed. Each manifest is
        summarised from its text as gitreg reads it (fastscan, else PyYAML)."""
        files: dict[str, str] = {}
        for m in models:
            name = m.name.encode()
            versions, blobs = {}, {}
            for ver in m.manifests:
                text = m.manifest_text(ver)
                fields = fastscan.scan(text)
                versions[ver] = summarize(fields if fields is not None else yamlio.loads(text.encode(), ver))
                blobs[ver] = self.s.version_trees[name, ver.encode()][b"manifest.yaml"][1].hex()
            files[summary_path(m.name)] = render(m.name, self.s.model_ids[name].hex(),
                                                 b"model.yaml" in self.s.model_trees[name], versions, blobs)
        self._commit(refresh_message(len(files)), files)

    @staticmethod
    def plan_tags(m: _Model) -> None:
        """The model's tags, replayed once over its whole history as gitreg replays it (a
        departure from a stage that keeps holders re-asserts one); each on the commit of
        the event that wrote it, in the order gitreg writes them."""
        for t in ev.model_tags(m.name, m.events):
            commit, actor = m.move_of[t.seq]
            if t.kind == ev.REGISTER:
                msg = _tag_message(f"register {m.name} {t.version}", "register", actor, t.seq,
                                   reason=m.manifests[t.version]["description"])
            else:
                msg = _tag_message(tag_summary(m.name, t), t.event.action, actor, t.seq,
                                   t.event.data.get("reason"), t.event.data.get("approved_by"))
            m.tags.append((t.tag, t.version, commit, msg))


def _ls_tree(run: Any, treeish: str) -> list[tuple[bytes, bytes, bytes]]:
    """(mode as a tree object spells it, name, binary id) of each entry of treeish."""
    out = run("ls-tree", "-z", treeish, capture_output=True).stdout
    entries = []
    for line in out.split(b"\0"):
        if line:
            meta, name = line.split(b"\t", 1)
            mode, _, oid = meta.split()
            entries.append((mode.lstrip(b"0"), name, bytes.fromhex(oid.decode())))
    return entries


def _write_packed_refs(git_dir: Path, refs: list[tuple[str, str, str]]) -> None:
    """The tags, written as `git pack-refs` writes them (with their peeled commits): a
    323,000 loose ref files would take longer to write than to pack afterwards."""
    path = git_dir / "packed-refs"
    lines: dict[str, str] = {}
    if path.exists():  # keep any the base already has
        name = None
        for line in path.read_text().splitlines():
            if line.startswith("^") and name:
                lines[name] += line + "\n"
            elif not line.startswith("#"):
                oid, name = line.split(" ", 1)
                lines[name] = line + "\n"
    for name, oid, peeled in refs:
        lines[name] = f"{oid} {name}\n^{peeled}\n"
    body = "".join(lines[name] for name in sorted(lines, key=str.encode))
    tmp = path.with_name("packed-refs.new")
    tmp.write_text("# pack-refs with: peeled fully-peeled sorted \n" + body)
    tmp.rename(path)


def generate(root: Path, models: int, versions: int, seed: int = 0, dvc_remote: Path | None = None,
             env: Mapping[str, str] | None = None, checkout: bool = True,
             template: Path | None = None) -> dict[str, Any]:
    """Create a registry at root (must not exist) and return counts and timings.

    template: a fresh `gitreg init` registry to copy instead of running init (made there
    first if missing), which saves the few seconds of `dvc init` per registry.
    """
    started = time.perf_counter()
    root = Path(root).resolve()
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"{root} exists and is not empty; give a new directory")
    env = _env(env)
    remote = Path(dvc_remote) if dvc_remote else root.with_name(root.name + "-dvc-remote")
    remote.mkdir(parents=True, exist_ok=True)
    if template is None:
        Registry.init(root, dvc_remote=str(remote), env=env)
    else:
        template = Path(template).resolve()
        if not (template / ".git").is_dir():
            Registry.init(template, dvc_remote=str(remote), env=env)
        if root.exists():
            root.rmdir()
        subprocess.run(["cp", "-a", str(template), str(root)], check=True)
    run = lambda *a, **kw: subprocess.run(["git", *a], cwd=root, env=env, check=True, **kw)  # noqa: E731
    base = run("rev-parse", "HEAD", capture_output=True, text=True).stdout.strip()
    # A fixed start, one second per event (1000 x 20 spans ~16 hours of 2026-01-01): the same
    # seed gives the same models/ tree whenever it is run. Later real changes are tagged
    # after these (gitreg tags at max(now, last tag + 1)).
    clock = _Clock(BASE_TIME)
    git_dir = root / ".git"
    pack = _Pack(git_dir, _ls_tree(run, base), _ls_tree(run, base + ":models"))
    gen = Generator(root, models, versions, seed, pack, clock, base)
    all_models = gen.run()
    gen.write_summaries(all_models)
    commits_done = time.perf_counter()
    # Tag times: one second apart, strictly increasing (GTO orders events by them).
    when = clock.now
    refs: list[tuple[str, str, str]] = []
    for m in all_models:
        for tag, ver, commit, msg in m.tags:
            when += 1
            target = m.reg_commit[ver]
            refs.append((f"refs/tags/{tag}", pack.tag(tag, target, when, ACTORS[0],
                                                      msg.replace("{commit}", commit)), target))
    n_tags = len(refs)
    pack.finish()
    _write_packed_refs(git_dir, refs)
    run("update-ref", "refs/heads/main", gen.parent)
    tags_done = time.perf_counter()
    if checkout:
        run("reset", "-q", "--hard", "main")
    gen.counts["tags"] = n_tags
    return {
        "path": str(root), "models": models, "versions": versions, "seed": seed,
        **gen.counts,
        "seconds": round(time.perf_counter() - started, 2),
        "seconds_commits": round(commits_done - started, 2),
        "seconds_tags": round(tags_done - commits_done, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("path", type=Path, help="new directory for the registry")
    p.add_argument("--models", type=int, default=10)
    p.add_argument("--versions", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dvc-remote", type=Path, default=None,
                   help="local DVC remote folder (default: PATH-dvc-remote next to it)")
    args = p.parse_args(argv)
    stats = generate(args.path, args.models, args.versions, args.seed, args.dvc_remote)
    json.dump(stats, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
