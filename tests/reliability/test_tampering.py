"""Tampering: each kind of after-the-fact edit is detected and named."""

from __future__ import annotations

from conftest import git
from gitreg import Registry, yamlio

from ._util import run_gitreg


def _edit_manifest(repo, version, change):
    path = repo / "models/m" / version / "manifest.yaml"
    data = yamlio.load_file(path)
    change(data)
    path.write_text(yamlio.dump(data))
    git(repo, "commit", "-qam", "tamper")


def test_an_edited_immutable_field_is_named_by_validate_base(seeded, cli):
    _edit_manifest(seeded, "2.0.0", lambda m: m.update(created_by="mallory@example.com"))
    r = cli(seeded, "validate", "--base", "HEAD~1")
    assert r.exit_code == 1
    assert "models/m/2.0.0/manifest.yaml:" in r.stdout
    assert "created_by changed since HEAD~1: registered fields are immutable" in r.stdout


def test_an_artifact_whose_md5_no_longer_matches_is_named_by_validate(seeded, cli):
    dvc_file = next((seeded / "models/m/2.0.0").glob("*.dvc"))
    data = yamlio.load_file(dvc_file)
    data["outs"][0]["md5"] = "0" * 32  # the .dvc now points at other bytes
    dvc_file.write_text(yamlio.dump(data))
    r = cli(seeded, "validate")
    assert r.exit_code == 1
    assert f"artifact {dvc_file.stem} md5" in r.stdout and "does not match its .dvc file (" + "0" * 32 in r.stdout


def test_a_tag_moved_to_another_commit_is_named_by_doctor(seeded):
    git(seeded, "tag", "-f", "-a", "-m", "moved", "m@v1.0.0", "HEAD")
    d = run_gitreg(seeded, "doctor")
    assert d.returncode == 1
    assert "wrong commit: m@v1.0.0 points at" in d.stderr
    fix = run_gitreg(seeded, "doctor", "--fix")  # --fix never moves a tag: a person decides
    assert fix.returncode == 1 and "wrong commit: m@v1.0.0" in fix.stderr


def test_a_removed_history_entry_is_named_by_validate_base(seeded, cli):
    _edit_manifest(seeded, "1.0.0", lambda m: m["history"].pop())
    r = cli(seeded, "validate", "--base", "HEAD~1")
    assert r.exit_code == 1
    assert "history entries recorded in HEAD~1 were changed or removed: history is append-only" in r.stdout


def test_a_deleted_version_and_a_deleted_tag_are_named(seeded, cli):
    git(seeded, "rm", "-rq", "models/m/2.0.0")
    git(seeded, "commit", "-qm", "drop 2.0.0")
    r = cli(seeded, "validate", "--base", "HEAD~1")
    assert r.exit_code == 1 and "m 2.0.0 was deleted since HEAD~1" in r.stdout
    git(seeded, "tag", "-d", "m@v1.0.0")
    report = Registry(seeded).doctor()
    assert [m["tag"] for m in report.missing] == ["m@v1.0.0"]
