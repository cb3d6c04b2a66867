"""The site's output directory: refuse what gitreg did not write, write pages without following links.

A committed output directory is untrusted input (pages.yml runs `gitreg site -o _site` on
whatever a push contains, issue 11): links in it are never followed, the marker only names
candidates, and a stale file is removed only if it is a regular file that carries GENERATOR.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from gitreg import yamlio
from gitreg.errors import UserError

MARKER = ".gitreg-site"  # lists the files a build wrote; lets a rebuild reuse the directory
GENERATOR = '<meta name="generator" content="gitreg site">'  # in every page: what a rebuild may remove
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted as a page never blocks the build
MAX_MARKER_BYTES = 1024 * 1024
_LINK_HINT = ("remove the link; gitreg site never writes through links in its output "
              "directory (a committed site directory is untrusted), or give a new directory")


def check_out_dir(out: Path, root: Path) -> list[str]:
    """Refuse directories gitreg did not write; return the files the previous build wrote."""
    resolved = out.resolve()
    git_dir = (root / ".git").resolve()
    if resolved == git_dir or git_dir in resolved.parents:
        raise UserError(f"{out} is inside .git", "write the site somewhere else, e.g. -o _site")
    if resolved == root.resolve() or resolved in root.resolve().parents:
        raise UserError(f"{out} contains the registry itself",
                        "write the site into a new directory, e.g. -o _site")
    _refuse_links_in_repo(out, root)
    if not out.exists():
        return []
    if not out.is_dir():
        raise UserError(f"{out} is a file", "give a directory for the site, e.g. -o _site")
    files = _read_marker(out)
    if files is not None:
        return files
    if any(out.iterdir()):
        raise UserError(f"{out} is not empty and was not written by `gitreg site`",
                        "give a new or empty directory, so none of your files are overwritten")
    return []


def _refuse_links_in_repo(out: Path, root: Path) -> None:
    """Inside the repository, the output directory and every directory above it up to the
    root must be real directories: a committed `_site -> ~` is the repository's doing.
    Outside it, the path is the user's own, and a link they typed is theirs to follow."""
    target = Path(os.path.abspath(out))
    for top in dict.fromkeys((Path(os.path.abspath(root)), root.resolve())):
        try:
            rel = target.relative_to(top)
        except ValueError:
            continue
        cur = top
        for part in rel.parts:
            cur = cur / part
            if cur.is_symlink():
                raise UserError(f"{cur} is a symbolic link inside the repository; refusing to "
                                "write the site through it", _LINK_HINT)
        return


def _read_marker(out: Path) -> list[str] | None:
    """The previous build's file list, or None when there is no (regular, small) marker."""
    try:
        fd = os.open(out / MARKER, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except OSError:
        return None  # missing, a link, or unreadable: not a site gitreg built
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MARKER_BYTES:
            return None
        raw = os.read(fd, MAX_MARKER_BYTES)
    finally:
        os.close(fd)
    try:
        files = json.loads(raw.decode("utf-8")).get("files", [])
    except (ValueError, AttributeError):
        files = []
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


def write_site(out: Path, pages: Mapping[str, str], previous: Sequence[str]) -> None:
    """Write the pages under out, remove the previous build's pages this one did not write,
    and write the marker last (an unfinished site is not marked as built)."""
    for rel in pages:  # names come from validated model names and versions; never trust a tampered one
        if not _relative_inside(rel):
            raise UserError(f"refusing to write {rel!r} outside the site directory",
                            "run `gitreg validate` and fix the manifest named there")
    rel = ""
    try:
        out.mkdir(parents=True, exist_ok=True)
        top = os.open(out, os.O_RDONLY | _DIRECTORY)  # vetted by check_out_dir
    except OSError as exc:
        raise UserError(f"cannot write the site to {out}: {exc.strerror or exc}",
                        "check the directory's permissions and free space") from None
    try:
        _refuse_links_on_the_way(out, [*pages, MARKER])  # before anything is written
        for rel, text in pages.items():
            _write_at(top, rel, text)
        for rel in previous:  # pages of a previous build that this one did not write
            if rel not in pages and _relative_inside(rel):
                _remove_stale(top, rel)
        rel = MARKER
        _write_at(top, MARKER, json.dumps({"generator": "gitreg site",
                                           "files": sorted(pages)}, indent=1) + "\n")
    except OSError as exc:
        where = out / rel if rel else out
        raise UserError(f"cannot write the site to {where}: {exc.strerror or exc}",
                        "check the directory's permissions and free space") from None
    finally:
        os.close(top)


def _refuse_links_on_the_way(out: Path, rels: Iterable[str]) -> None:
    """One clear refusal for a link (or a file where a directory goes) in the output tree."""
    for rel in rels:
        cur = out
        parts = rel.split("/")
        for i, part in enumerate(parts):
            cur = cur / part
            try:
                mode = os.lstat(cur).st_mode
            except FileNotFoundError:
                break
            if stat.S_ISLNK(mode):
                raise UserError(f"{cur} is a symbolic link; refusing to write the site through it",
                                _LINK_HINT)
            last = i == len(parts) - 1
            if not last and not stat.S_ISDIR(mode):
                raise UserError(f"{cur} is in the way of the site's {rel}: not a directory",
                                "remove it, or give a new directory for the site")
            if last and not stat.S_ISREG(mode):
                raise UserError(f"{cur} is in the way of the site's {rel}: not a regular file",
                                "remove it, or give a new directory for the site")


def _open_parent(top: int, rel: str, create: bool) -> tuple[int, str]:
    """(an fd of rel's directory, rel's last name), walking down without following links."""
    parts = rel.split("/")
    fd = os.dup(top)
    try:
        for part in parts[:-1]:
            if create:
                try:
                    os.mkdir(part, dir_fd=fd)
                except FileExistsError:
                    pass
            inner = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd, parts[-1]


def _write_at(top: int, rel: str, text: str) -> None:
    fd, name = _open_parent(top, rel, create=True)
    try:
        yamlio.write_atomic_at(fd, name, text)  # temp file + os.replace, readable like any new file
    finally:
        os.close(fd)


def _remove_stale(top: int, rel: str) -> None:
    """Remove rel only if it is a regular file, really inside the site, that gitreg wrote."""
    try:
        fd, name = _open_parent(top, rel, create=False)
    except OSError:
        return  # a link, a file or nothing on the way: not a page of ours
    try:
        if _is_our_page(fd, name):
            os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        pass
    finally:
        os.close(fd)


def _is_our_page(dir_fd: int, name: str) -> bool:
    try:
        fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        return GENERATOR.encode() in os.read(fd, 4096)
    finally:
        os.close(fd)


def _relative_inside(rel: str) -> bool:
    path = Path(rel)
    return bool(rel) and not path.is_absolute() and "\\" not in rel and ".." not in path.parts


def write_file(path: Path, text: str) -> None:
    yamlio.write_atomic(path, text)  # temp file + os.replace, readable like any new file
