"""What people see: tables at 80 columns (piped), grouped --help, one-line messages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import _base_env, git, gitreg_exe, snapshot
from gitreg import Registry, VersionInfo

VERSIONS = ["0.1.0", "10.20.30-rc.12", "10.20.31"]
STAGES = ["none", "staging", "archived"]
METRICS = ["accuracy", "latency_ms", "val_loss"]
REASON = ("the candidate that passed the offline evaluation suite, the shadow traffic replay "
          "and the fairness review without a single regression")


@pytest.fixture(scope="module")
def wide_registry(tmp_path_factory: pytest.TempPathFactory, _template: Path,
                  session_home: Path) -> Path:
    """churn: three versions with long SemVer strings, three metrics, a long reason."""
    base = tmp_path_factory.mktemp("wide")
    env = _base_env(session_home)
    repo = base / "registry"
    shutil.copytree(_template, repo, symlinks=True)
    art = base / "model.pkl"
    art.write_bytes(b"x" * 64)
    reg = Registry(repo, env=env)
    for n, v in enumerate(VERSIONS):
        reg.register("churn", [art], VersionInfo(metrics={
            "accuracy": 0.9 + n / 100, "latency_ms": 120.5 - n, "val_loss": 0.2345 - n / 100}),
            version=v)
    reg.promote("churn", "10.20.30-rc.12", "staging", reason=REASON)
    reg.promote("churn", "10.20.30-rc.12", "archived", reason="superseded by 10.20.31")
    reg.promote("churn", "10.20.31", "staging", reason=REASON)
    return repo


def piped(repo: Path, *args: str, columns: str | None = None) -> subprocess.CompletedProcess:
    """The installed gitreg with stdout a pipe and, unless given, no COLUMNS (tests set 200)."""
    env = dict(os.environ)  # the test's hermetic environment (conftest.isolated_env)
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run([*gitreg_exe(), "-C", str(repo), *args], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, check=False)


def tokens(text: str) -> set[str]:
    return set(re.split(r"[\s=,()*]+", text))


def assert_whole(text: str, width: int, *, words: list[str]) -> None:
    assert "…" not in text, text
    too_long = [ln for ln in text.splitlines() if len(ln) > width]
    assert not too_long, "\n".join(too_long)
    missing = [w for w in words if w not in tokens(text)]
    assert not missing, f"cut or missing: {missing}\n{text}"


REASON_WORDS = [w.strip(",") for w in REASON.split()]


@pytest.mark.parametrize("args,words", [
    (("list",), ["churn", "10.20.31", "10.20.30-rc.12", *STAGES[1:], "production"]),
    (("show", "churn"), [*VERSIONS, *STAGES, *METRICS, "alice@example.com"]),
    (("history", "churn"), [*VERSIONS, *STAGES, "register", "promote", *REASON_WORDS,
                            "churn@v10.20.30-rc.12", "churn#archived#5", "alice@example.com"]),
    (("compare", "churn"), [*VERSIONS, *STAGES, *METRICS]),
])
def test_tables_keep_every_value_whole_at_80_columns_piped(wide_registry, args, words):
    first = piped(wide_registry, *args)
    assert first.returncode == 0, first.stderr
    assert_whole(first.stdout, 80, words=words)
    # no guessed terminal width: a pipe without COLUMNS gives the same bytes every time ...
    assert piped(wide_registry, *args).stdout == first.stdout
    assert piped(wide_registry, *args, columns="80").stdout == first.stdout
    # ... and COLUMNS set by the user is honoured, still without cutting anything
    for cols in ("60", "200"):
        wide = piped(wide_registry, *args, columns=cols)
        assert_whole(wide.stdout, int(cols), words=words)


def test_created_dates_stay_whole(wide_registry):
    out = piped(wide_registry, "show", "churn").stdout + piped(wide_registry, "compare", "churn").stdout
    dates = re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", out)
    assert len(dates) == 2 * len(VERSIONS), out


def test_a_wide_terminal_gets_one_table_row_per_version(wide_registry):
    out = piped(wide_registry, "compare", "churn", columns="120").stdout
    rows = [ln for ln in out.splitlines() if ln.split() and ln.split()[0] in VERSIONS]
    assert len(rows) == len(VERSIONS), out
    assert all(not ln.endswith(" ") for ln in out.splitlines())
