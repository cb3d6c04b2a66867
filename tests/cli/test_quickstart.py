"""The README's Quickstart runs verbatim, top to bottom, as a new user would paste it (issue 14)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ALICE, BOB, git, gitreg_exe

README = Path(__file__).resolve().parents[2] / "README.md"
USER_FILES = ["metrics.json", "model.pkl"]


def quickstart_blocks(text: str) -> dict[str, str]:
    """The first fenced block of each language in the '## Quickstart' section."""
    lines = text.splitlines()
    fence: str | None = None
    start: int | None = None
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fence = None if fence is not None else line
        elif fence is None and line.startswith("## "):
            if start is not None:
                lines = lines[start:i]
                break
            if line.strip() == "## Quickstart":
                start = i + 1
    else:
        assert start is not None, f"no '## Quickstart' section in {README}"
        lines = lines[start:]
    blocks: dict[str, str] = {}
    lang: str | None = None
    body: list[str] = []
    for line in lines:
        if lang is None and line.startswith("```"):
            lang, body = line[3:].strip(), []
        elif lang is not None and line.startswith("```"):
            blocks.setdefault(lang, "\n".join(body) + "\n")
            lang = None
        elif lang is not None:
            body.append(line)
    assert lang is None, "unclosed code block in the Quickstart section"
    return blocks


def new_user_env(tmp_path: Path) -> dict[str, str]:
    """A new user's machine: a git identity configured and nothing else; gitreg on PATH."""
    home = tmp_path / "home"
    home.mkdir()
    # only an identity: no init.defaultBranch, so the README must not rely on one
    (home / ".gitconfig").write_text(f"[user]\n\tname = Alice\n\temail = {ALICE}\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))}
    env.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "DVC_SITE_CACHE_DIR": str(home / ".dvc-site"),
        "DVC_GLOBAL_CONFIG_DIR": str(home / ".dvc-global"),
        "DVC_SYSTEM_CONFIG_DIR": str(home / ".dvc-system"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        # no network: anything that tries HTTP fails at once instead of waiting
        "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
    })
    assert env["DVC_NO_ANALYTICS"] == "1"
    return env


def test_quickstart_blocks_are_found() -> None:
    blocks = quickstart_blocks(README.read_text(encoding="utf-8"))
    assert "bash" in blocks, "the Quickstart section has no ```bash block"
    assert "python" in blocks, "the Quickstart section has no ```python block making the user's files"
    for name in USER_FILES:
        assert f"../{name}" in blocks["bash"], f"the walk-through does not use the user's {name}"


@pytest.mark.slow
def test_quickstart_runs_verbatim(tmp_path: Path) -> None:
    blocks = quickstart_blocks(README.read_text(encoding="utf-8"))
    assert "bash" in blocks and "python" in blocks, "Quickstart blocks missing (see the test above)"
    env = new_user_env(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    # the user's files, made the way the README tells someone who has none
    subprocess.run([sys.executable, "-c", blocks["python"]], cwd=work, env=env, check=True, timeout=60)
    assert sorted(os.listdir(work)) == USER_FILES

    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", blocks["bash"]], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"Quickstart failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"

    registry, bare, teammate = work / "my-registry", work / "team-registry.git", work / "teammate"
    # the teammate got the bytes of the version production holds after the rollback
    assert (teammate / "deployed" / "model.pkl").read_bytes() == (work / "model.pkl").read_bytes()

    def gitreg(cwd: Path, *args: str) -> str:
        run = subprocess.run([*gitreg_exe(), *args], cwd=cwd, env=env, capture_output=True,
                             text=True, timeout=120, check=False)
        assert run.returncode == 0, f"gitreg {' '.join(args)}: {run.stderr}"
        return run.stdout

    for where in (registry, teammate):
        listed = json.loads(gitreg(where, "list", "--json"))["models"]
        assert [(m["name"], m["versions"]) for m in listed] == [("churn", 2)]
        assert listed[0]["stages"].get("production") == "0.1.0", listed
        assert listed[0]["stages"].get("archived") == "0.2.0", listed
    # every change reached the team's remote: its tags are the author's, and doctor finds no drift
    assert git(bare, "tag", "-l") == git(registry, "tag", "-l")
    gitreg(teammate, "doctor")
    events = json.loads(gitreg(teammate, "history", "churn", "--json"))["events"]
    promoted = [e for e in events if e["action"] == "promote" and e["to"] == "production"]
    assert [e["version"] for e in promoted] == ["0.1.0", "0.2.0"], events
    assert all(e["approved_by"] == [BOB] for e in promoted), promoted
    requested = [e for e in events if e["action"] == "request" and e["to"] == "production"]
    assert [e["by"] for e in requested] == [ALICE, ALICE], requested
    # the real gto read the teammate's clone and sees 0.1.0 in production
    assert re.search(r"churn\W+v0\.1\.0\W+production", proc.stdout), proc.stdout
