"""Store: the registry's committed state read fast, and the guards every change passes.

Reads: one `git ls-tree` of models/ at HEAD, manifests read through one
`git cat-file --batch`, parsed summaries cached under .git keyed by the model
directories' tree ids and the manifests' blob ids (content hashes: a changed manifest
changes both, so the cache can never serve stale data), tags from one
`git for-each-ref` pass.
"""

from __future__ import annotations

import hashlib
import json
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from gitreg import blockyaml, yamlio
from gitreg.core.stages import Lifecycle, lifecycle_from_config
from gitreg.errors import ConflictError, UserError
from gitreg.git import Git, GitCommandError, Ref, settings
from gitreg.store import cache
from gitreg.store import parsed as parsed_cache
from gitreg.store.layout import (
    CONFIG_FILE, DVC_YAML, JOURNAL_FILE, MANIFEST_FILE, MODEL_FILE, MODELS_DIR, ModelFiles,
    is_temp_file, manifest_path, model_file_path,
)
from gitreg.store.shape import shape_problem


# one `ls-tree -r -z` record of a blob that is a manifest (models/NAME/VERSION/manifest.yaml)
# or a model.yaml (models/NAME/model.yaml); records start at the output's start or after a NUL
_TREE_FILES = re.compile(
    r"(?:^|(?<=\0))[0-7]+ blob ([0-9a-f]+)\t" + re.escape(MODELS_DIR)
    + r"/([^/\0]+)/(?:([^/\0]+)/" + re.escape(MANIFEST_FILE) + r"|" + re.escape(MODEL_FILE) + r")\0")


class Store:
    def __init__(self, root: Path, git: Git, common_dir: Path | None = None):
        self.root = root
        self.git = git
        self._common_dir: Path | None = common_dir  # else asked of git when first needed
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
        raw = yamlio.read_bytes(path, CONFIG_FILE)
        # Validating needs jsonschema (~70 ms to import) and parsing PyYAML (~15 ms): the
        # last gitreg.yaml that passed is remembered, parsed, under the sha256 of its bytes
        # and the schema's, so read commands parse and validate only after a change.
        key = self._config_key(raw)
        known = self._config_memo(key) if key is not None else None
        if known is not None:
            return known
        data = yamlio.loads(raw, CONFIG_FILE)
        from gitreg import schema

        problems = schema.errors(schema.CONFIG, data)
        if problems:
            raise UserError(f"{CONFIG_FILE}: {problems[0][1]}",
                            "fix gitreg.yaml (see schemas/config.schema.json)")
        if key is not None:
            self._remember_config(key, data)
        return data

    def _config_key(self, raw: bytes) -> str | None:
        try:
            from importlib import resources

            schema_text = resources.files("gitreg.schemas").joinpath("config.schema.json").read_bytes()
        except OSError:
            return None
        return hashlib.sha256(schema_text + b"\0" + raw).hexdigest()

    def _config_memo(self, key: str) -> dict[str, Any] | None:
        """The remembered gitreg.yaml if it is the one whose hash is `key`."""
        try:
            memo = json.loads((self.state_dir / "config-valid").read_bytes())
        except (OSError, GitCommandError, ValueError):
            return None
        if isinstance(memo, dict) and memo.get("key") == key and isinstance(memo.get("config"), dict):
            return memo["config"]
        return None

    def _remember_config(self, key: str, data: Any) -> None:
        try:
            text = json.dumps({"key": key, "config": data}, separators=(",", ":"))
        except (TypeError, ValueError):
            return  # not JSON (dates, ...): parsed and validated every time
        if json.loads(text)["config"] != data:
            return  # JSON would change it (non-string keys): parsed every time
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            yamlio.write_atomic(self.state_dir / "config-valid", text + "\n", durable=False)
        except (OSError, GitCommandError):
            pass  # a read-only clone validates every time

    def lifecycle(self) -> Lifecycle:
        return lifecycle_from_config(self.read_config())

    # -- reads at a revision -----------------------------------------------------------
    def model_tree(self, rev: str = "HEAD", name: str | None = None) -> dict[str, ModelFiles]:
        """Every model's committed manifests (blob ids) in one ls-tree."""
        path = f"{MODELS_DIR}/{name}" if name else MODELS_DIR
        models: dict[str, ModelFiles] = {}
        # 300,000 entries at 100,000 versions: one regex over ls-tree's output picks the
        # manifests and model.yaml files (what splitting every entry found, in its order)
        for sha, model, version in _TREE_FILES.findall(self.git.ls_tree_text(rev, path)):
            files = models.get(model)
            if files is None:
                files = models[model] = ModelFiles(model)
            if version:
                files.manifests[version] = sha
            else:
                files.model_file = sha
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

    def _parsed_file(self, group: str | None) -> Path | None:
        try:
            return parsed_cache.path(self.state_dir, group) if group else None
        except GitCommandError:
            return None

    def remembered_parses(self, group: str, shas: Sequence[str]) -> dict[str, Any]:
        """{sha: parsed YAML} of the blobs of model `group` whose parse is remembered."""
        kept = parsed_cache.load(self._parsed_file(group))
        return {sha: kept[sha] for sha in shas if sha in kept}

    def parse_blobs(self, shas: Sequence[str], source: Callable[[str], str], rev: str = "HEAD",
                    group: str | None = None) -> dict[str, Any]:
        """{sha: parsed YAML}; a blob that does not parse is left out and noted as broken.
        group: the model they belong to; their parses are remembered (gitreg.store.parsed)."""
        file = self._parsed_file(group)
        kept = parsed_cache.load(file)
        out: dict[str, Any] = {sha: kept[sha] for sha in shas if sha in kept}
        todo = [sha for sha in shas if sha not in out]
        for sha, data in self.read_blobs({sha: source(sha) for sha in todo}, rev).items():
            try:
                out[sha] = _parse(data, source(sha))
            except UserError as exc:
                self.note_broken(source(sha), exc, rev)
        if file and todo:
            parsed_cache.save(file, kept, out)
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
        parsed = self.parse_blobs(list(paths), lambda sha: paths[sha], rev, group=name)
        for sha in set(files.manifests.values()):
            if sha in parsed:
                problem = shape_problem(parsed[sha])
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

    def summaries(self, rev: str = "HEAD", names: Sequence[str] | None = None) -> dict[str, dict[str, dict]]:
        """{model: {version: summary}} for every model (or those `names`), through the
        tree-id cache (issue 6)."""
        return cache.summaries(self, rev, names)

    def deprecated_models(self, names: Sequence[str], rev: str = "HEAD") -> set[str]:
        """The models whose model.yaml says `deprecated:`, in one `cat-file --batch` (list's
        cost stays one git call, not one per model); only those mentioning it are parsed.
        Each is named inside its model's tree (`TREE:model.yaml`): `REV:models/NAME/model.yaml`
        made git read the whole models/ tree again for every model (0.2 s at 1000 models)."""
        dirs = self.model_dirs(rev)
        paths = {f"{dirs[n]}:{MODEL_FILE}": n for n in names if n in dirs}
        out: set[str] = set()
        for spec, raw in self.git.cat_blobs(list(paths)).items():
            if not re.search(rb"^deprecated:", raw, re.M):
                continue
            try:
                doc = yamlio.loads(raw, model_file_path(paths[spec]))
            except UserError:
                continue  # an unreadable model.yaml: validate and doctor name it
            if isinstance(doc, dict) and doc.get("deprecated"):
                out.add(paths[spec])
        return out

    def answer(self, kind: str, key: Sequence[Any], build: Callable[[Sequence[str] | None], list],
               valid: Callable[[Any], bool]) -> list:
        """A finished answer over every model at HEAD, cached by models/' tree id (issue 16)."""
        return cache.answer(self, kind, key, build, valid)

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
            from gitreg.store.summary import summary_path

            paths = (f"{MODELS_DIR}/{model}", DVC_YAML, CONFIG_FILE, summary_path(model))
            if self._clean_without_status(paths):
                return
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

    def _clean_without_status(self, paths: Sequence[str]) -> bool:
        """Clean for sure without `git status` (which reads and may rewrite the whole index,
        300,000 entries at 100,000 versions; issue 16): the index is known to be HEAD's
        tree (gitreg.git.indexstamp) and the work tree under paths matches HEAD. False
        whenever in doubt: git status then decides, and says what is dirty, as before."""
        from gitreg.git import indexstamp

        head = self.git.head()
        if not (indexstamp.known(self.git, head) or indexstamp.prove(self.git, head)):
            return False
        return indexstamp.worktree_clean(self.git, paths, is_temp_file)

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
        """One mutation at a time per clone: an flock on .git/gitreg/lock (see lock.held).

        Re-entrant within one Store, so a verb may retry itself under the lock.
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
        from gitreg.store import lock  # mutations only: read commands never load it

        with lock.held(self.state_dir):
            self.require_no_index_lock()
            if not recovering:
                interrupted = self.interrupted_change()
                if interrupted is not None:
                    raise ConflictError(
                        f"a gitreg change was interrupted before it finished ({interrupted})",
                        "run `gitreg doctor --fix` to finish or undo it, then retry")
            self._lock_depth = 1
            try:
                with settings.once(self.git):  # the config read once per change
                    yield
            finally:
                self._lock_depth = 0

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
        from gitreg.store import recovery

        return recovery.recover(self)


def _parse(data: bytes, source: str) -> Any:
    """YAML as PyYAML reads it; gitreg's own block form by gitreg.blockyaml (2.5x faster)."""
    try:
        fast = blockyaml.load(data.decode("utf-8"))
    except UnicodeDecodeError:
        fast = None
    return fast if fast is not None else yamlio.loads(data, source)
