"""YAML in and out: the C loader when present, no aliases, atomic writes, node marks."""

from __future__ import annotations

import errno
import functools
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitreg.errors import UserError

if TYPE_CHECKING:
    import yaml

MAX_YAML_BYTES = 5 * 1024 * 1024  # a manifest is a few KB; refuse absurd files early
# write_atomic's temp files: ".<name>.<8 mkstemp characters>.tmp" beside the file replaced
TEMP_NAME_RE = re.compile(r"\.(?P<name>[^/]+)\.[a-z0-9_]{8}\.tmp")


@functools.cache
def _yaml() -> tuple[Any, Any, Any]:
    """(yaml, its safe loader, gitreg's dumper): PyYAML is imported when YAML is first read
    or written, not by every command that imports this module (a warm `list` reads JSON)."""
    import yaml

    class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
        def ignore_aliases(self, data: Any) -> bool:  # never write anchors/aliases
            return True

    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader), _Dumper


def dump(data: Any) -> str:
    yaml, _, dumper = _yaml()
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=100)


def loads(text: str | bytes, source: str) -> Any:
    """Parse YAML (or JSON) safely; errors name the file and line."""
    if len(text) > MAX_YAML_BYTES:
        raise UserError(f"{source}: file is {len(text)} bytes; the limit is {MAX_YAML_BYTES}",
                        "manifests and metrics files are small; check you gave the right file")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UserError(f"{source}: not valid UTF-8 (byte {exc.start})",
                            "save the file as UTF-8") from None
    if "&" in text or "*" in text:
        _refuse_aliases(text, source)
    yaml, loader, _ = _yaml()
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    except RecursionError:
        raise _too_deep(source) from None


def _yaml_error(exc: yaml.YAMLError, source: str) -> UserError:
    mark = getattr(exc, "problem_mark", None)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else f"{source}:1:1"
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return UserError(f"{where}: invalid YAML: {problem}", "fix the syntax and try again")


def _too_deep(source: str) -> UserError:
    # 10,000 nested brackets exhaust Python's recursion limit in PyYAML's composer
    return UserError(f"{source}:1:1: invalid YAML: nested too deeply",
                     "manifests are a few levels deep; check what wrote this file")


def _refuse_aliases(text: str, source: str) -> None:
    # Anchors and aliases are how "billion laughs" bombs work; gitreg never writes them.
    yaml, loader, _ = _yaml()
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                m = event.start_mark
                raise UserError(
                    f"{source}:{m.line + 1}:{m.column + 1}: YAML anchors and aliases are not allowed",
                    "write the values out in full",
                )
    except (yaml.YAMLError, RecursionError):
        return  # the real parse reports syntax errors with their position


def load_file(path: Path, source: str | None = None) -> Any:
    source = source or str(path)
    return loads(read_bytes(path, source), source)


def read_bytes(path: Path, source: str) -> bytes:
    """A small input file's bytes; a missing, oversized or unreadable file is one UserError."""
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise UserError(f"{source}: file is {size} bytes; the limit is {MAX_YAML_BYTES}",
                            "check you gave the right file")
        return path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{source}: no such file", "check the path") from None
    except IsADirectoryError:
        raise UserError(f"{source}: is a directory, not a file", "give a file") from None
    except PermissionError:
        raise UserError(f"{source}: permission denied", "check the file's permissions") from None


def reserve_blocks(fd: int, size: int) -> None:
    """Allocate a new file's blocks before writing it (ext4 then lays it out at once instead
    of when it is renamed into place or grows): writing 37 MB or 200 MB took noticeably longer
    without. The caller trims the file if it writes less."""
    try:
        os.posix_fallocate(fd, 0, size)
    except (AttributeError, OSError):
        pass  # not there, or not on this file system: written all the same


_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EBADF}


def copy_in_kernel(src: int, dst: int, start: int, count: int) -> int:
    """Copy `count` bytes of file `src` from offset `start` to `dst` (at its position) by
    copy_file_range, in the kernel: no copy through this process, and none of the 40-100 ms
    stalls writing 34 MB from a mapped file had here. How many were copied: fewer where the
    kernel or file system cannot (another file system, an old kernel); the caller writes
    the rest."""
    copy_range = getattr(os, "copy_file_range", None)
    done = 0
    try:
        while copy_range is not None and done < count:
            n = copy_range(src, dst, count - done, start + done)
            if n <= 0:
                break  # the end of src
            done += n
    except OSError as exc:
        if exc.errno not in _NO_KERNEL_COPY:
            raise
    return done


def write_atomic(path: Path, text: str, durable: bool = True) -> None:
    """Replace path's content in one rename; durable=False skips the fsync (a cache file,
    which is checked when read and rebuilt when wrong, need not survive a power cut)."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        # mkstemp makes 0600: keep the mode of the file replaced, or what a new file gets
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_atomic_at(dir_fd: int, name: str, text: str) -> None:
    """write_atomic into an open directory: never follows a link, neither at name nor for the
    temp file (the site writes a tree it does not trust this way, issue 11)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        mode = st.st_mode & 0o777 if stat.S_ISREG(st.st_mode) else 0o666 & ~_umask()
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    import secrets

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o600, dir_fd=dir_fd)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temp file name for {name}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)  # replaces a link, never follows it
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        raise


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    # read, not set: os.umask() can only be read by changing it, process-wide
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


@dataclass(frozen=True)
class Mark:
    line: int
    column: int


def load_with_marks(text: str, source: str) -> tuple[Any, dict[tuple, Mark], list[str]]:
    """Parse YAML keeping where each value starts: (data, {json-path: mark}, problems).

    Problems are duplicate keys and aliases, reported as path:line:col messages.
    """
    if len(text) > MAX_YAML_BYTES:  # the pure-Python composer takes minutes on 50 MB
        raise UserError(f"{source}: file is {len(text)} bytes; the limit is {MAX_YAML_BYTES}",
                        "manifests are small; check what wrote this file")
    if "&" in text or "*" in text:
        _refuse_aliases(text, source)
    yaml, loader, _ = _yaml()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        # composing accepts any tag; constructing is where `!!python/...` is refused
        data = yaml.load(text, Loader=loader) if node is not None else None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    except RecursionError:
        raise _too_deep(source) from None
    marks: dict[tuple, Mark] = {}
    problems: list[str] = []

    def walk(n: Any, path: tuple) -> None:
        marks[path] = Mark(n.start_mark.line + 1, n.start_mark.column + 1)
        if isinstance(n, yaml.MappingNode):
            seen: set = set()
            for key, value in n.value:
                k = key.value
                if k in seen:
                    problems.append(
                        f"{source}:{key.start_mark.line + 1}:{key.start_mark.column + 1}: "
                        f"duplicate key {k!r}"
                    )
                seen.add(k)
                marks[path + (k,)] = Mark(key.start_mark.line + 1, key.start_mark.column + 1)
                walk(value, path + (k,))
                marks[path + (k,)] = Mark(key.start_mark.line + 1, key.start_mark.column + 1)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, path + (i,))

    if node is not None:
        try:
            walk(node, ())
        except RecursionError:
            raise _too_deep(source) from None
    return data, marks, problems
