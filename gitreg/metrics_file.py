"""Reading a --metrics file: .json strictly as JSON, .yaml/.yml as YAML; at least one number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gitreg import yamlio
from gitreg.core.manifest import flatten_metrics
from gitreg.errors import UserError

YAML_SUFFIXES = (".yaml", ".yml")


def load(path: Path) -> tuple[dict[str, float], list[str]]:
    """({metric: number}, [skipped non-numeric keys]); refuses a file with no number at all.

    By extension: .json is JSON (strict: a trailing comma or NaN is an error, never read as
    YAML), .yaml/.yml is YAML; any other file is JSON when it starts with `{` or `[`, else YAML.
    """
    source = str(path)
    raw = yamlio.read_bytes(Path(path), source)
    suffix = Path(path).suffix.lower()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{source}: not valid UTF-8 (byte {exc.start})", "save the file as UTF-8") from None
    as_json = suffix == ".json" or (suffix not in YAML_SUFFIXES and text.lstrip()[:1] in ("{", "["))
    data = loads_json(text, source) if as_json else yamlio.loads(text, source)
    metrics, skipped = flatten_metrics(data, source)
    if not metrics:
        found = f" (non-numeric: {', '.join(skipped[:5])}{', ...' if len(skipped) > 5 else ''})" \
            if skipped else ""
        raise UserError(f"{source}: no numeric metric in the file{found}",
                        'metrics are numbers, e.g. {"accuracy": 0.92, "latency_ms": 41}')
    return metrics, skipped


def loads_json(text: str, source: str) -> Any:
    """Strict JSON: errors name the file, line and column; NaN, Infinity and duplicate keys refused."""
    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"duplicate key {key!r}")
            out[key] = value
        return out

    try:
        return json.loads(text, parse_constant=constant, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise UserError(f"{source}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}",
                        "fix the syntax: JSON allows no trailing commas or comments") from None
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{source}: invalid JSON: {exc}", "fix the file and try again") from None
