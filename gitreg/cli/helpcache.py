"""`gitreg --help` served from a cache of its own output (issue 16).

Building the help means importing Typer, Click and every command module (most of the
0.1 s it took, against 0.03 s for Python to start). The text depends only on the code and
on the width Click lays it out in, so the exact bytes `gitreg --help` printed are kept in
~/.cache/gitreg (XDG_CACHE_HOME) under a key made of: the path, size and mtime of every
gitreg, Typer and Click source file, the Python executable and version, COLUMNS, whether
stdout is a terminal and its width, and stdout's encoding. Any change to any of them is
another key, so a cached text is never one other code or another terminal would print. A
file that is not exactly what this module writes (its own key and the sha256 of its
text) is ignored and rewritten. Only a plain `gitreg --help` that printed to stdout alone
and exited 0 is cached.
"""

from __future__ import annotations

import hashlib
import os
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Callable

MAGIC = "gitreg-help-cache-v1"


def cache_dir(env: os._Environ[str] | dict[str, str] = os.environ) -> Path | None:
    base = env.get("XDG_CACHE_HOME") or (os.path.join(env["HOME"], ".cache") if env.get("HOME") else "")
    return Path(base) / "gitreg" if base else None


def _sources() -> list[Path]:
    roots = [Path(__file__).resolve().parent.parent]
    for name in ("typer", "click"):
        spec = find_spec(name)
        if spec is None or not spec.origin:
            raise LookupError(name)
        roots.append(Path(spec.origin).parent)
    return roots


def key() -> str:
    """What the help text depends on, hashed (see the module's docstring)."""
    h = hashlib.sha256()
    h.update(f"{sys.executable}\0{sys.version}\0".encode())
    for root in _sources():
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith((".py", ".pyi", ".typed")):
                    st = os.stat(os.path.join(dirpath, name))
                    h.update(f"{dirpath}/{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    try:
        tty = sys.stdout.isatty()
        width = os.get_terminal_size(sys.__stdout__.fileno()).columns if tty and sys.__stdout__ else 0
    except (OSError, ValueError, AttributeError):
        tty, width = False, 0
    h.update(f"{os.environ.get('COLUMNS')!r}\0{tty}\0{width}\0{getattr(sys.stdout, 'encoding', None)}".encode())
    return h.hexdigest()


def _file(k: str) -> Path | None:
    base = cache_dir()
    return base / f"help-{k[:32]}.txt" if base else None


def read(k: str) -> str | None:
    """The cached text for key k, or None (no file, another key, or not what write() wrote)."""
    path = _file(k)
    if path is None:
        return None
    try:
        raw = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    header, sep, body = raw.partition("\n")
    if not sep or header != f"{MAGIC} {k} {hashlib.sha256(body.encode('utf-8')).hexdigest()}":
        return None
    return body


def write(k: str, text: str) -> None:
    path = _file(k)
    if path is None:
        return
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".help.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(f"{MAGIC} {k} {hashlib.sha256(text.encode('utf-8')).hexdigest()}\n{text}")
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except (OSError, UnicodeEncodeError):
        pass  # a read-only home: the help is built every time


class _Tee:
    """sys.stdout as it is, with a copy of what is written."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.copy: list[str] = []

    def write(self, text: str) -> int:
        n = self._stream.write(text)  # raises first on what a text stream refuses (Click probes b"")
        self.copy.append(text)
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def serve(build: Callable[[], None]) -> bool:
    """Print `gitreg --help` from the cache (True), else run build() (the Typer app, which
    prints it and exits) and keep what it printed when it printed only that, to stdout."""
    try:
        k = key()
    except (OSError, LookupError, ValueError):
        build()
        return False
    text = read(k)
    if text is not None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            raise SystemExit(0) from None
        return True
    out, err = _Tee(sys.stdout), _Tee(sys.stderr)
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    done = False
    try:
        build()
        done = True
    except SystemExit as exc:
        done = exc.code in (0, None)
        raise
    finally:
        sys.stdout, sys.stderr = out._stream, err._stream
        if done and out.copy and not err.copy and all(isinstance(t, str) for t in out.copy):
            write(k, "".join(out.copy))
    return False
