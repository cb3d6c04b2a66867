"""SemVer 2.0 (without a leading 'v'): parse, order and bump. The one implementation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from gitreg.errors import UserError

_NUM = r"0|[1-9]\d*"
_PRE_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
SEMVER_RE = re.compile(
    rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
MAX_VERSION_LEN = 100
BUMPS = ("major", "minor", "patch")


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()
    build: tuple[str, ...] = ()
    # the precedence key, computed once: sorting 100,000 versions recomputed it (and went
    # through total_ordering's derived methods) for every comparison (issue 16)
    _k: tuple = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_k", self._make_key())

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(self.pre)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def precedence(self) -> tuple:
        """What SemVer orders by: equal for versions differing only in build metadata."""
        return self._key()

    def _key(self) -> tuple:
        return self._k

    def _make_key(self) -> tuple:
        # SemVer 2.0 section 11: a pre-release sorts before its release; numeric
        # identifiers sort numerically and before alphanumeric ones; build is ignored.
        pre_key: tuple = tuple(
            (0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre
        )
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre_key)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._k < other._k

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._k < other._k or self == other

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return other._k < self._k

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return other._k < self._k or self == other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._k == other._k and self.build == other.build

    def __hash__(self) -> int:
        return hash((self._k, self.build))

    def bump(self, part: str) -> Version:
        if part == "major":
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            return Version(self.major, self.minor + 1, 0)
        if part == "patch":
            if self.pre:  # 1.2.0-rc.1 -> 1.2.0, as SemVer tools do
                return Version(self.major, self.minor, self.patch)
            return Version(self.major, self.minor, self.patch + 1)
        raise UserError(f"unknown bump {part!r}", "use --bump major, minor or patch")


FIRST_VERSION = Version(0, 1, 0)


def parse_version(text: object) -> Version:
    """Parse 'X.Y.Z[-pre][+build]' or raise UserError naming the problem."""
    if isinstance(text, str) and text:
        return _parse(text)  # Versions are immutable: one parse per distinct string
    raise UserError("empty version", "give a SemVer version such as 1.0.0")


@lru_cache(maxsize=8192)
def _parse(text: str) -> Version:
    if not text:
        raise UserError("empty version", "give a SemVer version such as 1.0.0")
    if len(text) > MAX_VERSION_LEN:
        raise UserError(
            f"version is {len(text)} characters long; the limit is {MAX_VERSION_LEN}",
            "give a SemVer version such as 1.0.0",
        )
    match = SEMVER_RE.fullmatch(text)
    if not match:
        shown = text if len(text) <= 40 else text[:37] + "..."
        hint = "give a SemVer 2.0 version such as 1.0.0 or 2.1.0-rc.1"
        if text[:1] in "vV" and SEMVER_RE.fullmatch(text[1:]):
            hint = f"write it without the 'v': {text[1:]}"
        raise UserError(f"invalid version {shown!r}", hint)
    return Version(
        int(match["major"]),
        int(match["minor"]),
        int(match["patch"]),
        tuple(match["pre"].split(".")) if match["pre"] else (),
        tuple(match["build"].split(".")) if match["build"] else (),
    )


def is_version(text: str) -> bool:
    return bool(SEMVER_RE.fullmatch(text)) and len(text) <= MAX_VERSION_LEN


def next_version(existing: list[Version], bump: str | None) -> Version:
    """The version a new registration gets from --bump (or the default: minor)."""
    if not existing:
        return FIRST_VERSION
    return max(existing).bump(bump or "minor")


def bump_kind(previous: Version, new: Version) -> str:
    """Which part changed from previous to new: major, minor, patch or pre."""
    if new.major != previous.major:
        return "major"
    if new.minor != previous.minor:
        return "minor"
    if new.patch != previous.patch:
        return "patch"
    return "pre"
