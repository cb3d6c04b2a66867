"""The one place gitreg runs DVC.

DVC runs as a subprocess of the same interpreter (`python -m dvc`), never imported by
gitreg: reads pay nothing for it, the caller's environment is passed in explicitly
(dvc's Python API reads os.environ, which gitreg never mutates), and DVC's own progress
bars reach the user's terminal on stderr. The .dvc file DVC writes is the answer we read.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from gitreg import yamlio
from gitreg.errors import ConflictError, GitregError, InternalError, UserError
from gitreg.git import network_timeout, run_with_timeout, timed_out

DEFAULT_REMOTE = "storage"


@dataclass(frozen=True)
class AddedArtifact:
    path: str  # relative to the version directory
    md5: str
    size: int
    nfiles: int | None


def dvc_env(env: Mapping[str, str] | None) -> dict[str, str]:
    base = dict(os.environ if env is None else env)
    base.setdefault("DVC_NO_ANALYTICS", "1")
    base["LC_ALL"] = "C"
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        base.pop(var, None)
    return base


def _translate(stderr: str, action: str) -> GitregError:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    text = (errors[0] if errors else (lines[-1] if lines else "no output")).removeprefix("ERROR: ")
    low = stderr.lower()
    if "no remote" in low or "remote is not set" in low or "not a valid remote" in low:
        return UserError(f"{action}: no DVC remote is configured ({text})",
                         "set one with `gitreg init --dvc-remote URL` or `dvc remote add -d NAME URL`")
    if "credential" in low or "accessdenied" in low or "invalidaccesskeyid" in low \
            or "unable to locate credentials" in low or "forbidden" in low:
        return UserError(f"{action}: the DVC remote refused access ({text})",
                         "set the remote's credentials (e.g. AWS_ACCESS_KEY_ID) and retry")
    if "no storage files available" in low:
        # what `dvc get` says both when the remote lacks the objects and when the
        # registry names no remote at all; callers that can tell them apart do so
        return UserError(f"{action}: the artifact data is not in the DVC remote ({text})",
                         "push it from the machine that registered it (`dvc push` there), and "
                         "check the registry's .dvc/config names a default remote")
    if "failed to load directory" in low and ("errno 2" in low or "no such file" in low):
        # a directory artifact whose .dir object is in neither the cache nor the remote
        return UserError(f"{action}: the artifact data is not in the DVC remote ({text})",
                         "push it from the machine that registered it (`dvc push` there)")
    if "validation failed in revision" in low or "expected a dictionary" in low:
        return UserError(f"{action}: the registry's .dvc file is not valid ({text})",
                         "run `gitreg validate` in that registry")
    if "missing" in low or "failed to pull" in low or "failed to fetch" in low \
            or "not found" in low and "remote" in low:
        return UserError(f"{action}: artifact data is missing from the DVC remote ({text})",
                         "push it from the machine that registered it (`dvc push` there)")
    if "failed to push" in low or "upload" in low:
        return ConflictError(f"{action}: could not upload to the DVC remote ({text})",
                             "check the remote is reachable and writable, then retry")
    if "lock" in low and "unable to acquire" in low:
        return ConflictError(f"{action}: another DVC process holds the repository lock",
                             "wait for it to finish and retry")
    if "no space left on device" in low or "disk quota exceeded" in low:
        return UserError(f"{action}: no space left on device ({text})",
                         "free some disk space (the DVC cache is .dvc/cache) and retry")
    if "read-only file system" in low or "permission denied" in low:
        return UserError(f"{action}: cannot write ({text})",
                         "check that the repository and its .dvc/cache are writable")
    if "no module named dvc" in low:
        return UserError("dvc is not installed in this environment", "pip install dvc")
    return InternalError(f"{action} failed: {text}",
                         "rerun with --traceback; if it is a gitreg bug, report it")


def run(root: Path, args: Sequence[str], env: Mapping[str, str] | None = None,
        action: str | None = None, show_progress: bool = False, module: str = "dvc",
        network: bool = False) -> str:
    """Run `dvc ARGS` in root; stdout is returned, failures raise translated errors.

    network=True (get, push, pull talk to remotes) puts GITREG_NETWORK_TIMEOUT on the call."""
    cmd = [sys.executable, "-m", module, *args]
    kwargs: dict = dict(cwd=root, env=dvc_env(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=None if show_progress else subprocess.PIPE, text=True)
    try:
        if network:
            limit = network_timeout(env)
            try:
                proc = run_with_timeout(cmd, limit, **kwargs)
            except subprocess.TimeoutExpired:
                raise timed_out(action or f"dvc {args[0]}", limit) from None
        else:
            proc = subprocess.run(cmd, check=False, **kwargs)
    except OSError as exc:
        raise InternalError(f"could not start dvc: {exc}", "check the Python environment") from None
    if proc.returncode != 0:
        raise _translate((proc.stderr or "") + (proc.stdout or ""), action or f"dvc {args[0]}")
    return proc.stdout


def is_initialised(root: Path) -> bool:
    return (root / ".dvc").is_dir()


def init(root: Path, env: Mapping[str, str] | None = None) -> None:
    run(root, ["init", "-q"], env)


def current_config(root: Path) -> str:
    path = root / ".dvc" / "config"
    return path.read_text("utf-8") if path.exists() else ""


def configure(root: Path, remote_url: str | None, remote_options: Mapping[str, str] | None = None,
              env: Mapping[str, str] | None = None) -> bool:
    """Analytics off and the default remote set (repo-level config). True if it changed."""
    before = current_config(root)
    run(root, ["config", "core.analytics", "false"], env)
    if remote_url:
        run(root, ["remote", "add", "-f", "-d", "--", DEFAULT_REMOTE, remote_url], env)
        for key, value in (remote_options or {}).items():
            run(root, ["remote", "modify", "--", DEFAULT_REMOTE, key, value], env)
    return current_config(root) != before


def read_dvc_file(dvc_file: Path) -> AddedArtifact:
    data = yamlio.load_file(dvc_file)
    try:
        out = data["outs"][0]
        return AddedArtifact(
            path=str(out["path"]),
            md5=str(out["md5"]),
            size=int(out.get("size", 0)),
            nfiles=int(out["nfiles"]) if out.get("nfiles") else None,
        )
    except (KeyError, IndexError, TypeError, ValueError):
        raise UserError(f"{dvc_file}: not a DVC-tracked output file",
                        "restore it with `git checkout -- <file>`") from None


def add(root: Path, targets: Sequence[Path], env: Mapping[str, str] | None = None,
        show_progress: bool = False, source: Path | None = None,
        ignored: Callable[[list[str]], set[str] | None] | None = None,
        progress: Callable[[str, int, int], None] | None = None) -> list[AddedArtifact]:
    """`dvc add` outputs inside a version directory gitreg has just created; their md5s.

    Two costs of plain `dvc add` go (issue 6): it reads every stage of the repository
    first (20,000 .dvc files at 1000 models x 20 versions), which gitreg._dvc_new_add
    skips since nothing can track a path in a brand-new directory; and with `source` (one
    target) DVC copies the file straight from the user's path (`dvc add SOURCE -o
    TARGET`; the source is only read), so gitreg makes no copy of its own first.
    With `source` and git's ignore check (`ignored`), a plain file DVC would copy is added
    by gitreg.dvcadd without starting DVC at all (issue 16), writing the same files.
    """
    if not targets:
        return []
    rels = [t.relative_to(root).as_posix() for t in targets]
    if source is not None and len(targets) != 1:
        raise InternalError("dvc add from a source takes one target", "report this gitreg bug")
    refused = _ignore_check(rels, ignored)
    if source is not None:
        if refused is not None:
            from gitreg import dvcadd

            try:
                done = dvcadd.add_file(root, source, targets[0], env, rels[0] in refused, progress)
            except OSError as exc:
                raise _translate(f"ERROR: {exc}", "dvc add") from None
            if done is not None:
                return [AddedArtifact(path=targets[0].name, md5=done[0], size=done[1], nfiles=None)]
        args = ["-q", str(source), "-o", rels[0]]
    else:
        args = ["-q", "--", *rels]
    try:
        run(root, args, env, action="dvc add", show_progress=show_progress, module="gitreg._dvc_new_add")
    except InternalError:
        # a DVC whose internals moved: the plain command, slower but the same result
        run(root, ["add", *args], env, action="dvc add", show_progress=show_progress)
    return [read_dvc_file(t.with_name(t.name + ".dvc")) for t in targets]


def _ignore_check(rels: Sequence[str], ignored: Callable[[list[str]], set[str] | None] | None
                  ) -> set[str] | None:
    """Which of the targets git ignores (None: not asked, or git could not say); an ignored
    .dvc file is refused here, with the fix, before anything is written (DVC's own refusal
    is lost to -q and the hint would not say what to change)."""
    if ignored is None:
        return None
    refused = ignored([*rels, *(r + ".dvc" for r in rels)])
    bad = [r + ".dvc" for r in rels if refused is not None and r + ".dvc" in refused]
    if bad:
        raise UserError(f"git ignores {bad[0]}, so the version could not be committed",
                        f"remove the .gitignore rule that matches it (`git check-ignore -v {bad[0]}` "
                        "names it) and retry")
    return refused


def push(root: Path, targets: Sequence[Path], env: Mapping[str, str] | None = None,
         show_progress: bool = False) -> None:
    # no -q: with it DVC exits 255 without its ERROR line (e.g. "Unable to locate credentials")
    run(root, ["push", "--", *[str(t.relative_to(root)) for t in targets]], env,
        action="dvc push", show_progress=show_progress, network=True)


def pull(root: Path, targets: Sequence[Path], env: Mapping[str, str] | None = None,
         show_progress: bool = False) -> None:
    run(root, ["pull", "--", *[str(t.relative_to(root)) for t in targets]], env,
        action="dvc pull", show_progress=show_progress, network=True)


def get(source: str, path: str, out: Path, rev: str | None = None,
        env: Mapping[str, str] | None = None) -> None:
    """`dvc get SOURCE PATH --rev REV -o OUT`: fetch from a DVC repo (a path or a git URL)
    without a clone the user has to make or keep; DVC reads the cache of a local source."""
    if source.startswith("-") or path.startswith("-"):
        raise UserError(f"invalid source {source!r} or path {path!r}", "give a repository URL or path")
    # no -q: with it DVC drops its ERROR line too, and the error could not be translated
    args = ["get", "-o", str(out)] + (["--rev", rev] if rev else []) + ["--", source, path]
    run(out.parent, args, env, action="dvc get", network=True)


def _object_dir(root: Path) -> Path:
    return root / ".dvc" / "cache" / "files" / "md5"


def cache_listing(root: Path) -> dict[str, set[str]] | None:
    """{2-letter dir: entry names} of the repository's DVC cache (names only, one listdir per
    directory): what a failed register compares against to remove only what it added."""
    base = _object_dir(root)
    try:
        subdirs = os.listdir(base)
    except OSError:
        return None if base.exists() else {}
    out: dict[str, set[str]] = {}
    for sub in subdirs:
        try:
            out[sub] = set(os.listdir(base / sub))
        except OSError:
            continue
    return out


def remove_new_objects(root: Path, before: dict[str, set[str]] | None) -> list[str]:
    """Delete the cache entries that are not in `before` (a failed register's orphans); never
    anything that was there before. Returns what was removed."""
    if before is None:
        return []
    base = _object_dir(root)
    removed: list[str] = []
    after = cache_listing(root) or {}
    for sub, names in after.items():
        for name in sorted(names - before.get(sub, set())):
            try:
                os.unlink(base / sub / name)
                removed.append(f"{sub}/{name}")
            except OSError:
                pass
        if sub not in before:
            try:
                (base / sub).rmdir()
            except OSError:
                pass
    return removed


def has_default_remote(config_texts: Sequence[str]) -> bool:
    """Whether DVC config files (repo config, then config.local) name a default remote."""
    import configparser

    remote = None
    for text in config_texts:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        try:
            parser.read_string(text)
        except configparser.Error:
            continue
        if parser.has_option("core", "remote"):
            remote = parser.get("core", "remote").strip() or None
    return remote is not None
