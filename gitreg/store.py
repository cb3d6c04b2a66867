"""Reads committed registry state fast and writes one change as one commit, atomically.

Reads: one `git ls-tree` of models/ at HEAD, manifests read through one
`git cat-file --batch`, parsed summaries cached under .git keyed by the model
directories' tree ids and the manifests' blob ids (content hashes: a changed manifest
changes both, so the cache can never serve stale data), tags from one
`git for-each-ref` pass.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from gitreg import yamlio
from gitreg.core import events as ev
from gitreg.core.names import NONE_STAGE
from gitreg.core.version import SEMVER_RE
from gitreg.core.stages import DEFAULT_CONFIG, Lifecycle, lifecycle_from_config
from gitreg.errors import ConflictError, UserError
from gitreg.git import Git, GitCommandError, Ref

CONFIG_FILE = "gitreg.yaml"
MODELS_DIR = "models"
MANIFEST_FILE = "manifest.yaml"
MODEL_FILE = "model.yaml"
DVC_YAML = "dvc.yaml"
CACHE_VERSION = 3
JOURNAL_FILE = "change.json"  # the change in progress; left behind only by a crash


def manifest_path(name: str, version: str) -> str:
    return f"{MODELS_DIR}/{name}/{version}/{MANIFEST_FILE}"


def model_file_path(name: str) -> str:
    return f"{MODELS_DIR}/{name}/{MODEL_FILE}"


def summarize(manifest: Mapping[str, Any]) -> dict[str, Any]:
    stage = manifest.get("stage") or NONE_STAGE
    return {
        "name": manifest.get("name"),
        "version": manifest.get("version"),
        "stage": stage,
        "stage_seq": ev.last_assignment_seq(manifest, stage) if stage != NONE_STAGE else 0,
        "created_at": manifest.get("created_at"),
        "max_seq": ev.max_seq([manifest]),
    }


def check_shape(manifest: Any, source: str) -> None:
    """The fields reads rely on have usable types, else one clear error naming the file.

    Reads trust committed manifests only this far (a full schema check per read is too
    slow); `gitreg validate` names every problem.
    """
    problem = _shape_problem(manifest)
    if problem:
        raise UserError(f"{source}: not a valid manifest ({problem})",
                        "run `gitreg validate` to see every problem, and fix the file")


def _shape_problem(m: Any) -> str | None:
    if not isinstance(m, dict):
        return "not a mapping"
    for key in ("name", "version"):
        if not isinstance(m.get(key), str):
            return f"{key} is not a string"
    if not SEMVER_RE.fullmatch(m["version"]):
        return "version is not SemVer"
    if m.get("stage") is not None and not isinstance(m.get("stage"), str):
        return "stage is not a string"
    for key in ("approval", "metrics"):
        if m.get(key) is not None and not isinstance(m.get(key), dict):
            return f"{key} is not a mapping"
    history = m.get("history")
    if not isinstance(history, list):
        return "history is not a list"
    for i, h in enumerate(history):
        if not isinstance(h, dict):
            return f"history[{i}] is not a mapping"
        if type(h.get("seq")) is not int:
            return f"history[{i}].seq is not an integer"
        for key in ("action", "from", "to"):
            if (h.get(key) is not None or key == "action") and not isinstance(h.get(key), str):
                return f"history[{i}].{key} is not a string"
    return None


@dataclass
class ModelFiles:
    """The committed files of one model at a revision: {version: manifest blob id}."""

    name: str
    manifests: dict[str, str] = field(default_factory=dict)
    model_file: str | None = None


class Store:
    def __init__(self, root: Path, git: Git):
        self.root = root
        self.git = git
        self._common_dir: Path | None = None
        self._lock_depth = 0
        self.warnings: list[str] = []  # unreadable committed files, for the CLI to show on stderr
        self.broken: dict[tuple[str, str], list[str]] = {}  # (rev, model) -> its unreadable files

    # -- locations ---------------------------------------------------------------------
    @property
    def common_dir(self) -> Path:
        if self._common_dir is None:
            out = self.git.out("rev-parse", "--git-common-dir")
            path = Path(out)
            self._common_dir = path if path.is_absolute() else (self.root / path).resolve()
        return self._common_dir

    @property
    def state_dir(self) -> Path:
        return self.common_dir / "gitreg"

    # -- config ------------------------------------------------------------------------
    def read_config(self) -> dict[str, Any]:
        path = self.root / CONFIG_FILE
        if not path.exists():
            raise UserError(f"{self.root} is not a gitreg registry (no {CONFIG_FILE})",
                            "run `gitreg init` there, or cd into a registry")
        data = yamlio.load_file(path, CONFIG_FILE)
        # Validating needs jsonschema (~70 ms to import): remember the hash of the last
        # gitreg.yaml (and schema) that passed, so read commands validate only after a change.
        key = self._config_key(path)
        if key is None or not self._config_known_valid(key):
            from gitreg import schema

            problems = schema.errors(schema.CONFIG, data)
            if problems:
                raise UserError(f"{CONFIG_FILE}: {problems[0][1]}",
                                "fix gitreg.yaml (see schemas/config.schema.json)")
            if key is not None:
                self._remember_valid_config(key)
        return data

    def _config_key(self, path: Path) -> str | None:
        try:
            from importlib import resources

            schema_text = resources.files("gitreg.schemas").joinpath("config.schema.json").read_bytes()
            return hashlib.sha256(schema_text + b"\0" + path.read_bytes()).hexdigest()
        except OSError:
            return None

    def _config_known_valid(self, key: str) -> bool:
        try:
            return (self.state_dir / "config-valid").read_text("utf-8").strip() == key
        except (OSError, GitCommandError, UnicodeDecodeError):
            return False

    def _remember_valid_config(self, key: str) -> None:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            yamlio.write_atomic(self.state_dir / "config-valid", key + "\n")
        except (OSError, GitCommandError):
            pass  # a read-only clone validates every time

    def lifecycle(self) -> Lifecycle:
        return lifecycle_from_config(self.read_config())

    # -- reads at a revision -----------------------------------------------------------
    def model_tree(self, rev: str = "HEAD", name: str | None = None) -> dict[str, ModelFiles]:
        """Every model's committed manifests (blob ids) in one ls-tree."""
        path = f"{MODELS_DIR}/{name}" if name else MODELS_DIR
        models: dict[str, ModelFiles] = {}
        for entry in self.git.ls_tree(rev, path):
            if entry.kind != "blob":
                continue
            parts = entry.path.split("/")
            if len(parts) == 4 and parts[3] == MANIFEST_FILE:
                models.setdefault(parts[1], ModelFiles(parts[1])).manifests[parts[2]] = entry.sha
            elif len(parts) == 3 and parts[2] == MODEL_FILE:
                models.setdefault(parts[1], ModelFiles(parts[1])).model_file = entry.sha
        return models

    def note_broken(self, path: str, exc: UserError, rev: str = "HEAD") -> None:
        """Remember a committed file that cannot be read: reads warn and go on without it,
        mutations of its model are refused (Change.run) with its path named (issue 11)."""
        parts = path.split("/")
        model = parts[1] if len(parts) > 2 and parts[0] == MODELS_DIR else ""
        text = str(exc) if exc.message.startswith(path) else f"{path}: {exc}"
        problems = self.broken.setdefault((rev, model), [])
        if text not in problems:
            problems.append(text)
        if text not in self.warnings:
            self.warnings.append(text)

    def broken_files(self, model: str, rev: str = "HEAD") -> list[str]:
        return list(self.broken.get((rev, model), []))

    def read_blobs(self, paths: Mapping[str, str], rev: str = "HEAD") -> dict[str, bytes]:
        """{sha: bytes} of small blobs ({sha: path}); a blob over the size limit is never read
        (its size comes from one `cat-file --batch-check`) and is noted as broken instead."""
        sizes = self.git.blob_sizes(list(paths))
        small = []
        for sha, path in paths.items():
            size = sizes.get(sha, 0)
            if size > yamlio.MAX_YAML_BYTES:
                self.note_broken(path, UserError(
                    f"{path}: file is {size} bytes; the limit is {yamlio.MAX_YAML_BYTES}",
                    "manifests are small; check what wrote this file"), rev)
            else:
                small.append(sha)
        return self.git.cat_blobs(small)

    def parse_blobs(self, shas: Sequence[str], source: Callable[[str], str], rev: str = "HEAD") -> dict[str, Any]:
        """{sha: parsed YAML}; a blob that does not parse is left out and noted as broken."""
        out: dict[str, Any] = {}
        for sha, data in self.read_blobs({sha: source(sha) for sha in shas}, rev).items():
            try:
                out[sha] = yamlio.loads(data, source(sha))
            except UserError as exc:
                self.note_broken(source(sha), exc, rev)
        return out

    def model_manifests(self, name: str, rev: str = "HEAD") -> tuple[dict[str, dict], dict | None]:
        """({version: manifest}, model.yaml) of one model at rev.

        A manifest that cannot be read (bad YAML, too big, wrong shape) is left out and noted
        (`broken_files`): one hostile file must not take every command down with it."""
        files = self.model_tree(rev, name).get(name)
        if files is None:
            return {}, None
        paths = {sha: manifest_path(name, v) for v, sha in files.manifests.items()}
        if files.model_file:
            paths[files.model_file] = model_file_path(name)
        parsed = self.parse_blobs(list(paths), lambda sha: paths[sha], rev)
        for sha in set(files.manifests.values()):
            if sha in parsed:
                problem = _shape_problem(parsed[sha])
                if problem:
                    for v, s in files.manifests.items():
                        if s == sha:
                            self.note_broken(manifest_path(name, v), UserError(
                                f"{manifest_path(name, v)}: not a valid manifest ({problem})",
                                "run `gitreg validate` to see every problem, and fix the file"), rev)
                    del parsed[sha]
        manifests = {v: parsed[sha] for v, sha in files.manifests.items() if isinstance(parsed.get(sha), dict)}
        model = parsed.get(files.model_file) if files.model_file else None
        return manifests, model if isinstance(model, dict) else None

    def model_dirs(self, rev: str = "HEAD") -> dict[str, str]:
        """{model name: tree id of models/<name>} in one non-recursive ls-tree."""
        return {e.path.split("/", 1)[1]: e.sha
                for e in self.git.ls_tree(rev, f"{MODELS_DIR}/", recursive=False) if e.kind == "tree"}

    def summaries(self, rev: str = "HEAD") -> dict[str, dict[str, dict]]:
        """{model: {version: summary}} for every model, through the tree-id cache.

        The cache maps a model directory's git tree id to its versions' summaries (and
        their manifest blob ids). Tree ids are content hashes: a changed, added or removed
        manifest gives its model directory a new tree id, so a cached entry can never be
        stale. Only the models whose tree id is unknown are listed again, and only their
        manifests with unknown blob ids are read and parsed (issue 6).
        """
        dirs = self.model_dirs(rev)
        cache = self._load_cache()
        stale = [name for name, tree in dirs.items() if tree not in cache]
        if stale:
            known = {blob: summary for entry in cache.values()
                     for blob, summary in zip(entry["blobs"].values(), entry["versions"].values())}
            # many stale models (a cold cache): one recursive ls-tree of models/ is cheaper
            files = self.model_tree(rev) if len(stale) > 64 else self._model_files(rev, stale)
            missing: dict[str, str] = {}
            for name in stale:
                for version, sha in (files[name].manifests if name in files else {}).items():
                    if sha not in known:
                        missing[sha] = manifest_path(name, version)
            if missing:
                known.update(self._summarize_blobs(missing))
            for name in stale:
                manifests = files[name].manifests if name in files else {}
                ok = {v: sha for v, sha in manifests.items() if sha in known}
                entry = {"name": name, "versions": {v: known[sha] for v, sha in ok.items()}, "blobs": ok}
                if len(ok) == len(manifests):
                    cache[dirs[name]] = entry
                else:  # an unreadable manifest: serve the rest, never cache the gap
                    cache[dirs[name] + "!"] = entry
            self._save_cache({tree: cache[tree] for tree in dirs.values() if tree in cache})
        out: dict[str, dict[str, dict]] = {}
        for name, tree in dirs.items():
            found = cache.get(tree) or cache.get(tree + "!")
            if found and found["versions"]:
                out[name] = found["versions"]
        return out

    def _summarize_blobs(self, paths: dict[str, str]) -> dict[str, dict]:
        """{blob id: summary} of manifests, read in chunks and summarised one at a time
        (never 20,000 parsed manifests in memory at once); the fast scanner reads what
        gitreg writes, PyYAML everything else."""
        from gitreg import fastscan

        out: dict[str, dict] = {}
        shas = list(paths)
        for i in range(0, len(shas), 2000):
            for sha, raw in self.read_blobs({s: paths[s] for s in shas[i:i + 2000]}).items():
                fields = None
                try:
                    fields = fastscan.scan(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    pass
                try:
                    data = fields if fields is not None else yamlio.loads(raw, paths[sha])
                except UserError as exc:  # warned about and skipped, never cached
                    self.note_broken(paths[sha], exc)
                    continue
                problem = _shape_problem(data) if isinstance(data, dict) else "not a mapping"
                if problem is None:
                    out[sha] = summarize(data)
                else:
                    self.note_broken(paths[sha], UserError(f"{paths[sha]}: not a valid manifest ({problem})"))
        return out

    def _model_files(self, rev: str, names: Sequence[str]) -> dict[str, ModelFiles]:
        models: dict[str, ModelFiles] = {}
        for i in range(0, len(names), 200):
            chunk = [f"{MODELS_DIR}/{n}/" for n in names[i:i + 200]]
            for entry in self.git.ls_tree(rev, chunk):
                parts = entry.path.split("/")
                if entry.kind == "blob" and len(parts) == 4 and parts[3] == MANIFEST_FILE:
                    models.setdefault(parts[1], ModelFiles(parts[1])).manifests[parts[2]] = entry.sha
        return models

    def _cache_path(self) -> Path:
        return self.state_dir / f"summaries-v{CACHE_VERSION}.json"

    def _load_cache(self) -> dict[str, dict]:
        """{model tree id: {"name", "versions": {v: summary}, "blobs": {v: blob id}}}."""
        try:
            data = json.loads(self._cache_path().read_bytes())
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
                        and versions.keys() == blobs.keys()):
                    return {}
                for v, s in versions.items():
                    if not (isinstance(s["name"], str) and isinstance(s["version"], str)
                            and isinstance(s["stage"], str) and type(s["stage_seq"]) is int
                            and type(s["max_seq"]) is int and isinstance(blobs[v], str)):
                        return {}
        except (KeyError, TypeError, AttributeError):
            return {}
        # entries for trees with an unreadable manifest ("!") are re-read every time
        return {t: e for t, e in models.items() if not t.endswith("!")}

    def _save_cache(self, models: dict[str, dict]) -> None:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            yamlio.write_atomic(self._cache_path(),
                                json.dumps({"version": CACHE_VERSION, "models": models},
                                           separators=(",", ":")))
        except OSError:
            pass  # a read-only clone still reads, just without a cache

    # -- tags --------------------------------------------------------------------------
    def tags(self, name: str | None = None) -> list[Ref]:
        patterns = [f"refs/tags/{name}@*", f"refs/tags/{name}#*"] if name else ["refs/tags"]
        return self.git.refs(patterns)

    # -- working-tree checks -------------------------------------------------------------
    def require_clean(self, paths: Sequence[str] = (MODELS_DIR, DVC_YAML, CONFIG_FILE),
                      model: str | None = None) -> None:
        if model is not None:
            # Only what this change writes: scanning all of models/ (20,000 version dirs,
            # each with its .gitignore) cost seconds per mutation at scale (issue 6).
            paths = (f"{MODELS_DIR}/{model}", DVC_YAML, CONFIG_FILE)
        # gitreg's own temp files (a write killed before its rename) are never committed:
        # they must not wedge every later change; `gitreg doctor --fix` removes them
        dirty = [d for d in self.git.status_porcelain(list(paths))
                 if not (d.startswith("?? ") and is_temp_file(d[3:]))]
        if dirty:
            first = dirty[0][3:]
            more = f" and {len(dirty) - 1} more" if len(dirty) > 1 else ""
            raise ConflictError(
                f"uncommitted changes in the registry: {first}{more}",
                "commit or stash them first (git status shows them)",
            )

    def temp_files(self) -> list[str]:
        """Leftover temp files of gitreg's atomic writes in the registry's files (untracked)."""
        proc = self.git.run(["ls-files", "-z", "--others", "--exclude-standard", "--",
                             MODELS_DIR, DVC_YAML, CONFIG_FILE, f".{DVC_YAML}.*", f".{CONFIG_FILE}.*"],
                            check=False)
        return sorted(p for p in proc.stdout.split("\x00") if p and is_temp_file(p))

    def require_no_index_lock(self) -> None:
        """A stale .git/index.lock makes every git write fail halfway: refuse up front."""
        rel = self.git.out("rev-parse", "--git-path", "index.lock")
        path = Path(rel) if Path(rel).is_absolute() else self.root / rel
        if path.exists():
            shown = rel if not Path(rel).is_absolute() else str(path)
            raise ConflictError(
                f"git's index is locked ({shown} exists), so nothing was changed",
                f"if no git process is running in this repository, remove {shown} and retry")

    def require_branch(self, lifecycle: Lifecycle) -> str:
        branch = self.git.current_branch()
        if branch != lifecycle.branch:
            where = f"on branch {branch}" if branch else "on a detached HEAD"
            raise ConflictError(
                f"registry changes are made on {lifecycle.branch}, but this clone is {where}",
                f"run `git switch {lifecycle.branch}` first",
            )
        return branch

    # -- the lock --------------------------------------------------------------------------
    @property
    def journal_path(self) -> Path:
        return self.state_dir / JOURNAL_FILE

    @contextmanager
    def locked(self, recovering: bool = False) -> Iterator[None]:
        """One mutation at a time per clone: an flock on .git/gitreg/lock.

        The kernel drops an flock when its process dies, so a holder killed by SIGKILL or a
        power cut never leaves a stale lock behind (its pid in the file is only for the
        message). Re-entrant within one Store, so a verb may retry itself under the lock.
        A change that was interrupted (its journal is still there) blocks every mutation
        but `doctor --fix` (recovering=True), which finishes or undoes it.
        """
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        path = self.state_dir / "lock"
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as exc:
            raise UserError(f"cannot write to {path}: {exc.strerror}",
                            "gitreg changes the repository: make its .git directory writable "
                            "(read commands work without)") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                holder = _lock_holder(path)
                raise ConflictError(
                    "another gitreg operation is running in this repository"
                    + (f" (pid {holder})" if holder else ""),
                    "wait for it to finish and retry",
                ) from None
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self.require_no_index_lock()
            if not recovering:
                interrupted = self.interrupted_change()
                if interrupted is not None:
                    raise ConflictError(
                        f"a gitreg change was interrupted before it finished ({interrupted})",
                        "run `gitreg doctor --fix` to finish or undo it, then retry")
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # releases the flock

    # -- the journal of the change in progress -----------------------------------------------
    def write_journal(self, data: Mapping[str, Any]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        yamlio.write_atomic(self.journal_path, json.dumps(data, indent=1))

    def read_journal(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.journal_path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"describe": "unreadable journal", "corrupt": True}
        return data if isinstance(data, dict) else {"describe": "unreadable journal", "corrupt": True}

    def clear_journal(self) -> None:
        try:
            self.journal_path.unlink()
        except FileNotFoundError:
            pass

    def interrupted_change(self) -> str | None:
        """What an interrupted change was doing, if its journal is still there."""
        journal = self.read_journal()
        if journal is None:
            return None
        return str(journal.get("describe") or journal.get("message", "").split("\n")[0] or "unknown change")

    def recover_interrupted(self) -> str | None:
        """Finish (it was committed) or undo (it was not) an interrupted change; None if none."""
        journal = self.read_journal()
        if journal is None:
            return None
        what = self.interrupted_change()
        if journal.get("corrupt"):
            self.clear_journal()
            return f"removed an unreadable change journal ({self.journal_path})"
        head = self.git.head()
        old_head = journal.get("old_head")
        commit = journal.get("commit") or (head if head and head != old_head
                                           and self._is_our_commit(head, journal) else None)
        if commit and head and self.git.run(["merge-base", "--is-ancestor", commit, head],
                                            check=False).returncode == 0:
            have = {r.name for r in self.git.refs([f"refs/tags/{t['name']}" for t in journal.get("tags", [])])} \
                if journal.get("tags") else set()
            todo = [t for t in journal.get("tags", []) if t["name"] not in have]
            when = Change(self, str(journal.get("model", "")))._first_tag_time(time.time)
            for i, tag in enumerate(todo):
                self.git.create_tag(tag["name"], tag.get("target") or commit,
                                    tag["message"].replace("{commit}", commit), when + i,
                                    sign=bool(journal.get("sign")), actor=journal.get("actor"))
            self.clear_journal()
            made = f"; created tag(s) {', '.join(t['name'] for t in todo)}" if todo else ""
            return f"finished the interrupted change: {what} (it was committed{made})"
        if head != old_head:
            raise ConflictError(
                f"cannot recover the interrupted change ({what}): the branch moved since",
                f"inspect `git status` and `git log`, then delete {self.journal_path}")
        undo_change(self, journal)
        self.clear_journal()
        return f"undid the interrupted change: {what} (it was not committed; the files are as before)"

    def _is_our_commit(self, sha: str, journal: Mapping[str, Any]) -> bool:
        proc = self.git.run(["log", "-1", "--format=%P%x00%B", sha], check=False)
        parents, _, body = proc.stdout.partition("\x00")
        return (parents.split() == ([journal["old_head"]] if journal.get("old_head") else [])
                and body.strip() == str(journal.get("message", "")).strip())


def is_temp_file(rel: str) -> bool:
    """Is this path one of write_atomic's temp files of a registry file gitreg writes?"""
    base = rel.rsplit("/", 1)[-1]
    m = yamlio.TEMP_NAME_RE.fullmatch(base)
    return m is not None and m.group("name") in (MANIFEST_FILE, MODEL_FILE, DVC_YAML, CONFIG_FILE)


def _lock_holder(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or "0") or None
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


@dataclass
class PlannedTag:
    name: str
    target: str | None  # commit sha; None = the change's own commit
    message: str


class Change:
    """One registry change: files written, optional DVC step, one commit, then its tags.

    All or nothing: if anything fails before the last tag is written, the branch, index,
    work tree and tags are put back as they were.
    """

    def __init__(self, store: Store, model: str, actor: str | None = None):
        self.store = store
        self.git = store.git
        self.model = model
        # who the change's history entries record: the commit's author and the tags' tagger
        self.actor = actor
        self.files: dict[str, str] = {}
        self.new_dirs: list[Path] = []
        self.extra_paths: list[str] = []
        self.tags: list[PlannedTag] = []

    def write(self, rel: str, text: str) -> None:
        self.files[rel] = text

    def track_dir(self, path: Path) -> None:
        self.new_dirs.append(path)

    def run(self, message: str, prepare: Callable[[], None] | None = None, sign: bool = False,
            now: Callable[[], float] = time.time) -> tuple[str, list[str]]:
        root = self.store.root
        broken = self.store.broken_files(self.model)
        if broken:
            raise UserError(f"cannot change {self.model}: {broken[0]}",
                            "fix or restore that file first (`gitreg validate` lists every problem)")
        if sign and self.git.config_get("gpg.format") == "ssh" and not self.git.config_get("user.signingkey"):
            raise UserError("--sign with gpg.format ssh needs user.signingkey; nothing was changed", SIGN_HINT)
        old_head = self.git.head()
        planned = [t.name for t in self.tags]
        # A journal under .git records what this change touches before anything is touched:
        # a crash (SIGKILL, power cut) leaves it behind, and `doctor --fix` then finishes the
        # change (if it was committed) or undoes it (if not) from it.
        journal: dict[str, Any] = {
            "pid": os.getpid(), "model": self.model, "message": message, "old_head": old_head,
            "describe": message.split("\n")[0].removeprefix("gitreg: "), "sign": sign,
            "actor": self.actor,
            "files": {rel: (root / rel).exists() for rel in self.files},
            "extra_paths": {p: (root / p).exists() for p in self.extra_paths},
            "new_dirs": [str(d.relative_to(root)) for d in self.new_dirs],
            "tags": [{"name": t.name, "target": t.target, "message": t.message} for t in self.tags],
            "preexisting_tags": sorted(r.name for r in self.git.refs([f"refs/tags/{n}" for n in planned]))
            if planned else [],
            "commit": None,
        }
        # what the files were, to put back even where git cannot (a read-only or full disk)
        originals = {rel: _read_or_none(root / rel) for rel in [*self.files, *self.extra_paths]}
        try:
            self.store.write_journal(journal)
        except OSError as exc:
            raise _os_error(exc) from None
        made_tags: list[str] = []
        try:
            if prepare:
                prepare()
            for rel, text in self.files.items():
                yamlio.write_atomic(root / rel, text)
            paths = sorted(set(self.files) | set(self.extra_paths) | set(journal["new_dirs"]))
            self.git.add(paths)
            commit = self.git.commit(message, paths, sign=sign, actor=self.actor)
            journal["commit"] = commit
            self.store.write_journal(journal)
            when = self._first_tag_time(now)
            for i, tag in enumerate(self.tags):
                self.git.create_tag(tag.name, tag.target or commit,
                                    tag.message.replace("{commit}", commit), when + i, sign=sign,
                                    actor=self.actor)
                made_tags.append(tag.name)
            self.store.clear_journal()
            return commit, made_tags
        except BaseException as exc:
            undo_change(self.store, journal)
            _put_back(root, originals)
            self.store.clear_journal()
            translated = _translate_failure(exc, sign)
            if translated is not None:
                raise translated from None
            raise

    def _first_tag_time(self, now: Callable[[], float]) -> int:
        # GTO orders events by tagger time at one-second resolution: give each of this
        # model's tags its own second, later than every earlier tag of the model, so the
        # order GTO sees is the order of seq.
        last = max((r.tagger_time or 0 for r in self.store.tags(self.model)), default=0)
        return max(int(now()), last + 1)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _put_back(root: Path, originals: Mapping[str, bytes | None]) -> None:
    """After undo_change: restore any file git could not (best effort, never raises)."""
    for rel, data in originals.items():
        path = root / rel
        try:
            if data is None:
                if path.is_file():
                    path.unlink()
            elif _read_or_none(path) != data:
                yamlio.write_atomic(path, data.decode("utf-8"))
        except (OSError, UnicodeDecodeError):
            pass


def _os_error(exc: OSError) -> UserError:
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return UserError(f"{exc.strerror}{where}; nothing was changed", "free some disk space and retry")
    return UserError(f"cannot write: {exc.strerror}{where}; nothing was changed",
                     "check that the repository (and its .git directory) is writable")


_SIGN_FAILURES = ("gpg failed to sign", "cannot run gpg", "no secret key", "signing failed",
                  "secret key not available", "user.signingkey", "ssh-keygen", "no signing key",
                  "couldn't load public key", "error: load key")
_WRITE_FAILURES = ("read-only file system", "permission denied", "insufficient permission",
                   "no space left on device", "disk quota exceeded", "unable to create")


def _translate_failure(exc: BaseException, sign: bool) -> UserError | None:
    """A change that failed and was undone: say why in one line when it is the environment."""
    if isinstance(exc, OSError):
        return _os_error(exc)
    if not isinstance(exc, GitCommandError):
        return None
    low = exc.stderr.lower()
    last = (exc.stderr.strip().splitlines() or [str(exc)])[-1].strip()
    if sign and exc.args_ and exc.args_[0] in ("commit", "commit-tree", "tag") \
            and any(s in low for s in _SIGN_FAILURES):
        return UserError(f"git could not sign ({last}); nothing was changed", SIGN_HINT)
    if any(s in low for s in _WRITE_FAILURES):
        return UserError(f"git could not write: {last}; nothing was changed",
                         "check that the repository's .git directory is writable and the disk has room")
    return None


SIGN_HINT = ("set up signing: `git config user.signingkey KEY` (and `git config gpg.format ssh` "
             "for an SSH key), or leave out --sign")


def undo_change(store: Store, journal: Mapping[str, Any]) -> None:
    """Put the branch, index, work tree and tags back as they were before a change."""
    git = store.git
    root = store.root
    old_head = journal.get("old_head")
    keep = set(journal.get("preexisting_tags", []))
    planned = [t["name"] for t in journal.get("tags", [])]
    if planned:
        # every planned tag that exists now and did not before is ours (even one whose
        # `git tag` finished just before the failure)
        for ref in git.refs([f"refs/tags/{n}" for n in planned]):
            if ref.name not in keep:
                git.delete_tag(ref.name)
    if old_head and git.head() != old_head:
        git.reset_soft(old_head)
    files: Mapping[str, bool] = journal.get("files", {})
    extra: Mapping[str, bool] = journal.get("extra_paths", {})
    restore = [rel for rel, was in files.items() if was] + [p for p, was in extra.items() if was]
    if old_head:
        git.restore(old_head, restore)
    for rel, was in files.items():
        if was:
            continue
        git.run(["rm", "-q", "--cached", "--ignore-unmatch", "--", rel], check=False)
        try:
            (root / rel).unlink()
        except FileNotFoundError:
            pass
    for p, was in extra.items():
        if not was:
            git.run(["rm", "-q", "-r", "--cached", "--ignore-unmatch", "--", p], check=False)
            target = root / p
            if target.is_file():
                target.unlink()
    for d in journal.get("new_dirs", []):
        git.run(["rm", "-q", "-r", "--cached", "--ignore-unmatch", "--", d], check=False)
        shutil.rmtree(root / d, ignore_errors=True)


def is_git_error(exc: BaseException) -> bool:
    return isinstance(exc, GitCommandError)


DEFAULT_CONFIG_TEXT = yamlio.dump(DEFAULT_CONFIG)
