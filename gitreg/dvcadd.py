"""`dvc add` of one plain file, done by gitreg itself: the same files DVC writes (issue 16).

A registration of one file used to start DVC (`gitreg._dvc_new_add`): about 0.9 s of
importing and setting up before DVC hashed a byte, most of a 1 MB registration and
more than gitreg's own work for 200 MB. For the case DVC handles by plain copying,
gitreg writes what `dvc add` would have written, byte for byte:

- the cache object `.dvc/cache/files/md5/XX/YYYY...` (read-only, 0o444), copied from
  the user's file in one pass that also computes the MD5;
- the work-tree copy of the cache object at the target (DVC's `copy` checkout);
- `TARGET.dvc` (`outs: [{md5, size, hash: md5, path}]`, DVC 3's format);
- the entry `/NAME` in the directory's `.gitignore`, unless git already ignores the
  target (DVC asks git the same question).

It runs only where that is exactly what DVC would do, and returns None otherwise so the
caller runs DVC: Linux (DVC's reflink is tried and fails on ext4/overlay; where the
repository's file system can clone files, DVC runs and clones); no `[cache]` section in
any DVC config (system, global, repository, local: no other cache dir, link type or
sharing mode); no `core.no_scm` or `core.hardlink_lock`; no `.dvcignore` rule between the
root and the target; a regular, non-executable file (DVC records `isexec`) whose name
YAML and `.gitignore` take literally. The state DVC keeps outside the repository (its mtime-to-MD5 database) is not
written: a later `dvc status` hashes the file once more.

DVC's repository lock (`.dvc/tmp/lock`, zc.lockfile, as DVC takes it) is held throughout,
so a `dvc gc` or `dvc add` running at the same time waits for it or is refused, as with
DVC itself. Directories and several files still go through DVC.
"""

from __future__ import annotations

import configparser
import errno
import hashlib
import os
import re
import secrets
import shutil
import stat
import sys
import time
from pathlib import Path
from typing import Callable, Mapping

from gitreg import yamlio
from gitreg.errors import ConflictError

CHUNK = 1 << 20
CACHE_MODE = 0o444  # dvc_data's LocalHashFileDB.CACHE_MODE
LOCK_ATTEMPTS = 7  # DVC: 6 retries, 3 s in all
LOCK_DELAY = 0.5
FICLONE = 0x40049409  # linux/fs.h
# a name YAML reads as itself (no quoting by DVC's dumper) and .gitignore as a literal path
PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*")
YAML_WORDS = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"}

TMP_PREFIX, PROBE_PREFIX = "gitreg-add.", "gitreg-probe."  # in .dvc/tmp (git-ignored by DVC)

Progress = Callable[[str, int, int], None]


def add_file(root: Path, source: Path, target: Path, env: Mapping[str, str] | None,
             target_ignored: bool, progress: Progress | None = None) -> tuple[str, int] | None:
    """Add `source` as the DVC output `target` (a path in a new directory of `root`, its
    .dvc file not ignored by git): (md5, size), or None when DVC must do it.
    `target_ignored`: whether git's ignore rules already exclude the target."""
    environ = os.environ if env is None else env
    if not _eligible(root, source, target, environ):
        return None
    tmp_dir = root / ".dvc" / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    if _can_clone(tmp_dir):
        return None
    with _dvc_lock(tmp_dir / "lock"):
        tmp = tmp_dir / f"{TMP_PREFIX}{secrets.token_urlsafe(12)}.tmp"
        try:
            md5, size = _copy_hashing(source, tmp, progress)
            obj = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
            if not _place(tmp, obj, size):
                return None  # the cache is on another file system: DVC copies there
        finally:
            tmp.unlink(missing_ok=True)
        _copy(obj, target)
        target.with_name(target.name + ".dvc").write_text(
            f"outs:\n- md5: {md5}\n  size: {size}\n  hash: md5\n  path: {target.name}\n",
            encoding="utf-8")
        if not target_ignored:
            _ignore(target.parent / ".gitignore", "/" + target.name)
    return md5, size


def _eligible(root: Path, source: Path, target: Path, environ: Mapping[str, str]) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    name = target.name
    if not PLAIN_NAME.fullmatch(name) or name.lower() in YAML_WORDS:
        return False
    try:
        st = source.stat()
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o111:
        return False
    if any(_has_rules(d / ".dvcignore") for d in [root, *_dirs_between(root, target.parent)]):
        return False
    return all(_plain_config(p) for p in _config_files(root, environ))


def _dirs_between(root: Path, directory: Path) -> list[Path]:
    rel = directory.relative_to(root)
    return [root.joinpath(*rel.parts[:i]) for i in range(1, len(rel.parts) + 1)]


def _text(path: Path) -> str | None:
    """A config or ignore file's text: "" when there is none, None when it cannot be read
    (then gitreg cannot tell what DVC would do, and DVC does the add)."""
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError):
        return None


def _has_rules(path: Path) -> bool:
    text = _text(path)
    if text is None:
        return True
    return any(ln.strip() and not ln.lstrip().startswith("#") for ln in text.splitlines())


def _config_files(root: Path, environ: Mapping[str, str]) -> list[Path]:
    """DVC's four config levels on Linux (dvc.dirs through platformdirs, which reads
    os.environ; gitreg is given its environment, so the same rules are spelled out)."""
    home = environ.get("HOME") or os.path.expanduser("~")
    user = environ.get("XDG_CONFIG_HOME", "").strip() or os.path.join(home, ".config")
    site = (environ.get("XDG_CONFIG_DIRS", "").strip() or "/etc/xdg").split(os.pathsep)[0]
    system_dir = environ.get("DVC_SYSTEM_CONFIG_DIR") or os.path.join(site, "dvc")
    global_dir = environ.get("DVC_GLOBAL_CONFIG_DIR") or os.path.join(user, "dvc")
    return [Path(system_dir) / "config", Path(global_dir) / "config",
            root / ".dvc" / "config", root / ".dvc" / "config.local"]


def _plain_config(path: Path) -> bool:
    """No setting in `path` that changes how `dvc add` stores a file."""
    text = _text(path)
    if text is None:
        return False
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return False
    sections = {s.strip().strip("'\"").strip().lower(): s for s in parser.sections()}
    if "cache" in sections:
        return False
    core = sections.get("core")
    return core is None or not ({"no_scm", "hardlink_lock"} & set(parser.options(core)))


def _can_clone(directory: Path) -> bool:
    """Whether this file system clones files (FICLONE): then DVC's reflinks apply, not copies."""
    import fcntl

    token = secrets.token_urlsafe(8)
    src, dst = directory / f"{PROBE_PREFIX}{token}.a", directory / f"{PROBE_PREFIX}{token}.b"
    try:
        src.write_bytes(b"x")
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            fcntl.ioctl(fout.fileno(), FICLONE, fin.fileno())
        return True
    except OSError:
        return False
    finally:
        src.unlink(missing_ok=True)
        dst.unlink(missing_ok=True)


class _dvc_lock:
    """DVC's own repository lock (dvc.lock.Lock: zc.lockfile, retried for 3 s)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock: object | None = None

    def __enter__(self) -> "_dvc_lock":
        import zc.lockfile

        for attempt in range(LOCK_ATTEMPTS):
            try:
                self.lock = zc.lockfile.LockFile(str(self.path))
                return self
            except zc.lockfile.LockError:
                if attempt + 1 < LOCK_ATTEMPTS:
                    time.sleep(LOCK_DELAY)
        raise ConflictError("dvc add: another DVC process holds the repository lock",
                            "wait for it to finish and retry")

    def __exit__(self, *exc: object) -> None:
        if self.lock is not None:
            self.lock.close()  # type: ignore[attr-defined]


def _copy_hashing(source: Path, dest: Path, progress: Progress | None) -> tuple[str, int]:
    digest = hashlib.md5(usedforsecurity=False)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = source.stat().st_size
    done = 0
    with open(source, "rb") as fin, open(dest, "wb") as fout:
        yamlio.reserve_blocks(fout.fileno(), total)
        while n := fin.readinto(buf):
            digest.update(view[:n])
            fout.write(view[:n])
            done += n
            if progress is not None:
                progress(source.name, done, total)
        fout.truncate(done)  # the size reserved, if the file changed meanwhile
    return digest.hexdigest(), done


def _copy(source: Path, dest: Path) -> None:
    """The work-tree copy of the cache object, copied in the kernel (yamlio.copy_in_kernel)
    with its blocks allocated first; the plain way for what the kernel cannot copy."""
    with open(source, "rb") as fin, open(dest, "wb") as fout:
        size = os.fstat(fin.fileno()).st_size
        yamlio.reserve_blocks(fout.fileno(), size)
        done = yamlio.copy_in_kernel(fin.fileno(), fout.fileno(), 0, size)
        fin.seek(done)  # the kernel read `source` at offsets, and wrote on at dest's position
        shutil.copyfileobj(fin, fout, CHUNK)  # the rest, and whatever the file grew by meanwhile
        fout.truncate(fout.tell())


def _place(tmp: Path, obj: Path, size: int) -> bool:
    """Move the copy to its cache path, read-only; an intact object already there stays."""
    try:
        info = obj.stat()
        if stat.S_IMODE(info.st_mode) == CACHE_MODE and info.st_size == size:
            return True  # DVC trusts a protected object of the right size the same way
    except FileNotFoundError:
        pass
    obj.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, obj)
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            return False
        raise
    os.chmod(obj, CACHE_MODE)
    return True


def _ignore(gitignore: Path, entry: str) -> None:
    """Append `entry` as scmrepo's Git._add_entry_to_gitignore does (a newline first if the
    file does not end with one; nothing if the line is there)."""
    with open(gitignore, "a+", encoding="utf-8") as fobj:
        fobj.seek(0)
        lines = set(fobj.readlines())
        fobj.seek(0, os.SEEK_END)
        size = fobj.tell()
        prefix = ""
        if size:
            fobj.seek(size - 1)
            prefix = "" if fobj.read(1) == "\n" else "\n"
        line = f"{prefix}{entry}\n"
        if line not in lines:
            fobj.seek(0, os.SEEK_END)
            fobj.write(line)


def remove_leftovers(root: Path) -> None:
    """The temporary files of an add that was killed (SIGKILL, power cut): called with
    gitreg's lock held, when no add of this repository can be running."""
    for path in (root / ".dvc" / "tmp").glob("gitreg-*"):
        if path.name.startswith((TMP_PREFIX, PROBE_PREFIX)):
            path.unlink(missing_ok=True)
