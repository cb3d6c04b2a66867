"""Fixtures: real git and DVC in temp dirs, an isolated HOME and git config, no network.

Every test gets a fresh HOME, a private global git config with a pinned identity, DVC
analytics off and DVC's config and site-cache directories inside the test's tmp dir. A
guard fails any test that writes to the real home directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from typer.testing import CliRunner

from gitreg import Registry
from gitreg.cli.main import app

REAL_HOME = Path(os.path.expanduser("~"))
# The real GTO from PyPI: dvc depends on it, so it is installed beside gitreg.
_GTO_BESIDE = Path(sys.executable).parent / "gto"
GTO = os.environ.get("GITREG_TEST_GTO") or (str(_GTO_BESIDE) if _GTO_BESIDE.exists() else None) \
    or shutil.which("gto")
ALICE = "alice@example.com"
BOB = "bob@example.com"
CAROL = "carol@example.com"


def _base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "DVC_", "AWS_", "GITHUB_", "GITREG_"))}
    gitconfig = home / ".gitconfig"
    env.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": ALICE,
        "GIT_COMMITTER_NAME": "Alice", "GIT_COMMITTER_EMAIL": ALICE,
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(home / ".dvc-site"),
        "DVC_GLOBAL_CONFIG_DIR": str(home / ".dvc-global"),
        "DVC_SYSTEM_CONFIG_DIR": str(home / ".dvc-system"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    })
    return env


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Alice\n\temail = alice@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        "[protocol \"file\"]\n\tallow = always\n"
    )
    return home


@pytest.fixture(autouse=True)
def isolated_env(session_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Make os.environ hermetic for the test (tests may set env; gitreg code never does)."""
    env = _base_env(session_home)
    for key in list(os.environ):
        if key not in env:
            monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(autouse=True)
def _guard_real_home() -> Any:
    def snapshot() -> set[str]:
        try:
            return {p.name for p in REAL_HOME.iterdir()}
        except OSError:
            return set()

    before = snapshot()
    yield
    created = snapshot() - before
    assert not created, f"test wrote to the real home directory: {sorted(created)}"


def git(cwd: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env or dict(os.environ),
                          capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory, session_home: Path) -> Path:
    """One initialised registry, copied for each test (dvc init costs seconds)."""
    base = tmp_path_factory.mktemp("template")
    env = _base_env(session_home)
    Registry.init(base / "reg", env=env)
    return base / "reg"


@pytest.fixture
def dvc_remote(tmp_path: Path) -> Path:
    path = tmp_path / "dvc-remote"
    path.mkdir()
    return path


@pytest.fixture
def repo(tmp_path: Path, _template: Path, dvc_remote: Path) -> Path:
    """A fresh registry (git + DVC + gitreg.yaml, one commit) with a local-folder DVC remote."""
    path = tmp_path / "registry"
    shutil.copytree(_template, path, symlinks=True)
    # what `dvc remote add -d storage DIR` writes, without paying for a dvc process per test
    (path / ".dvc" / "config").write_text(
        "[core]\n    analytics = false\n    remote = storage\n"
        f"['remote \"storage\"']\n    url = {dvc_remote}\n")
    git(path, "commit", "-q", "-am", "test: set DVC remote")
    return path


@pytest.fixture
def reg(repo: Path) -> Registry:
    return Registry(repo)


@pytest.fixture
def bare_remote(tmp_path: Path, repo: Path) -> Path:
    """A bare repository standing in for the git host, set as origin of `repo`."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    return bare


@pytest.fixture
def make_artifact(tmp_path: Path) -> Callable[..., Path]:
    counter = {"n": 0}

    def make(size: int = 2048, name: str = "model.pkl", content: bytes | None = None) -> Path:
        counter["n"] += 1
        folder = tmp_path / "artifacts" / str(counter["n"])
        folder.mkdir(parents=True)
        path = folder / name
        path.write_bytes(content if content is not None else os.urandom(size))
        return path

    return make


def as_user(email: str) -> dict[str, str]:
    """Environment overrides to act as another person (git identity)."""
    name = email.split("@")[0].title()
    return {"GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_EMAIL": email,
            "GIT_AUTHOR_NAME": name, "GIT_COMMITTER_NAME": name}


def registry_as(path: Path, email: str) -> Registry:
    return Registry(path, env={**os.environ, **as_user(email)})


@pytest.fixture
def cli() -> Callable[..., Any]:
    """Run the CLI in-process: cli(repo, "list", "--json", env={...})."""
    runner = CliRunner()

    def invoke(path: Path | None, *args: str, env: dict[str, str] | None = None,
               input: str | None = None) -> Any:
        argv = (["-C", str(path)] if path is not None else []) + list(args)
        result = runner.invoke(app, argv, env=env, input=input, catch_exceptions=False)
        return result

    return invoke


def snapshot(path: Path) -> dict[str, Any]:
    """Everything a failed command must leave unchanged: refs, index, work tree."""
    files = {}
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if rel.parts[0] == ".git" or (rel.parts[0] == ".dvc" and len(rel.parts) > 1
                                       and rel.parts[1] in ("cache", "tmp")):
            continue
        files[str(rel)] = p.read_bytes() if p.is_file() else None
    return {
        "refs": git(path, "for-each-ref", "--format=%(refname) %(objectname)"),
        "head": git(path, "rev-parse", "HEAD"),
        "index": git(path, "ls-files", "-s"),
        "status": git(path, "status", "--porcelain", "--untracked-files=all"),
        "files": files,
    }


def gitreg_exe() -> list[str]:
    """The installed console script, for real subprocess runs."""
    exe = shutil.which("gitreg", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "gitreg"]
