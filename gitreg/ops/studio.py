"""dvc.yaml's `artifacts:` entry of a model, as DVC Studio and `dvc artifacts get` read it."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Mapping

from gitreg import yamlio
from gitreg.core import events as ev
from gitreg.core.manifest import tag_map
from gitreg.core.version import parse_version
from gitreg.errors import UserError
from gitreg.store import DVC_YAML

DESC_LIMIT = 500


def artifact_entry(path: str, manifests: Mapping[str, Mapping[str, Any]],
                   model: Mapping[str, Any] | None) -> dict[str, Any]:
    """{path, type, desc, labels, meta}: DVC's artifact schema (labels are strings, meta free).

    desc is the model's description (else the latest version's); labels are the model's
    and the latest version's tags, `KEY` or `KEY=VALUE`; meta has the latest version, its
    framework and metrics, the owner and each stage's holder.
    """
    model = model or {}
    latest_ver = max(manifests, key=parse_version) if manifests else None
    latest = manifests[latest_ver] if latest_ver else {}
    entry: dict[str, Any] = {"path": path, "type": "model"}
    desc = model.get("description") or latest.get("description")
    if isinstance(desc, str) and desc.strip():
        entry["desc"] = " ".join(desc.split())[:DESC_LIMIT]
    tags = {**tag_map(model.get("tags")), **tag_map(latest.get("tags"))}
    if tags:
        entry["labels"] = [f"{k}={v}" if v else k for k, v in tags.items()]
    meta: dict[str, Any] = {}
    if latest_ver:
        meta["version"] = latest_ver
    if latest.get("framework"):
        meta["framework"] = latest["framework"]
    if latest.get("metrics"):
        meta["metrics"] = dict(latest["metrics"])
    business = latest.get("business")
    business = business if isinstance(business, Mapping) else {}
    owner = model.get("owner") or business.get("owner")
    if owner:
        meta["owner"] = owner
    holders = ev.stage_holders(manifests.values())
    if holders:
        meta["stages"] = {stage: versions[0] for stage, versions in sorted(holders.items())}
    if meta:
        entry["meta"] = meta
    return entry


def _load(root: Path) -> dict[str, Any]:
    dvc_yaml = root / DVC_YAML
    data = yamlio.load_file(dvc_yaml, DVC_YAML) if dvc_yaml.exists() else {}
    if not isinstance(data, dict):
        raise UserError(f"{DVC_YAML} is not a mapping", "fix dvc.yaml by hand")
    return data


def write_entry(root: Path, name: str, path: str, manifests: Mapping[str, Mapping[str, Any]],
                model: Mapping[str, Any] | None, state_dir: Path | None = None) -> str | None:
    """Point the model's entry at `path` (a registration) with everything else up to date.
    Returns the text written when it is known canonical (remember() it once committed)."""
    entry = artifact_entry(path, manifests, model)
    text = _canonical_text(root, state_dir)
    spliced = splice(text, name, entry) if text is not None else None
    if spliced is not None:
        yamlio.write_atomic(root / DVC_YAML, spliced[0])
        return spliced[0]
    data = _load(root)
    artifacts = data.get("artifacts") or {}
    artifacts[name] = entry
    data["artifacts"] = artifacts
    yamlio.write_atomic(root / DVC_YAML, yamlio.dump(data))
    return None


def refreshed(root: Path, name: str, manifests: Mapping[str, Mapping[str, Any]],
              model: Mapping[str, Any] | None, state_dir: Path | None = None) -> str | None:
    """dvc.yaml's new text after a change that keeps the path (None: nothing to change)."""
    return refreshed_entry(root, name, manifests, model, state_dir)[0]


def refreshed_entry(root: Path, name: str, manifests: Mapping[str, Mapping[str, Any]],
                    model: Mapping[str, Any] | None, state_dir: Path | None = None,
                    ) -> tuple[str | None, bool]:
    """(refreshed's text, whether it is known canonical: remember() it once committed)."""
    text = _canonical_text(root, state_dir)  # read and checked once for both splices
    spliced = splice(text, name, None) if text is not None else None
    if text is not None and spliced is not None:
        old = spliced[1]
        if not isinstance(old, dict) or not isinstance(old.get("path"), str):
            return None, False  # no registered version yet: DVC needs a path
        new = artifact_entry(old["path"], manifests, model)
        if new == old:
            return None, False
        done = splice(text, name, new)
        if done is not None:
            return done[0], True
    return _refreshed_whole(root, name, manifests, model), False


def _refreshed_whole(root: Path, name: str, manifests: Mapping[str, Mapping[str, Any]],
                     model: Mapping[str, Any] | None) -> str | None:
    data = _load(root)
    artifacts = data.get("artifacts")
    if not isinstance(artifacts, dict):
        return None
    old = artifacts.get(name)
    if not isinstance(old, dict) or not isinstance(old.get("path"), str):
        return None  # no registered version yet: DVC needs a path
    new = artifact_entry(old["path"], manifests, model)
    if new == old:
        return None
    artifacts[name] = new
    return yamlio.dump(data)


# -- one entry spliced into dvc.yaml's text (issue 16) -----------------------------------
# dvc.yaml lists every model: at 2,000 models it is 300 KB, and parsing and dumping it
# whole was most of a promotion's own work. The text gitreg writes is yamlio.dump's; when
# the file is exactly such a text ("canonical": dump(load(text)) == text), replacing or
# appending one model's block of lines gives byte for byte what the whole rewrite gives
# (the emitter writes a key's block the same whatever its siblings). Whether the file is
# canonical is known from the sha256 of the last dvc.yaml text that was (kept in
# .git/gitreg/dvc-yaml-canonical, written after the change that wrote it): any other
# content, edited by hand or not, is checked (dump(load(text)) == text) or rewritten whole.
CANONICAL_FILE = "dvc-yaml-canonical"
_CANONICAL_VERSION = "gitreg-dvc-yaml-canonical-v1"
_TOP_LINE = re.compile(r"\n(?=\S)")  # before a top-level key (or anything at column 0)
_BLOCK_END = re.compile(r"\n {0,2}(?=\S)")  # before the next line at column 0, 1 or 2
_SECTION = "artifacts:\n"


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def remember(state_dir: Path | None, text: str) -> None:
    """Record text as dvc.yaml's canonical content (after the change that wrote it)."""
    _remember_canonical(state_dir, text)


def _remember_canonical(state_dir: Path | None, text: str) -> None:
    if state_dir is None:
        return
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        yamlio.write_atomic(state_dir / CANONICAL_FILE, f"{_CANONICAL_VERSION} {_text_hash(text)}\n",
                            durable=False)
    except OSError:
        pass  # a read-only .git rewrites dvc.yaml whole every time


def _known_canonical(state_dir: Path | None, text: str) -> bool:
    if state_dir is None:
        return False
    try:
        line = (state_dir / CANONICAL_FILE).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    # anything but exactly what _remember_canonical writes is a miss (and is rewritten)
    return line == f"{_CANONICAL_VERSION} {_text_hash(text)}\n"


def _read_text(root: Path) -> str | None:
    try:
        raw = (root / DVC_YAML).read_bytes()
        return raw.decode("utf-8") if len(raw) <= yamlio.MAX_YAML_BYTES else None
    except (OSError, UnicodeDecodeError):
        return None


def _canonical_text(root: Path, state_dir: Path | None) -> str | None:
    """dvc.yaml's text when it is a text gitreg wrote (then one model's entry can be
    spliced in); None when it must be parsed whole."""
    text = _read_text(root)
    if text is None:
        return None
    if not _known_canonical(state_dir, text) and not _check_canonical(text):
        return None
    return text


def _check_canonical(text: str) -> bool:
    """Is text exactly yamlio.dump of what it parses to? (once per content: then remembered)"""
    try:
        data = yamlio.loads(text, DVC_YAML)
    except UserError:
        return False
    return isinstance(data, dict) and yamlio.dump(data) == text


def splice(text: str, name: str, entry: Mapping[str, Any] | None) -> tuple[str, Any] | None:
    """For a canonical `text`: (the text with artifacts.NAME set to entry, NAME's old value
    or None) as yamlio.dump of the whole would write it, or None when the text does not
    have the plain shape (no `artifacts:` mapping, NAME not a mapping...)."""
    probe = yamlio.dump({"artifacts": {name: dict(entry) if entry is not None else {"path": ""}}})
    if not probe.startswith(_SECTION):
        return None
    block = probe[len(_SECTION):]
    key_line = block.split("\n", 1)[0]
    if not key_line.startswith("  ") or not key_line.endswith(":") or len(key_line) < 4:
        return None
    if entry is not None:
        # the new block must itself read back as what it was made from (then the whole
        # text stays canonical, and the next change can splice too)
        try:
            again = yamlio.loads(probe, DVC_YAML)
        except UserError:
            return None
        if yamlio.dump(again) != probe:
            return None
    if text.startswith(_SECTION):
        start = len(_SECTION)
    else:
        at = text.find("\n" + _SECTION)
        if at < 0:
            return None
        start = at + 1 + len(_SECTION)
    if text[start:start + 2] != "  " or text[start + 2:start + 3] in ("", " ", "-"):
        return None  # not a block mapping of entries
    # a newline then a literal: found by the regex engine's literal scan (a `^` under re.M
    # is tried at every position: 7 of a promotion's 10 ms here at 2,000 models)
    top = _TOP_LINE.search(text, start - 1)
    end = top.start() + 1 if top else len(text)
    key_at = _line_starting(text, key_line, start, end)
    if key_at is None:
        old = None
        if entry is None:
            return text, None
        return text[:end] + block + text[end:], old
    key_end = key_at + len(key_line)
    if text[key_end] != "\n":
        return None  # NAME's value is a scalar on its key's line
    after = _BLOCK_END.search(text, key_end, end)
    block_end = after.start() + 1 if after else end
    try:
        parsed = yamlio.loads(_SECTION + text[key_at:block_end], DVC_YAML)
    except UserError:
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("artifacts"), dict) \
            or list(parsed["artifacts"]) != [name] or not isinstance(parsed["artifacts"][name], dict):
        return None
    old = parsed["artifacts"][name]
    if entry is None:
        return text, old
    return text[:key_at] + block + text[block_end:], old


def _line_starting(text: str, key_line: str, start: int, end: int) -> int | None:
    """Where the first line in text[start:end] that is key_line then a space or a newline
    begins (start is a line's start)."""
    at = start - 1
    while True:
        at = text.find("\n" + key_line, at, end)
        if at < 0 or at + 1 + len(key_line) >= end:
            return None
        if text[at + 1 + len(key_line)] in " \n":
            return at + 1
        at += 1
