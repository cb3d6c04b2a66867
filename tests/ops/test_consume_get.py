"""get: artifacts through DVC from the local registry, a second clone or another repo; md5 verified."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import BOB, _base_env, as_user, git
from gitreg import Registry
from gitreg.api import VersionInfo
from gitreg.ops.get import _remote_tags, dir_md5, resolve_from_tags
from gitreg.errors import NotFoundError, UserError

NAME = "churn"


def to_production(reg: Registry, bob: Registry, version: str) -> None:
    reg.promote(NAME, version, "staging")
    reg.request(NAME, version, "production", reason="ready")
    bob.approve(NAME, version, "production")


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".gitreg-get-"))


@pytest.fixture(scope="module")
def published(tmp_path_factory, _template, session_home):
    """1.0.0 and 2.0.0 each held production, then a rollback gave it back to 1.0.0; all pushed
    (git to a bare repo, data to a local-folder DVC remote) and cloned. Tests only read it."""
    base = tmp_path_factory.mktemp("published")
    env = _base_env(session_home)
    repo, bare, remote, clone = base / "registry", base / "remote.git", base / "dvc-remote", base / "clone2"
    shutil.copytree(_template, repo, symlinks=True)
    remote.mkdir()
    (repo / ".dvc" / "config").write_text(
        f"[core]\n    analytics = false\n    remote = storage\n['remote \"storage\"']\n    url = {remote}\n")
    git(repo, "commit", "-q", "-am", "DVC remote", env=env)
    git(base, "init", "-q", "--bare", "-b", "main", str(bare), env=env)
    git(repo, "remote", "add", "origin", str(bare), env=env)
    reg = Registry(repo, env=env)
    bob = Registry(repo, env={**env, **as_user(BOB)})
    arts = {}
    for i, version in enumerate(("1.0.0", "2.0.0")):
        arts[version] = base / f"art{i}" / "model.pkl"
        arts[version].parent.mkdir()
        arts[version].write_bytes(os.urandom(3000 + i))
        reg.register(NAME, [arts[version]], VersionInfo(metrics={"f1": 0.8}), version=version, push=True)
        to_production(reg, bob, version)
    reg.rollback(NAME, reason="bad latency")
    git(repo, "push", "-q", "origin", "main", "--tags", env=env)
    git(base, "clone", "-q", str(bare), str(clone), env=env)
    return {"arts": arts, "clone": clone, "bare": bare, "repo": repo}


def test_get_production_from_a_second_clone_byte_for_byte(published, tmp_path, cli):
    clone = published["clone"]
    assert not (clone / ".dvc" / "cache").exists()  # nothing local: it must come from the DVC remote
    out = tmp_path / "deploy" / "current"
    res = cli(clone, "get", f"{NAME}#production", "-o", str(out), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["version"] == "1.0.0"  # after the rollback
    assert sorted(os.listdir(out)) == ["model.pkl"]
    assert (out / "model.pkl").read_bytes() == published["arts"]["1.0.0"].read_bytes()
    assert data["artifacts"][0]["path"] == str(out / "model.pkl")
    assert leftovers(out.parent) == []
    assert git(clone, "status", "--porcelain") == ""  # get never touches the registry


def test_get_from_another_repo_by_path_without_a_clone(published, tmp_path, cli):
    out = tmp_path / "elsewhere"
    out.mkdir()
    res = cli(None, "get", f"{NAME}@2.0.0", "--repo", str(published["bare"]), "-o", str(out))
    assert res.exit_code == 0, res.output
    assert (out / "model.pkl").read_bytes() == published["arts"]["2.0.0"].read_bytes()
    assert "verified" in res.stderr
    assert leftovers(out) == []


def test_stage_resolution_from_tags_matches_the_manifests(published):
    reg = Registry(published["repo"])
    tags = _remote_tags(str(published["bare"]), NAME, None)
    for stage in ("production", "archived"):
        expected = reg.show(f"{NAME}#{stage}")["version"]
        assert resolve_from_tags(NAME, None, stage, tags) == expected
    assert resolve_from_tags(NAME, None, None, tags) == "2.0.0"
    assert resolve_from_tags(NAME, "1.0.0", None, tags) == "1.0.0"
    with pytest.raises(NotFoundError, match="no version of churn is in staging"):
        resolve_from_tags(NAME, None, "staging", tags)


@pytest.mark.parametrize("tags, stage, expected", [
    # assign 1 (seq 2), assign 2 (seq 4, 1 unassigned at seq 3): 2 holds
    ({"m@v1.0.0": "c1", "m@v2.0.0": "c2", "m#prod#2": "c1", "m#prod!#3": "c1", "m#prod#4": "c2"},
     "prod", "2.0.0"),
    # then 2 unassigned and 1 assigned again (a rollback)
    ({"m@v1.0.0": "c1", "m@v2.0.0": "c2", "m#prod#2": "c1", "m#prod!#3": "c1", "m#prod#4": "c2",
      "m#prod!#5": "c2", "m#prod#6": "c1"}, "prod", "1.0.0"),
    # seq order, not name order: #10 is after #9
    ({"m@v1.0.0": "c1", "m@v2.0.0": "c2", "m#prod#9": "c2", "m#prod#10": "c1", "m#prod!#10": "c2"},
     "prod", "1.0.0"),
    # 2 leaves a shared stage; 1 is re-asserted with the same seq (issue 11): 1 holds
    ({"m@v1.0.0": "c1", "m@v2.0.0": "c2", "m#s#3": "c1", "m#s#4": "c2", "m#s!#5": "c2", "m#s#5": "c1"},
     "s", "1.0.0"),
    # a deregistered version is never the answer
    ({"m@v1.0.0": "c1", "m@v2.0.0": "c2", "m@v2.0.0!": "c2", "m#prod#2": "c1", "m#prod#3": "c2"},
     "prod", "1.0.0"),
    # foreign tags and other models are ignored
    ({"m@v1.0.0": "c1", "other@v9.0.0": "c9", "release-1": "c9", "mm#prod#7": "c9", "m#prod#1": "c1"},
     "prod", "1.0.0"),
])
def test_resolve_from_tags_table(tags, stage, expected):
    assert resolve_from_tags("m", None, stage, tags) == expected


def test_resolve_from_tags_errors():
    with pytest.raises(NotFoundError, match="not registered"):
        resolve_from_tags("m", None, None, {"x@v1.0.0": "c"})
    with pytest.raises(NotFoundError, match="has no version 3.0.0"):
        resolve_from_tags("m", "3.0.0", None, {"m@v1.0.0": "c"})


def test_get_directory_artifact_from_local_cache_with_progress(reg, tmp_path):
    src = tmp_path / "bundle"
    (src / "sub").mkdir(parents=True)
    (src / "weights.bin").write_bytes(os.urandom(4096))
    (src / "sub" / "config.json").write_text('{"a": 1}')
    reg.register(NAME, [src], version="1.0.0")  # not pushed: the data is only in the local cache
    calls = []
    out = tmp_path / "out"
    data = reg.get(f"{NAME}@1.0.0", out, progress=lambda label, done, total: calls.append((label, done, total)))
    got = out / "model"
    assert (got / "weights.bin").read_bytes() == (src / "weights.bin").read_bytes()
    assert (got / "sub" / "config.json").read_text() == '{"a": 1}'
    assert dir_md5(got) + ".dir" == data["artifacts"][0]["md5"] == reg.show(f"{NAME}@1.0.0")["artifacts"][0]["md5"]
    assert calls and calls[-1][0] == f"{NAME} 1.0.0" and calls[-1][2] == 4096 + 8
    assert calls[-1][1] >= calls[-1][2]


def test_missing_objects_is_a_clear_error_and_leaves_nothing(repo, reg, bare_remote, make_artifact, tmp_path, cli):
    reg.register(NAME, [make_artifact(size=100)], version="1.0.0")  # never pushed to the DVC remote
    git(repo, "push", "-q", "origin", "main", "--tags")
    clone = tmp_path / "clone2"
    git(tmp_path, "clone", "-q", str(bare_remote), str(clone))
    out = tmp_path / "out"
    res = cli(clone, "get", NAME, "-o", str(out))
    assert res.exit_code == 1, res.output
    assert "not in the DVC remote" in res.stderr and "dvc push" in res.stderr
    assert res.stderr.count("\n") == 1
    assert not out.exists() and leftovers(tmp_path) == []


def test_no_dvc_remote_is_named_as_such(repo, bare_remote, make_artifact, tmp_path, cli):
    (repo / ".dvc" / "config").write_text("[core]\n    analytics = false\n")
    git(repo, "commit", "-q", "-am", "no DVC remote")
    Registry(repo).register(NAME, [make_artifact(size=100)], version="1.0.0")
    git(repo, "push", "-q", "origin", "main", "--tags")
    clone = tmp_path / "clone2"
    git(tmp_path, "clone", "-q", str(bare_remote), str(clone))
    out = tmp_path / "out"
    out.mkdir()
    res = cli(clone, "get", f"{NAME}@1.0.0", "-o", str(out))
    assert res.exit_code == 1, res.output
    assert "names no DVC remote" in res.stderr and "dvc remote add" in res.stderr
    assert os.listdir(out) == []


def test_corrupted_remote_object_fails_the_md5_check(repo, reg, dvc_remote, make_artifact, tmp_path, cli):
    reg.register(NAME, [make_artifact(size=100)], version="1.0.0")
    md5 = reg.resolve(f"{NAME}@1.0.0")["artifacts"][0]["md5"]
    from gitreg import dvc

    dvc.push(repo, [repo / "models" / NAME / "1.0.0" / "model.pkl"])
    shutil.rmtree(repo / ".dvc" / "cache")  # so the bytes must come from the remote
    obj = dvc_remote / "files" / "md5" / md5[:2] / md5[2:]
    assert obj.is_file()
    obj.chmod(0o644)
    obj.write_bytes(b"not the model")
    out = tmp_path / "out"
    res = cli(repo, "get", f"{NAME}@1.0.0", "-o", str(out))
    assert res.exit_code == 1, res.output
    assert f"checksum mismatch for models/{NAME}/1.0.0/model.pkl" in res.stderr
    assert not out.exists() and leftovers(tmp_path) == []


def test_existing_files_are_never_overwritten(reg, make_artifact, tmp_path, cli):
    reg.register(NAME, [make_artifact(size=64)], version="1.0.0")
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.pkl").write_text("mine")
    res = cli(reg.root, "get", f"{NAME}@1.0.0", "-o", str(out))
    assert res.exit_code == 1
    assert "already exists" in res.stderr
    assert (out / "model.pkl").read_text() == "mine"
    (out / "model.pkl").unlink()
    (out / "other.txt").write_text("keep")
    res = cli(reg.root, "get", f"{NAME}@1.0.0", "-o", str(out))
    assert res.exit_code == 0, res.output
    assert sorted(os.listdir(out)) == ["model.pkl", "other.txt"]


@pytest.mark.parametrize("args, text", [
    (["get", "churn@1.0.0", "--repo", "/nonexistent/registry.git"], "cannot read the registry repository"),
    (["get", "churn#production", "--repo", "-rf"], "invalid --repo"),
    (["get", "../x", "--repo", "/tmp"], "invalid model name"),
])
def test_get_bad_input(cli, tmp_path, args, text):
    res = cli(None, *args, "-o", str(tmp_path / "o"))
    assert res.exit_code == 1, res.output
    assert text in res.stderr
    assert not (tmp_path / "o").exists()


def test_get_refuses_a_file_as_output(reg, make_artifact, tmp_path):
    reg.register(NAME, [make_artifact(size=8)], version="1.0.0")
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(UserError, match="is a file"):
        reg.get(f"{NAME}@1.0.0", target)
