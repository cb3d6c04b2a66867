"""Tree objects written here, as git writes loose objects (issue 16).

A change's trees (a handful, models/ with 2,000 entries among them) took three git
processes, `mktree` and `hash-object -t tree`, each loading the repository; at 100,000
versions that was 15 ms of a promotion. A loose object is simple (git's
Documentation/user-manual.txt, "Object storage format"): `<kind> <size>\\0<body>`,
zlib-compressed, in `objects/<first two hex digits>/<the other 38>`, named by the SHA-1 of
the uncompressed bytes. As git's own write does, it is written to a `tmp_obj_*` file in
that directory (read-only), then linked into place (renamed where links are refused); an
object that is already there loose is only freshened (its mtime, so that a `git gc` running
meanwhile does not prune it); a packed one is written loose again, which git allows and its
next gc folds away. Trees only: blobs need git's clean filters and end-of-line rules.

Left to git (writer() is None): a repository whose config changes how objects are written
(core.sharedRepository, any core.fsync* setting, a compression level, any extension such as
SHA-256 objects), or whose object directory (`git rev-parse --git-path objects`) is not one.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitreg.git import indexstamp, settings

if TYPE_CHECKING:
    from gitreg.git.repo import Git

LEVEL = 1  # core.looseCompression's default (Z_BEST_SPEED)
_CONFIG = r"^(core\.(sharedrepository|fsync.*|compression|loosecompression)|extensions\..*)$"


@dataclass(frozen=True)
class Writer:
    objects: Path  # the object directory

    def write(self, kind: bytes, body: bytes) -> str:
        """Store the object; its id. OSError when the file system refuses (nothing is left
        behind; a process killed midway leaves a tmp_obj_ file, which `git prune` removes)."""
        data = b"%s %d\x00" % (kind, len(body)) + body
        sha = hashlib.sha1(data).hexdigest()
        folder = self.objects / sha[:2]
        final = folder / sha[2:]
        try:
            os.utime(final)
            return sha  # already there: freshened, as git does
        except FileNotFoundError:
            pass
        folder.mkdir(exist_ok=True)
        tmp = folder / f"tmp_obj_{os.getpid()}_{os.urandom(4).hex()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            try:
                view = memoryview(zlib.compress(data, LEVEL))
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            _into_place(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return sha


def _into_place(tmp: Path, final: Path) -> None:
    try:
        os.link(tmp, final)
    except FileExistsError:
        pass  # written meanwhile by someone else: the same bytes
    except OSError:
        os.replace(tmp, final)  # a file system without hard links (git falls back the same way)


def writer(git: Git) -> Writer | None:
    """A writer for this repository, or None when git must write."""
    found = settings.matching(git, _CONFIG)
    if found is None or found:
        return None  # the config unreadable, or one of those set
    objects = indexstamp.objects_dir(git)
    return Writer(objects) if objects.is_dir() else None
