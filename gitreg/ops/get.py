"""`get`: a version's artifacts fetched with `dvc get`, every md5 checked, then moved into place.

The source is the local registry or another registry repository (a path or git URL, resolved
with one `git ls-remote`). Files are fetched into a staging directory next to the output and
moved into place only after every md5 matches, so a failure never leaves a half-written output
directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

from gitreg import dvc, yamlio
from gitreg.core.names import check_stage
from gitreg.core.tags import ASSIGN, DEREGISTER, REGISTER, UNASSIGN, parse_tag, register_tag
from gitreg.core.version import parse_version
from gitreg.errors import GitregError, NotFoundError, UserError
from gitreg.git import Git, check_repo_url, network_timeout
from gitreg.ops import reads
from gitreg.ops.consume import resolve
from gitreg.ops.context import Context
from gitreg.ops.results import Progress
from gitreg.store import MODELS_DIR

PROGRESS_POLL = 0.25  # seconds between looks at the bytes DVC has written so far


def get(ctx: Context, ref: str, out_dir: str | Path = ".", repo_url: str | None = None,
        progress: Progress | None = None) -> dict[str, Any]:
    """Download a version's artifacts into out_dir through DVC and verify their md5."""
    if repo_url is not None:
        return get_from_repo(ref, out_dir, repo_url, env=ctx.env, progress=progress)
    info = resolve(ctx, ref)
    manifest = reads.show(ctx, f"{info['name']}@{info['version']}")
    rev = info["tag"] or info["commit"]
    if (manifest.get("history") or [{}])[0].get("adopted_from"):
        # gto registered it (`doctor --adopt` wrote its directory later): its files are
        # where the adoption commit put them, not at the commit gto tagged
        rev = reads.registration_commits(ctx, info["name"], [info["version"]], by_manifest=True).get(
            info["version"], rev)
    return _download(str(ctx.root), info["name"], info["version"], rev, Path(out_dir),
                     env=ctx.env, progress=progress, manifest=manifest, local_git=ctx.git)


# -- get from another registry ------------------------------------------------------------
def get_from_repo(ref: str, out_dir: str | Path, repo_url: str, env: Mapping[str, str] | None = None,
                  progress: Progress | None = None) -> dict[str, Any]:
    """`get` from a registry repository given by path or URL, without a local clone.

    The version is resolved from the repository's tags (one `git ls-remote`), as
    `dvc artifacts get` does; the manifest comes with the download and is checked.
    """
    from gitreg.core.refs import parse_ref

    if not repo_url or repo_url.startswith("-"):
        raise UserError(f"invalid --repo {repo_url!r}", "give a registry repository URL or path")
    name, version, stage, alias = parse_ref(ref)
    if stage is not None:
        stage = check_stage(stage)
    # an alias is a GTO stage with one holder in the tags: resolved the same way
    stage = alias or stage
    local = Path(repo_url).expanduser()
    check_repo_url(repo_url, local.exists())
    network_timeout(env)  # a bad GITREG_NETWORK_TIMEOUT is named before anything runs
    source = str(local.resolve()) if local.exists() else repo_url
    version = resolve_from_tags(name, version, stage, _remote_tags(source, name, env), source)
    return _download(source, name, version, register_tag(name, version), Path(out_dir), env=env,
                     progress=progress, manifest=None,
                     local_git=Git(Path(source), env) if local.exists() else None)


def _remote_tags(source: str, name: str, env: Mapping[str, str] | None) -> dict[str, str]:
    """{tag name: commit it points at (peeled)} of one model, from one `git ls-remote`."""
    git = Git(Path.cwd(), env)
    proc = git.run(["ls-remote", "--tags", "--", source, f"refs/tags/{name}@*", f"refs/tags/{name}#*"],
                   check=False, network=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["git ls-remote failed"])[-1]
        raise UserError(f"cannot read the registry repository {source}: {last}",
                        "check the URL or path, and your access to it (git ls-remote URL)")
    out: dict[str, str] = {}
    peeled: set[str] = set()
    for line in proc.stdout.splitlines():
        sha, _, refname = line.partition("\t")
        if not refname.startswith("refs/tags/"):
            continue
        tag = refname[len("refs/tags/"):]
        if tag.endswith("^{}"):
            out[tag[:-3]] = sha
            peeled.add(tag[:-3])
        elif tag not in peeled:
            out[tag] = sha
    return out


def resolve_from_tags(name: str, version: str | None, stage: str | None, tags: Mapping[str, str],
                      source: str = "the repository") -> str:
    """The version a ref names, from GTO tags alone ({tag: peeled commit}).

    Stage tags point at the version's registration commit, so the commit maps them back to
    the version; events are replayed in seq order and the newest assignment still in
    force is the holder, which is what `dvc artifacts get --stage` and GTO compute too.
    """
    by_commit: dict[str, str] = {}
    registered: set[str] = set()
    deregistered: set[str] = set()
    stage_events: list[tuple[int, int, str]] = []  # (seq, assign=1/unassign=0, commit)
    for tag_name, commit in tags.items():
        t = parse_tag(tag_name)
        if t is None or t.name != name:
            continue
        if t.kind == REGISTER and t.version:
            registered.add(t.version)
            by_commit[commit] = t.version
        elif t.kind == DEREGISTER and t.version:
            deregistered.add(t.version)
        elif t.kind in (ASSIGN, UNASSIGN) and t.stage == stage and t.seq:
            stage_events.append((t.seq, 1 if t.kind == ASSIGN else 0, commit))
    active = registered - deregistered
    if not active:
        raise NotFoundError(f"model {name!r} is not registered in {source}",
                            f"check the name; `git ls-remote --tags {source}` lists its tags")
    if version is not None:
        if version not in active:
            raise NotFoundError(f"{name} has no version {version} in {source}",
                                f"registered versions: {', '.join(sorted(active, key=parse_version)[-8:])}")
        return version
    if stage is None:
        return str(max(active, key=parse_version))
    holding: dict[str, int] = {}
    for seq, assign, commit in sorted(stage_events):
        ver = by_commit.get(commit)
        if ver is None:
            continue
        if assign:
            holding[ver] = seq
        else:
            holding.pop(ver, None)
    holders = [v for v in holding if v in active]
    if not holders:
        raise NotFoundError(f"no version of {name} is in {stage} in {source}",
                            f"see the stage tags: `git ls-remote --tags {source} '{name}#*'`")
    return max(holders, key=lambda v: (holding[v], parse_version(v)))


# -- download -----------------------------------------------------------------------------
def _download(source: str, name: str, version: str, rev: str | None, out_dir: Path, *,
              env: Mapping[str, str] | None, progress: Progress | None,
              manifest: Mapping[str, Any] | None, local_git: Git | None) -> dict[str, Any]:
    out_dir = Path(os.path.abspath(out_dir))
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir} is a file", "give a directory with -o")
    vpath = f"{MODELS_DIR}/{name}/{version}"
    artifacts = _artifacts(manifest, vpath) if manifest is not None else None
    if artifacts is not None:
        _check_targets(out_dir, artifacts)
    total = sum(int(a.get("size", 0)) for a in artifacts) if artifacts else 0
    if local_git is not None:
        _refuse_symlinks(local_git, rev, vpath)
    staging = _staging_dir(out_dir)
    try:
        fetched = staging / "v"
        with _watch(staging, f"{name} {version}", total, progress):
            try:
                dvc.get(source, vpath, fetched, rev=rev, env=env)
            except GitregError as exc:
                raise _explain(exc, local_git, rev) from None
        if artifacts is None:
            artifacts = _fetched_artifacts(fetched, source, name, version, rev, vpath)
            _check_targets(out_dir, artifacts)
        for a in artifacts:
            _verify(fetched / a["path"], str(a["md5"]), f"{vpath}/{a['path']}")
        _move_into_place(staging, fetched, artifacts, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "name": name, "version": version, "source": source, "rev": rev, "out": str(out_dir),
        "artifacts": [{"path": str(out_dir / a["path"]), "md5": a["md5"], "size": int(a.get("size", 0))}
                      for a in artifacts],
    }


def _staging_dir(out_dir: Path) -> Path:
    """A temp directory in out_dir or its nearest existing parent, so moving out of it is a rename."""
    anchor = out_dir
    while not anchor.exists():
        anchor = anchor.parent
    try:
        return Path(tempfile.mkdtemp(prefix=".gitreg-get-", dir=anchor))
    except OSError as exc:
        raise UserError(f"cannot write in {anchor}: {exc.strerror}", "choose another -o directory") from None


def _fetched_artifacts(fetched: Path, source: str, name: str, version: str, rev: str | None,
                       vpath: str) -> list[Mapping[str, Any]]:
    """The artifacts of the manifest that came with the download (from another registry)."""
    found = fetched / "manifest.yaml"
    if not found.is_file():
        raise UserError(f"{source} has no {vpath}/manifest.yaml at {rev}",
                        "is it a gitreg registry? `gitreg list` there shows its models")
    loaded = yamlio.load_file(found, f"{vpath}/manifest.yaml")
    if not isinstance(loaded, dict) or loaded.get("name") != name \
            or str(loaded.get("version")) != version:
        raise UserError(f"{vpath}/manifest.yaml in {source} does not describe {name} {version}",
                        "run `gitreg validate` in that registry")
    return _artifacts(loaded, vpath)


def _move_into_place(staging: Path, fetched: Path, artifacts: Sequence[Mapping[str, Any]],
                     out_dir: Path) -> None:
    """Move the verified files to out_dir; on any failure, undo what was moved or made."""
    created: list[Path] = []
    moved: list[Path] = []
    try:
        if not out_dir.exists():
            payload = staging / "out"
            payload.mkdir()
            for a in artifacts:
                os.replace(fetched / a["path"], payload / a["path"])
            missing = []
            parent = out_dir.parent
            while not parent.exists():
                missing.append(parent)
                parent = parent.parent
            for d in reversed(missing):
                d.mkdir()
                created.append(d)
            os.replace(payload, out_dir)
            created.append(out_dir)
        else:
            for a in artifacts:
                target = out_dir / a["path"]
                os.replace(fetched / a["path"], target)
                moved.append(target)
    except BaseException:
        for path in moved:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        for d in reversed(created):
            shutil.rmtree(d, ignore_errors=True) if d == out_dir else _rmdir(d)
        raise


def _refuse_symlinks(git: Git, rev: str | None, vpath: str) -> None:
    """A registry is untrusted: a symlink in a version directory (a .dvc file pointing at
    /etc/passwd or outside the repository) is refused before DVC reads anything."""
    for entry in git.ls_tree(rev or "HEAD", vpath):
        if entry.mode == "120000":
            raise UserError(f"{entry.path} is a symbolic link in the registry; gitreg never follows one",
                            "the registry has been tampered with: run `gitreg validate` there")


def _rmdir(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


def _artifacts(manifest: Mapping[str, Any], vpath: str) -> list[Mapping[str, Any]]:
    arts = manifest.get("artifacts")
    if not isinstance(arts, list) or not arts:
        raise UserError(f"{vpath}/manifest.yaml lists no artifacts", "nothing to download")
    for a in arts:
        p = a.get("path") if isinstance(a, Mapping) else None
        # the manifest may come from another repository: only plain names, never ../ or /
        if not isinstance(p, str) or p in ("", ".", "..") or "/" in p or "\\" in p \
                or not isinstance(a.get("md5"), str):
            raise UserError(f"{vpath}/manifest.yaml has an invalid artifact entry {a!r}",
                            "run `gitreg validate` in that registry")
    return arts


def _check_targets(out_dir: Path, artifacts: Sequence[Mapping[str, Any]]) -> None:
    if not out_dir.exists():
        return
    for a in artifacts:
        target = out_dir / a["path"]
        if target.exists() or target.is_symlink():
            raise UserError(f"{target} already exists; gitreg get does not overwrite files",
                            "remove it or choose another directory with -o")


def dir_md5(path: Path) -> str:
    """DVC's directory hash: md5 of the sorted JSON list of {md5, relpath} (without .dir)."""
    from gitreg.checksum import md5_file

    entries = []
    for dirpath, _dirs, files in os.walk(path):
        for fname in files:
            full = Path(dirpath) / fname
            entries.append({"md5": md5_file(full), "relpath": full.relative_to(path).as_posix()})
    entries.sort(key=lambda e: e["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode("utf-8")).hexdigest()


def _verify(path: Path, expected: str, label: str) -> None:
    from gitreg.checksum import md5_file

    if expected.endswith(".dir"):
        got = dir_md5(path) + ".dir" if path.is_dir() else "nothing"
    else:
        got = md5_file(path) if path.is_file() else "nothing"
    if got != expected:
        raise UserError(f"checksum mismatch for {label}: expected md5 {expected}, downloaded {got}",
                        "the DVC remote holds other bytes: push the artifact again from the machine "
                        "that registered it (`dvc push`), then retry")


def _explain(exc: GitregError, local_git: Git | None, rev: str | None) -> GitregError:
    """`dvc get` says "No storage files available" with or without a remote: tell them apart."""
    if "not in the DVC remote" not in exc.message or local_git is None:
        return exc
    texts = []
    proc = local_git.run(["show", f"{rev or 'HEAD'}:.dvc/config"], check=False)
    if proc.returncode == 0:
        texts.append(proc.stdout)
    local = local_git.root / ".dvc" / "config.local"
    if local.is_file():
        texts.append(local.read_text("utf-8", errors="replace"))
    if dvc.has_default_remote(texts):
        return exc
    return UserError("dvc get: the registry names no DVC remote and its cache lacks the data, "
                     "so the artifacts cannot be downloaded",
                     "in the registry run `dvc remote add -d storage URL`, commit .dvc/config, "
                     "and `dvc push` the data from the machine that registered it")


class _watch:
    """Reports the bytes written under root every PROGRESS_POLL seconds while DVC runs."""

    def __init__(self, root: Path, label: str, total: int, progress: Progress | None):
        self.root, self.label, self.total, self.progress = root, label, total, progress
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> "_watch":
        if self.progress is not None:
            self.thread = threading.Thread(target=self._loop, daemon=True)
            self.thread.start()
        return self

    def _loop(self) -> None:
        while not self.stop.wait(PROGRESS_POLL):
            self._report()

    def _report(self) -> None:
        try:
            self.progress(self.label, _tree_size(self.root), self.total)  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - a broken progress display must not stop a download
            pass

    def __exit__(self, kind: Any, *_: Any) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
            if kind is None:
                self._report()


def _tree_size(root: Path) -> int:
    size = 0
    for dirpath, _dirs, files in os.walk(root):
        for fname in files:
            try:
                size += os.lstat(os.path.join(dirpath, fname)).st_size
            except OSError:
                pass  # renamed or removed while DVC works
    return size
