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


def main(argv: list[str]) -> int:
    from dvc.cli import main as dvc_main
    from dvc.repo import Repo
    from dvc.repo.index import Index

    def narrow_index(self: Repo) -> Index:
        return Index(self, stages=[])

    # Repo.index is a cached_property; an empty index for this process only.
    Repo.index = property(narrow_index)  # type: ignore[assignment,method-assign]
    Repo._skip_graph_checks = True  # type: ignore[attr-defined]
    return dvc_main(["add", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
