"""The one place gitreg runs git: subprocesses with LC_ALL=C, no shell, errors translated.

GitPython is not used on purpose: its tag reads rescan packed-refs for every tag
(35 s for 10,000 tags here), and every call below is one git process anyway.
"""

from __future__ import annotations

from gitreg.git.process import (
    DEFAULT_NETWORK_TIMEOUT, NETWORK_TIMEOUT_VAR, GitCommandError, check_repo_url, find_repo, find_root,
    git_env, internal, network_timeout, run_with_timeout, timed_out,
)
from gitreg.git.repo import Git, Ref, TreeEntry

__all__ = [
    "DEFAULT_NETWORK_TIMEOUT", "NETWORK_TIMEOUT_VAR", "Git", "GitCommandError", "Ref", "TreeEntry",
    "check_repo_url", "find_repo", "find_root", "git_env", "internal", "network_timeout", "run_with_timeout",
    "timed_out",
]
