"""The committed per-model summaries (issue 16): `.gitreg/summaries/NAME.json`.

Written by every change in the same commit, keyed by the model directory's tree id; a
fresh clone's `list` reads them instead of every manifest. Never trusted when the key
differs (a hand edit, a merge), nor when unreadable; a summary that matches its key but
not the manifests is an error for validate, doctor and ci check; doctor --fix writes the
missing, stale and wrong ones in one commit.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gitreg import Registry, yamlio
from gitreg.git import Git
from gitreg.store.summary import SUMMARY_DIR, check, parse, summary_path

from conftest import git
from files.test_cache import ParseSpy, commit_all, fresh, _generated  # noqa: F401


@pytest.fixture
def big(tmp_path: Path, _generated: Path) -> Path:
    """A generated registry (6 models x 4 versions), with its summaries, one per test."""
    path = tmp_path / "gen"
    shutil.copytree(_generated, path, symlinks=True)
    return path


def key_of(path: Path, name: str) -> str:
    return git(path, "rev-parse", f"HEAD:models/{name}").strip()


def committed_summary(path: Path, name: str) -> dict[str, Any]:
    raw = git(path, "show", f"HEAD:{summary_path(name)}").encode()
    entry = parse(raw, name)
    assert entry is not None, raw
    return entry


def clone(src: Path, dest: Path) -> Path:
    git(src.parent, "clone", "-q", str(src), str(dest))
    return dest


def manifest_reads(spy: ParseSpy, path: Path) -> list[str]:
    """The blobs read that are manifests (summaries are read by design)."""
    manifests = {line.split()[2] for line in git(path, "ls-tree", "-r", "HEAD", "models").splitlines()
                 if line.endswith("manifest.yaml")}
    return [s for s in spy.shas if s in manifests]


def test_every_change_commits_the_models_summary_keyed_by_its_tree(repo: Path, make_artifact: Any) -> None:
    reg = Registry(repo)
    reg.register("churn", [make_artifact()], version="1.0.0")
    reg.register("churn", [make_artifact()], version="1.1.0")
    reg.promote("churn", "1.0.0", "staging", reason="try it")
    reg.alias("churn", "champion", "1.0.0")
    changed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert summary_path("churn") in changed
    entry = committed_summary(repo, "churn")
    assert entry["tree"] == key_of(repo, "churn")
    assert entry["versions"] == fresh(repo)["churn"]
    assert entry["versions"]["1.0.0"]["stage"] == "staging"
    assert entry["versions"]["1.0.0"]["aliases"] == ["champion"]
    assert entry["blobs"] == {v: git(repo, "rev-parse", f"HEAD:models/churn/{v}/manifest.yaml").strip()
                              for v in ("1.0.0", "1.1.0")}
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert check(reg.store) == ([], [])


def test_a_fresh_clone_lists_from_the_summaries_without_reading_a_manifest(
        big: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = Registry(big).list_models()
    fresh_clone = clone(big, tmp_path / "clone")
    spy = ParseSpy(monkeypatch)
    assert Registry(fresh_clone).list_models() == expected
    assert spy.shas, "the summaries are read through cat-file"
    assert manifest_reads(spy, fresh_clone) == []
    assert Registry(fresh_clone).store.summaries() == fresh(fresh_clone)


def test_a_hand_edited_manifest_makes_its_summary_stale_and_is_seen(
        big: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = sorted(fresh(big))[1]
    version = sorted(fresh(big)[name])[0]
    path = big / "models" / name / version / "manifest.yaml"
    data = yamlio.load_file(path)
    data["description"] = "edited by hand"
    data["stage"] = "archived"
    data["history"].append({"seq": 999, "action": "archive", "from": "none", "to": "archived",
                            "at": "2026-12-01T10:00:00Z", "by": "alice@example.com"})
    path.write_text(yamlio.dump(data))
    commit_all(big, "edit a manifest with plain git")
    assert committed_summary(big, name)["tree"] != key_of(big, name)
    fresh_clone = clone(big, tmp_path / "clone")
    spy = ParseSpy(monkeypatch)
    got = Registry(fresh_clone).store.summaries()
    read = manifest_reads(spy, fresh_clone)
    assert got[name][version]["stage"] == "archived" and got[name][version]["max_seq"] == 999
    assert got == fresh(fresh_clone)
    # only the stale model's manifests are read
    ours = {line.split()[2] for line in git(fresh_clone, "ls-tree", "-r", "HEAD", f"models/{name}").splitlines()}
    assert read and set(read) <= ours
    problems, stale = check(Registry(fresh_clone).store)
    assert problems == [] and stale == [name]


@pytest.mark.parametrize("damage", ["not json", "truncated", "wrong model", "extra field", "bad type"])
def test_an_unreadable_summary_is_never_trusted(big: Path, tmp_path: Path, damage: str,
                                                cli: Any) -> None:
    expected = Registry(big).list_models()
    name = sorted(fresh(big))[0]
    target = big / summary_path(name)
    text = target.read_text()
    data = json.loads(text)
    if damage == "not json":
        text = "<<<<<<< HEAD\n" + text
    elif damage == "truncated":
        text = text[: len(text) // 2]
    elif damage == "wrong model":
        text = text.replace(f'"model": "{name}"', '"model": "other"')
    elif damage == "extra field":
        first = sorted(data["versions"])[0]
        text = text.replace(f'"{first}": {{', f'"{first}": {{"extra": 1, ', 1)
    else:
        text = text.replace('"max_seq": ', '"max_seq": "', 1).replace(', "name"', '", "name"', 1)
    target.write_text(text)
    git(big, "commit", "-q", "-am", "damage a summary")
    fresh_clone = clone(big, tmp_path / "clone")
    assert Registry(fresh_clone).list_models() == expected
    problems, _ = check(Registry(fresh_clone).store)
    assert problems == [f"{summary_path(name)}: not a summary gitreg can read"]
    result = cli(fresh_clone, "doctor")
    assert result.exit_code != 0 and summary_path(name) in result.output


def test_a_forged_summary_is_an_error_for_validate_doctor_and_ci_check(
        big: Path, tmp_path: Path, cli: Any) -> None:
    summaries = fresh(big)
    name = sorted(summaries)[0]
    version = next(v for v, s in sorted(summaries[name].items()) if s["stage"] != "production")
    base = git(big, "rev-parse", "HEAD").strip()
    target = big / summary_path(name)
    lines = target.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith(f'  "{version}": '))
    stage = json.loads(lines[at].split(": ", 1)[1].rstrip(",\n"))["stage"]
    lines[at] = lines[at].replace(f'"stage": "{stage}"', '"stage": "production"')
    target.write_text("".join(lines))
    git(big, "commit", "-q", "-am", "claim production without a promotion")
    assert committed_summary(big, name)["tree"] == key_of(big, name)  # the key still matches
    wrong = f"{summary_path(name)}: does not match the manifests of models/{name}"
    assert check(Registry(big).store)[0] == [wrong]
    result = cli(big, "validate")
    assert result.exit_code == 1 and wrong in result.output
    result = cli(big, "ci", "check", "--base", base)
    assert result.exit_code != 0 and wrong in result.output
    result = cli(big, "doctor")
    assert result.exit_code != 0 and wrong in result.output
    result = cli(big, "doctor", "--fix")
    assert result.exit_code == 0, result.output
    assert check(Registry(big).store) == ([], [])
    assert committed_summary(big, name)["versions"][version]["stage"] == stage
    assert git(big, "show", "--name-only", "--format=", "HEAD").split() == [summary_path(name)]


def test_doctor_fix_writes_the_summaries_a_registry_lacks_in_one_commit(
        big: Path, tmp_path: Path, cli: Any) -> None:
    expected = Registry(big).list_models()
    git(big, "rm", "-q", "-r", SUMMARY_DIR)
    git(big, "commit", "-q", "-m", "a registry from before summaries")
    before = git(big, "rev-parse", "HEAD").strip()
    tags = git(big, "for-each-ref", "refs/tags")
    result = cli(big, "doctor")
    assert result.exit_code == 0, result.output
    assert "6 model(s) have no up-to-date summary" in result.output
    result = cli(big, "doctor", "--fix")
    assert result.exit_code == 0 and "wrote 6 model summar" in result.output
    assert git(big, "rev-parse", "HEAD~1").strip() == before
    assert sorted(git(big, "diff", "--name-only", before, "HEAD").split()) == \
        sorted(summary_path(n) for n in fresh(big))
    assert git(big, "for-each-ref", "refs/tags") == tags
    assert check(Registry(big).store) == ([], [])
    assert Registry(clone(big, tmp_path / "clone")).list_models() == expected
    assert "summar" not in cli(big, "doctor").output


def test_the_fallback_commit_path_writes_the_same_summary(repo: Path, make_artifact: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from gitreg.git import pathcommit

    monkeypatch.setattr(pathcommit, "plan", lambda *a, **k: None)  # fault: git add + commit instead
    reg = Registry(repo)
    reg.register("churn", [make_artifact()], version="1.0.0")
    reg.promote("churn", "1.0.0", "staging", reason="fallback")
    entry = committed_summary(repo, "churn")
    assert entry["tree"] == key_of(repo, "churn")
    assert entry["versions"] == fresh(repo)["churn"]
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_a_failed_change_leaves_the_summary_as_it_was(repo: Path, make_artifact: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import snapshot

    reg = Registry(repo)
    reg.register("churn", [make_artifact()], version="1.0.0")
    before = snapshot(repo)
    real = Git.create_tag

    def fail(*a: Any, **k: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Git, "create_tag", fail)
    with pytest.raises(Exception):
        reg.promote("churn", "1.0.0", "staging", reason="disk full")
    monkeypatch.setattr(Git, "create_tag", real)
    assert snapshot(repo) == before


def test_generated_registries_carry_valid_summaries(_generated: Path) -> None:
    assert check(Registry(_generated).store) == ([], [])
    for name in fresh(_generated):
        assert committed_summary(_generated, name)["versions"] == fresh(_generated)[name]


def test_a_registry_without_summaries_reads_as_before(big: Path, tmp_path: Path) -> None:
    expected = Registry(big).list_models()
    git(big, "rm", "-q", "-r", SUMMARY_DIR)
    git(big, "commit", "-q", "-m", "no summaries")
    fresh_clone = clone(big, tmp_path / "clone")
    assert Registry(fresh_clone).list_models() == expected
    shutil.rmtree(fresh_clone / ".git" / "gitreg", ignore_errors=True)
    assert Registry(fresh_clone).store.summaries() == fresh(fresh_clone)


@pytest.mark.parametrize("path_kind", ["pathcommit", "fallback"])
def test_an_ignore_rule_on_json_keeps_summaries_out_never_the_change(
        repo: Path, make_artifact: Any, cli: Any, monkeypatch: pytest.MonkeyPatch, path_kind: str) -> None:
    (repo / ".gitignore").write_text("*.json\n")  # metrics files, say: it also matches the summaries
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore json")
    if path_kind == "fallback":
        from gitreg.git import pathcommit

        monkeypatch.setattr(pathcommit, "plan", lambda *a, **k: None)  # fault: git add + commit instead
    reg = Registry(repo)
    reg.register("churn", [make_artifact()], version="1.0.0")
    reg.promote("churn", "1.0.0", "staging", reason="ignored summaries")
    assert reg.show("churn")["versions"][0]["stage"] == "staging"
    assert git(repo, "ls-tree", "-r", "--name-only", "HEAD", SUMMARY_DIR) == ""
    assert not (repo / summary_path("churn")).exists()
    assert not (repo / SUMMARY_DIR).exists()  # not even an empty directory is left
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    head = git(repo, "rev-parse", "HEAD").strip()
    for args in (["doctor"], ["doctor", "--fix"]):
        result = cli(repo, *args)
        assert result.exit_code == 0, result.output
        assert "1 model(s) have no summary: an ignore rule matches .gitreg/summaries/churn.json" in result.output
    assert git(repo, "rev-parse", "HEAD").strip() == head  # --fix wrote nothing it could not commit
    # once the rule lets them in, doctor --fix writes them, and changes keep them up to date
    (repo / ".gitignore").write_text("*.json\n!.gitreg/summaries/*.json\n")
    git(repo, "commit", "-q", "-am", "let gitreg's summaries in")
    result = cli(repo, "doctor", "--fix")
    assert result.exit_code == 0 and "wrote 1 model summar" in result.output, result.output
    reg.promote("churn", "1.0.0", "archived", reason="summaries tracked now")
    assert committed_summary(repo, "churn")["tree"] == key_of(repo, "churn")
    assert check(Registry(repo).store) == ([], [])
