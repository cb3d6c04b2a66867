"""Model references on the command line: NAME, NAME@VERSION, NAME#STAGE."""

from __future__ import annotations

from gitreg.core.names import check_name
from gitreg.core.version import parse_version


def parse_ref(text: str) -> tuple[str, str | None, str | None]:
    """NAME, NAME@VERSION or NAME#STAGE -> (name, version, stage)."""
    if "@" in text:
        name, _, version = text.partition("@")
        check_name(name)
        return name, str(parse_version(version)), None
    if "#" in text:
        name, _, stage = text.partition("#")
        check_name(name)
        return name, None, stage
    return check_name(text), None, None


def format_ref(name: str, version: str | None = None, stage: str | None = None) -> str:
    """The inverse of parse_ref."""
    if version is not None:
        return f"{name}@{version}"
    if stage is not None:
        return f"{name}#{stage}"
    return name
