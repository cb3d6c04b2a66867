"""The trees a path commit builds (gitreg.git.treeobj, issue 16) are the ones git writes
for the same files, and the trees remembered by what they are made of (HEAD's tree id and
the entries changed) are never another tree's: built again from nothing, the same."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

from gitreg.git import pathcommit, treeobj
from gitreg.git.repo import Git
from tests.conftest import git


def _by_git(root: Path, head: str, blobs: dict[str, str], scratch: Path) -> str:
    """The root tree git writes for HEAD's tree with these files put in (a scratch index)."""
    env = {**os.environ, "GIT_INDEX_FILE": str(scratch)}
    subprocess.run(["git", "read-tree", head], cwd=root, env=env, check=True)
    info = "".join(f"100644 {sha}\t{path}\n" for path, sha in blobs.items())
    subprocess.run(["git", "update-index", "--add", "--index-info"], cwd=root, env=env, input=info,
                   text=True, check=True)
    return subprocess.run(["git", "write-tree"], cwd=root, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def _blob(root: Path, text: str) -> str:
    return subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=root, input=text, text=True,
                          capture_output=True, check=True).stdout.strip()


def test_built_trees_are_gits_and_the_remembered_ones_are_never_another_trees(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q")
    rng = random.Random(16)
    names = [f"m{i:02d}" for i in range(12)] + ["m0", "m0.x", "m0-y", "a b"]
    for name in names:
        for v in range(rng.randint(1, 4)):
            path = root / "models" / name / f"v{v}" / "manifest.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{name} {v}\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    heads = [git(root, "rev-parse", "HEAD").strip()]
    for i in range(3):  # more HEADs, so the same changes meet different trees
        (root / "models" / names[i] / "v0" / "manifest.yaml").write_text(f"edit {i}\n")
        git(root, "commit", "-qam", f"edit {i}")
        heads.append(git(root, "rev-parse", "HEAD").strip())
    repo = Git(root)
    treeobj._BUILT.clear()
    changes = []
    for _ in range(40):
        picked = rng.sample(names, rng.randint(1, 3))
        changes.append({f"models/{n}/v{rng.randint(0, 5)}/{rng.choice(['manifest.yaml', 'x.dvc'])}":
                        _blob(root, rng.choice("abc")) for n in picked})
    seen = []
    for round_ in range(2):  # the second round meets every tree remembered by the first
        for head in heads:
            for blobs in changes:
                trees = pathcommit._head_trees(repo, head, list(blobs))
                assert trees is not None
                built = treeobj.build(trees, blobs)
                assert built is not None
                expected = _by_git(root, head, blobs, tmp_path / "scratch-index")
                assert built[0][""] == expected, (head, blobs)
                seen.append(built[0][""])
    assert len(set(seen)) > 40  # different changes, different trees
    assert treeobj._BUILT  # and remembered
    kept = dict(treeobj._BUILT)
    treeobj._BUILT.clear()
    for (tree_id, changed), (sha, body) in kept.items():
        # each remembered tree is exactly what its HEAD tree and changes make, built afresh
        base = treeobj.parse(subprocess.run(["git", "cat-file", "tree", tree_id], cwd=root,
                                            capture_output=True, check=True).stdout) if tree_id else {}
        items = {**base, **dict(changed)}
        body_again = b"".join(m + b" " + n + b"\x00" + bytes.fromhex(s)
                              for n, (m, s) in sorted(items.items(), key=treeobj._tree_key))
        assert body_again == body
        written = subprocess.run(["git", "hash-object", "-t", "tree", "--stdin"], cwd=root,
                                 input=body, capture_output=True, check=True).stdout.decode().strip()
        assert written == sha
