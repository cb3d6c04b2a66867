"""Fixtures of the reliability suite (the top-level tests/conftest.py fixtures apply here too)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import _base_env, git
from gitreg import Registry

from ._util import open_lifecycle


@pytest.fixture(scope="session")
def _seeded_template(tmp_path_factory: pytest.TempPathFactory, _template: Path, session_home: Path) -> Path:
    """m 1.0.0 (production) and m 2.0.0 registered under the open lifecycle, built once."""
    import os

    base = tmp_path_factory.mktemp("seeded")
    path = base / "registry"
    shutil.copytree(_template, path, symlinks=True)
    remote = base / "dvc-remote"
    remote.mkdir()
    (path / ".dvc" / "config").write_text(
        "[core]\n    analytics = false\n    remote = storage\n"
        f"['remote \"storage\"']\n    url = {remote}\n")
    env = _base_env(session_home)
    old = dict(os.environ)
    os.environ.update(env)
    try:
        git(path, "commit", "-q", "-am", "test: set DVC remote", env=env)
        open_lifecycle(path)
        reg = Registry(path, env=env)
        for version in ("1.0.0", "2.0.0"):
            art = base / f"model-{version}.pkl"
            art.write_bytes(os.urandom(1024))
            reg.register("m", [art], version=version)
        reg.promote("m", "1.0.0", "production", reason="first")
    finally:
        os.environ.clear()
        os.environ.update(old)
    return path


@pytest.fixture
def seeded(tmp_path: Path, _seeded_template: Path) -> Path:
    path = tmp_path / "registry"
    shutil.copytree(_seeded_template, path, symlinks=True)
    return path
