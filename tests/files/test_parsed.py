"""Manifests remembered parsed by blob id (gitreg.store.parsed, issue 16): the same answer
as parsing them, never stale, rebuilt when damaged, and only for values JSON gives back."""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gitreg import Registry
from gitreg.store import parsed, summary
from gitreg.store import store as store_module
from gitreg.store.store import Store
from tests.conftest import git


@pytest.fixture
def three(repo: Path, make_artifact: Any) -> Path:
    reg = Registry(repo)
    for i, ver in enumerate(("1.0.0", "1.1.0", "2.0.0")):
        reg.register("churn", [make_artifact(content=b"m%d" % i * 400)], version=ver)
    reg.promote("churn", "1.1.0", "staging", reason="r")
    return repo


def _fresh(repo: Path) -> tuple[dict, Any]:
    """The manifests parsed from git with nothing remembered."""
    shutil.rmtree(Registry(repo).store.state_dir / parsed.DIR, ignore_errors=True)
    return _read(repo)


def _read(repo: Path) -> tuple[dict, Any]:
    return Registry(repo).store.model_manifests("churn")


class Loads:
    """The blobs really parsed (by either reader)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sources: list[str] = []
        real = store_module._parse

        def spy(data: bytes, source: str) -> Any:
            self.sources.append(source)
            return real(data, source)

        monkeypatch.setattr(store_module, "_parse", spy)


def _file(repo: Path) -> Path:
    path = parsed.path(Registry(repo).store.state_dir, "churn")
    assert path is not None
    return path


def test_a_second_read_parses_nothing_and_gives_the_same(three: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _fresh(three)
    assert _file(three).exists()
    loads = Loads(monkeypatch)
    assert _read(three) == expected
    assert loads.sources == []


def test_a_changed_manifest_is_read_again_by_its_new_blob(three: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fresh(three)
    Registry(three).promote("churn", "2.0.0", "staging", reason="again")
    loads = Loads(monkeypatch)
    got = _read(three)
    assert loads.sources == ["models/churn/2.0.0/manifest.yaml"]  # the one whose bytes changed
    assert got[0]["2.0.0"]["stage"] == "staging"
    assert got == _fresh(three)


def test_a_manifest_edited_by_hand_is_what_is_read(three: Path) -> None:
    _fresh(three)
    path = three / "models/churn/1.0.0/manifest.yaml"
    path.write_text(path.read_text() + "x_note: by hand\n")
    git(three, "commit", "-qam", "by hand")
    got = _read(three)
    assert got[0]["1.0.0"]["x_note"] == "by hand"
    assert got == _fresh(three)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "tampered", "other version", "not a mapping"])
def test_a_damaged_file_is_ignored_and_written_again(three: Path, damage: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _fresh(three)
    file = _file(three)
    raw = file.read_bytes()
    head, _, body = raw.partition(b"\n")
    if damage == "garbage":
        file.write_bytes(b"\xff\x00 not json")
    elif damage == "truncated":
        file.write_bytes(raw[: len(raw) // 2])
    elif damage == "tampered":  # valid JSON, content changed without its checksum
        blobs = json.loads(body)
        sha = next(iter(blobs))
        blobs[sha] = {**blobs[sha], "stage": "production"} if isinstance(blobs[sha], dict) else 1
        file.write_bytes(head + b"\n" + json.dumps(blobs, separators=(",", ":")).encode())
    elif damage == "other version":
        file.write_bytes(raw.replace(parsed.MAGIC.encode(), b"gitreg-parsed-v0 0.0"))
    else:
        file.write_bytes(head.replace(json.loads(head)["sha256"].encode(),
                                      hashlib.sha256(b"[]").hexdigest().encode()) + b"\n[]")
    loads = Loads(monkeypatch)
    assert _read(three) == expected
    assert loads.sources  # parsed again
    assert file.read_bytes() == raw  # and written again as it was


def test_values_json_would_change_are_parsed_every_time(three: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = three / "models/churn/1.0.0/manifest.yaml"
    path.write_text(path.read_text() + "x_released: 2026-01-02\n")  # a YAML date
    git(three, "commit", "-qam", "a date")
    first = _fresh(three)
    assert first[0]["1.0.0"]["x_released"] == datetime.date(2026, 1, 2)
    loads = Loads(monkeypatch)
    again = _read(three)
    assert again == first and type(again[0]["1.0.0"]["x_released"]) is datetime.date
    assert loads.sources == ["models/churn/1.0.0/manifest.yaml"]  # only that one


@pytest.mark.parametrize("value, exact", [
    ({"a": [1, 2.5, "x", None, True]}, True), ({1: "int key"}, False), (datetime.date(2026, 1, 1), False),
    ({"a": float("nan")}, False), ({"a": (1, 2)}, False), ("s", True), ([{"b": {}}], True),
])
def test_only_values_json_gives_back_exactly_are_kept(value: Any, exact: bool, tmp_path: Path) -> None:
    file = tmp_path / "m.json"
    parsed.save(file, {}, {"a" * 40: value})
    assert (parsed.load(file) == {"a" * 40: value}) is exact


def test_a_name_that_is_not_a_safe_file_name_is_not_kept(tmp_path: Path) -> None:
    assert parsed.path(tmp_path, "../escape") is None
    assert parsed.path(tmp_path, "churn") == tmp_path / parsed.DIR / "churn.json"


def test_the_summary_a_change_commits_is_the_one_made_from_the_manifests(three: Path) -> None:
    Registry(three).promote("churn", "1.0.0", "staging", reason="remembered parses")
    store: Store = Registry(three).store
    problems, stale = summary.check(store)
    assert problems == [] and stale == []
