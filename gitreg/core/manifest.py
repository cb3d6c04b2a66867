"""Version manifests as plain mappings: building, the immutable part, metric flattening."""

from __future__ import annotations

import math
from typing import Any, Mapping

from gitreg.errors import UserError

SCHEMA_VERSION = 1
# Changed only by gitreg's stage operations; everything else is fixed at registration.
# (description and tags change too, but only as an `annotate` history entry records:
# validate --base checks that)
MUTABLE_FIELDS = ("stage", "aliases", "deprecated", "approval", "deployment", "history")
# The order keys are written in, so manifests read the same everywhere.
FIELD_ORDER = (
    "schema_version", "name", "version", "number", "description", "created_at", "created_by",
    "framework", "algorithm", "hyperparameters", "metrics", "training", "signature",
    "artifacts", "tags", "business", "custom",
    "stage", "aliases", "deprecated", "approval", "deployment", "history",
)


def tag_map(tags: Any) -> dict[str, str]:
    """Tags as MLflow's key -> value; a legacy list of labels reads as {label: ""} (lossless)."""
    if isinstance(tags, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in tags.items()}
    if isinstance(tags, list):
        return {str(label): "" for label in tags}
    return {}


TAG_KEY_LIMIT = 250  # MLflow's limits, as the schemas say
TAG_VALUE_LIMIT = 5000


def check_tag_key(key: str, what: str = "tag") -> str:
    key = key.strip()
    if not key or len(key) > TAG_KEY_LIMIT or any(ord(c) < 32 or c == "=" for c in key):
        raise UserError(f"invalid {what} key {key!r}",
                        f"a tag key is 1-{TAG_KEY_LIMIT} characters, no '=' or control characters")
    return key


def parse_tags(items: Any) -> dict[str, str]:
    """`KEY=VALUE` or `LABEL` (value "") items, or a mapping, as {key: value}; bad ones refused."""
    if isinstance(items, Mapping):
        pairs = [(str(k), "" if v is None else str(v)) for k, v in items.items()]
    else:
        pairs = []
        for item in items or []:
            if not isinstance(item, str):
                raise UserError(f"invalid tag {item!r}", "write tags as KEY=VALUE or LABEL")
            key, _, value = item.partition("=")
            pairs.append((key, value))
    out: dict[str, str] = {}
    for key, value in pairs:
        key = check_tag_key(key)
        if len(value) > TAG_VALUE_LIMIT or "\x00" in value:
            raise UserError(f"tag {key}'s value is too long or has a NUL byte",
                            f"a tag value is at most {TAG_VALUE_LIMIT} characters")
        out[key] = value
    return out


def apply_annotation(doc: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest or model.yaml with one `annotate` entry's edits applied (tags as a mapping)."""
    out = dict(doc)
    if entry.get("description") is not None:
        out["description"] = entry["description"]
    tags = tag_map(doc.get("tags"))
    tags.update(tag_map(entry.get("set_tags")))
    for key in entry.get("unset_tags") or []:
        tags.pop(str(key), None)
    if "tags" in doc or tags:
        out["tags"] = tags
    return out


# model.yaml: fixed once written; description and tags change only as `annotate` records;
# owner, use_case, custom and deprecated stay free (register --owner rewrites them, as before)
MODEL_FIXED_FIELDS = ("schema_version", "name", "created_at")
ANNOTATED_FIELDS = ("description", "tags")


def appended_entries(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Any] | None:
    """The history entries `new` adds after `old`'s, or None if it changed or removed any."""
    before, after = old.get("history") or [], new.get("history") or []
    if not isinstance(after, list) or not isinstance(before, list) or after[:len(before)] != before:
        return None
    return after[len(before):]


def _annotated(old: Mapping[str, Any], added: list[Any]) -> dict[str, Any]:
    expected = dict(old)
    for h in added:
        if isinstance(h, Mapping) and h.get("action") == "annotate":
            expected = apply_annotation(expected, h)
    return expected


def _differs(key: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if key == "tags":  # a legacy list and its mapping are the same tags
        return tag_map(a.get(key)) != tag_map(b.get(key))
    return a.get(key) != b.get(key)


def unrecorded_changes(old: Mapping[str, Any], new: Mapping[str, Any], model_file: bool = False) -> list[str]:
    """Registered fields `new` changed that its new `annotate` entries do not record (sorted).

    A manifest's registered part is everything but MUTABLE_FIELDS; model.yaml's is
    MODEL_FIXED_FIELDS and ANNOTATED_FIELDS. description and tags may change exactly as
    the annotate entries appended since `old` say (the base with them applied).
    """
    expected = _annotated(old, appended_entries(old, new) or [])
    if model_file:
        keys: set[str] = set(MODEL_FIXED_FIELDS) | set(ANNOTATED_FIELDS)
    else:
        keys = (set(old) | set(new)) - set(MUTABLE_FIELDS)
    return sorted(k for k in keys if _differs(k, expected, new))


def immutable_part(manifest: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k not in MUTABLE_FIELDS}


def ordered(manifest: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: manifest[k] for k in FIELD_ORDER if k in manifest}
    out.update({k: v for k, v in manifest.items() if k not in out})
    return out


def flatten_metrics(data: Any, source: str) -> tuple[dict[str, float], list[str]]:
    """Flatten nested metrics (as dvclive writes them) to {"a.b": number}.

    Non-numeric leaves are skipped and reported back, never guessed at.
    """
    if not isinstance(data, Mapping):
        raise UserError(
            f"{source}: metrics must be a mapping of names to numbers",
            'write e.g. {"auc": 0.94, "f1": 0.88}',
        )
    out: dict[str, float] = {}
    skipped: list[str] = []

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif isinstance(node, bool) or not isinstance(node, (int, float)):
            skipped.append(prefix)
        elif isinstance(node, float) and not math.isfinite(node):
            skipped.append(prefix)
        else:
            out[prefix] = node

    walk("", data)
    return out, skipped


def parse_key_values(items: list[str] | None, what: str, numeric: bool) -> dict[str, Any]:
    """Parse repeated k=v flags; values are numbers for metrics, YAML scalars for params."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"invalid {what} {item!r}", "write it as key=value, e.g. auc=0.94")
        if numeric:
            try:
                value: Any = float(raw)
            except ValueError:
                raise UserError(
                    f"{what} {key} has a non-numeric value {raw!r}", "metrics are numbers only"
                ) from None
            if not math.isfinite(value):
                raise UserError(f"{what} {key} is not a finite number", "metrics are numbers only")
            if value.is_integer() and "." not in raw and "e" not in raw.lower():
                value = int(value)
        else:
            value = _scalar(raw)
        out[key] = value
    return out


def _scalar(raw: str) -> Any:
    for conv in (int, float):
        try:
            return conv(raw)
        except ValueError:
            pass
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return raw
