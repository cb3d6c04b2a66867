"""Model and stage names: GTO's rule without '/' (refused with its reason), at most 100 characters."""

from __future__ import annotations

import re

from gitreg.errors import UserError

NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?")
MAX_NAME = 100

# "none" is the unassigned state; it can appear in transitions but is not a stage tag.
NONE_STAGE = "none"


def _describe(value: str) -> str:
    shown = value if len(value) <= 40 else value[:37] + "..."
    return repr(shown)


def check_name(value: object, what: str = "model name") -> str:
    """Return the name unchanged, or raise UserError saying what is wrong and how to fix it."""
    if not isinstance(value, str) or value == "":
        raise UserError(f"empty {what}", "give a name such as 'churn' or 'fraud-detector'")
    if len(value) > MAX_NAME:
        raise UserError(
            f"{what} is {len(value)} characters long; the limit is {MAX_NAME}",
            "choose a shorter name",
        )
    if "/" in value and NAME_RE.fullmatch(value.replace("/", "-")):
        # GTO allows it (monorepo names); gitreg refuses it, as decided in issue 13
        raise UserError(
            f"'/' is not allowed in a {what} ({_describe(value)}): gitreg keeps each model in one "
            "directory, models/NAME/, whose name is also a file name, a CODEOWNERS pattern and a site path",
            f"use {value.replace('/', '-')!r} instead (README, Model names)",
        )
    if not NAME_RE.fullmatch(value):
        raise UserError(
            f"invalid {what} {_describe(value)}",
            "use letters, digits, '-' and '_', starting and ending with a letter or digit",
        )
    return value


def check_stage(value: object, allow_none: bool = False) -> str:
    """Validate a stage name and fold it to lower case (stages are case-insensitive)."""
    name = check_name(value, "stage name").lower()
    if name == NONE_STAGE and not allow_none:
        raise UserError(
            "'none' is the unassigned state, not a stage",
            "name a stage from gitreg.yaml, e.g. staging or production",
        )
    return name
