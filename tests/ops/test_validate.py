"""validate: schema + semantic checks, path:line:col messages, all at once; --base immutability."""

from __future__ import annotations

import shutil

import pytest

from conftest import git
from gitreg import Registry, VersionInfo
from gitreg import yamlio


@pytest.fixture
def two(reg, repo, make_artifact):
    reg.register("churn", [make_artifact()], VersionInfo(metrics={"auc": 0.9}, description="one"),
                 version="1.0.0")
    reg.register("churn", [make_artifact()], VersionInfo(metrics={"auc": 0.93}), version="1.1.0")
    return repo


def problems(repo, *paths, base=None):
    return Registry(repo).validate(list(paths), base=base).problems


def test_clean_registry_validates(two):
    assert problems(two) == []


def test_every_problem_at_once_with_line_and_column(two):
    path = two / "models/churn/1.0.0/manifest.yaml"
    lines = path.read_text().splitlines()
    auc_line = next(i for i, ln in enumerate(lines, 1) if ln.strip().startswith("auc:"))
    text = path.read_text().replace("auc: 0.9", "auc: high").replace("name: churn", "name: other")
    text = text.replace("stage: none", "stage: canary")
    path.write_text(text)
    found = problems(two)
    rel = "models/churn/1.0.0/manifest.yaml"
    assert any(p.startswith(f"{rel}:{auc_line}:") and "metrics.auc" in p for p in found), found
    assert any("does not match the directory 'churn'" in p for p in found), found
    assert any("stage 'canary' is not in gitreg.yaml" in p for p in found), found
    assert len(found) >= 3


def test_artifact_md5_and_missing_dvc_file(two):
    dvc_file = two / "models/churn/1.0.0/model.pkl.dvc"
    dvc_file.write_text(dvc_file.read_text().replace("md5: ", "md5: 0"))
    found = problems(two)
    assert any("md5" in p and "does not match its .dvc file" in p for p in found), found
    (two / "models/churn/1.1.0/model.pkl.dvc").unlink()
    found = problems(two)
    assert any("has no model.pkl.dvc file" in p for p in found), found


def test_duplicate_keys_and_aliases_are_reported(two):
    path = two / "models/churn/1.1.0/manifest.yaml"
    path.write_text(path.read_text() + "stage: none\n")
    found = problems(two)
    assert any("duplicate key 'stage'" in p for p in found), found
    path.write_text("a: &x 1\nb: *x\n")
    found = problems(two, str(path))
    assert any("anchors and aliases" in p for p in found), found


def test_version_precedence_duplicates_and_seq_reuse(two):
    src = two / "models/churn/1.0.0"
    dup = two / "models/churn/1.0.0+build.2"
    shutil.copytree(src, dup)
    m = yamlio.load_file(dup / "manifest.yaml")
    m["version"] = "1.0.0+build.2"
    (dup / "manifest.yaml").write_text(yamlio.dump(m))
    found = problems(two)
    assert any("equals 1.0.0 in SemVer precedence" in p for p in found), found
    assert any("seq 1 is also used by churn 1.0.0" in p for p in found), found


def test_base_catches_immutable_edits_history_rewrites_and_deletions(two):
    path = two / "models/churn/1.0.0/manifest.yaml"
    m = yamlio.load_file(path)
    m["description"] = "rewritten"
    m["metrics"]["auc"] = 0.99
    path.write_text(yamlio.dump(m))
    found = problems(two, base="HEAD")
    assert any("description changed since HEAD" in p for p in found), found
    assert any("metrics changed since HEAD" in p for p in found), found
    git(two, "checkout", "--", str(path))
    m = yamlio.load_file(path)
    m["history"] = []
    m["stage"] = "staging"
    path.write_text(yamlio.dump(m))
    found = problems(two, base="HEAD")
    assert any("history is append-only" in p for p in found), found
    git(two, "checkout", "--", str(path))
    shutil.rmtree(two / "models/churn/1.1.0")
    found = problems(two, base="HEAD")
    assert any("1.1.0 was deleted since HEAD" in p for p in found), found
    # mutable fields may change: a stage change with appended history is fine
    git(two, "checkout", "--", "models")
    Registry(two).promote("churn", "1.0.0", "staging")
    assert problems(two, base="HEAD~1") == []


def test_extra_schema_from_gitreg_yaml(two, cli):
    (two / "team.schema.json").write_text(
        '{"type": "object", "required": ["custom"], "properties": {"custom": '
        '{"type": "object", "required": ["cost_center"]}}}')
    cfg = yamlio.load_file(two / "gitreg.yaml")
    cfg["extra_schema"] = "team.schema.json"
    (two / "gitreg.yaml").write_text(yamlio.dump(cfg))
    found = problems(two)
    assert sum("cost_center" in p for p in found) == 2, found
    r = cli(two, "validate")
    assert r.exit_code == 1 and "2 problem(s)" in r.stderr


def test_unknown_base_ref_is_a_user_error(two, cli):
    r = cli(two, "validate", "--base", "no-such-ref")
    assert r.exit_code == 1 and "unknown git reference" in r.stderr
