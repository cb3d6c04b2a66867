"""JSON Schema validation of manifests, model files and gitreg.yaml (schemas ship in the wheel)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

# jsonschema is imported on first validation, not with this module: it costs ~70 ms and
# read commands never validate (issue 6).

MANIFEST = "manifest"
MODEL = "model"
CONFIG = "config"


@lru_cache(maxsize=None)
def schema(kind: str) -> dict[str, Any]:
    text = resources.files("gitreg.schemas").joinpath(f"{kind}.schema.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=None)
def validator(kind: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator, FormatChecker

    return Draft202012Validator(schema(kind), format_checker=FormatChecker())


def validator_for(raw_schema: dict[str, Any]) -> Draft202012Validator:
    from jsonschema import Draft202012Validator, FormatChecker

    Draft202012Validator.check_schema(raw_schema)
    return Draft202012Validator(raw_schema, format_checker=FormatChecker())


def errors(kind: str, data: Any, extra: Draft202012Validator | None = None) -> list[tuple[tuple, str]]:
    """[(json path, message)] for every schema violation, in document order."""
    found = []
    for v in [validator(kind)] + ([extra] if extra else []):
        for err in v.iter_errors(data):
            found.append((tuple(err.absolute_path), _message(err)))
    found.sort(key=lambda e: [str(p) for p in e[0]])
    return found


def _message(err: Any) -> str:
    path = ".".join(str(p) for p in err.absolute_path)
    where = f"{path}: " if path else ""
    msg = err.message
    if len(msg) > 200:
        msg = msg[:197] + "..."
    return f"{where}{msg}"
