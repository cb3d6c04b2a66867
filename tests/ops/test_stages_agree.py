"""Every tool sees the same stages (issue 11 §2): gitreg, the real gto and `dvc artifacts get --stage`,
after every step of shared stages, exclusive production, rollbacks and doctor --fix."""

from __future__ import annotations

import json

from agree import assert_tools_agree, gitreg_state, gto_state
from conftest import git, snapshot
from gitreg import Registry, yamlio

M = "m"


def _no_approvals(repo):
    cfg = yamlio.load_file(repo / "gitreg.yaml")
    cfg["policies"] = {"production": {"from": ["staging"], "approvals": 0}}
    (repo / "gitreg.yaml").write_text(yamlio.dump(cfg))
    git(repo, "commit", "-qam", "policy: no approvals")


def _stepper(cli, repo):
    def step(*args: str) -> dict:
        """One mutation; then gitreg, gto, DVC and doctor agree; returns the model's stages."""
        r = cli(repo, *args)
        assert r.exit_code == 0, r.output
        return assert_tools_agree(repo, [M])[M]["stages"]
    return step


def test_shared_stages_exclusive_production_and_rollbacks_agree_everywhere(cli, repo, make_artifact):
    _no_approvals(repo)
    step = _stepper(cli, repo)
    for v in ("0.1.0", "0.2.0", "0.3.0"):
        step("register", M, str(make_artifact(512)), "--version", v)

    # staging holds several: the one assigned last is shown
    assert step("promote", M, "0.1.0", "staging") == {"staging": "0.1.0"}
    assert step("promote", M, "0.2.0", "staging") == {"staging": "0.2.0"}
    # the repro: 0.2.0 leaves, 0.1.0 still holds staging (DVC fetched 0.2.0 before)
    assert step("promote", M, "0.2.0", "none") == {"staging": "0.1.0"}
    assert git(repo, "rev-parse", f"{M}#staging#6^{{commit}}") == git(repo, "rev-parse", f"{M}@v0.1.0^{{commit}}")
    last = json.loads(cli(repo, "history", M, "--json").stdout)["events"][-1]
    assert (last["version"], last["tag"]) == ("0.2.0", f"{M}#staging!#6")  # the event's own tag
    # the older holder leaves while the newer is shown, then the stage empties
    assert step("promote", M, "0.2.0", "staging") == {"staging": "0.2.0"}
    assert step("promote", M, "0.1.0", "none") == {"staging": "0.2.0"}
    assert step("promote", M, "0.2.0", "none") == {}

    # archived holds several; one leaves it for staging
    assert step("promote", M, "0.1.0", "archived") == {"archived": "0.1.0"}
    assert step("promote", M, "0.2.0", "archived") == {"archived": "0.2.0"}
    assert step("promote", M, "0.2.0", "staging") == {"staging": "0.2.0", "archived": "0.1.0"}

    # exclusive production: promoting 0.3.0 archives 0.2.0
    assert step("promote", M, "0.2.0", "production") == {"production": "0.2.0", "archived": "0.1.0"}
    assert step("promote", M, "0.3.0", "staging") == {"staging": "0.3.0", "production": "0.2.0",
                                                       "archived": "0.1.0"}
    assert step("promote", M, "0.3.0", "production") == {"production": "0.3.0", "archived": "0.2.0"}

    # rollback, rollback --to, and a rollback again restores the version --to displaced
    assert step("rollback", M, "--reason", "bad") == {"production": "0.2.0", "archived": "0.3.0"}
    assert step("rollback", M, "--to", "0.3.0", "--reason", "fixed") == {"production": "0.3.0",
                                                                         "archived": "0.2.0"}
    assert step("rollback", M, "--reason", "bad again") == {"production": "0.2.0", "archived": "0.3.0"}
    # a manual archive empties production: nothing left to roll back to
    assert step("promote", M, "0.2.0", "archived") == {"archived": "0.2.0"}
    before = snapshot(repo)
    r = cli(repo, "rollback", M, "--reason", "x")
    assert r.exit_code == 1 and "nothing to roll back to" in r.stderr
    assert snapshot(repo) == before
    assert gto_state(repo) == gitreg_state(repo)  # the gto CLI itself, once


def test_rollback_stack_survives_rollback_to(cli, repo, make_artifact):
    """v1 and v2 through staging to production; rollback; rollback --to 0.2.0; rollback -> 0.1.0."""
    _no_approvals(repo)
    step = _stepper(cli, repo)
    for v in ("0.1.0", "0.2.0"):
        step("register", M, str(make_artifact(512)), "--version", v)
        step("promote", M, v, "staging")
        step("promote", M, v, "production")
    assert gitreg_state(repo)[M]["stages"] == {"production": "0.2.0", "archived": "0.1.0"}
    assert step("rollback", M, "--reason", "r1") == {"production": "0.1.0", "archived": "0.2.0"}
    assert step("rollback", M, "--to", "0.2.0", "--reason", "r2") == {"production": "0.2.0",
                                                                      "archived": "0.1.0"}
    r = cli(repo, "rollback", M, "--reason", "r3")
    assert r.exit_code == 0, r.output  # was "nothing to roll back to"
    assert "0.1.0 holds production" in r.stderr
    assert assert_tools_agree(repo, [M])[M]["stages"] == {"production": "0.1.0", "archived": "0.2.0"}


def test_doctor_fix_recreates_reassertions_that_still_matter(cli, repo, make_artifact):
    """A registry tagged before re-assertions existed: doctor asks only for the one still in force
    (a superseded one, recreated now, would outrank later tags of its stage)."""
    reg = Registry(repo)
    for v in ("0.1.0", "0.2.0", "0.3.0"):
        reg.register(M, [make_artifact(512)], version=v)
        reg.promote(M, v, "staging")
    reg.promote(M, "0.3.0", "none")       # seq 7: re-asserts 0.2.0, superseded by seq 8
    reg.promote(M, "0.2.0", "archived")   # seq 8: re-asserts 0.1.0 in staging
    assert reg.doctor().clean
    reasserted = [f"{M}#staging#7", f"{M}#staging#8"]
    for tag in reasserted:
        git(repo, "tag", "-d", tag)
    r = cli(repo, "doctor")
    assert r.exit_code == 1
    assert f"missing: {M}#staging#8" in r.stderr and f"{M}#staging#7" not in r.stderr
    assert cli(repo, "doctor", "--fix").exit_code == 0
    assert git(repo, "rev-parse", f"{M}#staging#8^{{commit}}") == git(repo, "rev-parse", f"{M}@v0.1.0^{{commit}}")
    assert "recreated by gitreg doctor --fix" in git(repo, "cat-file", "-p", f"{M}#staging#8")
    assert assert_tools_agree(repo, [M])[M]["stages"] == {"staging": "0.1.0", "archived": "0.2.0"}
