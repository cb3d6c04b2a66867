"""Talking to remotes: the network time limit, the repository URLs allowed, ending a hung call."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from typing import Mapping, Sequence

from gitreg.errors import ConflictError, UserError

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
