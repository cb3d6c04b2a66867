"""Making a registry: git and DVC initialised, gitreg.yaml, models/ and dvc.yaml written, one commit."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from gitreg import dvc, yamlio
from gitreg.core.stages import DEFAULT_CONFIG
from gitreg.errors import UserError
from gitreg.git import Git, find_root
from gitreg.ops.results import InitResult
from gitreg.store import CONFIG_FILE, DVC_YAML, MODELS_DIR, Store

CONFIG_HEADER = (
    "# gitreg registry configuration (schema: schemas/config.schema.json)\n"
    "# stages: display order; transitions: from -> allowed targets (\"none\" = unassigned);\n"
    "# exclusive: one holder at a time, promoting archives the old one;\n"
    "# policies: gates per target stage (from, approvals, metrics, via_pull_request).\n"
)


def _check_target(root: Path, env: Mapping[str, str] | None) -> None:
    if root.exists() and not root.is_dir():
        raise UserError(f"{root} is a file", "give a directory for the registry")
    # init ends with a commit: without an identity git refuses it, so ask first, before
    # anything is written
    probe = next(p for p in (root, *root.parents) if p.is_dir())
    if Git(probe, env).identity()[1] is None:
        raise UserError("git has no identity here, so gitreg cannot record who made the registry",
                        "run `git config --global user.email you@example.com` and "
                        "`git config --global user.name 'Your Name'` (or set GIT_AUTHOR_EMAIL)")


def _write_files(root: Path, git: Git, env: Mapping[str, str] | None, dvc_remote: str | None,
                 dvc_remote_options: Mapping[str, str] | None) -> list[str]:
    """DVC, gitreg.yaml, models/ and dvc.yaml, each only if missing; returns what changed."""
    changed: list[str] = []
    if not dvc.is_initialised(root):
        dvc.init(root, env)
        changed.append("dvc init")
    if dvc.configure(root, dvc_remote, dvc_remote_options, env):
        changed.append("dvc config" + (f" (remote {dvc_remote})" if dvc_remote else ""))
    config_path = root / CONFIG_FILE
    if not config_path.exists():
        config = dict(DEFAULT_CONFIG)
        config["branch"] = git.current_branch() or DEFAULT_CONFIG["branch"]
        yamlio.write_atomic(config_path, CONFIG_HEADER + yamlio.dump(config))
        changed.append(CONFIG_FILE)
    models = root / MODELS_DIR
    models.mkdir(exist_ok=True)
    if not any(models.iterdir()):
        (models / ".gitkeep").write_text("")
        changed.append(f"{MODELS_DIR}/")
    if not (root / DVC_YAML).exists():
        yamlio.write_atomic(root / DVC_YAML, yamlio.dump({"artifacts": {}}))
        changed.append(DVC_YAML)
    return changed


def _set_remote(git: Git, remote: str) -> list[str]:
    current = git.remote_url("origin")
    if current == remote:
        return []
    if current is None:
        git.run(["remote", "add", "--", "origin", remote])
    else:
        git.run(["remote", "set-url", "--", "origin", remote])
    return [f"git remote origin {remote}"]


def _commit(root: Path, git: Git, changed: list[str]) -> str | None:
    """Commit what init wrote (nothing when it was all there already, unless there is no commit)."""
    paths = [p for p in (CONFIG_FILE, DVC_YAML, ".dvc", ".dvcignore", f"{MODELS_DIR}/.gitkeep",
                         ".github") if (root / p).exists()]
    git.add(paths)
    staged = git.run(["diff", "--cached", "--quiet", "--", *paths], check=False).returncode
    if staged == 0 and git.head() is not None:
        return None
    commit = git.commit("gitreg: init registry\n\nGitreg-Action: init\n", paths,
                        allow_empty=git.head() is None, actor=git.identity()[1])
    if "commit" not in changed:
        changed.append("commit")
    return commit


def init(path: str | Path = ".", *, dvc_remote: str | None = None,
         dvc_remote_options: Mapping[str, str] | None = None, remote: str | None = None,
         github: bool = False, env: Mapping[str, str] | None = None,
         github_package: str | None = None) -> InitResult:
    """Make (or complete) a registry at `path`; what is already there is left as it is."""
    from gitreg import templates

    # what the workflows install: checked before anything is touched
    package = templates.check_package_spec(github_package) if github_package is not None else None
    root = Path(path).resolve()
    _check_target(root, env)
    root.mkdir(parents=True, exist_ok=True)
    changed: list[str] = []
    found = find_root(root, env)
    git = Git(root, env)
    if found is None or found.resolve() != root:
        git.run(["init", "-q", "-b", DEFAULT_CONFIG["branch"]])
        changed.append("git init")
    store = Store(root, git)
    with store.locked():
        changed += _write_files(root, git, env, dvc_remote, dvc_remote_options)
        if remote:
            changed += _set_remote(git, remote)
        if github:
            changed += templates.write_github(root, package)
        commit = _commit(root, git, changed)
    return InitResult(root, changed, commit)
