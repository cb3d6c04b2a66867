"""Aliases (MLflow's champion/challenger) as GTO stages with one holder: set, move, delete,
NAME@ALIAS refs, gitreg.yaml restrictions and policies, with the real gto and DVC agreeing."""

from __future__ import annotations

import json

import pytest

from agree import as_gto_sees_it, assert_tools_agree, gitreg_state_with_aliases, gto_state
from cli.test_bad_input import assert_one_line_error
from conftest import git, snapshot
from gitreg import yamlio

M = "m"


def _tagger_time(repo, tag: str) -> int:
    return int(git(repo, "for-each-ref", "--format=%(taggerdate:unix)", f"refs/tags/{tag}").strip())


def _configure(repo, **fields) -> None:
    cfg = yamlio.load_file(repo / "gitreg.yaml")
    cfg.update(fields)
    (repo / "gitreg.yaml").write_text(yamlio.dump(cfg))
    git(repo, "commit", "-qam", "gitreg.yaml: aliases")


@pytest.fixture
def two(cli, repo, make_artifact):
    for v in ("0.1.0", "0.2.0"):
        r = cli(repo, "register", M, str(make_artifact(512)), "--version", v,
                "--metric", f"auc={0.8 if v == '0.1.0' else 0.9}")
        assert r.exit_code == 0, r.output
    return repo


def _step(cli, repo, *args) -> dict:
    r = cli(repo, *args)
    assert r.exit_code == 0, r.output
    return assert_tools_agree(repo, [M])[M]


def test_set_move_delete_agree_with_gto_and_dvc(cli, two):
    repo = two
    state = _step(cli, repo, "alias", M, "Champion", "0.1.0", "--reason", "first")
    assert state["aliases"] == {"champion": "0.1.0"}  # lower-cased like stages
    # an alias and a stage on the same version
    state = _step(cli, repo, "promote", M, "0.1.0", "staging")
    assert (state["stages"], state["aliases"]) == ({"staging": "0.1.0"}, {"champion": "0.1.0"})
    state = _step(cli, repo, "alias", M, "challenger", "0.1.0")
    assert state["aliases"] == {"champion": "0.1.0", "challenger": "0.1.0"}

    # moving champion to 0.2.0 is one commit: unalias on 0.1.0, then alias on 0.2.0
    head = git(repo, "rev-parse", "HEAD").strip()
    state = _step(cli, repo, "alias", M, "champion", "0.2.0", "--reason", "better auc")
    assert state["aliases"] == {"champion": "0.2.0", "challenger": "0.1.0"}
    assert git(repo, "rev-parse", "HEAD~1").strip() == head
    events = json.loads(cli(repo, "history", M, "--json").stdout)["events"]
    unalias, alias = events[-2:]
    assert (unalias["action"], unalias["version"], unalias["alias"], unalias["replaced_by"]) == \
        ("unalias", "0.1.0", "champion", "0.2.0")
    assert (alias["action"], alias["version"], alias["alias"], alias["replaced"]) == \
        ("alias", "0.2.0", "champion", "0.1.0")
    assert alias["seq"] == unalias["seq"] + 1 and alias["reason"] == "better auc"
    gone, got = f"{M}#champion!#{unalias['seq']}", f"{M}#champion#{alias['seq']}"
    assert (unalias["tag"], alias["tag"]) == (gone, got)
    assert _tagger_time(repo, got) == _tagger_time(repo, gone) + 1  # GTO's 1 s resolution
    reg_commit = git(repo, "rev-parse", f"{M}@v0.2.0^{{commit}}")
    assert git(repo, "rev-parse", f"{got}^{{commit}}") == reg_commit
    message = git(repo, "log", "-1", "--format=%B")
    assert "Gitreg-Action: alias" in message and "Gitreg-Alias: champion" in message

    # the manifests' mutable part says the same
    v1 = json.loads(cli(repo, "show", f"{M}@0.1.0", "--json").stdout)
    assert v1["aliases"] == ["challenger"]
    v2 = json.loads(cli(repo, "show", f"{M}@champion", "--json").stdout)
    assert (v2["version"], v2["aliases"]) == ("0.2.0", ["champion"])

    state = _step(cli, repo, "alias", M, "challenger", "--delete", "--reason", "done")
    assert state["aliases"] == {"champion": "0.2.0"}
    assert "aliases" not in json.loads(cli(repo, "show", f"{M}@0.1.0", "--json").stdout)
    last = json.loads(cli(repo, "history", M, "--json").stdout)["events"][-1]
    assert (last["action"], last["version"], last["tag"]) == ("unalias", "0.1.0",
                                                            f"{M}#challenger!#{last['seq']}")
    state = _step(cli, repo, "alias", M, "champion", "--delete")
    assert state["aliases"] == {}
    # the alias comes back on a version that held it before
    state = _step(cli, repo, "alias", M, "champion", "0.1.0")
    assert state["aliases"] == {"champion": "0.1.0"}
    assert gto_state(repo) == as_gto_sees_it(gitreg_state_with_aliases(repo))  # the gto CLI, once
    assert cli(repo, "validate").exit_code == 0


def test_refs_name_at_alias_resolve_get_and_show(cli, two, tmp_path):
    repo = two
    assert cli(repo, "alias", M, "champion", "0.1.0").exit_code == 0
    resolved = json.loads(cli(repo, "resolve", f"{M}@champion", "--json").stdout)
    assert resolved["version"] == "0.1.0"
    r = cli(repo, "get", f"{M}@champion", "-o", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "model.pkl").read_bytes() == (repo / "models/m/0.1.0/model.pkl").read_bytes()
    r = cli(repo, "get", f"{M}@champion", "-o", str(tmp_path / "remote-out"), "--repo", str(repo))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "remote-out" / "model.pkl").read_bytes() == \
        (repo / "models/m/0.1.0/model.pkl").read_bytes()
    # compare marks the versions an alias points at (JSON and the table)
    rows = {r["version"]: r for r in json.loads(cli(repo, "compare", M, "--json").stdout)["versions"]}
    assert rows["0.1.0"]["aliases"] == ["champion"] and rows["0.2.0"]["aliases"] == []
    assert "@champion" in cli(repo, "compare", M).stdout
    # an unknown alias names the model's aliases; a version-like text is a version
    before = snapshot(repo)
    assert_one_line_error(cli(repo, "show", f"{M}@challenger"), 1, "no alias", "champion (0.1.0)")
    assert_one_line_error(cli(repo, "resolve", f"{M}@v1"), 1, "invalid version")
    assert_one_line_error(cli(repo, "show", f"{M}@9.9.9"), 1, "no version 9.9.9")
    assert snapshot(repo) == before


@pytest.mark.parametrize("alias,words", [
    ("1.2.3", ["version"]), ("3", ["version"]), ("v1", ["version"]), ("V1.2", ["version"]),
    ("latest", ["reserved"]), ("deprecated", ["reserved"]), ("None", ["reserved"]),
    ("staging", ["stage"]), ("Production", ["stage"]), ("archived", ["stage"]),
    ("a b", ["alias name"]), ("a/b", ["alias name"]), ("x" * 101, ["alias name"]),
])
def test_bad_alias_names_are_refused(cli, two, alias, words):
    before = snapshot(two)
    assert_one_line_error(cli(two, "alias", M, alias, "0.1.0"), 1, *words)
    assert snapshot(two) == before


def test_failures_are_one_line_and_change_nothing(cli, two):
    repo = two
    assert cli(repo, "alias", M, "champion", "0.1.0").exit_code == 0
    before = snapshot(repo)
    assert_one_line_error(cli(repo, "alias", "nope", "champion", "0.1.0"), 1, "not registered")
    assert_one_line_error(cli(repo, "alias", M, "champion", "9.9.9"), 1, "no version 9.9.9")
    assert_one_line_error(cli(repo, "alias", M, "champion", "0.1.0"), 1, "already", "nothing to do")
    assert_one_line_error(cli(repo, "alias", M, "challenger", "--delete"), 1, "no version", "challenger")
    assert_one_line_error(cli(repo, "alias", M, "champion"), 2, "--delete")
    assert_one_line_error(cli(repo, "alias", M, "champion", "0.2.0", "--delete"), 2, "--delete")
    assert snapshot(repo) == before


def test_gitreg_yaml_restricts_names_and_gates_an_alias(cli, two):
    repo = two
    _configure(repo, aliases={"allowed": ["champion", "challenger"],
                              "policies": {"champion": {"metrics": {"auc": ">= 0.85"}}}})
    before = snapshot(repo)
    assert_one_line_error(cli(repo, "alias", M, "shadow", "0.1.0"), 3, "not allowed", "champion, challenger")
    assert_one_line_error(cli(repo, "alias", M, "champion", "0.1.0"), 3, "auc", "0.85")
    assert snapshot(repo) == before
    assert cli(repo, "alias", M, "challenger", "0.1.0").exit_code == 0  # no policy
    state = _step(cli, repo, "alias", M, "champion", "0.2.0")
    assert state["aliases"] == {"champion": "0.2.0", "challenger": "0.1.0"}


def test_a_deprecated_version_cannot_take_an_alias(cli, two):
    repo = two
    path = repo / "models/m/0.1.0/manifest.yaml"
    m = yamlio.load_file(path)
    m["deprecated"] = {"at": "2026-01-01T00:00:00Z", "by": "alice@example.com", "reason": "old"}
    path.write_text(yamlio.dump(m))
    git(repo, "commit", "-qam", "deprecate 0.1.0 (as the deprecate lane will)")
    before = snapshot(repo)
    assert_one_line_error(cli(repo, "alias", M, "champion", "0.1.0"), 3, "deprecated")
    assert snapshot(repo) == before


def test_bad_aliases_config_is_refused(cli, two):
    _configure(two, aliases={"allowed": ["staging"]})
    assert_one_line_error(cli(two, "alias", M, "champion", "0.1.0"), 1, "aliases.allowed", "stage")


def test_an_alias_with_approvals_needs_another_persons_approve_commit(cli, two):
    from conftest import ALICE, BOB, as_user

    repo = two
    _configure(repo, aliases={"policies": {"champion": {"approvals": 1, "metrics": {"auc": ">= 0.85"}}}})
    alice, bob = as_user(ALICE), as_user(BOB)
    before = snapshot(repo)
    assert_one_line_error(cli(repo, "alias", M, "champion", "0.2.0", env=alice), 3, "approval",
                          "gitreg request m 0.2.0 --alias champion")
    assert_one_line_error(cli(repo, "request", M, "0.1.0", "--alias", "champion", "--reason", "x",
                              env=alice), 3, "auc")
    assert_one_line_error(cli(repo, "approve", M, "0.2.0", "--alias", "champion", env=bob), 1,
                          "no pending request")
    assert_one_line_error(cli(repo, "request", M, "0.2.0", "staging", "--alias", "champion",
                              "--reason", "x"), 2, "--alias")
    assert snapshot(repo) == before

    r = cli(repo, "request", M, "0.2.0", "--alias", "champion", "--reason", "best auc", env=alice)
    assert r.exit_code == 0, r.output
    assert_tools_agree(repo, [M])
    before = snapshot(repo)
    assert_one_line_error(cli(repo, "approve", M, "0.2.0", "--alias", "champion", env=alice), 3,
                          "cannot approve it too")
    # the request alone is not an approval
    assert_one_line_error(cli(repo, "alias", M, "champion", "0.2.0", env=alice), 3, "has 0")
    assert snapshot(repo) == before
    r = cli(repo, "approve", M, "0.2.0", "--alias", "champion", env=bob)
    assert r.exit_code == 0, r.output
    assert_one_line_error(cli(repo, "approve", M, "0.2.0", "--alias", "champion", env=bob), 1,
                          "already approved")
    r = cli(repo, "alias", M, "champion", "0.2.0", "--reason", "approved by bob", env=alice)
    assert r.exit_code == 0, r.output
    assert assert_tools_agree(repo, [M])[M]["aliases"] == {"champion": "0.2.0"}
    m = json.loads(cli(repo, "show", f"{M}@champion", "--json").stdout)
    assert m["approval"]["status"] == "approved" and m["approval"]["approver"] == BOB
    events = json.loads(cli(repo, "history", M, "--json").stdout)["events"]
    assert [e["action"] for e in events[-3:]] == ["request", "approve", "alias"]
    assert events[-1]["approved_by"] == [BOB]
    r = cli(repo, "validate")
    assert r.exit_code == 0, r.output

    # the settled request never lets the alias back on without a new one
    assert cli(repo, "alias", M, "champion", "--delete", env=alice).exit_code == 0
    before = snapshot(repo)
    assert_one_line_error(cli(repo, "alias", M, "champion", "0.2.0", env=alice), 3, "approval")
    assert snapshot(repo) == before


def test_a_forged_alias_approval_is_reported_by_validate(cli, two):
    from conftest import ALICE, BOB, as_user

    repo = two
    _configure(repo, aliases={"policies": {"champion": {"approvals": 1}}})
    r = cli(repo, "request", M, "0.2.0", "--alias", "champion", "--reason", "x", env=as_user(ALICE))
    assert r.exit_code == 0, r.output
    path = repo / "models/m/0.2.0/manifest.yaml"
    m = yamlio.load_file(path)
    m["approval"]["approvers"] = [BOB]  # written by hand, no `gitreg approve` commit by bob
    path.write_text(yamlio.dump(m))
    git(repo, "commit", "-qam", "forge")
    r = cli(repo, "validate")
    assert r.exit_code != 0 and "@champion lists bob" in r.output, r.output
    before = snapshot(repo)
    assert_one_line_error(cli(repo, "alias", M, "champion", "0.2.0", env=as_user(ALICE)), 3, "has 0")
    assert snapshot(repo) == before
