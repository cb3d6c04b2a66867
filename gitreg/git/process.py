"""Running git as a subprocess: its environment (LC_ALL=C, no hook variables), its errors,
the time limit on calls to remotes, and which repository URLs are allowed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

from gitreg.errors import ConflictError, GitregError, InternalError, UserError

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


NETWORK_TIMEOUT_VAR = "GITREG_NETWORK_TIMEOUT"
DEFAULT_NETWORK_TIMEOUT = 600.0  # seconds; a hung host must not hang gitreg (and CI) forever


def network_timeout(env: Mapping[str, str] | None) -> float:
    """The limit on one git/DVC call that talks to a remote, from GITREG_NETWORK_TIMEOUT."""
    raw = (dict(os.environ) if env is None else env).get(NETWORK_TIMEOUT_VAR)
    if raw is None or not raw.strip():
        return DEFAULT_NETWORK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0 or value != value or value == float("inf"):
        raise UserError(f"{NETWORK_TIMEOUT_VAR}={raw!r} is not a number of seconds",
                        f"set it to a positive number, e.g. {NETWORK_TIMEOUT_VAR}=600")
    return value


def timed_out(what: str, seconds: float) -> ConflictError:
    return ConflictError(f"{what} timed out after {seconds:g} s",
                         f"check the remote is reachable; {NETWORK_TIMEOUT_VAR}=SECONDS sets the limit "
                         f"(default {DEFAULT_NETWORK_TIMEOUT:g})")


# What `--repo` / a remote may be: a local path, or a URL git reaches by itself. Transport
# helpers (`ext::CMD`, `fd::N`, `<helper>::<address>`) run programs or wait on a descriptor.
_URL_SCHEMES = ("file", "ssh", "git", "http", "https", "git+ssh", "ssh+git")
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP_RE = re.compile(r"(?:[^@/:\s]+@)?[^@/:\s]+:(?!:)")


def check_repo_url(url: str, local_exists: bool) -> None:
    """Refuse anything but a local path, file/ssh/git/http(s) URLs and scp-style user@host:path."""
    bad = UserError(f"--repo {url!r} is not a repository path or a file://, ssh://, git://, "
                    "http(s):// or user@host:path URL",
                    "give the registry's path or clone URL (transport helpers like ext:: are refused)")
    if not url or url.startswith("-") or any(c in url for c in "\x00\n\r"):
        raise bad
    if local_exists:
        return
    if "::" in url:
        raise bad
    m = _SCHEME_RE.match(url)
    if m:
        if m.group(1).lower() not in _URL_SCHEMES:
            raise bad
        return
    if ":" in url.split("/", 1)[0] and not _SCP_RE.match(url):
        raise bad  # git would read "x:y" as host x over ssh only in this shape


def _descendants(pid: int) -> list[int]:
    """Every process below pid (Linux /proc); [] where /proc is not there."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def run_with_timeout(cmd: Sequence[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess:
    """subprocess.run with a timeout that also ends the command's children (git's ssh, DVC's
    workers): killing only git would leave ssh holding our pipes, and reading them would hang."""
    input_ = kwargs.pop("input", None)
    with subprocess.Popen(cmd, **kwargs) as proc:  # type: ignore[call-overload]
        try:
            out, err = proc.communicate(input_, timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in [*_descendants(proc.pid), proc.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            proc.communicate()
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def git_env(env: Mapping[str, str] | None) -> dict[str, str]:
    base = dict(os.environ if env is None else env)
    for var in _HOOK_VARS:
        base.pop(var, None)
    base["LC_ALL"] = "C"
    base.setdefault("GIT_TERMINAL_PROMPT", "0")
    return base


def find_root(path: Path, env: Mapping[str, str] | None = None) -> Path | None:
    found = find_repo(path, env)
    return found[0] if found else None


def find_repo(path: Path, env: Mapping[str, str] | None = None) -> tuple[Path, Path] | None:
    """(work tree root, common git dir) of the repository at path, in one `rev-parse`;
    None outside a work tree."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "--git-common-dir"],
            cwd=path, env=git_env(env), capture_output=True, text=True, check=False,
        )
    except FileNotFoundError:
        raise UserError("git is not installed", "install git and try again") from None
    except NotADirectoryError:
        return None
    lines = out.stdout.splitlines()
    if out.returncode != 0 or len(lines) != 2 or not lines[0]:
        return None
    common = Path(lines[1])  # relative to the directory git ran in
    return Path(lines[0]), common if common.is_absolute() else (Path(path) / common).resolve()


def internal(exc: GitCommandError) -> InternalError:
    return InternalError(str(exc), "rerun with --traceback and report it")
