"""dvc.yaml's model entry spliced into the text (issue 16): byte for byte the whole rewrite.

The whole rewrite (parse dvc.yaml, set artifacts.NAME, dump it all) is what gitreg wrote
before; the splice must give exactly its bytes, and is only taken for a text known to be
canonical (its sha256 remembered under .git/gitreg), so a hand-edited file is rewritten
whole as before.
"""

from __future__ import annotations

import random
import string
from pathlib import Path
from typing import Any

import yaml

from gitreg import yamlio
from gitreg.ops import studio
from tests.conftest import git

WORDS = ["churn", "fraud", "x" * 120, "true", "null", "1.5", "- dash", "a: b", "#hash", "é ü 中文",
         "quote's", 'dq"', "multi\nline", "  lead", "trail  ", "", "@at", "%pct", "{brace}", "0x1F"]


def _rand_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 2 else 5)
    if kind == 0:
        return rng.choice(WORDS) + " " + " ".join(rng.choice(WORDS) for _ in range(rng.randrange(30)))
    if kind == 1:
        return rng.choice([0, 1, -7, 10 ** 12, 0.1, 1e-7, 3.25, float("inf")])
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return rng.choice(WORDS)
    if kind == 4:
        return "".join(rng.choice(string.printable) for _ in range(rng.randrange(150)))
    if kind == 5:
        return [_rand_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(WORDS)[:20] or "k": _rand_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _rand_entry(rng: random.Random, name: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": f"models/{name}/1.{rng.randrange(9)}.0/model.pkl", "type": "model"}
    if rng.random() < 0.8:
        entry["desc"] = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 40)))
    if rng.random() < 0.6:
        entry["labels"] = [rng.choice(WORDS) for _ in range(rng.randrange(1, 5))]
    if rng.random() < 0.7:
        entry["meta"] = {"version": "1.2.3", "metrics": {"auc": rng.random(), "n": rng.randrange(10 ** 6)},
                         "stages": {"production": "1.0.0"}, "extra": _rand_value(rng)}
    return entry


def _rand_doc(rng: random.Random) -> dict[str, Any]:
    names = [f"{rng.choice(['churn', 'fraud', 'ner', 'true', '123', 'a-b'])}-{i:04d}" for i in range(rng.randrange(1, 12))]
    arts = {n: _rand_entry(rng, n) if rng.random() < 0.9 else _rand_value(rng) for n in names}
    doc: dict[str, Any] = {}
    if rng.random() < 0.3:
        doc["stages"] = {"train": {"cmd": "python train.py", "deps": ["a", "b"]}}
    doc["artifacts"] = arts
    if rng.random() < 0.3:
        doc["plots"] = [{"x": 1}, "y"]
    if rng.random() < 0.2:
        doc["vars"] = ["params.yaml"]
    return doc


def test_splice_gives_the_whole_rewrite_byte_for_byte():
    rng = random.Random(16)
    spliced = 0
    for _ in range(400):
        doc = _rand_doc(rng)
        text = yamlio.dump(doc)
        assert yamlio.dump(yaml.safe_load(text)) == text  # the generated texts are canonical
        name = rng.choice([*doc["artifacts"], "brand-new", "true", "0123"])
        entry = _rand_entry(rng, name)
        expected_doc = yaml.safe_load(text)
        old = expected_doc["artifacts"].get(name)
        expected_doc["artifacts"][name] = entry
        expected = yamlio.dump(expected_doc)
        got = studio.splice(text, name, entry)
        if got is None:
            # only when NAME's value is not a block mapping (the whole rewrite handles it)
            assert name in doc["artifacts"] and (not isinstance(old, dict) or not old)
            continue
        spliced += 1
        assert got[0] == expected
        assert got[1] == old
        assert studio.splice(text, name, None) == (text, old)
    assert spliced > 300


def test_splice_finds_the_key_line_itself_not_a_longer_key_it_begins():
    # `  a:` begins the lines of `a:b` and `a b` too: each candidate's next character decides
    doc = {"artifacts": {"a:b": {"path": "x", "type": "model"}, "a b": {"path": "z"},
                         "a": {"path": "y", "type": "model"}, "ab": {"path": "w"}},
           "stages": {"t": {"cmd": "c"}}}
    text = yamlio.dump(doc)
    assert "\n  a:b:\n" in text and text.index("  a:b:") < text.index("  a:\n")
    for name, old in (("a", {"path": "y", "type": "model"}), ("a:b", {"path": "x", "type": "model"}),
                      ("ab", {"path": "w"}), ("a:", None)):
        entry = {"path": f"models/{name}/new", "type": "model"}
        expected = yaml.safe_load(text)
        expected["artifacts"][name] = entry
        assert studio.splice(text, name, entry) == (yamlio.dump(expected), old)


def test_splice_refuses_shapes_it_cannot_place():
    entry = {"path": "models/a/1.0.0/m.pkl", "type": "model"}
    assert studio.splice("artifacts: {}\n", "a", entry) is None
    assert studio.splice("artifacts:\n- a\n", "a", entry) is None
    assert studio.splice("stages: {}\n", "a", entry) is None
    assert studio.splice("artifacts:\n  a: null\n", "a", entry) is None


def _registry_like(root: Path, n: int = 30) -> str:
    rng = random.Random(n)
    doc = {"artifacts": {f"m-{i:03d}": _rand_entry(rng, f"m-{i:03d}") for i in range(n)}}
    text = yamlio.dump(doc)
    (root / "dvc.yaml").write_text(text, "utf-8")
    return text


def _whole(root: Path, name: str, manifests: Any, model: Any) -> str | None:
    return studio.refreshed(root, name, manifests, model, state_dir=None)


MANIFESTS = {"1.0.0": {"version": "1.0.0", "stage": "production", "framework": "sklearn", "metrics": {"auc": 0.91},
                       "description": "a model " * 30, "tags": {"team": "x"}},
             "1.1.0": {"version": "1.1.0", "stage": "staging", "metrics": {"auc": 0.93}}}


def test_refreshed_splices_only_a_text_known_canonical(tmp_path):
    root, state = tmp_path / "w", tmp_path / "state"
    root.mkdir()
    _registry_like(root)
    whole = _whole(root, "m-007", MANIFESTS, {"owner": "bob"})
    # unknown content: checked (canonical), spliced; remembered only once committed
    assert studio.refreshed_entry(root, "m-007", MANIFESTS, {"owner": "bob"}, state_dir=state) \
        == (whole, True)
    assert not (state / studio.CANONICAL_FILE).exists()
    (root / "dvc.yaml").write_text(whole, "utf-8")
    studio.remember(state, whole)  # what the change does after its commit
    assert studio._known_canonical(state, whole)
    # the remembered hash is the written text's: the next change splices, same bytes
    m2 = {**MANIFESTS, "1.1.0": {"version": "1.1.0", "stage": "production"}}
    assert studio.refreshed(root, "m-007", m2, None, state_dir=state) == _whole(root, "m-007", m2, None)


def test_a_hand_edited_dvc_yaml_is_rewritten_whole_as_before(tmp_path):
    root, state = tmp_path / "w", tmp_path / "state"
    root.mkdir()
    text = _registry_like(root)
    studio.remember(state, text)  # the record names the text before the edits
    # a comment, a reformatted entry and CRLF line ends: not canonical, so not spliced
    for edited in ("# mine\n" + text, text.replace("  m-002:\n", "  m-002:   \n"),
                   text.replace("\n", "\r\n"), text.replace("type: model", "type:   model", 1)):
        (root / "dvc.yaml").write_bytes(edited.encode("utf-8"))
        got = studio.refreshed(root, "m-001", MANIFESTS, None, state_dir=state)
        assert got == _whole(root, "m-001", MANIFESTS, None)
        assert got is not None and "# mine" not in got and "\r" not in got


def test_a_stale_or_corrupt_canonical_record_is_never_trusted(tmp_path):
    root, state = tmp_path / "w", tmp_path / "state"
    root.mkdir()
    state.mkdir()
    text = _registry_like(root)
    # a record of the right shape for other content, garbage, an empty file, a directory
    for record in (f"gitreg-dvc-yaml-canonical-v1 {'0' * 64}\n", "\x00\xff garbage", "", None):
        target = state / studio.CANONICAL_FILE
        if target.is_dir():
            target.rmdir()
        elif target.exists():
            target.unlink()
        if record is None:
            target.mkdir()
        else:
            target.write_bytes(record.encode("utf-8", "surrogateescape"))
        # a non-canonical file with a record naming it... by a forged hash of another text
        (root / "dvc.yaml").write_text("# edited\n" + text, "utf-8")
        assert studio.refreshed(root, "m-003", MANIFESTS, None, state_dir=state) \
            == _whole(root, "m-003", MANIFESTS, None)
    (state / studio.CANONICAL_FILE).rmdir()
    (root / "dvc.yaml").write_text(text, "utf-8")
    new, canonical = studio.refreshed_entry(root, "m-003", MANIFESTS, None, state_dir=state)
    assert new is not None and canonical
    studio.remember(state, new)
    # rebuilt: one line naming the hash of the text the change wrote
    assert studio._known_canonical(state, new)
    assert not studio._known_canonical(state, text)


def test_write_entry_appends_and_replaces_like_the_whole_rewrite(tmp_path):
    root, state = tmp_path / "w", tmp_path / "state"
    root.mkdir()
    text = _registry_like(root)
    for name in ("m-010", "zz-new", "aa-new"):
        (root / "dvc.yaml").write_text(text, "utf-8")
        studio.write_entry(root, name, f"models/{name}/2.0.0/model.pkl", MANIFESTS, None, state_dir=None)
        whole = (root / "dvc.yaml").read_bytes()
        (root / "dvc.yaml").write_text(text, "utf-8")
        studio.write_entry(root, name, f"models/{name}/2.0.0/model.pkl", MANIFESTS, None, state_dir=state)
        assert (root / "dvc.yaml").read_bytes() == whole
        text = whole.decode("utf-8")


def test_register_and_promote_write_dvc_yaml_as_the_whole_rewrite(reg, repo, make_artifact):
    reg.register("churn", [make_artifact()], version="1.0.0")
    reg.register("fraud", [make_artifact()], version="1.0.0")
    reg.register("churn", [make_artifact()], version="1.1.0")
    reg.promote("churn", "1.0.0", "staging")
    reg.promote("fraud", "1.0.0", "staging")
    text = (repo / "dvc.yaml").read_text("utf-8")
    assert yamlio.dump(yaml.safe_load(text)) == text
    assert yaml.safe_load(text)["artifacts"]["churn"]["meta"]["stages"] == {"staging": "1.0.0"}
    # committed as written, and the record names exactly that content
    assert git(repo, "show", "HEAD:dvc.yaml") == text
    assert studio._known_canonical(reg.store.state_dir, text)
