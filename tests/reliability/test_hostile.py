"""Hostile input: always a clear error (exit 1-4, one line, no traceback), no write outside the
registry, nothing half-written. Names, stages and versions; YAML bombs; huge, binary and
ill-typed files; property-based runs with hypothesis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import git, snapshot
from gitreg import yamlio

HOSTILE = [
    "..", "../escape", "a/../../b", "a/b", "/abs", "a\\b", "-rf", "--help", "-", "a@b", "a#b", "a!b",
    "a b", " a", "a\n", "a\nb", "a\x00b", "a;rm -rf ~", "$(touch pwned)", "`touch pwned`", "a|b",
    "a&b", "a>b", "*", "a*", "~", "'", '"', "a'b", "\u0430bc",  # Cyrillic a
    "\uff41", "a\u200bb", "e\u0301", "\u202eevil", "", " ", "." , "a.", "a" * 10_000,
]
HOSTILE_VERSIONS = HOSTILE + ["v1.0.0", "1.0", "01.0.0", "1.0.0-", "1.0.0+", "1.0.0-01", "1.0.0\n",
                              "9" * 5000 + ".0.0", "1.0.0/../../x"]
OK_CODES = {1, 2, 3, 4}


def _outside(tmp_path: Path) -> set[str]:
    """Everything under the test's tmp dir except the registry itself (and DVC's scratch)."""
    return {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
            if "registry" not in p.relative_to(tmp_path).parts[:1]}


def _clear_error(r) -> None:
    if r.exit_code == 0 and r.output.startswith("Usage:"):
        return  # `--help` as an argument asks for help: harmless, nothing runs
    assert r.exit_code in OK_CODES, (r.exit_code, r.output)
    assert "Traceback" not in r.output
    assert "internal error" not in r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines, "an error must say something"


def _clear_error_or_warning(r) -> None:
    """A read over many files skips an unreadable one with a warning naming it (issue 11)."""
    if r.exit_code == 0:
        assert "warning: skipped models/" in r.stderr, r.output
        assert "Traceback" not in r.output and "internal error" not in r.output
        return
    _clear_error(r)


@pytest.fixture
def hostile_repo(seeded, tmp_path, make_artifact):
    art = make_artifact()
    return seeded, art


def test_hostile_names_and_stages_are_refused_and_touch_nothing(hostile_repo, tmp_path, cli):
    repo, art = hostile_repo
    before, outside = snapshot(repo), _outside(tmp_path)
    for bad in HOSTILE:
        for args in (("register", "--", bad, str(art)), ("show", bad),
                     ("promote", "--", bad, "1.0.0", "staging"), ("promote", "--", "m", "2.0.0", bad)):
            _clear_error(cli(repo, *args))
    assert snapshot(repo) == before
    assert _outside(tmp_path) == outside
    assert not Path("pwned").exists() and not (repo / "pwned").exists()


def test_hostile_versions_are_refused_and_touch_nothing(hostile_repo, tmp_path, cli):
    repo, art = hostile_repo
    before, outside = snapshot(repo), _outside(tmp_path)
    for bad in HOSTILE_VERSIONS:
        for args in (("register", "m", str(art), "--version", bad), ("promote", "--", "m", bad, "staging")):
            _clear_error(cli(repo, *args))
    assert snapshot(repo) == before
    assert _outside(tmp_path) == outside


BOMB = ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n")


def _commit_file(repo, rel, data: bytes):
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    git(repo, "add", "--", rel)
    git(repo, "commit", "-qm", f"hostile {rel[:40]}")


def test_yaml_bombs_are_refused_everywhere(seeded, cli, tmp_path, make_artifact):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    for args in (("register", "m", str(make_artifact()), "--metrics", str(bomb)),
                 ("register", "m", str(make_artifact()), "--params", str(bomb))):
        r = cli(seeded, *args)
        _clear_error(r)
        assert "anchors and aliases are not allowed" in r.stderr
    _commit_file(seeded, "models/m/2.0.0/manifest.yaml", BOMB.encode())
    for args in (("validate",), ("list",), ("show", "m"), ("history", "m"), ("doctor",)):
        r = cli(seeded, *args)
        _clear_error_or_warning(r)
        assert "anchors and aliases are not allowed" in r.output
    _commit_file(seeded, "gitreg.yaml", BOMB.encode())
    for args in (("list",), ("promote", "m", "1.0.0", "archived")):
        r = cli(seeded, *args)
        _clear_error(r)
        assert "anchors and aliases are not allowed" in r.stderr


def test_duplicate_keys_and_non_utf8_are_named(seeded, cli):
    path = seeded / "models/m/2.0.0/manifest.yaml"
    text = path.read_text()
    path.write_text(text + "stage: production\n")  # a second `stage:` key
    r = cli(seeded, "validate")
    assert r.exit_code == 1 and "duplicate key 'stage'" in r.stdout
    _commit_file(seeded, "models/m/2.0.0/manifest.yaml", b"name: m\ndescription: \xff\xfe\n")
    r = cli(seeded, "validate")
    assert r.exit_code == 1 and "not valid UTF-8" in r.stdout
    for args in (("list",), ("show", "m"), ("history", "m"), ("show", "m@2.0.0")):
        r = cli(seeded, *args)
        _clear_error_or_warning(r)
        assert "not valid UTF-8" in r.stderr


def test_a_50_mb_manifest_is_refused_quickly(seeded, cli):
    big = b"schema_version: 1\ndescription: " + b"x" * (50 * 1024 * 1024) + b"\n"
    _commit_file(seeded, "models/m/2.0.0/manifest.yaml", big)
    for args in (("validate",), ("list",), ("show", "m@2.0.0"), ("doctor",)):
        r = cli(seeded, *args)
        _clear_error_or_warning(r)
        assert "the limit is" in r.output


# -- property-based ---------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)
FIELDS = ["schema_version", "name", "version", "description", "created_at", "created_by", "metrics",
          "hyperparameters", "training", "artifacts", "tags", "custom", "stage", "approval", "history",
          "signature", "framework"]
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@SETTINGS
@given(changes=st.dictionaries(st.sampled_from(FIELDS), json_values, min_size=1, max_size=4),
       history_entry=st.dictionaries(st.sampled_from(["seq", "action", "from", "to", "at", "by"]),
                                     json_values, max_size=6))
def test_manifests_with_wrong_types_give_clear_errors(seeded, cli, changes, history_entry):
    path = seeded / "models/m/2.0.0/manifest.yaml"
    original = path.read_bytes()
    try:
        data = yamlio.load_file(path)
        data.update(changes)
        if isinstance(data.get("history"), list):
            data["history"].append(history_entry)
        path.write_text(json.dumps(data, allow_nan=True) if "nan" in repr(data) else yamlio.dump(data))
        git(seeded, "commit", "-qam", "fuzz", "--allow-empty")
        for args in (("validate",), ("list", "--json"), ("show", "m", "--json"), ("show", "m@2.0.0"),
                     ("history", "m", "--json"), ("doctor", "--json"), ("show", "m#production"),
                     ("promote", "m", "2.0.0", "staging")):
            r = cli(seeded, *args)
            assert r.exit_code in {0, 1, 2, 3, 4}, (args, r.output)
            assert "Traceback" not in r.output and "internal error" not in r.output, (args, r.output)
    finally:
        git(seeded, "reset", "-q", "--hard", "HEAD~1") if git(seeded, "log", "-1", "--format=%s") == "fuzz\n" else None
        path.write_bytes(original)
        git(seeded, "checkout", "-q", "--", ".")
        for tag in git(seeded, "tag", "-l", "m#staging#*").split():
            git(seeded, "tag", "-d", tag)


@SETTINGS
@given(name=st.text(max_size=120), stage=st.text(max_size=40), version=st.text(max_size=40))
def test_arbitrary_cli_arguments_never_crash(seeded, cli, name, stage, version):
    head = git(seeded, "rev-parse", "HEAD")
    for args in (("show", name), ("show", f"{name}@{version}"), ("show", f"m#{stage}"),
                 ("history", name), ("promote", "--", name, version, stage),
                 ("list", "--stage", stage), ("validate", "--base", version or "x")):
        r = cli(seeded, *args)
        assert r.exit_code in {0, 1, 2, 3, 4}, (args, r.output)
        assert "Traceback" not in r.output and "internal error" not in r.output, (args, r.output)
    assert git(seeded, "rev-parse", "HEAD") == head


def test_api_refuses_nul_bytes_and_paths_inside_git(seeded, make_artifact):
    """What argv cannot carry (a NUL) can still reach the Python API: one clear error."""
    from gitreg import Registry
    from gitreg.errors import UserError

    reg = Registry(seeded)
    before = snapshot(seeded)
    for call in (lambda: reg.register("m", ["a\x00b"]),
                 lambda: reg.register("m\x00", [make_artifact()]),
                 lambda: reg.register("m", [seeded / ".git" / "config"]),
                 lambda: reg.show("m@1.0.0\x00"),
                 lambda: reg.validate(base="HEAD\x00")):
        with pytest.raises(UserError):
            call()
    assert snapshot(seeded) == before


def test_no_shell_anywhere_in_gitreg():
    """Every process gitreg starts is an argument list: no shell=True, os.system or os.popen."""
    import gitreg

    root = Path(gitreg.__file__).parent
    offenders = [f"{p.relative_to(root)}: {needle}" for p in root.rglob("*.py")
                 for needle in ("shell=True", "os.system(", "os.popen(", "import pexpect")
                 if needle in p.read_text("utf-8")]
    assert offenders == []
