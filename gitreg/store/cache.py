"""The summaries cache under .git: {model: {version: summary}}, keyed by content hashes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from gitreg import yamlio
from gitreg.store import digest, summary
from gitreg.store.layout import MANIFEST_FILE, MODEL_FILE, MODELS_DIR, ModelFiles, manifest_path

if TYPE_CHECKING:
    from gitreg.store.store import Store

# 4: an entry says whether the model has model.yaml (`create`); a summary whether the
# version is deprecated, and its aliases
CACHE_VERSION = 4
# 2: rows carry aliases and deprecation; latest may be null; 3: each model's tree id (a
# change rebuilds only the rows of the models it touched)
ANSWER_VERSION = 3
PARTIAL_LIMIT = 64  # more models changed than this since the saved answer: build it all


def summaries(store: Store, rev: str = "HEAD", names: Sequence[str] | None = None) -> dict[str, dict[str, dict]]:
    """{model: {version: summary}} for every model (or the models `names`, read from their
    committed summaries or manifests without the local cache), through the tree-id cache.

    The cache maps a model directory's git tree id to its versions' summaries (and
    their manifest blob ids). Tree ids are content hashes: a changed, added or removed
    manifest gives its model directory a new tree id, so a cached entry can never be
    stale. Only the models whose tree id is unknown are listed again, and only their
    manifests with unknown blob ids are read and parsed (issue 6).
    """
    dirs = store.model_dirs(rev)
    if names is not None:  # a few models (list after a change): the 100,000-entry file stays shut
        wanted = set(names)
        dirs = {n: t for n, t in dirs.items() if n in wanted}
    cache = _load_cache(store) if names is None else {}
    before = len(cache)
    stale = [name for name, tree in dirs.items() if tree not in cache]
    if stale:
        # a fresh clone: each model's committed summary, where its key is the model's tree
        # id (gitreg.store.summary), instead of reading its manifests
        for name, entry in summary.committed(store, stale, rev).items():
            if entry is not None and entry.pop("tree") == dirs[name]:
                cache[dirs[name]] = entry
        stale = [name for name in stale if dirs[name] not in cache]
        if not stale:
            before = len(cache)  # nothing read from manifests: the summaries stay the cache
    if stale:
        known = {blob: summary for entry in cache.values()
                 for blob, summary in zip(entry["blobs"].values(), entry["versions"].values())}
        # many stale models (a cold cache): one recursive ls-tree of models/ is cheaper
        files = store.model_tree(rev) if len(stale) > 64 else _model_files(store, rev, stale)
        missing: dict[str, str] = {}
        for name in stale:
            for version, sha in (files[name].manifests if name in files else {}).items():
                if sha not in known:
                    missing[sha] = manifest_path(name, version)
        if missing:
            known.update(digest.summarize_blobs(store, missing))
        for name in stale:
            manifests = files[name].manifests if name in files else {}
            ok = {v: sha for v, sha in manifests.items() if sha in known}
            entry = {"name": name, "versions": {v: known[sha] for v, sha in ok.items()}, "blobs": ok,
                     "model_file": name in files and files[name].model_file is not None}
            if len(ok) == len(manifests):
                cache[dirs[name]] = entry
            else:  # an unreadable manifest: serve the rest, never cache the gap
                cache[dirs[name] + "!"] = entry
    if len(cache) != before and names is None:
        _save_cache(store, {tree: cache[tree] for tree in dirs.values() if tree in cache})
    out: dict[str, dict[str, dict]] = {}
    for name, tree in dirs.items():
        found = cache.get(tree) or cache.get(tree + "!")
        # a model made by `create` has only model.yaml: listed with no versions
        if found and (found["versions"] or found["model_file"]):
            out[name] = found["versions"]
    return out


def _model_files(store: Store, rev: str, names: Sequence[str]) -> dict[str, ModelFiles]:
    models: dict[str, ModelFiles] = {}
    for i in range(0, len(names), 200):
        chunk = [f"{MODELS_DIR}/{n}/" for n in names[i:i + 200]]
        for entry in store.git.ls_tree(rev, chunk):
            parts = entry.path.split("/")
            if entry.kind == "blob" and len(parts) == 4 and parts[3] == MANIFEST_FILE:
                models.setdefault(parts[1], ModelFiles(parts[1])).manifests[parts[2]] = entry.sha
            elif entry.kind == "blob" and len(parts) == 3 and parts[2] == MODEL_FILE:
                models.setdefault(parts[1], ModelFiles(parts[1])).model_file = entry.sha
    return models


def _cache_path(store: Store) -> Path:
    return store.state_dir / f"summaries-v{CACHE_VERSION}.json"


def _load_cache(store: Store) -> dict[str, dict]:
    """{model tree id: {"name", "versions": {v: summary}, "blobs": {v: blob id}}}."""
    try:
        data = json.loads(_cache_path(store).read_bytes())
    except (OSError, ValueError):
        return {}
    # A cache that is not exactly what we write is rebuilt, never trusted: one bad
    # entry discards the whole file.
    try:
        if data["version"] != CACHE_VERSION:
            return {}
        models = data["models"]
        if not isinstance(models, dict):
            return {}
        for tree, entry in models.items():
            versions, blobs = entry["versions"], entry["blobs"]
            if not (isinstance(tree, str) and isinstance(entry["name"], str)
                    and isinstance(versions, dict) and isinstance(blobs, dict)
                    and type(entry["model_file"]) is bool
                    and versions.keys() == blobs.keys()):
                return {}
            for v, s in versions.items():
                if not (isinstance(s["name"], str) and isinstance(s["version"], str)
                        and isinstance(s["stage"], str) and type(s["stage_seq"]) is int
                        and type(s["max_seq"]) is int and type(s["deprecated"]) is bool
                        and isinstance(blobs[v], str) and isinstance(s["aliases"], list)
                        and all(isinstance(a, str) for a in s["aliases"])):
                    return {}
    except (KeyError, TypeError, AttributeError):
        return {}
    # entries for trees with an unreadable manifest ("!") are re-read every time
    return {t: e for t, e in models.items() if not t.endswith("!")}


def _save_cache(store: Store, models: dict[str, dict]) -> None:
    try:
        store.state_dir.mkdir(parents=True, exist_ok=True)
        yamlio.write_atomic(_cache_path(store),
                            json.dumps({"version": CACHE_VERSION, "models": models},
                                       separators=(",", ":")))
    except OSError:
        pass  # a read-only clone still reads, just without a cache



def answer(store: Store, kind: str, key: Sequence[Any], build: Callable[[Sequence[str] | None], list],
           valid: Callable[[Any], bool], rev: str = "HEAD") -> list:
    """A finished answer made from the models at rev (`gitreg list`'s rows), cached whole.

    Keyed by the tree id of models/ at rev (a content hash: any change to any manifest
    changes it) and by `key` (what else the answer depends on, e.g. the lifecycle's
    stages), so a warm `list` reads one small file instead of validating and ordering
    100,000 cached summaries (issue 16). Built again when the key differs or the file is
    not what `valid` accepts; never cached while a manifest cannot be read (its warning
    must show every time).

    The answer is a list of rows, at most one per model ("name"), sorted by name, each a
    function of its model's directory alone: `build(names)` makes the rows of those
    models, `build(None)` every row. The file also keeps the tree id of each model's
    directory, so after a change (key differs, `key` the same) only the models whose tree
    id differs are built again; the other rows are the saved ones, made from the same
    content (a list right after a promotion at 2000 models re-read 2,000 summaries).
    """
    proc = store.git.run(["rev-parse", "--verify", "--quiet", f"{rev}:{MODELS_DIR}"], check=False)
    tree = proc.stdout.strip() if proc.returncode == 0 else ""
    if not tree:
        return build(None)
    whole = _digest([ANSWER_VERSION, CACHE_VERSION, kind, tree, list(key)])
    parts = _digest([ANSWER_VERSION, CACHE_VERSION, kind, list(key)])
    path = store.state_dir / f"answer-{kind}-v{ANSWER_VERSION}.json"
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        data = None
    saved = data if isinstance(data, dict) and valid(data.get("answer")) else {}
    if saved.get("key") == whole:
        return saved["answer"]
    dirs = store.model_dirs(rev)
    result = None
    if saved.get("parts") == parts:
        rows = _reusable(saved, dirs)
        changed = set() if rows is None else {n for n, t in dirs.items() if saved["trees"].get(n) != t}
        if rows is not None and len(changed) <= PARTIAL_LIMIT:
            kept = [r for r in rows if r["name"] in dirs and r["name"] not in changed]
            result = sorted([*kept, *build(sorted(changed))], key=lambda r: r["name"])
    if result is None:
        result = build(None)
    if not any(store.broken.values()):
        try:
            store.state_dir.mkdir(parents=True, exist_ok=True)
            yamlio.write_atomic(path, json.dumps({"key": whole, "parts": parts, "trees": dirs, "answer": result},
                                                 separators=(",", ":")))
        except OSError:
            pass  # a read-only clone still reads, just without a cache
    return result


def _digest(key: list) -> str:
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()


def _reusable(saved: dict, dirs: dict[str, str]) -> list[dict] | None:
    """The saved rows, if the file's per-model tree ids are what answer() writes: a map of
    names to ids naming every row's model, rows sorted and one per model."""
    trees = saved.get("trees")
    rows = saved["answer"]
    if not (isinstance(trees, dict) and all(isinstance(t, str) for t in trees.values())):
        return None
    names = [r.get("name") for r in rows if isinstance(r, dict)]
    if len(names) != len(rows) or names != sorted(set(names), key=str) or not set(names) <= trees.keys():
        return None
    return rows
