"""Bad input: a one-line error naming the problem and the fix, the documented exit code,
no traceback, and the repository exactly as before."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import git, gitreg_exe, snapshot


@pytest.fixture(scope="module")
def _seeded_template(tmp_path_factory, _template, session_home):
    """A registry with churn 1.0.0, built once for this module (register costs a DVC run)."""
    import os

    from conftest import _base_env
    from gitreg import Registry

    base = tmp_path_factory.mktemp("seeded")
    path = base / "registry"
    shutil.copytree(_template, path, symlinks=True)
    art = base / "model.pkl"
    art.write_bytes(os.urandom(1000))
    Registry(path, env=_base_env(session_home)).register("churn", [art], version="1.0.0")
    return path


@pytest.fixture
def seeded(_seeded_template, tmp_path):
    path = tmp_path / "registry"
    shutil.copytree(_seeded_template, path, symlinks=True)
    return path


def assert_one_line_error(result, code, *words):
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines, "no error message"
    last = lines[-1]
    assert last.startswith("error: ") and "(hint: " in last, last
    assert "Traceback" not in result.output
    for w in words:
        assert w.lower() in last.lower(), (w, last)


BAD_NAMES = ["../x", "a b", "a@b", "a#b", "", "x" * 101, "a/b", "a\\b", "a\nb", "a;b", "ä"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_model_names_on_register(cli, seeded, make_artifact, name):
    art = make_artifact()
    before = snapshot(seeded)
    r = cli(seeded, "register", "--", name, str(art))
    assert_one_line_error(r, 1, "name")
    assert snapshot(seeded) == before


def test_leading_dash_name_is_a_usage_error_or_refused(cli, seeded, make_artifact):
    art = make_artifact()
    before = snapshot(seeded)
    assert cli(seeded, "register", "-x", str(art)).exit_code == 2
    assert_one_line_error(cli(seeded, "register", "--", "-x", str(art)), 1, "invalid model name")
    assert snapshot(seeded) == before


@pytest.mark.parametrize("version", ["1", "1.0", "01.0.0", "v1.0.0x", "1.0.0.0", "latest", " 1.0.0"])
def test_bad_versions(cli, seeded, make_artifact, version):
    art = make_artifact()
    before = snapshot(seeded)
    assert_one_line_error(cli(seeded, "register", "churn", str(art), "--version", version), 1, "version")
    assert_one_line_error(cli(seeded, "show", f"churn@{version}"), 1, "version")
    assert snapshot(seeded) == before


def test_unknown_model_and_version(cli, seeded):
    before = snapshot(seeded)
    assert_one_line_error(cli(seeded, "show", "churm"), 1, "not registered", "churn")
    assert_one_line_error(cli(seeded, "history", "nope"), 1, "not registered")
    assert_one_line_error(cli(seeded, "show", "churn@9.9.9"), 1, "no version 9.9.9", "1.0.0")
    assert_one_line_error(cli(seeded, "promote", "nope", "1.0.0", "staging"), 1, "not registered")
    assert snapshot(seeded) == before


def test_missing_artifact_path(cli, seeded, tmp_path):
    before = snapshot(seeded)
    assert_one_line_error(cli(seeded, "register", "churn", str(tmp_path / "nope.pkl")), 1,
                          "does not exist")
    assert snapshot(seeded) == before


@pytest.mark.parametrize("content,word,suffix", [
    ("{not json", "invalid json", ".json"), ("[1, 2]", "mapping", ".json"),
    (b"\xff\xfe\x00bad", "utf-8", ".json"), ("a: &x [1]\nb: *x\n", "aliases", ".yaml"),
])
def test_malformed_metrics_file(cli, seeded, make_artifact, tmp_path, content, word, suffix):
    bad = tmp_path / f"metrics{suffix}"
    bad.write_bytes(content.encode() if isinstance(content, str) else content)
    art = make_artifact()
    before = snapshot(seeded)
    assert_one_line_error(cli(seeded, "register", "churn", str(art), "--metrics", str(bad)), 1, word)
    assert_one_line_error(cli(seeded, "register", "churn", str(art), "--metric", "auc=high"), 1,
                          "non-numeric")
    assert_one_line_error(cli(seeded, "register", "churn", str(art), "--metric", "auc"), 1, "key=value")
    assert snapshot(seeded) == before


def test_not_a_registry(cli, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert_one_line_error(cli(plain, "list"), 1, "not a git repository", "gitreg init")
    git(plain, "init", "-q")
    assert_one_line_error(cli(plain, "list"), 1, "not a gitreg registry", "gitreg init")
    assert_one_line_error(cli(tmp_path / "missing", "list"), 1, "no such directory")
    assert list(plain.iterdir()) == [plain / ".git"]


def test_dirty_tree_under_models_is_a_conflict(cli, seeded, make_artifact):
    (seeded / "models" / "churn" / "notes.txt").write_text("wip")
    art = make_artifact()
    before = snapshot(seeded)
    assert_one_line_error(cli(seeded, "register", "churn", str(art)), 4, "uncommitted", "commit or stash")
    assert_one_line_error(cli(seeded, "promote", "churn", "1.0.0", "staging"), 4, "uncommitted")
    assert snapshot(seeded) == before


def test_wrong_branch_is_a_conflict(cli, seeded, make_artifact):
    git(seeded, "switch", "-q", "-c", "feature")
    before = snapshot(seeded)
    assert_one_line_error(cli(seeded, "register", "churn", str(make_artifact())), 4, "git switch main")
    assert snapshot(seeded) == before


def test_manifest_failing_the_schema_is_reported_with_positions(cli, seeded):
    path = seeded / "models" / "churn" / "1.0.0" / "manifest.yaml"
    text = path.read_text().replace("schema_version: 1\n", "schema_version: 1\nbogus: true\n")
    text = text.replace("metrics: {}", "metrics:\n  auc: high")
    path.write_text(text)
    before = snapshot(seeded)
    r = cli(seeded, "validate")
    assert r.exit_code == 1
    out = r.stdout.splitlines()
    assert any(ln.startswith("models/churn/1.0.0/manifest.yaml:1:1:") and "bogus" in ln for ln in out), out
    assert any(":" in ln and "auc" in ln for ln in out), out
    assert "problem(s)" in r.stderr.splitlines()[-1]
    assert snapshot(seeded) == before


def test_unknown_command_and_option_are_usage_errors(cli, seeded):
    assert cli(seeded, "frobnicate").exit_code == 2
    assert cli(seeded, "list", "--nope").exit_code == 2
    assert cli(seeded, "register", "churn", "x", "--bump", "huge").exit_code == 1


def test_real_subprocess_error_has_no_traceback(seeded, isolated_env):
    proc = subprocess.run([*gitreg_exe(), "show", "churn@1.0"], cwd=seeded, env=isolated_env,
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error: invalid version")
    assert "Traceback" not in proc.stderr
