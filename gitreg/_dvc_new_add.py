"""`dvc add` of outputs in a NEW version directory, without reading every stage (issue 6).

Run as `python -m gitreg._dvc_new_add -q -- TARGET...` by gitreg.dvc (a subprocess: gitreg
itself never imports dvc). Plain `dvc add` builds the index of every stage in the
workspace first (to find an existing stage of the target and to check that outputs do
not overlap): with 20,000 .dvc files under models/ that is most of a registration.
gitreg adds only into a version directory it has just created, so no stage can track
the target yet and none can overlap it inside that directory; the index DVC consults is
therefore narrowed to the stages of the target's directory (none), and the rest of
`dvc add` (hashing, cache, .dvc file, .gitignore) is DVC's own, unchanged.
"""

from __future__ import annotations

import sys


COPYING_CACHE_TYPES = ({"copy"}, {"reflink", "copy"}, {"reflink"})


def main(argv: list[str]) -> int:
    from dvc.cli import main as dvc_main
    from dvc.repo import Repo
    from dvc.repo.index import Index

    def narrow_index(self: Repo) -> Index:
        return Index(self, stages=[])

    # Repo.index is a cached_property; an empty index for this process only.
    Repo.index = property(narrow_index)  # type: ignore[assignment,method-assign]
    Repo._skip_graph_checks = True  # type: ignore[attr-defined]
    _skip_tracked_check()
    if len(argv) == 4 and argv[0] == "-q" and argv[2] == "-o":
        argv = _link_source(argv)
    return dvc_main(["add", *argv])


def _skip_tracked_check() -> None:
    """Before writing the .gitignore entry, DVC asks git whether the output is tracked,
    reading the whole git index in pure Python (dulwich): 1.5 s at 60,000 entries. A
    path in a directory that did not exist a moment ago cannot be tracked (gitreg refused
    the change if models/NAME had anything uncommitted), so only the ignore entry is
    written, exactly as DVC writes it."""
    from dvc.output import Output

    def ignore(self: Output) -> None:
        if not self.use_scm_ignore:
            return
        self.repo.scm_context.ignore(self.fspath)  # type: ignore[union-attr]

    Output.ignore = ignore  # type: ignore[method-assign]


def _link_source(argv: list[str]) -> list[str]:
    """`-q SOURCE -o TARGET` -> `-q -- TARGET` with TARGET a hard link to SOURCE, when safe.

    With a copying cache (the default `reflink,copy`, or `copy`), `dvc add` of a file in
    place copies it into the cache and then replaces the work-tree file by a fresh copy
    of the cache object: a hard link to the user's file is only read, then unlinked, so
    the user's file is never written, moved or re-permissioned. That is one pass less than
    `dvc add SOURCE -o TARGET` (which reads the source once more to hash it). With a
    linking cache (hardlink/symlink) DVC would link the cache to the user's inode and
    make it read-only, so then the source is copied by DVC itself (-o), as before.
    """
    import os

    from dvc.repo import Repo

    source, target = argv[1], argv[3]
    try:
        with Repo(".") as repo:
            types = set(repo.cache.local.cache_types)
    except Exception:  # noqa: BLE001 - any doubt: the plain -o path
        return argv
    if types not in COPYING_CACHE_TYPES:
        return argv
    try:
        os.link(source, target)
    except OSError:
        return argv  # another file system, or links not allowed: DVC copies it
    return ["-q", "--", target]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
