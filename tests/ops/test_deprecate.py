"""deprecate / undeprecate (issue 13): GTO's `NAME@vX.Y.Z!` and `NAME@deprecated`, written from
history; gitreg, the real gto and `dvc artifacts get --stage` agree after each; refusals are one
line with exit 3 and leave the repository as it was; nothing is ever deleted."""

from __future__ import annotations

import json

import pytest

from agree import assert_tools_agree, gitreg_json, gto_state
from cli.test_bad_input import assert_one_line_error
from conftest import git, snapshot
from gitreg import Registry, yamlio

M = "m"


def _no_approvals(repo):
    cfg = yamlio.load_file(repo / "gitreg.yaml")
    cfg["policies"] = {"production": {"from": ["staging"], "approvals": 0}}
    (repo / "gitreg.yaml").write_text(yamlio.dump(cfg))
    git(repo, "commit", "-qam", "policy: no approvals")


@pytest.fixture
def three(cli, repo, make_artifact):
    """m 0.1.0 and 0.2.0 share staging (0.2.0 shown), 0.3.0 holds production."""
    _no_approvals(repo)
    for v in ("0.1.0", "0.2.0", "0.3.0"):
        assert cli(repo, "register", M, str(make_artifact(512)), "--version", v).exit_code == 0
    for v, stage in (("0.1.0", "staging"), ("0.2.0", "staging"), ("0.3.0", "staging"),
                     ("0.3.0", "production")):
        r = cli(repo, "promote", M, v, stage)
        assert r.exit_code == 0, r.output
    assert assert_tools_agree(repo, [M])[M] == {
        "latest": "0.3.0", "stages": {"staging": "0.2.0", "production": "0.3.0"}, "aliases": {}}
    return repo


def _manifest(repo, v):
    return yamlio.load_file(repo / "models" / M / v / "manifest.yaml")


def _tag_times(repo, *tags):
    out = git(repo, "for-each-ref", "--format=%(refname:strip=2) %(taggerdate:unix)",
              *[f"refs/tags/{t}" for t in tags])
    return dict(line.split(" ") for line in out.splitlines())


def _ok(cli, repo, *args):
    r = cli(repo, *args)
    assert r.exit_code == 0, r.output
    return r


def test_deprecating_versions_leaves_stages_and_latest_everywhere(cli, three):
    repo = three
    # 0.2.0 leaves staging: 0.1.0, which still holds it, is re-asserted for DVC
    _ok(cli, repo, "deprecate", M, "0.2.0", "--reason", "trained on leaked labels")
    assert assert_tools_agree(repo, [M])[M] == {
        "latest": "0.3.0", "stages": {"staging": "0.1.0", "production": "0.3.0"}, "aliases": {}}
    # the latest and the production holder: production empties, the latest falls to 0.1.0
    r = _ok(cli, repo, "deprecate", M, "0.3.0", "--reason", "drifted", "--json")
    result = json.loads(r.stdout)
    assert assert_tools_agree(repo, [M])[M] == {"latest": "0.1.0", "stages": {"staging": "0.1.0"}, "aliases": {}}
    seq = result["seq"][0]
    assert result["tags"] == [f"{M}#production!#{seq}", f"{M}@v0.3.0!"]
    # GTO's deregistration points at the registration commit, one second after the unassignment
    assert git(repo, "rev-parse", f"{M}@v0.3.0!^{{commit}}") == git(repo, "rev-parse", f"{M}@v0.3.0^{{commit}}")
    times = _tag_times(repo, f"{M}#production!#{seq}", f"{M}@v0.3.0!")
    assert int(times[f"{M}@v0.3.0!"]) == int(times[f"{M}#production!#{seq}"]) + 1

    m = _manifest(repo, "0.3.0")
    assert m["stage"] == "none"
    assert m["deprecated"]["reason"] == "drifted" and m["deprecated"]["by"]
    entry = m["history"][-1]
    assert (entry["seq"], entry["action"], entry["from"], entry["reason"]) == (seq, "deprecate",
                                                                              "production", "drifted")
    assert "aliases" not in entry  # it held none
    # never deleted: files and DVC pointer stay; show and history still read it
    assert (repo / "models" / M / "0.3.0" / "manifest.yaml").exists()
    assert gitreg_json(repo, "show", f"{M}@0.3.0")["deprecated"]["reason"] == "drifted"
    events = gitreg_json(repo, "history", M)["events"]
    assert [(e["action"], e["from"], e["tag"]) for e in events][-2:] == [
        ("deprecate", "staging", f"{M}@v0.2.0!"), ("deprecate", "production", f"{M}@v0.3.0!")]
    # whatever computes the latest skips it: resolve, list, compare marks it
    assert gitreg_json(repo, "resolve", M)["version"] == "0.1.0"
    listed = gitreg_json(repo, "list")["models"][0]
    assert (listed["latest"], listed["deprecated_versions"]) == ("0.1.0", ["0.2.0", "0.3.0"])
    rows = {row["version"]: row["deprecated"] for row in gitreg_json(repo, "compare", M)["versions"]}
    assert rows == {"0.1.0": False, "0.2.0": True, "0.3.0": True}
    assert gto_state(repo) == {M: {"latest": "0.1.0", "stages": {"staging": "0.1.0"}}}  # gto's CLI


def test_undeprecate_deletes_gtos_tag_and_the_version_is_back(cli, three):
    repo = three
    _ok(cli, repo, "deprecate", M, "0.3.0", "--reason", "drifted")
    r = _ok(cli, repo, "undeprecate", M, "0.3.0", "--reason", "false alarm", "--json")
    assert json.loads(r.stdout)["deleted_tags"] == [f"{M}@v0.3.0!"]
    assert git(repo, "tag", "-l", f"{M}@v0.3.0!") == ""
    m = _manifest(repo, "0.3.0")
    assert "deprecated" not in m and m["stage"] == "none"  # it does not go back to production
    assert [h["action"] for h in m["history"]][-2:] == ["deprecate", "undeprecate"]
    # the real gto lists the version again, as the latest
    assert gto_state(repo) == {M: {"latest": "0.3.0", "stages": {"staging": "0.2.0"}}}
    assert assert_tools_agree(repo, [M])[M]["latest"] == "0.3.0"
    _ok(cli, repo, "promote", M, "0.3.0", "staging")
    # deprecated again: the `!` tag is written again
    _ok(cli, repo, "deprecate", M, "0.3.0", "--reason", "drifted after all")
    assert assert_tools_agree(repo, [M])[M] == {"latest": "0.2.0", "stages": {"staging": "0.2.0"}, "aliases": {}}


def test_stage_changes_of_a_deprecated_version_are_refused(cli, three):
    repo = three
    _ok(cli, repo, "deprecate", M, "0.2.0", "--reason", "bad")
    _ok(cli, repo, "promote", M, "0.1.0", "archived")  # staging empties under 0.3.0's production
    before = snapshot(repo)
    for args in (("promote", M, "0.2.0", "staging"),
                 ("request", M, "0.2.0", "production", "--reason", "x"),
                 ("approve", M, "0.2.0", "production"),
                 ("rollback", M, "--to", "0.2.0", "--reason", "x")):
        r = cli(repo, *args)
        assert_one_line_error(r, 3, "deprecated", f"gitreg undeprecate {M} 0.2.0")
        assert snapshot(repo) == before, args
    assert_one_line_error(cli(repo, "deprecate", M, "0.2.0", "--reason", "again"), 1, "already deprecated")
    assert_one_line_error(cli(repo, "undeprecate", M, "0.1.0", "--reason", "x"), 1, "not deprecated")
    assert_one_line_error(cli(repo, "deprecate", M, "9.9.9", "--reason", "x"), 1, "no version 9.9.9")
    assert_one_line_error(cli(repo, "deprecate", M, "0.1.0", "--reason", " "), 1, "reason")
    assert_one_line_error(cli(repo, "deprecate", "nope", "--reason", "x"), 1, "not registered")
    assert cli(repo, "deprecate", M, "0.1.0").exit_code == 2  # --reason is required
    assert snapshot(repo) == before


def test_rollback_after_deprecating_the_production_holder_restores_the_one_before(cli, three, make_artifact):
    repo = three
    _ok(cli, repo, "register", M, str(make_artifact(512)), "--version", "0.4.0")
    _ok(cli, repo, "promote", M, "0.4.0", "staging")
    _ok(cli, repo, "promote", M, "0.4.0", "production")  # archives 0.3.0
    _ok(cli, repo, "deprecate", M, "0.4.0", "--reason", "broken")
    assert "production" not in assert_tools_agree(repo, [M])[M]["stages"]
    _ok(cli, repo, "rollback", M, "--reason", "back to the last good one")
    assert assert_tools_agree(repo, [M])[M]["stages"]["production"] == "0.3.0"


def test_whole_model_deprecation_is_gtos_tag_and_hides_it(cli, repo, make_artifact):
    _ok(cli, repo, "register", M, str(make_artifact(512)), "--version", "0.1.0")
    _ok(cli, repo, "register", "other", str(make_artifact(512)), "--version", "1.0.0")
    r = _ok(cli, repo, "deprecate", M, "--reason", "replaced by other", "--json")
    assert json.loads(r.stdout)["tags"] == [f"{M}@deprecated"]  # the name `gto deprecate m` writes
    assert git(repo, "cat-file", "-t", f"{M}@deprecated").strip() == "tag"
    model = yamlio.load_file(repo / "models" / M / "model.yaml")
    assert model["deprecated"]["reason"] == "replaced by other"
    assert model["history"][-1]["action"] == "deprecate"
    assert model["history"][-1]["seq"] == 2  # one counter with its versions' history
    last = gitreg_json(repo, "history", M)["events"][-1]
    assert (last["action"], last["version"], last["tag"]) == ("deprecate", None, f"{M}@deprecated")
    # gto hides it, so does list (and says so); --all shows it
    assert set(gto_state(repo)) == {"other"}
    assert assert_tools_agree(repo) == {"other": {"latest": "1.0.0", "stages": {}, "aliases": {}}}
    listed = cli(repo, "list")
    assert "1 deprecated model(s) hidden: m" in listed.stderr and "\nm " not in listed.stdout
    rows = {m["name"]: m["deprecated"] for m in gitreg_json(repo, "list", "--all")["models"]}
    assert rows == {M: True, "other": False}
    # nothing new goes into it
    before = snapshot(repo)
    for args in (("register", M, str(make_artifact(512))), ("promote", M, "0.1.0", "staging"),
                 ("request", M, "0.1.0", "staging", "--reason", "x")):
        assert_one_line_error(cli(repo, *args), 3, f"model {M} is deprecated", f"gitreg undeprecate {M}")
        assert snapshot(repo) == before, args
    assert_one_line_error(cli(repo, "deprecate", M, "--reason", "x"), 1, "already deprecated")
    # and back
    _ok(cli, repo, "undeprecate", M, "--reason", "still used")
    assert git(repo, "tag", "-l", f"{M}@deprecated") == ""
    assert set(gto_state(repo)) == {M, "other"}
    assert assert_tools_agree(repo)[M] == {"latest": "0.1.0", "stages": {}, "aliases": {}}
    _ok(cli, repo, "register", M, str(make_artifact(512)))


def test_a_model_whose_every_version_is_deprecated_has_no_latest_like_in_gto(cli, repo, make_artifact):
    _ok(cli, repo, "register", M, str(make_artifact(512)), "--version", "0.1.0")
    _ok(cli, repo, "deprecate", M, "0.1.0", "--reason", "bad")
    assert assert_tools_agree(repo) == {M: {"latest": "", "stages": {}, "aliases": {}}}  # gto: "version": null
    assert gitreg_json(repo, "list")["models"][0]["latest"] is None
    assert_one_line_error(cli(repo, "resolve", M), 1, "every version of m is deprecated", f"{M}@VERSION")
    assert gitreg_json(repo, "resolve", f"{M}@0.1.0")["version"] == "0.1.0"  # still readable


def test_push_writes_and_deletes_the_tag_on_origin(cli, three, bare_remote):
    repo = three
    _ok(cli, repo, "deprecate", M, "0.3.0", "--reason", "drifted", "--push")
    assert f"{M}@v0.3.0!" in git(bare_remote, "tag", "-l")
    r = _ok(cli, repo, "undeprecate", M, "0.3.0", "--reason", "ok", "--push", "--json")
    assert json.loads(r.stdout)["pushed"]
    assert f"{M}@v0.3.0!" not in git(bare_remote, "tag", "-l")
    assert git(bare_remote, "rev-parse", "main") == git(repo, "rev-parse", "HEAD")
    # deprecated locally only: undeprecate --push has no remote tag to delete, and that is fine
    _ok(cli, repo, "deprecate", M, "0.2.0", "--reason", "x")
    _ok(cli, repo, "undeprecate", M, "0.2.0", "--reason", "y", "--push")
    assert f"{M}@v0.2.0!" not in git(bare_remote, "tag", "-l")
    assert git(bare_remote, "rev-parse", "main") == git(repo, "rev-parse", "HEAD")


def test_a_failed_undeprecate_puts_the_deleted_tag_back(three, monkeypatch):
    repo = three
    reg = Registry(repo)
    reg.deprecate(M, "0.3.0", reason="drifted")
    tag_object = git(repo, "rev-parse", f"refs/tags/{M}@v0.3.0!")
    before = snapshot(repo)
    from gitreg.git import Git

    real = Git.delete_tag

    def delete_then_fail(self, name):
        real(self, name)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Git, "delete_tag", delete_then_fail)
    with pytest.raises(Exception, match="nothing was changed"):
        reg.undeprecate(M, "0.3.0", reason="x")
    monkeypatch.undo()
    assert snapshot(repo) == before
    assert git(repo, "rev-parse", f"refs/tags/{M}@v0.3.0!") == tag_object


@pytest.mark.parametrize("args", [("register", "team/churn", "FILE"), ("show", "team/churn"),
                                  ("show", "team/churn@1.0.0"), ("deprecate", "team/churn", "--reason", "x")])
def test_a_slash_in_a_name_is_refused_with_the_reason_and_the_fix(cli, repo, make_artifact, args):
    args = tuple(str(make_artifact()) if a == "FILE" else a for a in args)
    before = snapshot(repo)
    assert_one_line_error(cli(repo, *args), 1, "'/' is not allowed", "models/NAME/", "'team-churn'")
    assert snapshot(repo) == before


def test_the_aliases_it_held_are_recorded_and_emptied(cli, three):
    """A deprecated version loses its aliases: gto no longer shows them, DVC cannot fetch them."""
    repo = three
    for alias in ("champion", "challenger"):
        _ok(cli, repo, "alias", M, alias, "0.2.0")
    _ok(cli, repo, "alias", M, "stable", "0.1.0")
    assert assert_tools_agree(repo, [M])[M]["aliases"] == {
        "challenger": "0.2.0", "champion": "0.2.0", "stable": "0.1.0"}
    _ok(cli, repo, "deprecate", M, "0.2.0", "--reason", "bad")
    m = _manifest(repo, "0.2.0")
    assert not m.get("aliases")
    assert m["history"][-1]["aliases"] == ["challenger", "champion"]
    assert assert_tools_agree(repo, [M])[M]["aliases"] == {"stable": "0.1.0"}
    tags = git(repo, "tag", "-l", f"{M}#ch*").split()
    seq = m["history"][-1]["seq"]
    assert {f"{M}#champion!#{seq}", f"{M}#challenger!#{seq}"} <= set(tags)
    # after undeprecate the aliases stay gone (set them again, like the stage)
    _ok(cli, repo, "undeprecate", M, "0.2.0", "--reason", "ok")
    assert assert_tools_agree(repo, [M])[M]["aliases"] == {"stable": "0.1.0"}


@pytest.mark.parametrize("target,done", [("gitreg.git.repo:Git.commit", False),
                                         ("gitreg.git.repo:Git.delete_tag", True)])
def test_a_killed_undeprecate_is_finished_or_undone_by_doctor_fix(three, target, done):
    """SIGKILLed before its commit (undone: the tag stays) or before deleting the tag (finished)."""
    from reliability._util import assert_healthy, run_gitreg, run_killed

    repo = three
    Registry(repo).deprecate(M, "0.3.0", reason="drifted")
    run_killed(repo, target, 1, "before", "undeprecate", M, "0.3.0", "--reason", "ok")
    r = run_gitreg(repo, "doctor", "--fix")
    assert r.returncode == 0, r.stderr
    assert ("finished" if done else "undid") in r.stderr
    assert (git(repo, "tag", "-l", f"{M}@v0.3.0!") == "") is done
    assert ("deprecated" in _manifest(repo, "0.3.0")) is not done
    assert_healthy(repo)
