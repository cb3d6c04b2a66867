"""How far reads trust a committed manifest: the few fields they use have usable types."""

from __future__ import annotations

from typing import Any

from gitreg.core.version import SEMVER_RE
from gitreg.errors import UserError


def check_shape(manifest: Any, source: str) -> None:
    """The fields reads rely on have usable types, else one clear error naming the file.

    Reads trust committed manifests only this far (a full schema check per read is too
    slow); `gitreg validate` names every problem.
    """
    problem = shape_problem(manifest)
    if problem:
        raise UserError(f"{source}: not a valid manifest ({problem})",
                        "run `gitreg validate` to see every problem, and fix the file")


def shape_problem(m: Any) -> str | None:
    """What makes `m` unusable to reads, or None."""
    if not isinstance(m, dict):
        return "not a mapping"
    for key in ("name", "version"):
        if not isinstance(m.get(key), str):
            return f"{key} is not a string"
    if not SEMVER_RE.fullmatch(m["version"]):
        return "version is not SemVer"
    if m.get("stage") is not None and not isinstance(m.get("stage"), str):
        return "stage is not a string"
    for key in ("approval", "metrics"):
        if m.get(key) is not None and not isinstance(m.get(key), dict):
            return f"{key} is not a mapping"
    history = m.get("history")
    if not isinstance(history, list):
        return "history is not a list"
    for i, h in enumerate(history):
        if not isinstance(h, dict):
            return f"history[{i}] is not a mapping"
        if type(h.get("seq")) is not int:
            return f"history[{i}].seq is not an integer"
        for key in ("action", "from", "to"):
            if (h.get(key) is not None or key == "action") and not isinstance(h.get(key), str):
                return f"history[{i}].{key} is not a string"
    return None

