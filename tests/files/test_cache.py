"""The read cache (issue 6): summaries cached by model tree id and manifest blob id.

A changed, added or removed manifest is always seen; only changed model directories are
read again; a corrupt cache file is rebuilt, never trusted; the remembered validity of
gitreg.yaml never hides a broken one.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from gitreg import Registry, UserError, yamlio
from gitreg.git import Git
from gitreg.store import CACHE_VERSION

from conftest import git

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import generate  # noqa: E402


@pytest.fixture(scope="module")
def _generated(tmp_path_factory: pytest.TempPathFactory, _template: Path) -> Path:
    base = tmp_path_factory.mktemp("generated")
    generate.generate(base / "reg", 6, 4, seed=3, template=_template, dvc_remote=base / "dvc-remote")
    return base / "reg"


@pytest.fixture
def big(tmp_path: Path, _generated: Path) -> Path:
    """A generated registry (6 models x 4 versions with promotion history), one per test,
    without its committed summaries (tests/files/test_summaries.py has those): every read
    here goes through the local cache."""
    path = tmp_path / "gen"
    shutil.copytree(_generated, path, symlinks=True)
    git(path, "rm", "-q", "-r", ".gitreg/summaries")
    git(path, "commit", "-q", "-m", "a registry from before summaries")
    return path


def fresh(path: Path) -> dict[str, dict[str, dict]]:
    """What summaries() must return: computed from the manifests with no cache at all."""
    store = Registry(path).store
    out: dict[str, dict[str, dict]] = {}
    from gitreg.store import summarize

    for name in store.model_tree():
        manifests, _ = store.model_manifests(name)
        out[name] = {v: summarize(m) for v, m in manifests.items()}
    return out


def cache_file(path: Path) -> Path:
    return path / ".git" / "gitreg" / f"summaries-v{CACHE_VERSION}.json"


def warm(path: Path) -> dict[str, dict[str, dict]]:
    got = Registry(path).store.summaries()
    assert cache_file(path).exists()
    return got


def commit_all(path: Path, message: str) -> None:
    git(path, "add", "-A", "models")
    git(path, "commit", "-q", "-m", message)


class ParseSpy:
    """Records which blobs summaries() really reads from git."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.shas: list[str] = []
        real = Git.cat_blobs

        def spy(git_: Git, shas: Any) -> dict[str, bytes]:
            self.shas += list(shas)
            return real(git_, shas)

        monkeypatch.setattr(Git, "cat_blobs", spy)


def blob(path: Path, rel: str) -> str:
    return git(path, "rev-parse", f"HEAD:{rel}").strip()


def test_warm_cache_reads_no_manifest(big: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = warm(big)
    assert expected == fresh(big)
    spy = ParseSpy(monkeypatch)
    assert Registry(big).store.summaries() == expected
    assert spy.shas == []


def test_changed_manifest_is_seen_and_only_it_is_read(big: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = warm(big)
    name = sorted(before)[2]
    version = sorted(before[name])[0]
    path = big / "models" / name / version / "manifest.yaml"
    data = yamlio.load_file(path)
    data["stage"] = "archived" if data["stage"] != "archived" else "staging"
    data["history"].append({"seq": 999, "action": "archive", "from": before[name][version]["stage"],
                            "to": data["stage"], "at": "2026-11-27T20:00:00Z", "by": "alice@example.com"})
    path.write_text(yamlio.dump(data))
    commit_all(big, "edit one manifest by hand")
    spy = ParseSpy(monkeypatch)
    after = Registry(big).store.summaries()
    assert after[name][version]["stage"] == data["stage"]
    assert after[name][version]["max_seq"] == 999
    assert spy.shas == [blob(big, f"models/{name}/{version}/manifest.yaml")]
    assert after == fresh(big)


def test_promote_through_the_api_is_seen(big: Path) -> None:
    before = warm(big)
    name, version = next((n, v) for n in sorted(before) for v, s in sorted(before[n].items())
                         if s["stage"] == "none")
    Registry(big).promote(name, version, "staging", reason="cache test")
    after = Registry(big).store.summaries()
    assert after[name][version]["stage"] == "staging"
    assert after == fresh(big)
    listed = {m["name"]: m for m in Registry(big).list_models()["models"]}
    assert listed[name]["versions"] == len(before[name])


def test_an_alias_is_carried_by_the_summaries_and_list(big: Path) -> None:
    before = warm(big)
    name = sorted(before)[0]
    version = sorted(before[name])[0]
    Registry(big).alias(name, "champion", version)
    after = Registry(big).store.summaries()
    assert after[name][version]["aliases"] == ["champion"]
    assert after == fresh(big)
    listed = {m["name"]: m for m in Registry(big).list_models()["models"]}
    assert listed[name]["aliases"] == {"champion": version}
    assert json.loads(cache_file(big).read_text())["version"] == CACHE_VERSION == 4


def test_added_manifest_is_seen(big: Path) -> None:
    before = warm(big)
    name = sorted(before)[0]
    src = big / "models" / name / sorted(before[name])[0]
    dest = src.with_name("99.0.0")
    dest.mkdir()
    data = yamlio.load_file(src / "manifest.yaml")
    data["version"] = "99.0.0"
    (dest / "manifest.yaml").write_text(yamlio.dump(data))
    commit_all(big, "add a version by hand")
    after = Registry(big).store.summaries()
    assert set(after[name]) == set(before[name]) | {"99.0.0"}
    assert after == fresh(big)
    rows = {m["name"]: m for m in Registry(big).list_models()["models"]}
    assert rows[name]["latest"] == "99.0.0"


def test_added_model_is_seen(big: Path) -> None:
    before = warm(big)
    name = sorted(before)[0]
    src = big / "models" / name / sorted(before[name])[0]
    dest = big / "models" / "newcomer" / "1.0.0"
    dest.mkdir(parents=True)
    data = yamlio.load_file(src / "manifest.yaml")
    data.update(name="newcomer", version="1.0.0")
    (dest / "manifest.yaml").write_text(yamlio.dump(data))
    commit_all(big, "add a model by hand")
    after = Registry(big).store.summaries()
    assert set(after) == set(before) | {"newcomer"}
    assert after == fresh(big)


def test_removed_manifest_and_model_are_gone(big: Path) -> None:
    before = warm(big)
    one, two = sorted(before)[:2]
    version = sorted(before[one])[-1]
    git(big, "rm", "-q", "-r", f"models/{one}/{version}")
    git(big, "commit", "-q", "-m", "remove a version")
    after = Registry(big).store.summaries()
    assert version not in after[one] and len(after[one]) == len(before[one]) - 1
    git(big, "rm", "-q", "-r", f"models/{two}")
    git(big, "commit", "-q", "-m", "remove a model")
    after = Registry(big).store.summaries()
    assert two not in after
    assert after == fresh(big)


def test_checkout_of_an_older_commit_is_seen(big: Path) -> None:
    warm(big)
    git(big, "checkout", "-q", "HEAD~3")
    assert Registry(big).store.summaries() == fresh(big)
    git(big, "checkout", "-q", "main")
    assert Registry(big).store.summaries() == fresh(big)


CORRUPT = {
    "empty": b"",
    "garbage": b"\x00\xffnot json at all{",
    "truncated": None,  # the real file cut in half
    "null": b"null",
    "list": b"[1, 2, 3]",
    "old version": json.dumps({"version": CACHE_VERSION - 1, "models": {}}).encode(),
    "models not a mapping": json.dumps({"version": CACHE_VERSION, "models": [1]}).encode(),
    "wrong types": None,  # the real file with stage_seq turned into a string
    "lying summary": None,  # a summary for the wrong version key set
}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_corrupt_cache_is_rebuilt_never_trusted(big: Path, kind: str) -> None:
    expected = warm(big)
    path = cache_file(big)
    real = path.read_bytes()
    if kind == "truncated":
        content = real[: len(real) // 2]
    elif kind == "wrong types":
        data = json.loads(real)
        entry = next(iter(data["models"].values()))
        summary = next(iter(entry["versions"].values()))
        summary["stage_seq"] = str(summary["stage_seq"])
        summary["stage"] = "production"
        content = json.dumps(data).encode()
    elif kind == "lying summary":
        data = json.loads(real)
        entry = next(iter(data["models"].values()))
        entry["versions"]["42.0.0"] = next(iter(entry["versions"].values()))
        content = json.dumps(data).encode()
    else:
        content = CORRUPT[kind]
    path.write_bytes(content)
    assert Registry(big).store.summaries() == expected
    rebuilt = json.loads(path.read_bytes())
    assert rebuilt["version"] == CACHE_VERSION
    assert len(rebuilt["models"]) == len(expected)
    assert Registry(big).store.summaries() == expected


def test_unreadable_cache_location_still_reads(big: Path) -> None:
    expected = fresh(big)
    state = big / ".git" / "gitreg"
    state.mkdir(parents=True, exist_ok=True)
    cache_file(big).mkdir()  # a directory where the file should be: cannot read or write it
    assert Registry(big).store.summaries() == expected
    assert Registry(big).store.summaries() == expected


def test_unparseable_manifest_is_never_cached(big: Path) -> None:
    before = warm(big)
    name = sorted(before)[1]
    version = sorted(before[name])[0]
    (big / "models" / name / version / "manifest.yaml").write_text("- just\n- a list\n")
    commit_all(big, "break one manifest")
    after = Registry(big).store.summaries()
    assert version not in after[name] and len(after[name]) == len(before[name]) - 1
    # fixed: seen at once, the gap was not cached
    git(big, "revert", "--no-edit", "HEAD")
    assert Registry(big).store.summaries() == before


def test_invalid_config_is_refused_after_a_valid_one_was_remembered(repo: Path) -> None:
    reg = Registry(repo)
    reg.list_models()
    assert (repo / ".git" / "gitreg" / "config-valid").exists()
    reg.list_models()  # served from the remembered hash
    text = (repo / "gitreg.yaml").read_text()
    (repo / "gitreg.yaml").write_text(text.replace("schema_version: 1", "schema_version: 7"))
    with pytest.raises(UserError, match="gitreg.yaml"):
        Registry(repo).list_models()
    (repo / "gitreg.yaml").write_text(text)
    Registry(repo).list_models()


def test_a_forged_config_memo_is_not_trusted(repo: Path) -> None:
    text = (repo / "gitreg.yaml").read_text()
    (repo / "gitreg.yaml").write_text(text.replace("schema_version: 1", "schema_version: 7"))
    state = repo / ".git" / "gitreg"
    state.mkdir(parents=True, exist_ok=True)
    (state / "config-valid").write_text("0" * 64 + "\n")
    with pytest.raises(UserError, match="gitreg.yaml"):
        Registry(repo).list_models()


def test_a_warm_read_neither_parses_nor_validates_gitreg_yaml(repo: Path) -> None:
    """The remembered gitreg.yaml is used while its bytes (and the schema) are the same:
    a later read imports neither PyYAML nor jsonschema."""
    import subprocess

    Registry(repo).list_models()
    probe = ("import sys; from gitreg.ops.context import Context; from gitreg.ops import reads; "
             "ctx = Context.open(sys.argv[1]); reads.list_models(ctx); "
             "print(sorted(m for m in ('yaml', 'jsonschema') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe, str(repo)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    memo = json.loads((repo / ".git" / "gitreg" / "config-valid").read_bytes())
    assert memo["config"] == yamlio.load_file(repo / "gitreg.yaml")


@pytest.mark.parametrize("damage", ["config not a mapping", "truncated", "old format"])
def test_a_damaged_config_memo_is_parsed_again(repo: Path, damage: str) -> None:
    Registry(repo).list_models()
    path = repo / ".git" / "gitreg" / "config-valid"
    memo = json.loads(path.read_bytes())
    if damage == "config not a mapping":
        path.write_text(json.dumps({"key": memo["key"], "config": ["staging"]}))
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:50])
    else:
        path.write_text(memo["key"] + "\n")  # what gitreg wrote before it kept the config
    store = Registry(repo).store
    assert store.read_config() == yamlio.load_file(repo / "gitreg.yaml")
    assert json.loads(path.read_bytes()) == memo  # and remembered again


def test_a_config_json_would_change_is_not_remembered(repo: Path) -> None:
    store = Registry(repo).store
    path = repo / ".git" / "gitreg" / "config-valid"
    path.unlink(missing_ok=True)
    store._remember_config("k" * 64, {"a": {1: "int key"}})
    assert not path.exists()
    import datetime

    store._remember_config("k" * 64, {"a": datetime.date(2026, 1, 1)})
    assert not path.exists()


# -- the fast manifest scanner: same summaries as PyYAML, or it steps aside ---------------
from gitreg import fastscan  # noqa: E402
from gitreg.store import summarize  # noqa: E402

AWKWARD = {
    "plain": "name: a\nversion: 1.0.0\nstage: staging\nhistory:\n- seq: 1\n  action: promote\n  to: staging\n",
    "null stage": "name: a\nversion: 1.0.0\nstage: null\nhistory: []\n",
    "tilde stage": "name: a\nversion: 1.0.0\nstage: ~\n",
    "bool stage": "name: a\nversion: 1.0.0\nstage: yes\n",
    "float version": "name: a\nversion: 1.0\n",
    "int name": "name: 123\nversion: 1.0.0\n",
    "quoted": "name: 'a'\nversion: '1.0.0'\nstage: 'production'\n",
    "double quoted": 'name: "a"\nversion: 1.0.0\n',
    "escaped quote": "name: a\nversion: 1.0.0\ndescription: 'it''s fine'\nstage: staging\n",
    "apostrophe": "name: a\nversion: 1.0.0\ndescription: it's plain\nstage: staging\n",
    "multi-line quoted": "name: a\ndescription: 'one\n\n  two'\nstage: staging\nversion: 1.0.0\n",
    "multi-line quoted at column 0": "name: a\ndescription: 'one\nstage: production'\nstage: none\nversion: 1.0.0\n",
    "block scalar": "name: a\ndescription: |\n  stage: production\nstage: staging\nversion: 1.0.0\n",
    "folded scalar": "name: a\ndescription: >\n  text\nversion: 1.0.0\n",
    "flow history": "name: a\nversion: 1.0.0\nstage: staging\nhistory: [{seq: 1, action: promote, to: staging}]\n",
    "flow map over lines": "name: a\ncustom: {a: 1,\n  stage: production}\nversion: 1.0.0\nstage: staging\n",
    "indented history": "name: a\nversion: 1.0.0\nstage: staging\nhistory:\n  - seq: 1\n    action: promote\n    to: staging\n",
    "history entry without seq": "name: a\nversion: 1.0.0\nstage: staging\nhistory:\n- action: promote\n  to: staging\n",
    "string seq": "name: a\nversion: 1.0.0\nstage: staging\nhistory:\n- seq: '3'\n  action: promote\n  to: staging\n",
    "octal-looking seq": "name: a\nversion: 1.0.0\nstage: staging\nhistory:\n- seq: 010\n  action: promote\n  to: staging\n",
    "comment": "# a comment\nname: a  # trailing\nversion: 1.0.0\n",
    "duplicate key": "name: a\nversion: 1.0.0\nstage: staging\nstage: production\n",
    "document marker": "---\nname: a\nversion: 1.0.0\n",
    "top-level list": "- name: a\n",
    "scalar document": "just text\n",
    "empty": "",
    "anchor": "name: &n a\nversion: 1.0.0\n",
    "tag": "name: !!str a\nversion: 1.0.0\n",
    "nested history values": ("name: a\nversion: 1.0.0\nstage: production\nhistory:\n- seq: 4\n"
                              "  action: promote\n  from: staging\n  to: production\n  approved_by:\n"
                              "  - bob@example.com\n  results:\n    to: archived\n    seq: 99\n"),
    "long folded reason": ("name: a\nversion: 1.0.0\nstage: staging\nhistory:\n- seq: 2\n  action: promote\n"
                           "  to: staging\n  reason: " + "word " * 40 + "\n    more words\n  by: bob@example.com\n"),
    "unquoted timestamp": "name: a\nversion: 1.0.0\ncreated_at: 2026-11-27T20:00:00Z\n",
    "crlf": "name: a\r\nversion: 1.0.0\r\n",
    "tab": "name:\ta\nversion: 1.0.0\n",
    "key with space value colon": "name: a: b\nversion: 1.0.0\n",
    # a hand edit: a line of two spaces inside history (the scanner raised IndexError)
    "whitespace line in history": "name: a\nversion: 1.0.0\nhistory:\n- seq: 1\n  \n  action: promote\n",
    "whitespace line at the end": "name: a\nversion: 1.0.0\nhistory:\n- seq: 1\n  \n",
    "aliases": "name: a\nversion: 1.0.0\nstage: staging\naliases:\n- challenger\n- champion\nhistory: []\n",
    "aliases at the end": "name: a\nversion: 1.0.0\naliases:\n- champion\n",
    "empty aliases": "name: a\nversion: 1.0.0\naliases: []\n",
    "flow aliases": "name: a\nversion: 1.0.0\naliases: [champion]\n",
    "indented aliases": "name: a\nversion: 1.0.0\naliases:\n  - champion\n",
    "nested aliases": "name: a\nversion: 1.0.0\naliases:\n- champion\n  - x\n",
    "quoted alias": "name: a\nversion: 1.0.0\naliases:\n- 'champion'\n",
}


YAML_ERROR = object()  # what yaml_exact gives for a document PyYAML refuses


def yaml_exact(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return YAML_ERROR


def yaml_summary(text: str) -> Any:
    data = yaml_exact(text)
    if data is YAML_ERROR:
        return "error"
    if not isinstance(data, dict):
        return "not a mapping"
    try:
        return summarize(data)
    except Exception as exc:  # noqa: BLE001 - the error itself is the answer to match
        return type(exc).__name__


@pytest.mark.parametrize("kind", sorted(AWKWARD))
def test_fast_scanner_agrees_with_pyyaml_or_steps_aside(kind: str) -> None:
    text = AWKWARD[kind]
    fields = fastscan.scan(text)
    if fields is not None:
        assert summarize(fields) == yaml_summary(text)
    if kind in ("plain", "quoted", "null stage", "escaped quote", "nested history values",
                "long folded reason", "tilde stage", "aliases", "aliases at the end", "empty aliases"):
        assert fields is not None, "gitreg's own plain form must take the fast path"


def test_fast_scanner_reads_every_generated_and_dumped_manifest(big: Path) -> None:
    import random

    rng = random.Random(6)
    texts = [p.read_text() for p in sorted((big / "models").glob("*/*/manifest.yaml"))]
    words = ["a", "it's", "x: y", "#5", "'q'", '"dq"', "- item", "line\nbreak", "ü", "{b}", "[c]",
             "null", "yes", "0x1f", "  lead", "trail  ", "*star", "&amp", "%p", "@at"]
    base = yamlio.load_file(next((big / "models").glob("*/*/manifest.yaml")))
    for i in range(300):
        m = json.loads(json.dumps(base))
        m["description"] = " ".join(rng.choice(words) for _ in range(rng.randint(0, 30)))
        m["stage"] = rng.choice(["none", "staging", "production", "archived"])
        if i % 2:
            m["aliases"] = sorted(rng.sample(["champion", "challenger", "b-2", "null", "yes"],
                                             rng.randint(0, 3)))
        m["history"] = [{"seq": j + 1, "action": rng.choice(["register", "promote", "archive", "rollback"]),
                         "from": rng.choice(["none", "staging"]), "to": rng.choice(["staging", "production"]),
                         "reason": " ".join(rng.choice(words) for _ in range(rng.randint(0, 25))),
                         **({"approved_by": ["bob@example.com"]} if j % 3 else {})}
                        for j in range(rng.randint(0, 6))]
        texts.append(yamlio.dump(m))
    fast = 0
    for text in texts:
        fields = fastscan.scan(text)
        if fields is not None:
            fast += 1
            assert summarize(fields) == yaml_summary(text), text
    generated = len(texts) - 300
    assert fast >= generated  # every generated manifest (gitreg's own output) is read fast


# -- the finished answer of `gitreg list` (issue 16) -----------------------------------------

def answer_file(path: Path) -> Path:
    from gitreg.store import cache

    return path / ".git" / "gitreg" / f"answer-list-v{cache.ANSWER_VERSION}.json"


def listed_fresh(path: Path, include_deprecated: bool = False) -> dict[str, Any]:
    """`list` computed with no cache of any kind."""
    for p in (answer_file(path), cache_file(path)):
        if p.exists():
            p.unlink()
    got = Registry(path).list_models(include_deprecated=include_deprecated)
    answer_file(path).unlink()
    return got


def test_list_answer_is_cached_and_read_without_any_summary(big: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = listed_fresh(big)
    assert Registry(big).list_models() == expected
    assert answer_file(big).exists()
    from gitreg.store import cache

    def no_summaries(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a warm list must not read the summaries")

    monkeypatch.setattr(cache, "summaries", no_summaries)
    assert Registry(big).list_models() == expected
    assert Registry(big).list_models(stage="production")["models"] == \
        [m for m in expected["models"] if "production" in m["stages"]]


def test_list_answer_follows_every_change_of_the_models(big: Path) -> None:
    Registry(big).list_models()
    before = json.loads(answer_file(big).read_bytes())
    summaries = Registry(big).store.summaries()
    name, version = next((n, v) for n in sorted(summaries) for v, s in sorted(summaries[n].items())
                         if s["stage"] == "none")
    Registry(big).promote(name, version, "staging", reason="answer cache test")
    after = Registry(big).list_models()
    assert after == listed_fresh(big)
    assert {m["name"]: m for m in after["models"]}[name]["stages"]["staging"] == version
    # an answer of another tree is never served, even put back by hand
    answer_file(big).write_text(json.dumps(before))
    assert Registry(big).list_models() == after
    git(big, "checkout", "-q", "HEAD~1")
    assert Registry(big).list_models() == listed_fresh(big)
    git(big, "checkout", "-q", "main")
    assert Registry(big).list_models() == after


def test_list_answer_depends_on_the_lifecycle(big: Path) -> None:
    Registry(big).list_models()
    before = Registry(big).list_models()
    config = yamlio.load_file(big / "gitreg.yaml")
    config["stages"] = list(reversed(config["stages"]))  # the display order of each row's stages
    (big / "gitreg.yaml").write_text(yamlio.dump(config))
    got = Registry(big).list_models()
    assert got == listed_fresh(big)
    row = next(m for m in got["models"] if len(m["stages"]) > 1)
    assert list(row["stages"]) != list(next(m for m in before["models"] if m["name"] == row["name"])["stages"])


ANSWER_CORRUPT = ["empty", "garbage", "truncated", "null", "list", "no key", "wrong row type", "extra field"]


@pytest.mark.parametrize("kind", ANSWER_CORRUPT)
def test_corrupt_list_answer_is_rebuilt_never_trusted(big: Path, kind: str) -> None:
    expected = listed_fresh(big)
    Registry(big).list_models()
    path = answer_file(big)
    real = json.loads(path.read_bytes())
    if kind == "empty":
        content = b""
    elif kind == "garbage":
        content = b"\x00\xffnot json{"
    elif kind == "truncated":
        content = path.read_bytes()[:40]
    elif kind == "null":
        content = b"null"
    elif kind == "list":
        content = b"[1, 2]"
    elif kind == "no key":
        content = json.dumps({"answer": real["answer"]}).encode()
    elif kind == "wrong row type":
        real["answer"][0]["versions"] = "99"
        content = json.dumps(real).encode()
    else:
        real["answer"][0]["owner"] = "mallory"
        content = json.dumps(real).encode()
    path.write_bytes(content)
    assert Registry(big).list_models() == expected
    assert json.loads(path.read_bytes())["answer"] == expected["models"]


def test_list_answer_is_never_cached_with_an_unreadable_manifest(big: Path) -> None:
    before = listed_fresh(big)
    name = before["models"][1]["name"]
    version = sorted(p.name for p in (big / "models" / name).iterdir() if p.is_dir())[0]
    (big / "models" / name / version / "manifest.yaml").write_text("- just\n- a list\n")
    commit_all(big, "break one manifest")
    for _ in range(2):  # the warning comes every time: nothing was cached
        reg = Registry(big)
        reg.list_models()
        assert any(f"models/{name}/{version}/manifest.yaml" in w for w in reg.store.warnings)
        assert not answer_file(big).exists()
    git(big, "revert", "--no-edit", "HEAD")
    assert Registry(big).list_models() == before


def _outcome(read: Any, text: str) -> Any:
    try:
        return read(text)
    except fastscan._Unsupported:
        return "unsupported"


def test_the_strict_form_reads_what_the_line_scanner_reads(big: Path) -> None:
    """Text in the strict form (one regex, issue 16) gives exactly what the line-by-line
    scanner gives; gitreg's own manifests are all in it. Checked on the awkward table,
    every generated manifest and thousands of random edits of them."""
    import random

    rng = random.Random(16)
    generated = [p.read_text() for p in sorted((big / "models").glob("*/*/manifest.yaml"))]
    assert generated and all(fastscan._STRICT.fullmatch(t) for t in generated)
    texts = list(AWKWARD.values()) + generated
    pieces = ["'", "''", " ", "  ", ":", ": ", " #", "#", "-", "- ", "{", "}", "[]", "{}", "|", ">",
              "!", "%", "@", "`", ",", "?", "\n", "\n  ", "\n- ", "seq: 3", "to: x", "x", "0", "07", "1.5",
              "null", "~", "yes", "history:", "aliases:", "stage: production", "\n- seq: 9\n"]
    for _ in range(6000):
        lines = rng.choice(generated).split("\n")
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(lines))
            edit = rng.randrange(4)
            if edit == 0:
                at = rng.randint(0, len(lines[i]))
                lines[i] = lines[i][:at] + rng.choice(pieces) + lines[i][at:]
            elif edit == 1:
                lines.insert(i, lines[rng.randrange(len(lines))])
            elif edit == 2 and len(lines) > 1:
                del lines[i]
            else:
                lines[i] = rng.choice(["", " ", "  ", "- "]) + lines[i].lstrip(" -")
        texts.append("\n".join(lines))
    strict = 0
    for text in texts:
        if fastscan._STRICT.fullmatch(text):
            strict += 1
            assert _outcome(fastscan._extract, text) == _outcome(fastscan._scan, text), text
    assert strict > len(generated) + 1000  # many edits stay in the strict form and are compared


def _spy_summaries(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The `names` of every summaries() call (None: every model), still computed."""
    from gitreg.store import cache

    calls: list[Any] = []
    real = cache.summaries

    def spy(store: Any, rev: str = "HEAD", names: Any = None) -> Any:
        calls.append(None if names is None else sorted(names))
        return real(store, rev, names)

    monkeypatch.setattr(cache, "summaries", spy)
    return calls


def test_after_a_change_only_the_changed_models_rows_are_built(big: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Registry(big).list_models()
    summaries = Registry(big).store.summaries()
    name, version = next((n, v) for n in sorted(summaries) for v, s in sorted(summaries[n].items())
                         if s["stage"] == "none")
    Registry(big).promote(name, version, "staging", reason="partial answer test")
    calls = _spy_summaries(monkeypatch)
    got = Registry(big).list_models()
    assert calls == [[name]]
    monkeypatch.undo()
    assert got == listed_fresh(big)


def test_the_partial_answer_is_the_full_one_after_any_kind_of_change(big: Path, make_artifact,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations, promotions, deprecation, a new model, a hand-edited manifest, a
    removed model, a file beside the models and a return to an older commit: each time the
    answer built from the saved rows is the one built from nothing."""
    reg = Registry(big)
    reg.list_models()
    names = sorted(reg.store.summaries())

    def hand_edit() -> None:
        path = sorted((big / "models" / names[1]).glob("*/manifest.yaml"))[0]
        path.write_text(path.read_text().replace("description:", "description: edited by hand;", 1))
        commit_all(big, "hand edit")

    def remove_model() -> None:
        git(big, "rm", "-q", "-r", "--ignore-unmatch", f"models/{names[2]}", f".gitreg/summaries/{names[2]}.json")
        git(big, "commit", "-q", "-m", "remove a model by hand")

    def beside() -> None:
        (big / "models" / "README.md").write_text("models live here\n")
        commit_all(big, "a file beside the models")

    steps = [
        lambda: reg.register(names[0], [make_artifact()], bump="minor"),
        lambda: reg.register("brand-new", [make_artifact()], version="1.0.0"),
        lambda: reg.promote("brand-new", "1.0.0", "staging", reason="partial answer test"),
        lambda: reg.deprecate(names[3], reason="partial answer test"),
        hand_edit, remove_model, beside,
        lambda: git(big, "checkout", "-q", "HEAD~3"),
        lambda: git(big, "checkout", "-q", "main"),
    ]
    for step in steps:
        step()
        calls = _spy_summaries(monkeypatch)
        got = Registry(big).list_models(include_deprecated=True)
        monkeypatch.undo()
        assert calls and None not in calls  # built from the saved rows, not from nothing
        Registry(big).list_models()  # a hit of what the line above saved
        assert got == listed_fresh(big, include_deprecated=True)
        Registry(big).list_models()  # saved again for the next step


def test_many_changed_models_are_built_in_one_pass(big: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitreg.store import cache

    Registry(big).list_models()
    monkeypatch.setattr(cache, "PARTIAL_LIMIT", 1)
    for name in sorted(Registry(big).store.summaries())[:2]:
        path = sorted((big / "models" / name).glob("*/manifest.yaml"))[0]
        path.write_text(path.read_text() + "# touched\n")
    commit_all(big, "two models touched")
    calls = _spy_summaries(monkeypatch)
    got = Registry(big).list_models()
    assert calls == [None]
    monkeypatch.undo()
    assert got == listed_fresh(big)


@pytest.mark.parametrize("kind", ["trees not a map", "a row without its tree", "rows out of order",
                                  "a row twice", "a tree id not a string", "another lifecycle"])
def test_saved_rows_that_are_not_what_answer_writes_are_not_reused(big: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    kind: str) -> None:
    Registry(big).list_models()
    path = answer_file(big)
    data = json.loads(path.read_bytes())
    name = data["answer"][0]["name"]
    if kind == "trees not a map":
        data["trees"] = list(data["trees"])
    elif kind == "a row without its tree":
        del data["trees"][name]
    elif kind == "rows out of order":
        data["answer"].reverse()
    elif kind == "a row twice":
        data["answer"].insert(0, data["answer"][0])
    elif kind == "a tree id not a string":
        data["trees"][name] = 7
    else:
        data["parts"] = "0" * 64
    data["key"] = "0" * 64  # as after a change: the whole answer is not served
    path.write_text(json.dumps(data))
    calls = _spy_summaries(monkeypatch)
    got = Registry(big).list_models()
    assert calls == [None]
    monkeypatch.undo()
    assert got == listed_fresh(big)


# -- the whole-manifest reader: PyYAML's answer, types included, or it steps aside --------
from gitreg import blockyaml  # noqa: E402

BLOCK = {
    **AWKWARD,
    "nested": "a:\n  b:\n    c: 1\n  d: []\ne: {}\n",
    "sequence in sequence": "a:\n- - 1\n  - 2\n- - 3\n- x\n",
    "mapping items": "a:\n- x: 1\n  y:\n  - 1\n  - 2\n- z: null\n",
    "indented sequence": "a:\n    - 1\n    - b: 2\n      c: 3\nd: 4\n",
    "floats": "a: 0.8849\nb: -1.5e-07\nc: 1.0\nd: .5\ne: 1.\nf: 1e5\ng: .inf\nh: .NaN\n",
    "ints": "a: 0\nb: -12\nc: +3\nd: 017\ne: 0x1f\nf: 1_000\ng: 1:30\nh: 0o7\n",
    "bools": "a: yes\nb: No\nc: TRUE\nd: off\ne: y\nf: n\n",
    "nulls": "a: ~\nb: null\nc:\nd: Null\n",
    "quoted keys": "'a b': 1\n'it''s': 2\n'1': 3\n",
    "non-string keys": "1: a\n",
    "bool key": "yes: a\n",
    "null key": "~: a\n",
    "merge key": "a: {}\n<<: {}\n",
    "value with colon": "url: http://example.com/x\nat: 'a: b'\n",
    "sexagesimal": "time: 12:30\n",
    "value with hash": "a: b#c\nd: e #f\n",
    "empty after colon with space": "a: \n",
    "dash alone": "a:\n-\n- 1\n",
    "dash plain": "a: -x\nb: - x\n",
    "deeper line after scalar": "a: b\n  c: d\n",
    "item then key at same indent": "a:\n- 1\nb: 2\n",
    "wrong dedent": "a:\n    b: 1\n  c: 2\n",
    "unicode": "a: grüße\nb: '日本'\n",
    "nel": "a: x\x85y\n",
    "line separator": "a: x\u2028y\n",
    "control": "a: x\x07y\n",
    "bom": "\ufeffa: 1\n",
    "no final newline": "a: 1",
    "question key": "? a\n: 1\n",
    "trailing space": "a: b \n",
    "two spaces": "a:  b\n",
    "top-level sequence": "- 1\n- 2\n",
    "empty quoted": "a: ''\n",
    "lone quote": "a: 'it's'\n",
}




def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (1, 1.0 and True are not the same)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)


@pytest.mark.parametrize("kind", sorted(BLOCK))
def test_block_reader_agrees_with_pyyaml_or_steps_aside(kind: str) -> None:
    text = BLOCK[kind]
    data = blockyaml.load(text)
    if data is not None:
        assert same(data, yaml_exact(text)), (data, yaml_exact(text))
    if kind in ("plain", "quoted", "null stage", "escaped quote", "nested history values", "nested",
                "sequence in sequence", "mapping items", "indented sequence", "nulls", "quoted keys",
                "value with colon", "unicode", "empty quoted", "aliases", "apostrophe"):
        assert data is not None, "gitreg's own form must take the fast path"


def test_block_reader_reads_every_generated_and_dumped_manifest(big: Path) -> None:
    import random

    rng = random.Random(16)
    texts = [p.read_text() for p in sorted((big / "models").glob("*/*/manifest.yaml"))]
    generated = len(texts)
    words = ["a", "it's", "x: y", "#5", "'q'", '"dq"', "- item", "line\nbreak", "ü", "{b}", "[c]",
             "null", "yes", "0x1f", "  lead", "trail  ", "*star", "&amp", "%p", "@at", "1.5", "007",
             "2026-01-01", "1e5", "~", "true", "-1", ": x", "a:b", "\t", "é" * 60]
    scalars: list[Any] = [None, True, False, 0, -3, 2**70, 0.1, -2.5e-9, 1e300, "", "null", "1.0"]
    base = yamlio.load_file(next((big / "models").glob("*/*/manifest.yaml")))

    def value(depth: int) -> Any:
        roll = rng.random()
        if depth < 3 and roll < 0.2:
            return {" ".join(rng.choice(words) for _ in range(rng.randint(1, 2))): value(depth + 1)
                    for _ in range(rng.randint(0, 4))}
        if depth < 3 and roll < 0.35:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        if roll < 0.6:
            return rng.choice(scalars)
        return " ".join(rng.choice(words) for _ in range(rng.randint(0, 12)))

    for _ in range(400):
        m = json.loads(json.dumps(base))
        m["description"] = value(3)
        m["custom"] = value(0)
        m["metrics"] = {rng.choice(words): rng.choice(scalars) for _ in range(rng.randint(0, 5))}
        m["history"] = [{"seq": j + 1, "action": "promote", "reason": value(2)} for j in range(rng.randint(0, 5))]
        texts.append(yamlio.dump(m))
    fast = []
    for text in texts:
        data = blockyaml.load(text)
        fast.append(data is not None)
        if data is not None:
            assert same(data, yaml_exact(text)), text
    assert all(fast[:generated])  # every manifest gitreg wrote is read fast
    assert sum(fast[generated:]) >= 50  # and dumps of plain values (the awkward words step aside)
