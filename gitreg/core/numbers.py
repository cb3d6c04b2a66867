"""MLflow's integer version numbers for gitreg's SemVer versions (issue 15).

MLflow reads `models:/NAME/<digits>` as a version number and takes "latest" as the
largest number, so every version needs a stable integer. The rule, written in README
"Using gitreg from MLflow":

- a manifest's `number` field, when present, is the version's number. `register` records
  one greater than every number the model has (so gaps left by versions deleted in MLflow
  before an import are never reused), and `gitreg import mlflow` records MLflow's own;
- a version without `number` (registered before gitreg recorded numbers, or adopted from
  gto's tags) is numbered by order of registration (`created_at`, then SemVer), taking
  the lowest numbers no recorded `number` uses. New versions always record a number above
  all of these, so the numbers already handed out never move.
"""

from __future__ import annotations

from typing import Any, Mapping

from gitreg.core.version import parse_version
from gitreg.errors import UserError


def recorded(manifest: Mapping[str, Any]) -> int | None:
    """The manifest's own `number`, or None when it has none (a bool is not a number)."""
    n = manifest.get("number")
    if isinstance(n, int) and not isinstance(n, bool) and n >= 1:
        return n
    return None


def _order_key(ver: str, manifest: Mapping[str, Any]) -> tuple:
    try:
        vkey: tuple = (0, parse_version(ver).precedence())
    except UserError:  # a malformed version directory sorts last, by its name
        vkey = (1, ())
    return (str(manifest.get("created_at") or ""), vkey, ver)


def version_numbers(manifests: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """{version: MLflow number} for one model's manifests ({version: manifest})."""
    out: dict[str, int] = {}
    used: set[int] = set()
    unnumbered = []
    for ver, manifest in manifests.items():
        n = recorded(manifest)
        if n is not None and n not in used:
            out[ver] = n
            used.add(n)
        else:  # none recorded, or a duplicate (a hand edit): numbered like a legacy version
            unnumbered.append(ver)
    unnumbered.sort(key=lambda v: _order_key(v, manifests[v]))
    n = 0
    for ver in unnumbered:
        n += 1
        while n in used:
            n += 1
        out[ver] = n
        used.add(n)
    return out


def next_number(manifests: Mapping[str, Mapping[str, Any]]) -> int:
    """The number a new version of this model gets: one above every number it has."""
    return max(version_numbers(manifests).values(), default=0) + 1


def by_number(manifests: Mapping[str, Mapping[str, Any]], number: int) -> str | None:
    """The version whose MLflow number is `number`, or None."""
    for ver, n in version_numbers(manifests).items():
        if n == number:
            return ver
    return None
