"""GTO's tag grammar: format and parse are exact inverses.

    register      NAME@vVERSION
    deregister    NAME@vVERSION!
    assign        NAME#STAGE#N
    unassign      NAME#STAGE!#N
    deprecate     NAME@deprecated#N   (GTO also writes NAME@deprecated)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitreg.core.names import NAME_RE
from gitreg.core.version import SEMVER_RE

_NAME = NAME_RE.pattern
_TAG_RE = re.compile(
    rf"(?P<name>{_NAME})(?:"
    rf"@v(?P<version>{SEMVER_RE.pattern})(?P<dereg>!)?"
    rf"|#(?P<stage>{_NAME})(?P<unassign>!)?#(?P<seq>[1-9][0-9]*)"
    rf"|@deprecated(?:#(?P<dseq>[1-9][0-9]*))?"
    r")"
)

REGISTER = "register"
DEREGISTER = "deregister"
ASSIGN = "assign"
UNASSIGN = "unassign"
DEPRECATE = "deprecate"


@dataclass(frozen=True)
class Tag:
    kind: str
    name: str
    version: str | None = None
    stage: str | None = None
    seq: int | None = None

    def __str__(self) -> str:
        return format_tag(self)


def register_tag(name: str, version: str) -> str:
    return f"{name}@v{version}"


def deregister_tag(name: str, version: str) -> str:
    return f"{name}@v{version}!"


def deprecate_tag(name: str) -> str:
    """What `gto deprecate NAME` writes (GTO 1.10.1: no #N)."""
    return f"{name}@deprecated"


def assign_tag(name: str, stage: str, seq: int) -> str:
    return f"{name}#{stage}#{seq}"


def unassign_tag(name: str, stage: str, seq: int) -> str:
    return f"{name}#{stage}!#{seq}"


def format_tag(tag: Tag) -> str:
    if tag.kind == REGISTER:
        return f"{tag.name}@v{tag.version}"
    if tag.kind == DEREGISTER:
        return f"{tag.name}@v{tag.version}!"
    if tag.kind == ASSIGN:
        return f"{tag.name}#{tag.stage}#{tag.seq}"
    if tag.kind == UNASSIGN:
        return f"{tag.name}#{tag.stage}!#{tag.seq}"
    if tag.kind == DEPRECATE:
        return f"{tag.name}@deprecated" + (f"#{tag.seq}" if tag.seq else "")
    raise ValueError(f"unknown tag kind {tag.kind!r}")


def parse_tag(text: str) -> Tag | None:
    """Parse a tag name; None for anything that is not in the grammar (foreign tags)."""
    m = _TAG_RE.fullmatch(text)
    if not m:
        return None
    name = m["name"]
    if m["version"] is not None:
        return Tag(DEREGISTER if m["dereg"] else REGISTER, name, version=m["version"])
    if m["stage"] is not None:
        return Tag(UNASSIGN if m["unassign"] else ASSIGN, name, stage=m["stage"], seq=int(m["seq"]))
    return Tag(DEPRECATE, name, seq=int(m["dseq"]) if m["dseq"] else None)
