"""One model's recording commits, remembered under .git by HEAD's id (`history`, issue 16).

`history` shows, for every entry, the commit that added it to the manifest (provenance.read,
from the diffs, never from trailers). Reading that walks every commit of the repository:
0.3 s and 170 MB at 223,000 commits. The answer is a function of the commits reachable
from HEAD, so it is kept keyed by HEAD's id and extended by the new commits only.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Mapping

from gitreg import provenance, yamlio
from gitreg.git import Git

RECORDED_CACHE_VERSION = 1
_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


def recorded_commits(git: Git, state_dir: Path | None, name: str) -> dict[int, str]:
    """seq -> the commit that recorded each history entry of one model at HEAD: exactly
    `read(git, [name], by_directory=True).recorded`, without walking every commit each time.

    The answer depends only on the commits reachable from HEAD (and on what git lets
    rewrite them: replace refs, grafts, a shallow boundary), so it is kept under .git keyed
    by HEAD's commit id and those. When HEAD has moved on by plain commits (no merge) from
    the remembered one, only the new commits are read: entries are attributed oldest first
    and the first commit to add an entry wins, so the new commits can only add entries the
    old ones did not. Any other move (reset, checkout, a merge) reads the whole log again.
    A file that is not exactly what this writes is ignored and rewritten.
    """
    head = git.head()
    if head is None:
        return {}
    graph = _graph_key(git, state_dir)
    path = _recorded_path(state_dir, name)
    cached = _load_recorded(path, name, graph)
    if cached is not None and cached[0] == head:
        return cached[1]
    recorded: dict[int, str] | None = None
    complete = True
    if cached is not None and _linear_descent(git, cached[0], head):
        new = provenance.read(git, [name], rev=f"{cached[0]}..{head}", by_directory=True)
        if new.complete:
            recorded = dict(cached[1])
            for (model, seq), sha in new.recorded.items():
                if model == name:
                    recorded.setdefault(seq, sha)
    if recorded is None:
        full = provenance.read(git, [name], rev=head, by_directory=True)
        recorded = {seq: sha for (model, seq), sha in full.recorded.items() if model == name}
        complete = full.complete
    if path is not None and complete:  # a log git could not read is never remembered
        _save_recorded(path, {"version": RECORDED_CACHE_VERSION, "name": name, "graph": graph,
                              "head": head, "recorded": sorted(recorded.items())})
    return recorded


def _graph_key(git: Git, state_dir: Path | None) -> str:
    """What besides HEAD's id decides which commits git log walks: replace refs, grafts,
    the shallow boundary (and the variables that switch them)."""
    proc = git.run(["for-each-ref", "--format=%(refname) %(objectname)", "refs/replace/"], check=False)
    parts = [proc.stdout, str(proc.returncode), git.env.get("GIT_NO_REPLACE_OBJECTS", ""),
             git.env.get("GIT_REPLACE_REF_BASE", ""), git.env.get("GIT_GRAFT_FILE", "")]
    for rel in ("shallow", "info/grafts"):
        try:
            parts.append((state_dir.parent / rel).read_text("utf-8", "replace") if state_dir else "")
        except OSError:
            parts.append("")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _recorded_path(state_dir: Path | None, name: str) -> Path | None:
    if state_dir is None:
        return None
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    return state_dir / f"recorded-v{RECORDED_CACHE_VERSION}" / f"{digest}.json"


def _load_recorded(path: Path | None, name: str, graph: str) -> tuple[str, dict[int, str]] | None:
    """(head, recorded) from the file, or None unless it is exactly what _save_recorded writes."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    try:
        if not (isinstance(data, dict) and data.keys() == {"version", "name", "graph", "head", "recorded"}
                and data["version"] == RECORDED_CACHE_VERSION and data["name"] == name
                and data["graph"] == graph and isinstance(data["head"], str)
                and _SHA.fullmatch(data["head"]) and isinstance(data["recorded"], list)):
            return None
        recorded: dict[int, str] = {}
        for seq, sha in data["recorded"]:
            if type(seq) is not int or not isinstance(sha, str) or not _SHA.fullmatch(sha) or seq in recorded:
                return None
            recorded[seq] = sha
    except (TypeError, ValueError):
        return None
    return data["head"], recorded


def _save_recorded(path: Path, data: Mapping[str, Any]) -> None:
    try:
        yamlio.write_atomic(path, json.dumps(data, separators=(",", ":")))
    except OSError:
        pass  # a read-only clone still reads, just without the file


def _linear_descent(git: Git, old: str, head: str) -> bool:
    """Is head reached from old by plain commits only (each with one parent, no merge)?"""
    proc = git.run(["rev-list", "--parents", f"{old}..{head}"], check=False)
    if proc.returncode != 0:
        return False
    chain = [line.split(" ") for line in proc.stdout.split("\n") if line]
    if not chain or any(len(c) != 2 for c in chain):
        return False
    return chain[0][0] == head and chain[-1][1] == old and all(
        chain[i][1] == chain[i + 1][0] for i in range(len(chain) - 1))
