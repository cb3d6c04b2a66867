"""Helpers of the reliability suite: real gitreg processes, a fault-injecting wrapper, health checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import git, gitreg_exe
from gitreg import Registry, yamlio

# An open lifecycle: no approvals, any stage reachable, production exclusive (the old holder is
# archived, so a promotion writes several tags).
OPEN_CONFIG = {
    "schema_version": 1,
    "branch": "main",
    "stages": ["staging", "production", "archived"],
    "transitions": {
        "none": ["staging", "production", "archived"],
        "staging": ["production", "archived", "none"],
        "production": ["archived", "staging"],
        "archived": ["staging", "production"],
    },
    "exclusive": ["production"],
    "archive_stage": "archived",
    "rollback_stage": "production",
    "policies": {},
}


def open_lifecycle(repo: Path, **policies: Any) -> None:
    cfg = dict(OPEN_CONFIG, policies=policies)
    (repo / "gitreg.yaml").write_text(yamlio.dump(cfg))
    git(repo, "commit", "-qm", "test: open lifecycle", "--", "gitreg.yaml")


def run_gitreg(cwd: Path, *args: str, env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*gitreg_exe(), *args], cwd=cwd, env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)


def start_gitreg(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([*gitreg_exe(), *args], cwd=cwd, env=env or dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# Runs the real CLI with one function replaced by a wrapper that SIGKILLs the process just
# before or just after its Nth call: a crash at an exact step, with no hook in gitreg itself.
KILL_WRAPPER = r'''
import importlib, os, signal, sys

target, nth, when = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.argv = ["gitreg", *sys.argv[4:]]
module_name, _, attr = target.partition(":")
owner = importlib.import_module(module_name)
parts = attr.split(".")
for part in parts[:-1]:
    owner = getattr(owner, part)
original = getattr(owner, parts[-1])
calls = [0]


match = os.environ.get("GITREG_TEST_KILL_MATCH", "")  # count only calls naming this


def crash_here(*args, **kwargs):
    counted = not match or any(match in str(a) for a in args)
    calls[0] += counted
    if counted and calls[0] == nth and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    out = original(*args, **kwargs)
    if counted and calls[0] == nth and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)
    return out


setattr(owner, parts[-1], crash_here)
from gitreg.cli.main import run
run()
'''


def run_killed(cwd: Path, target: str, nth: int, when: str, *args: str,
               match: str = "") -> subprocess.CompletedProcess:
    """Run `gitreg ARGS` and SIGKILL it at target's nth call (of those with an argument
    containing `match`); asserts it really died that way."""
    proc = subprocess.run([sys.executable, "-c", KILL_WRAPPER, target, str(nth), when, *args],
                          cwd=cwd, env={**os.environ, "GITREG_TEST_KILL_MATCH": match},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, (proc.returncode, proc.stderr)
    return proc


def assert_healthy(repo: Path) -> None:
    """validate and doctor clean, nothing uncommitted in the registry, no journal, lock free."""
    reg = Registry(repo)
    problems = reg.validate().problems
    assert problems == [], problems
    report = reg.doctor()
    assert report.clean, report.to_dict()
    status = git(repo, "status", "--porcelain", "--untracked-files=all", "--", "models", "dvc.yaml",
                 "gitreg.yaml")
    assert status == "", status
    assert not (repo / ".git" / "gitreg" / "change.json").exists()
    with reg.store.locked():  # the lock is free
        pass


def versions(repo: Path, name: str) -> list[str]:
    try:
        return [m["version"] for m in Registry(repo).show(name)["versions"]]
    except Exception:  # noqa: BLE001 - "not registered" is an empty list here
        return []


def tag_names(repo: Path) -> set[str]:
    return set(git(repo, "tag", "-l").split())
