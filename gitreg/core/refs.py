"""Model references on the command line: NAME, NAME@VERSION, NAME@ALIAS, NAME#STAGE."""

from __future__ import annotations

from typing import NamedTuple

from gitreg.core.aliases import check_alias, looks_like_version
from gitreg.core.names import check_name
from gitreg.core.version import parse_version
from gitreg.errors import UserError


class Ref(NamedTuple):
    name: str
    version: str | None = None
    stage: str | None = None
    alias: str | None = None


def parse_ref(text: str) -> Ref:
    """NAME, NAME@VERSION, NAME@ALIAS or NAME#STAGE -> Ref(name, version, stage, alias).

    After `@`, anything that could be a version (a digit, or `v` and a digit, first) is
    read as one, so `churn@v1` is a bad version, never an alias; the rest is an alias.
    """
    if "@" in text:
        name, _, after = text.partition("@")
        check_name(name)
        if looks_like_version(after) or not after:
            return Ref(name, str(parse_version(after)))
        try:
            return Ref(name, alias=check_alias(after))
        except UserError as exc:
            shown = after if len(after) <= 40 else after[:37] + "..."
            raise UserError(f"invalid version or alias {shown!r} after '@': {exc.message}",
                            "give a version such as NAME@1.2.0 or an alias such as NAME@champion"
                            ) from None
    if "#" in text:
        name, _, stage = text.partition("#")
        check_name(name)
        return Ref(name, stage=stage)
    return Ref(check_name(text))


def format_ref(name: str, version: str | None = None, stage: str | None = None,
               alias: str | None = None) -> str:
    """The inverse of parse_ref."""
    if version is not None:
        return f"{name}@{version}"
    if alias is not None:
        return f"{name}@{alias}"
    if stage is not None:
        return f"{name}#{stage}"
    return name
