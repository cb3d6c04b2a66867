"""One manifest's summary: what `gitreg list` needs of a version, and reading many."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from gitreg import yamlio
from gitreg.core import events as ev
from gitreg.core.names import NONE_STAGE
from gitreg.errors import UserError
from gitreg.store.shape import shape_problem

if TYPE_CHECKING:
    from gitreg.store.store import Store


def summarize(manifest: Mapping[str, Any]) -> dict[str, Any]:
    stage = manifest.get("stage") or NONE_STAGE
    return {
        "name": manifest.get("name"),
        "version": manifest.get("version"),
        "stage": stage,
        "stage_seq": ev.last_assignment_seq(manifest, stage) if stage != NONE_STAGE else 0,
        "created_at": manifest.get("created_at"),
        "max_seq": ev.max_seq([manifest]),
        "deprecated": ev.is_deprecated(manifest),
        "aliases": sorted(str(a) for a in manifest.get("aliases") or [] if isinstance(a, str)),
    }


_CHUNK = 5000  # manifests read per `git cat-file --batch` (about 5 MB)


def summarize_blobs(store: Store, paths: dict[str, str]) -> dict[str, dict]:
    """{blob id: summary} of manifests, read in chunks and summarised one at a time
    (never 100,000 manifests in memory at once); the fast scanner reads what gitreg
    writes, PyYAML everything else."""
    from gitreg import fastscan

    out: dict[str, dict] = {}
    shas = list(paths)
    for i in range(0, len(shas), _CHUNK):
        for sha, raw in store.read_blobs({s: paths[s] for s in shas[i:i + _CHUNK]}).items():
            fields = None
            try:
                fields = fastscan.scan(raw.decode("utf-8"))
            except UnicodeDecodeError:
                pass
            try:
                data = fields if fields is not None else yamlio.loads(raw, paths[sha])
            except UserError as exc:  # warned about and skipped, never cached
                store.note_broken(paths[sha], exc)
                continue
            problem = shape_problem(data) if isinstance(data, dict) else "not a mapping"
            if problem is None:
                out[sha] = summarize(data)
            else:
                store.note_broken(paths[sha], UserError(f"{paths[sha]}: not a valid manifest ({problem})"))
    return out
