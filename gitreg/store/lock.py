"""The per-clone lock file: an flock the kernel drops when its holder dies."""

from __future__ import annotations

import errno
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from gitreg.errors import ConflictError, UserError


def _lock_holder(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or "0") or None
    except (OSError, ValueError):
        return None



@contextmanager
def held(state_dir: Path) -> Iterator[None]:
    """Hold the flock on state_dir/lock (its pid written in it) or refuse at once.

    The kernel drops an flock when its process dies, so a holder killed by SIGKILL or a
    power cut never leaves a stale lock behind (its pid in the file is only for the
    message).
    """
    path = state_dir / "lock"
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as exc:
        raise UserError(f"cannot write to {path}: {exc.strerror}",
                        "gitreg changes the repository: make its .git directory writable "
                        "(read commands work without)") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            holder = _lock_holder(path)
            raise ConflictError(
                "another gitreg operation is running in this repository"
                + (f" (pid {holder})" if holder else ""),
                "wait for it to finish and retry",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock
