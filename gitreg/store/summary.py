"""The committed per-model summaries: `.gitreg/summaries/NAME.json` (issue 16).

A summary holds what `gitreg list` needs of each of a model's versions (the fields of
digest.summarize, and each manifest's blob id), and the git tree id of `models/NAME` it
was made from: its key. The manifests stay the truth. A summary is used only when its key
is the tree id that `models/NAME` has at the revision read (a content hash: any change
to any file of the model, by gitreg or by hand, changes it); otherwise the model is read
from its manifests, as it was before summaries existed. So a stale, missing or unreadable
summary only makes a cold read slower, never wrong.

Every gitreg change writes the summary of each model it touches in the same commit
(Change.run, through Git.add's derive). A fresh clone's first `list` then reads one
small file per model instead of every manifest. `gitreg validate` and `gitreg doctor`
compare each summary whose key matches with the manifests (a hand-edited summary is an
error); `gitreg doctor --fix` rewrites the missing and stale ones in one commit.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from gitreg.store import digest
from gitreg.store.layout import MANIFEST_FILE, MODEL_FILE, MODELS_DIR, manifest_path
from gitreg.store.shape import shape_problem

if TYPE_CHECKING:
    from gitreg.store.store import Store

SUMMARY_DIR = ".gitreg/summaries"
FORMAT = 1
FIX_HINT = "run `gitreg doctor --fix` to write it from the manifests"  # for check()'s problems
_ENTRY_KEYS = {"name", "version", "stage", "stage_seq", "created_at", "max_seq", "deprecated", "aliases",
               "blob"}


@contextmanager
def _quiet(store: Store) -> Iterator[None]:
    """Read manifests without leaving warnings or broken-file notes behind."""
    warnings, broken = list(store.warnings), {k: list(v) for k, v in store.broken.items()}
    try:
        yield
    finally:
        store.warnings[:] = warnings
        store.broken.clear()
        store.broken.update(broken)


def summary_path(name: str) -> str:
    return f"{SUMMARY_DIR}/{name}.json"


def touched_models(paths: Sequence[str]) -> list[str]:
    """The models whose directory a change writes into (models/NAME/...)."""
    out = {p.split("/")[1] for p in (q.strip("/") for q in paths)
           if p.startswith(MODELS_DIR + "/") and p.count("/") >= 2}
    return sorted(out)


def render(name: str, tree: str, model_file: bool, versions: Mapping[str, Mapping[str, Any]],
           blobs: Mapping[str, str]) -> str:
    """The file's text: JSON, one line per version (a change shows as a one-line diff)."""
    head = json.dumps({"format": FORMAT, "model": name, "tree": tree, "model_file": model_file,
                       "note": f"written by gitreg from {MODELS_DIR}/{name} (the manifests are "
                               "the truth); used only while `tree` is that directory's tree id"})
    lines = [f"  {json.dumps(v)}: {json.dumps(_line(name, v, blobs[v], versions[v]), sort_keys=True)}"
             for v in sorted(versions)]
    return head[:-1] + ', "versions": {\n' + ",\n".join(lines) + ("\n" if lines else "") + "}}\n"


def _line(name: str, version: str, blob: str, summary: Mapping[str, Any]) -> dict[str, Any]:
    """One version's entry: its summary and blob id, without the manifest's `name` and
    `version` where they are the model's and the key (nearly always: a fifth of the file)."""
    out = {"blob": blob, **summary}
    if out.get("name") == name:
        del out["name"]
    if out.get("version") == version:
        del out["version"]
    return out


_STR, _INT, _BOOL, _LIST = str, int, bool, list
# the types of (stage, stage_seq, max_seq, deprecated, aliases, created_at, blob)
_SIGNATURES = {(_STR, _INT, _INT, _BOOL, _LIST, created, _STR) for created in (_STR, type(None))}


def parse(raw: bytes, name: str) -> dict[str, Any] | None:
    """A summary file as a cache entry ({"name", "tree", "versions", "blobs", "model_file"}),
    or None when it is not exactly what render writes (never trusted in part)."""
    try:
        data = json.loads(raw)
        if not (isinstance(data, dict) and data.get("format") == FORMAT and data.get("model") == name
                and isinstance(data.get("tree"), str) and type(data.get("model_file")) is bool
                and isinstance(data.get("versions"), dict)):
            return None
        versions: dict[str, dict] = {}
        blobs: dict[str, str] = {}
        for v, s in data["versions"].items():
            if type(s) is not dict:
                return None
            s.setdefault("name", name)
            s.setdefault("version", v)
            if s.keys() != _ENTRY_KEYS:
                return None
            blob = s.pop("blob")
            if ((type(s["stage"]), type(s["stage_seq"]), type(s["max_seq"]), type(s["deprecated"]),
                 type(s["aliases"]), type(s["created_at"]), type(blob)) not in _SIGNATURES
                    or type(s["name"]) is not str or type(s["version"]) is not str
                    or len(blob) not in (40, 64)
                    or (s["aliases"] and not all(type(a) is str for a in s["aliases"]))):
                return None
            versions[v], blobs[v] = s, blob
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return {"name": name, "tree": data["tree"], "versions": versions, "blobs": blobs,
            "model_file": data["model_file"]}


def committed(store: Store, names: Sequence[str], rev: str = "HEAD") -> dict[str, dict[str, Any] | None]:
    """{model: its committed summary (parsed; None if unreadable)} for the models that have
    one at rev, in one ls-tree and one `cat-file --batch`."""
    wanted = set(names)
    blobs: dict[str, str] = {}
    for e in store.git.ls_tree(rev, f"{SUMMARY_DIR}/", recursive=False):
        base = e.path.rsplit("/", 1)[-1]
        if e.kind == "blob" and base.endswith(".json") and base[:-5] in wanted:
            blobs[base[:-5]] = e.sha
    raw = store.git.cat_blobs(sorted(set(blobs.values())))
    return {n: parse(raw[sha], n) if sha in raw else None for n, sha in blobs.items()}


def texts(store: Store, models: Mapping[str, tuple[str, Mapping[str, str]]]) -> dict[str, str]:
    """{summary path: text} of models {name: (tree id of models/NAME, {path: blob id} of its
    files)}, every manifest read by its blob id in one `cat-file --batch`. A model with a
    manifest that cannot be read gets none (reads then take its manifests, as without
    one; validate and doctor name the file)."""
    found_models: dict[str, tuple[str, dict[str, str], bool]] = {}
    paths: dict[str, str] = {}
    for name, (tree, files) in models.items():
        prefix = f"{MODELS_DIR}/{name}/"
        manifests: dict[str, str] = {}
        model_file = False
        for path, sha in files.items():
            rest = path[len(prefix):] if path.startswith(prefix) else ""
            parts = rest.split("/")
            if len(parts) == 2 and parts[1] == MANIFEST_FILE:
                manifests[parts[0]] = sha
                paths[sha] = manifest_path(name, parts[0])
            elif rest == MODEL_FILE:
                model_file = True
        found_models[name] = (tree, manifests, model_file)
    with _quiet(store):
        found = _remembered(store, found_models)
        found.update(digest.summarize_blobs(store, {sha: p for sha, p in paths.items() if sha not in found}))
    out: dict[str, str] = {}
    for name, (tree, manifests, model_file) in found_models.items():
        if all(sha in found for sha in manifests.values()):
            out[summary_path(name)] = render(name, tree, model_file,
                                             {v: found[sha] for v, sha in manifests.items()}, manifests)
    return out


def _remembered(store: Store, found_models: Mapping[str, tuple[str, dict[str, str], bool]]) -> dict[str, dict]:
    """{blob id: summary} of the manifests whose parse gitreg remembers (the ones this
    command has read: a promotion reads all of its model's), without reading them again."""
    out: dict[str, dict] = {}
    for name, (_, manifests, _) in found_models.items():
        for sha, data in store.remembered_parses(name, list(manifests.values())).items():
            if isinstance(data, dict) and shape_problem(data) is None:
                out[sha] = digest.summarize(data)
    return out


def deriver(store: Store, models: Sequence[str]) -> Callable[[Callable[[Sequence[str]], Any]], list[str]]:
    """Git.add's derive for a change: write the summary of each touched model (as the commit
    will have it) into the work tree; the paths written."""
    from gitreg import yamlio

    def derive(describe: Callable[[Sequence[str]], Mapping[str, tuple[str, dict[str, str]]]]) -> list[str]:
        seen = describe([f"{MODELS_DIR}/{name}" for name in models])
        made = texts(store, {d.split("/", 1)[1]: info for d, info in seen.items()})
        for rel, text in made.items():
            target = store.root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            yamlio.write_atomic(target, text)
        return sorted(made)

    return derive


def refresh_message(n: int) -> str:
    """The commit message of `gitreg doctor --fix` writing n summaries."""
    return (f"gitreg: write the summaries of {n} model(s)\n\n"
            "Written by `gitreg doctor --fix` from the committed manifests; reads use a\n"
            "summary only while it matches its model's files.\n\nGitreg-Action: summaries\n")


def check(store: Store, rev: str = "HEAD", names: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """(problems, stale) of the committed summaries at rev (of `names`, or all), against the
    manifests read afresh: a summary whose key matches but whose content differs is a
    problem (someone edited it); a model without a usable summary is stale (cold reads
    take its manifests)."""
    dirs = store.model_dirs(rev)
    if names is None:
        files = store.model_tree(rev)
        listed = [e.path.rsplit("/", 1)[-1] for e in store.git.ls_tree(rev, f"{SUMMARY_DIR}/", recursive=False)]
        have = committed(store, sorted({*dirs, *(n[:-5] for n in listed if n.endswith(".json"))}), rev)
    else:
        files = {}
        for n in names:
            files.update(store.model_tree(rev, n) if n in dirs else {})
        have = committed(store, list(names), rev)
        dirs = {n: t for n, t in dirs.items() if n in set(names)}
    problems: list[str] = []
    stale: list[str] = []
    paths = {sha: manifest_path(n, v) for n, f in files.items() for v, sha in f.manifests.items()}
    with _quiet(store):  # unreadable manifests are validate's and doctor's own findings
        known = digest.summarize_blobs(store, paths) if any(
            s is not None and s["tree"] == dirs.get(n) for n, s in have.items()) else {}
    for name, tree in sorted(dirs.items()):
        got = have.get(name)
        if name in have and got is None:
            problems.append(f"{summary_path(name)}: not a summary gitreg can read")
            continue
        if got is None or got["tree"] != tree:
            if name in files:
                stale.append(name)
            continue
        f = files.get(name)
        manifests = f.manifests if f else {}
        want = {v: known.get(sha) for v, sha in manifests.items()}
        if (got["blobs"] != manifests or got["versions"] != want
                or got["model_file"] != (f is not None and f.model_file is not None)):
            problems.append(f"{summary_path(name)}: does not match the manifests of {MODELS_DIR}/{name}")
    for name in sorted(set(have) - set(dirs)):
        problems.append(f"{summary_path(name)}: no model {name} in {MODELS_DIR}/")
    return problems, stale


def refresh(store: Store, names: Sequence[str], rev: str = "HEAD") -> dict[str, str]:
    """{path: text} of the summaries of `names` as they are at rev (for doctor --fix)."""
    dirs = store.model_dirs(rev)
    files = store.model_tree(rev)
    models: dict[str, tuple[str, dict[str, str]]] = {}
    for name in names:
        if name in dirs and name in files:
            f = files[name]
            listing = {manifest_path(name, v): sha for v, sha in f.manifests.items()}
            if f.model_file:
                listing[f"{MODELS_DIR}/{name}/{MODEL_FILE}"] = f.model_file
            models[name] = (dirs[name], listing)
    return texts(store, models)
