"""A commit built from the paths a change wrote, without git's index-wide commands (issue 16).

`git add` + `git write-tree` (and `git commit --only`) read and rewrite the whole index:
at 100,000 versions that is 300,000 entries, most of a promotion. A registry change
writes a handful of files, so its commit is made from them alone:

- the files' blobs: one `git hash-object -w --stdin-paths` (the same clean filters and
  end-of-line conversion as `git add`);
- the trees above them: HEAD's trees along those paths, read in one `git cat-file
  --batch`, each with the changed entries put in, written as loose objects
  (gitreg.git.looseobj; else by `git mktree` and `git hash-object -t tree`);
- the index updated for those paths only (gitreg.git.indexfile, else `git update-index
  --add --stdin`), with their stat data as `git add` records it: before the commit;
- then `git commit-tree` and `git update-ref` (Git.commit), as before.

The tree is HEAD's with those paths replaced, which is what `git commit --only -- PATHS`
commits: whatever else is staged stays staged and is not committed. A file in a new
directory that git would not add (ignored: `git check-ignore --no-index`, as `git add -A`
asks) is left out. Anything this cannot make exactly as `git add` would (a symbolic
link, an executable bit, a path that is not a plain tree in HEAD, a file named in a way
the tree text cannot carry, an unborn branch, nothing changed) returns None before
anything is touched, and the caller takes `git add` + `git commit`.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from gitreg.git import indexfile, indexstamp, treeobj
from gitreg.git.treeobj import BLOB, TREE, Trees
from gitreg.git.process import GitCommandError

if TYPE_CHECKING:
    from gitreg.git.repo import Git



@dataclass
class Staged:
    """A change's paths, hashed and staged: what `commit` needs to make its commit."""

    head: str
    trees: Trees
    blobs: dict[str, str]
    stats: dict[str, os.stat_result] = field(default_factory=dict)  # each blob's file, before hashing
    index_before: str | None = None  # the index file's checksum before and after staging
    index_after: str | None = None


def plan(git: Git, files: Sequence[str], new_dirs: Sequence[str]) -> Staged | None:
    """Hash `files` (each written, relative to the root) and everything git would add under
    `new_dirs` (directories the change made); None (nothing done but objects written) when
    only `git add` + `git commit` can make the same commit."""
    head = git.head()
    if not head or len(head) != 40:
        return None  # an unborn branch, or a SHA-256 repository
    root = git.root
    wanted: dict[str, None] = {}
    for rel in files:
        wanted[_norm(rel)] = None
    dir_files: list[str] = []
    sub_dirs: list[str] = []
    for d in new_dirs:
        walked = _walk(root, _norm(d))
        if walked is None:
            return None
        dir_files += walked[0]
        sub_dirs += walked[1]
    paths = list(wanted) + [p for p in dir_files if p not in wanted]
    if not paths:
        return None
    found = _plain_files(git, head, paths)
    if found is None:
        return None
    trees, old_blobs, stats = found
    # what git would not add: ignored new files (named ones: `git add` refuses them, and
    # says so; in a new directory: `git add -A` leaves them out)
    new_named = [p for p in wanted if old_blobs[p] is None]
    ignored = _ignored(git, [*new_named, *sub_dirs, *(p for p in dir_files if p not in wanted)])
    if ignored is None or any(p in ignored for p in new_named):
        return None
    skip = [d for d in sub_dirs if d in ignored]
    paths = [p for p in paths if p in wanted or not (p in ignored or any(p.startswith(d + "/") for d in skip))]
    blobs = _hash(git, paths)
    if blobs is None:
        return None
    return Staged(head, trees, blobs, {p: stats[p] for p in blobs if p in stats})


def _plain_files(git: Git, head: str, paths: Sequence[str]
                 ) -> tuple[Trees, dict[str, tuple[bytes, str] | None], dict[str, os.stat_result]] | None:
    """HEAD's trees along `paths`, each path's entry there (None: new) and its file's stat
    data, when every path is a plain, non-executable file in the work tree and a plain file
    (or nothing) in HEAD; else None (only `git add` makes the same commit)."""
    stats: dict[str, os.stat_result] = {}
    for rel in paths:
        st = _lstat(git.root / rel)
        if not rel or "\n" in rel or st is None or not stat.S_ISREG(st.st_mode) or st.st_mode & 0o111:
            return None
        stats[rel] = st
    trees = _head_trees(git, head, paths)
    if trees is None:
        return None
    old = {p: _entry(trees, p) for p in paths}
    if any(e is not None and e[0] != BLOB for e in old.values()):
        return None  # HEAD has a tree, a link or an executable there
    return trees, old, stats


def stage(git: Git, staged: Staged) -> None:
    """The index gets the paths, with their stat data as `git add` records them (only those
    entries change): spliced into the index file (gitreg.git.indexfile), or when that cannot
    be sure to do what git does, by `git update-index`."""
    staged.index_before = indexstamp.checksum(git)
    if not indexfile.update(git, staged.blobs, staged.stats):
        git.run(["update-index", "--add", "--remove", "-z", "--stdin"],
                input="".join(p + "\x00" for p in staged.blobs))
    staged.index_after = indexstamp.checksum(git)


def commit(git: Git, staged: Staged, message: str, sign: bool = False,
           actor: str | None = None) -> str | None:
    """HEAD's tree with the staged paths put in, committed and the branch moved to it; None
    (nothing done) when the branch moved meanwhile or the tree is HEAD's (nothing to commit)."""
    if git.head() != staged.head:
        return None
    tree = treeobj.write(git, staged.trees, staged.blobs)
    if tree is None or tree == staged.trees[""][0]:
        return None
    ident = git.actor_env(actor) if actor else None
    sha = git.run(["commit-tree", *(["-S"] if sign else []), "-p", staged.head, "-F", "-", tree],
                  input=message, extra_env=ident).stdout.strip()
    subject = message.splitlines()[0] if message else ""
    # the old value makes the update fail if the branch moved meanwhile
    git.run(["update-ref", "-m", f"commit: {subject}", "HEAD", sha, staged.head], extra_env=ident)
    if indexstamp.known(git, staged.head, staged.index_before):
        # the index had HEAD's tree and got exactly the committed paths: it has the new one
        indexstamp.record(git, staged.index_after, sha)
    return sha


def _norm(rel: str) -> str:
    return rel.strip("/")


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _walk(root: Path, rel: str) -> tuple[list[str], list[str]] | None:
    """(files, subdirectories) under a new directory, relative to root; None if it holds
    something `git add` treats otherwise (a nested repository, a link, a device...)."""
    files: list[str] = []
    dirs: list[str] = []
    todo = [rel]
    while todo:
        cur = todo.pop()
        try:
            entries = list(os.scandir(root / cur))
        except OSError:
            return None
        for e in entries:
            p = f"{cur}/{e.name}"
            if e.name == ".git" or e.is_symlink():
                return None
            if e.is_dir(follow_symlinks=False):
                dirs.append(p)
                todo.append(p)
            elif e.is_file(follow_symlinks=False):
                files.append(p)
            else:
                return None
    return sorted(files), sorted(dirs)


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts))]


def _head_trees(git: Git, head: str, paths: Sequence[str]) -> Trees | None:
    """HEAD's trees along the paths, in one `cat-file --batch`; a directory HEAD does not
    have is an empty tree, one where HEAD has something else is None (the caller falls back)."""
    dirs = sorted({d for p in paths for d in _parents(p)})
    specs = [f"{head}^{{tree}}" if d == "" else f"{head}:{d}" for d in dirs]
    proc = git.run(["cat-file", "--batch"], input=("\n".join(specs) + "\n").encode(), text=False)
    data = proc.stdout
    out: Trees = {}
    pos = 0
    for d in dirs:
        nl = data.index(b"\n", pos)
        header = data[pos:nl].split(b" ")
        pos = nl + 1
        if header[-1] == b"missing":  # "<spec> missing", and a spec may hold spaces
            out[d] = ("", {})
            continue
        if len(header) != 3:
            return None
        size = int(header[2])
        body = data[pos:pos + size]
        pos += size + 1
        if header[1] != b"tree":
            return None
        out[d] = (header[0].decode(), treeobj.parse(body))
    for d in dirs:  # a directory HEAD lacks must not be a file (or link) there either
        if d and not out[d][0]:
            parent, _, name = d.rpartition("/")
            if name.encode() in out.get(parent, ("", {}))[1]:
                return None
    for d in dirs:
        if d and out[d][0]:
            parent, _, name = d.rpartition("/")
            if out[parent][1].get(name.encode(), (b"", ""))[0] != TREE:
                return None
    return out


def _entry(trees: Trees, path: str) -> tuple[bytes, str] | None:
    parent, _, name = path.rpartition("/")
    return trees[parent][1].get(name.encode())


def drop_refused(git: Git, made: list[str]) -> None:
    """Remove from `made`, and from the work tree, the derived files git would refuse
    (and the directories that are left empty, which only writing them made)."""
    for rel in git.refused(made):
        made.remove(rel)
        path = git.root / rel
        path.unlink(missing_ok=True)
        for parent in path.parents:
            if parent == git.root:
                break
            try:
                parent.rmdir()  # only an empty one
            except OSError:
                break


def _ignored(git: Git, paths: Sequence[str]) -> set[str] | None:
    """The paths git's ignore rules exclude (`check-ignore --no-index`: without reading the index)."""
    if not paths:
        return set()
    proc = git.run(["check-ignore", "--no-index", "-z", "--stdin"],
                   input="".join(p + "\x00" for p in paths), check=False)
    if proc.returncode not in (0, 1):
        return None
    return {p for p in proc.stdout.split("\x00") if p}


def _hash(git: Git, paths: Sequence[str]) -> dict[str, str] | None:
    try:
        proc = git.run(["hash-object", "-w", "--stdin-paths"], input="".join(p + "\n" for p in paths))
    except GitCommandError:
        return None
    shas = proc.stdout.split()
    if len(shas) != len(paths):
        return None
    return dict(zip(paths, shas))


def describe(git: Git, staged: Staged, dirs: Sequence[str]) -> dict[str, tuple[str, dict[str, str]]]:
    """{dir: (tree id, {path: blob id} of every file under it)} of the directories the
    change touches, as the commit will have them, before anything is written (HEAD's
    files under them in one ls-tree)."""
    built = treeobj.build(staged.trees, staged.blobs)
    if built is None:
        return {}
    wanted = [d for d in map(_norm, dirs) if d in built[0]]
    in_head = [f"{d}/" for d in wanted if staged.trees[d][0]]
    listed = git.ls_tree(staged.head, in_head) if in_head else []
    out: dict[str, tuple[str, dict[str, str]]] = {d: (built[0][d], {}) for d in wanted}

    def put(path: str, sha: str) -> None:
        for d in _parents(path)[1:]:  # every asked-for directory the file is under
            if d in out:
                out[d][1][path] = sha

    for e in listed:
        if e.kind == "blob":
            put(e.path, e.sha)
    for p, sha in staged.blobs.items():
        put(p, sha)
    return out


def extend(git: Git, staged: Staged, files: Sequence[str]) -> bool:
    """Add more written files (plain, not ignored) to what the commit puts in; False (staged
    unchanged) when that cannot be done as `git add` would."""
    paths = [_norm(f) for f in files]
    found = _plain_files(git, staged.head, paths)
    if found is None:
        return False
    trees, old, stats = found
    ignored = _ignored(git, [p for p, e in old.items() if e is None])
    if ignored is None or ignored:
        return False
    blobs = _hash(git, paths)
    if blobs is None:
        return False
    for d, tree in trees.items():
        staged.trees.setdefault(d, tree)
    staged.blobs.update(blobs)
    staged.stats.update(stats)
    return True
