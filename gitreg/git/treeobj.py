"""Git tree objects for a commit built from the paths a change wrote (gitreg.git.pathcommit):
HEAD's trees parsed, the trees along the changed paths built here (and remembered by what
they are made of), and written as loose objects or by git (issue 16)."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from gitreg.git import looseobj

if TYPE_CHECKING:
    from gitreg.git.repo import Git

TREE = b"40000"
BLOB = b"100644"
_UNSAFE_NAME = re.compile(rb'[\x00-\x1f\x7f"\\]')  # what `mktree`'s text cannot carry as it is
_KIND = {TREE: b"tree", b"160000": b"commit"}
BIG_TREE = 256  # entries from which a tree is written as an object, not as mktree's lines
Trees = dict[str, tuple[str, dict[bytes, tuple[bytes, str]]]]  # dir -> (sha, {name: (mode, sha)})


def parse(body: bytes) -> dict[bytes, tuple[bytes, str]]:
    """{name: (mode, id)} of a tree object's entries."""
    entries: dict[bytes, tuple[bytes, str]] = {}
    pos = 0
    while pos < len(body):
        sp = body.index(b" ", pos)
        nul = body.index(b"\x00", sp)
        entries[body[sp + 1:nul]] = (body[pos:sp], body[nul + 1:nul + 21].hex())
        pos = nul + 21
    return entries


def _tree_key(item: tuple[bytes, tuple[bytes, str]]) -> bytes:
    name, (mode, _) = item
    return name + b"/" if mode == TREE else name


# trees built by this process, by (HEAD's tree id or "" for none, the entries changed)
_BUILT: dict[tuple[str, tuple[tuple[bytes, tuple[bytes, str]], ...]], tuple[str, bytes]] = {}


def build(trees: Trees, blobs: dict[str, str]
          ) -> tuple[dict[str, str], list[str], dict[str, bytes]] | None:
    """The trees along the changed paths, computed here: ({dir: tree id}, the dirs deepest
    first, {dir: tree object}); None when a name cannot be written that way."""
    changes: dict[str, dict[bytes, tuple[bytes, str]]] = {d: {} for d in trees}
    for path, sha in blobs.items():
        parent, _, name = path.rpartition("/")
        changes[parent][name.encode()] = (BLOB, sha)
    order = sorted(changes, key=lambda d: (-d.count("/") if d else 1, d))
    order = [d for d in order if d] + [""]
    made: dict[str, str] = {}
    bodies: dict[str, bytes] = {}
    for d in order:
        changed = changes[d]
        for child in [c for c in changes if c and c.rpartition("/")[0] == d]:
            changed[child.rpartition("/")[2].encode()] = (TREE, made[child])
        # HEAD's tree (its id, or none) and what changes in it give one tree: a change
        # builds models/ (2,000 entries) for its summary and again for its commit
        key = (trees[d][0], tuple(sorted(changed.items())))
        known = _BUILT.get(key)
        if known is None:
            items = {**trees[d][1], **changed}
            if b"" in items or _UNSAFE_NAME.search(b"/".join(items)):
                return None
            body = b"".join([mode + b" " + raw + b"\x00" + bytes.fromhex(sha)
                             for raw, (mode, sha) in sorted(items.items(), key=_tree_key)])
            known = hashlib.sha1(b"tree %d\x00" % len(body) + body).hexdigest(), body
            if len(_BUILT) >= 64:
                _BUILT.clear()
            _BUILT[key] = known
        made[d], bodies[d] = known
    return made, order, bodies


def write(git: Git, trees: Trees, blobs: dict[str, str]) -> str | None:
    """Write the trees along the changed paths, as loose objects here (gitreg.git.looseobj)
    or else by git; the new root tree's sha, checked against the one computed here."""
    built = build(trees, blobs)
    if built is None:
        return None
    made, order, bodies = built
    loose = looseobj.writer(git)
    if loose is not None:
        try:
            if all(loose.write(b"tree", bodies[d]) == made[d] for d in order):
                return made[""]
        except OSError:
            pass  # git writes them (and says what the file system refused)
    return made[""] if git_write_trees(git, made, order, bodies) else None


def git_write_trees(git: Git, made: dict[str, str], order: list[str], bodies: dict[str, bytes]) -> bool:
    """The small trees in one `git mktree --batch` (deepest first), each big one (models/
    with 2,000 entries) by `git hash-object -t tree`, which reads the object as it is
    instead of a line per entry; each checked against the id computed here."""
    entries = {d: parse(bodies[d]) for d in order}
    small = [d for d in order if len(entries[d]) < BIG_TREE]
    if small:
        # a blank line ends each tree; --missing: every entry is HEAD's or was just written
        # (checking them all in a pack of a million objects took longer than mktree's rest)
        text = b"\n".join(b"".join([b"%s %s %s\t%s\n" % (mode, _KIND.get(mode, b"blob"), sha.encode(), raw)
                                    for raw, (mode, sha) in entries[d].items()]) for d in small)
        proc = git.run(["mktree", "--missing", "--batch"], input=text, text=False, check=False)
        if proc.returncode != 0 or proc.stdout.decode().split() != [made[d] for d in small]:
            return False
    for d in order:
        if d not in small:
            proc = git.run(["hash-object", "-w", "-t", "tree", "--stdin"], input=bodies[d], text=False,
                           check=False)
            if proc.returncode != 0 or proc.stdout.decode().strip() != made[d]:
                return False
    return True
