"""Distributed races: clones pushing to one bare remote at once."""

from __future__ import annotations

import json

import pytest

from conftest import git
from gitreg import Registry

from ._util import assert_healthy, run_gitreg, start_gitreg


@pytest.fixture
def origin(tmp_path, seeded, make_artifact):
    """seeded (m 1.0.0 production, 2.0.0, 3.0.0) pushed to a bare repository."""
    Registry(seeded).register("m", [make_artifact()], version="3.0.0")
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(seeded, "remote", "add", "origin", str(bare))
    git(seeded, "push", "-q", "origin", "main", "--tags")
    return bare


def clone(origin, path):
    git(origin.parent, "clone", "-q", str(origin), str(path))
    return path


def remote_tags(origin) -> dict[str, str]:
    out = git(origin, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/tags")
    return dict(line.split(" ") for line in out.splitlines())


def assert_matches_origin(path, origin):
    """No local divergence: same branch head, same tags, clean tree, no journal."""
    assert git(path, "rev-parse", "HEAD").strip() == git(origin, "rev-parse", "main").strip()
    local = git(path, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/tags")
    assert dict(line.split(" ") for line in local.splitlines()) == remote_tags(origin)
    assert git(path, "status", "--porcelain", "--untracked-files=all") == ""
    assert not (path / ".git/gitreg/change.json").exists()


def fresh_clone_is_healthy(origin, tmp_path):
    path = clone(origin, tmp_path / "fresh")
    assert_healthy(path)
    return Registry(path)


def test_four_clones_register_with_bump_and_push_at_once(origin, tmp_path, make_artifact):
    before = remote_tags(origin)
    clones = [clone(origin, tmp_path / f"clone{i}") for i in range(4)]
    procs = [start_gitreg(c, "register", "m", str(make_artifact()), "--bump", "minor", "--push", "--json")
             for c in clones]
    results = []
    for p in procs:
        code = p.wait(timeout=300)
        out, err = p.communicate()
        assert code == 0, err
        results.append(json.loads(out))
    got = sorted(r["version"] for r in results)
    assert got == ["3.1.0", "3.2.0", "3.3.0", "3.4.0"]  # all landed, no number twice
    assert all(r["pushed"] for r in results)
    after = remote_tags(origin)
    assert {t: after.get(t) for t in before} == before  # no tag lost or moved
    reg = fresh_clone_is_healthy(origin, tmp_path)
    for r in results:
        tag = f"m@v{r['version']}"
        assert tag in after and git(origin, "rev-parse", f"{tag}^{{commit}}").strip() == r["commit"]
        assert reg.show(f"m@{r['version']}")["created_by"]
    for c, r in zip(clones, results):  # every clone ends on a pushed state, nothing left over
        assert git(c, "status", "--porcelain", "--untracked-files=all") == ""


def test_two_clones_promote_to_production_at_once_exactly_one_wins(origin, tmp_path):
    a, b = clone(origin, tmp_path / "a"), clone(origin, tmp_path / "b")
    pa = start_gitreg(a, "promote", "m", "2.0.0", "production", "--push")
    pb = start_gitreg(b, "promote", "m", "3.0.0", "production", "--push")
    outcome = {}
    for name, p in (("a", pa), ("b", pb)):
        code = p.wait(timeout=120)
        outcome[name] = (code, p.communicate()[1])
    codes = sorted(code for code, _ in outcome.values())
    assert codes == [0, 4], outcome
    winner = "a" if outcome["a"][0] == 0 else "b"
    loser_path = b if winner == "a" else a
    loser_err = outcome["b" if winner == "a" else "a"][1]
    assert "lost a push race" in loser_err and "now matches origin" in loser_err
    assert "Traceback" not in loser_err
    assert_matches_origin(loser_path, origin)
    reg = fresh_clone_is_healthy(origin, tmp_path)
    assert reg.show("m#production")["version"] == ("2.0.0" if winner == "a" else "3.0.0")


def test_a_taken_version_is_refused_with_exit_4_and_no_divergence(origin, tmp_path, make_artifact):
    a, b = clone(origin, tmp_path / "a"), clone(origin, tmp_path / "b")
    first = run_gitreg(a, "register", "m", str(make_artifact()), "--version", "5.0.0", "--push")
    assert first.returncode == 0, first.stderr
    second = run_gitreg(b, "register", "m", str(make_artifact()), "--version", "5.0.0", "--push")
    assert second.returncode == 4, second.stderr
    assert "5.0.0 was registered on origin by someone else meanwhile" in second.stderr
    assert_matches_origin(b, origin)
    assert not (b / "models/m/5.0.0/model.pkl").exists()  # no stray payload under their version
    fresh_clone_is_healthy(origin, tmp_path)


def test_a_stale_clone_rebumps_and_a_stale_promotion_of_another_model_reapplies(origin, tmp_path,
                                                                              make_artifact):
    a, b = clone(origin, tmp_path / "a"), clone(origin, tmp_path / "b")
    assert run_gitreg(a, "register", "m", str(make_artifact()), "--bump", "major", "--push").returncode == 0
    assert run_gitreg(a, "register", "other", str(make_artifact()), "--push").returncode == 0
    # b has not fetched: its bump computes 4.0.0 too, loses, fetches and lands as 5.0.0
    r = run_gitreg(b, "register", "m", str(make_artifact()), "--bump", "major", "--push", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["version"] == "5.0.0"
    # a is now behind; its promotion of `other` does not touch m's changes: re-applied on top
    p = run_gitreg(a, "promote", "other", "0.1.0", "staging", "--push")
    assert p.returncode == 0, p.stderr
    assert_matches_origin(a, origin)
    reg = fresh_clone_is_healthy(origin, tmp_path)
    assert [v["version"] for v in reg.show("m")["versions"]] == ["1.0.0", "2.0.0", "3.0.0", "4.0.0", "5.0.0"]
    assert reg.show("other#staging")["version"] == "0.1.0"
