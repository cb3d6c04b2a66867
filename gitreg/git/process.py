"""Running git: its environment (LC_ALL=C, no hook variables), its errors, the repository root."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

from gitreg.errors import GitregError, InternalError, UserError

# Variables git sets for hooks; inherited, they would point our git calls elsewhere.
_HOOK_VARS = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_PREFIX", "GIT_NAMESPACE", "GIT_COMMON_DIR",
    "GIT_QUARANTINE_PATH",
)


class GitCommandError(GitregError):
    """A git command failed; carries its stderr for the caller to translate."""

    exit_code = 70

    def __init__(self, args: Sequence[str], returncode: int, stderr: str):
        first = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {returncode}"
        super().__init__(f"git {args[0] if args else ''} failed: {first}")
        self.args_ = list(args)
        self.returncode = returncode
        self.stderr = stderr


def git_env(env: Mapping[str, str] | None) -> dict[str, str]:
    base = dict(os.environ if env is None else env)
    for var in _HOOK_VARS:
        base.pop(var, None)
    base["LC_ALL"] = "C"
    base.setdefault("GIT_TERMINAL_PROMPT", "0")
    return base


def find_root(path: Path, env: Mapping[str, str] | None = None) -> Path | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=path, env=git_env(env), capture_output=True, text=True, check=False,
        )
    except FileNotFoundError:
        raise UserError("git is not installed", "install git and try again") from None
    except NotADirectoryError:
        return None
    if out.returncode != 0:
        return None
    return Path(out.stdout.strip())


def internal(exc: GitCommandError) -> InternalError:
    return InternalError(str(exc), "rerun with --traceback and report it")
