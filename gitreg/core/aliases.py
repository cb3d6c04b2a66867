"""Aliases (MLflow's champion/challenger): the name rule and their replay from history."""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from gitreg.core import events as ev
from gitreg.core.names import NONE_STAGE, check_name
from gitreg.errors import UserError

# an alias must never read as a version: `churn@3`, `churn@v1.2` and `churn@1.2.3` are versions
_VERSION_LIKE = re.compile(r"[vV]?[0-9]")
RESERVED = ("latest", "deprecated", NONE_STAGE)


def looks_like_version(text: str) -> bool:
    """True for anything after `@` that is read as a version (a digit, or `v` and a digit, first)."""
    return bool(_VERSION_LIKE.match(text))


def check_alias(value: object, stages: Iterable[str] = (), archive_stage: str | None = None) -> str:
    """Validate an alias name and fold it to lower case, or raise UserError with the reason."""
    if isinstance(value, str) and looks_like_version(value):  # before the name rule: `1.2.3`
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise UserError(f"alias {shown!r} could be read as a version (NAME@{shown})",
                        "start an alias with a letter, e.g. champion or challenger")
    name = check_name(value, "alias name").lower()
    if name in RESERVED:
        raise UserError(f"{name!r} is reserved and cannot be an alias",
                        "choose another name, e.g. champion or challenger")
    taken = set(stages) | ({archive_stage} if archive_stage else set())
    if name in taken:
        raise UserError(f"{name!r} is a stage in gitreg.yaml and cannot also be an alias",
                        "promote to the stage with `gitreg promote`, or choose another alias name")
    return name


def alias_holders(events: Iterable[ev.Event]) -> dict[str, str]:
    """alias -> the version holding it now, replayed in seq order (alias sets, unalias clears)."""
    held: dict[str, str] = {}
    for e in sorted(events, key=lambda x: x.seq):
        alias = e.data.get("alias")
        if not isinstance(alias, str):
            continue
        if e.action == ev.ALIAS:
            held[alias] = e.version
        elif e.action == ev.UNALIAS and held.get(alias) == e.version:
            del held[alias]
    return held


def version_aliases(manifests: Iterable[Mapping]) -> dict[str, str]:
    """alias -> version from the manifests' mutable `aliases:` lists (the fast read)."""
    out: dict[str, str] = {}
    for m in manifests:
        for alias in m.get("aliases") or []:
            out[str(alias)] = str(m["version"])
    return dict(sorted(out.items()))
