"""`gitreg --help` from its cache (gitreg.cli.helpcache, issue 16): the same bytes as the
app prints, another text for other code or another width, rebuilt when the file is bad."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitreg.cli import helpcache

PACKAGE = Path(helpcache.__file__).resolve().parent.parent


def _help(env: dict[str, str], pythonpath: Path | None = None, **extra: str) -> subprocess.CompletedProcess:
    run_env = {**env, **extra}
    where = Path(env["XDG_CACHE_HOME"]).parent if env["XDG_CACHE_HOME"] else Path(env["TMP_FOR_HELP"])
    run_env["PYTHONPATH"] = str(pythonpath or PACKAGE.parent)
    # run from outside any checkout: `-m` puts the current directory first on sys.path
    return subprocess.run([sys.executable, "-m", "gitreg", "--help"], env=run_env, capture_output=True,
                          text=True, check=False, cwd=where)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "XDG_CACHE_HOME")}
    out["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    out["TMP_FOR_HELP"] = str(tmp_path)
    return out


def _uncached(env: dict[str, str], **extra: str) -> str:
    plain = {k: v for k, v in env.items() if k != "HOME"}
    proc = _help({**plain, "XDG_CACHE_HOME": ""}, **extra)
    assert proc.returncode == 0 and proc.stderr == ""
    return proc.stdout


def _files(env: dict[str, str]) -> list[Path]:
    return sorted((Path(env["XDG_CACHE_HOME"]) / "gitreg").glob("help-*.txt"))


def test_the_cached_help_is_the_apps_own_text(env):
    expected = _uncached(env)
    first = _help(env)
    assert _files(env), "the first run keeps its text"
    second = _help(env)
    assert first.stdout == second.stdout == expected
    assert first.returncode == second.returncode == 0 and second.stderr == ""
    assert "Usage: gitreg" in expected


def test_each_width_has_its_own_text(env):
    narrow, wide = _help(env, COLUMNS="50").stdout, _help(env, COLUMNS="120").stdout
    assert narrow != wide
    assert _help(env, COLUMNS="50").stdout == narrow == _uncached(env, COLUMNS="50")
    assert _help(env, COLUMNS="120").stdout == wide == _uncached(env, COLUMNS="120")
    assert len(_files(env)) == 2


def test_changed_code_is_never_served_an_old_text(env, tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "gitreg", ignore=shutil.ignore_patterns("__pycache__"))
    before = _help(env, copy).stdout
    assert _help(env, copy).stdout == before and "a git-native model registry" in before
    common = copy / "gitreg" / "cli" / "common.py"
    common.write_text(common.read_text().replace("a git-native model registry", "a changed registry"))
    after = _help(env, copy).stdout
    assert "a changed registry" in after and "a git-native model registry" not in after
    assert _help(env, copy).stdout == after


@pytest.mark.parametrize("damage", ["garbage", "header", "body", "empty", "binary"])
def test_a_damaged_cache_file_is_ignored_and_rebuilt(env, damage):
    expected = _help(env).stdout
    [path] = _files(env)
    raw = path.read_text("utf-8")
    header, _, body = raw.partition("\n")
    path.write_bytes({
        "garbage": b"not a cache\n" + body.encode(),
        "header": (header[:-3] + "abc\n" + body).encode(),
        "body": (header + "\n" + body.replace("promote", "demote")).encode(),
        "empty": b"",
        "binary": b"\xff\xfe\x00" * 50,
    }[damage])
    proc = _help(env)
    assert proc.stdout == expected and proc.returncode == 0
    assert path.read_text("utf-8") == raw  # written again, exactly as before


def test_a_failed_help_is_not_cached(env, tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "gitreg", ignore=shutil.ignore_patterns("__pycache__"))
    common = copy / "gitreg" / "cli" / "common.py"
    common.write_text(common.read_text() + "\nimport sys\nsys.stderr.write('warning: x\\n')\n")
    proc = _help(env, copy)
    assert proc.returncode == 0 and "warning: x" in proc.stderr
    assert _files(env) == []
