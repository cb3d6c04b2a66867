"""Manifests remembered parsed, by blob id (issue 16).

A promotion reads every manifest of its model to find the stage holders: 50 versions are
50 PyYAML parses, 50 ms, where 5 versions take 5. What a blob parses to depends only on
its bytes, so the result is kept, as JSON, under the blob's id in
`<git dir>/gitreg/parsed-v1/NAME.json` (one file per model, holding the blobs it last
read) and can never be stale. A value JSON cannot give back exactly (a date, a non-string
key, anything but mappings, lists, strings, numbers, booleans and null) is not kept: such
a manifest is parsed every time, as before. The file carries the sha256 of its content;
one that does not match, or is not what this writes, is ignored and written again.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Mapping

from gitreg import __version__, yamlio

MAGIC = f"gitreg-parsed-v1 {__version__}"
DIR = "parsed-v1"
KEEP = 512  # blobs a model's file keeps beyond the ones last asked for
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def path(state_dir: Path, group: str) -> Path | None:
    """Where a model's parsed manifests are kept (None: a name not to make a file of)."""
    return state_dir / DIR / f"{group}.json" if _SAFE_NAME.fullmatch(group) else None


def load(file: Path | None) -> dict[str, Any]:
    """{blob id: parsed} of every blob the file keeps; {} when it is unreadable."""
    if file is None:
        return {}
    try:
        head, _, body = file.read_bytes().partition(b"\n")
        header = json.loads(head)
        if header.get("magic") != MAGIC or header.get("sha256") != hashlib.sha256(body).hexdigest():
            return {}
        blobs = json.loads(body)
    except (OSError, ValueError, AttributeError):
        return {}
    return blobs if isinstance(blobs, dict) else {}


def save(file: Path | None, kept: Mapping[str, Any], parsed: Mapping[str, Any]) -> None:
    """Keep the blobs just parsed and read (those JSON gives back exactly), and of the ones
    kept before (an older revision's, say) as many as KEEP allows."""
    if file is None:
        return
    blobs = {sha: v for sha, v in parsed.items() if _exact(v)}
    for sha, v in kept.items():
        if len(blobs) >= max(KEEP, len(parsed)):
            break
        blobs.setdefault(sha, v)
    body = json.dumps(blobs, separators=(",", ":"), allow_nan=False).encode()
    head = json.dumps({"magic": MAGIC, "sha256": hashlib.sha256(body).hexdigest()}).encode()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        yamlio.write_atomic(file, (head + b"\n" + body).decode(), durable=False)
    except OSError:
        pass  # a read-only clone parses every time


def _exact(value: Any, depth: int = 0) -> bool:
    """Does JSON give this value back as it is (same types, same order)?"""
    if depth > 64:
        return False
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and _exact(v, depth + 1) for k, v in value.items())
    if kind is list:
        return all(_exact(v, depth + 1) for v in value)
    if kind is float:
        return value == value and value not in (float("inf"), float("-inf"))
    return kind in (str, int, bool) or value is None
