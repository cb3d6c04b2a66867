"""The seed's whole scenario from the CLI on a real repo, with the real GTO agreeing at each step."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agree import assert_tools_agree, gitreg_state, gto_state
from conftest import ALICE, BOB, CAROL, as_user, git, registry_as, snapshot
from gitreg import Registry, VersionInfo
from gitreg import yamlio

MODEL = "ChurnPredictionModel"


def ok(result):
    assert result.exit_code == 0, result.output
    return result


def test_seed_scenario_end_to_end(cli, repo, make_artifact):
    def step(*args: str, env: dict | None = None):
        """One mutation, then gitreg, gto, DVC and doctor must agree."""
        result = ok(cli(repo, *args, env=env))
        step.state = assert_tools_agree(repo)[MODEL]["stages"]
        return result

    for i, (acc, auc) in enumerate([(0.90, 0.91), (0.92, 0.93), (0.94, 0.95)], start=1):
        step("register", MODEL, str(make_artifact()), "--version", f"{i}.0.0",
             "--metric", f"accuracy={acc}", "--metric", f"auc={auc}", "--framework", "sklearn",
             "--algorithm", "RandomForestClassifier", "-m", f"v{i}")
    assert gitreg_state(repo) == {MODEL: {"latest": "3.0.0", "stages": {}}}

    # 1.0.0: request -> approve to staging, then production with validation results
    step("request", MODEL, "1.0.0", "staging", "--reason", "first candidate")
    step("approve", MODEL, "1.0.0", "staging", env=as_user(BOB))
    assert step.state == {"staging": "1.0.0"}
    step("request", MODEL, "1.0.0", "production", "--reason", "passed validation",
         "--result", "accuracy=0.90", "--result", "suite=passed")
    pending = Registry(repo).show(f"{MODEL}@1.0.0")["approval"]
    assert pending["status"] == "pending" and pending["results"] == {"accuracy": 0.9, "suite": "passed"}
    step("approve", MODEL, "1.0.0", "production", env=as_user(BOB))
    assert step.state == {"production": "1.0.0"}

    # 2.0.0 and 3.0.0 to production in turn: each archives the old holder in the same commit
    for v in ("2.0.0", "3.0.0"):
        step("request", MODEL, v, "staging", "--reason", f"{v} candidate")
        step("approve", MODEL, v, "staging", env=as_user(CAROL))
        step("request", MODEL, v, "production", "--reason", f"{v} is better")
        head = git(repo, "rev-parse", "HEAD")
        r = step("approve", MODEL, v, "production", env=as_user(BOB))
        assert "archived" in r.stderr
        assert int(git(repo, "rev-list", "--count", f"{head.strip()}..HEAD")) == 1
    assert step.state == {"production": "3.0.0", "archived": "2.0.0"}

    # rollback to previous: 3.0.0 -> 2.0.0, then again to 1.0.0, then nothing left
    step("rollback", MODEL, "--reason", "latency regression")
    assert step.state == {"production": "2.0.0", "archived": "3.0.0"}
    step("rollback", MODEL, "--reason", "still bad", env=as_user(CAROL))
    assert step.state == {"production": "1.0.0", "archived": "2.0.0"}
    before = snapshot(repo)
    r = cli(repo, "rollback", MODEL, "--reason", "again")
    assert r.exit_code == 1 and "nothing to roll back to" in r.stderr
    assert snapshot(repo) == before

    # rollback to a specific version
    step("rollback", MODEL, "--to", "3.0.0", "--reason", "fixed upstream")
    assert step.state == {"production": "3.0.0", "archived": "1.0.0"}
    r = cli(repo, "rollback", MODEL, "--to", "3.0.0", "--reason", "x")
    assert r.exit_code == 1 and "already holds production" in r.stderr

    # history: every step in seq order with actors and reasons
    hist = json.loads(ok(cli(repo, "history", MODEL, "--json")).stdout)
    events = hist["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    steps = [(e["action"], e["version"], e["from"], e["to"], e["by"]) for e in events]
    assert steps[:3] == [("register", f"{i}.0.0", None, None, ALICE) for i in (1, 2, 3)]
    assert ("request", "1.0.0", "none", "staging", ALICE) in steps
    assert ("approve", "1.0.0", "none", "staging", BOB) in steps
    assert ("promote", "1.0.0", "staging", "production", BOB) in steps
    assert ("archive", "2.0.0", "production", "archived", BOB) in steps
    assert steps[-2:] == [("rollback", "1.0.0", "production", "archived", ALICE),
                          ("rollback", "3.0.0", "archived", "production", ALICE)]
    rollbacks = [e for e in events if e["action"] == "rollback"]
    assert {e["reason"] for e in rollbacks} == {"latency regression", "still bad", "fixed upstream"}
    assert all(e["commit"] for e in events)
    promote = next(e for e in events if e["action"] == "promote" and e["to"] == "production"
                   and e["version"] == "1.0.0")
    assert promote["approved_by"] == [BOB] and promote["tag"] == f"{MODEL}#production#{promote['seq']}"
    # tags point at registration commits; doctor and validate are clean
    reg_commit = git(repo, "rev-parse", f"{MODEL}@v3.0.0^{{commit}}").strip()
    assert git(repo, "rev-parse", f"{promote['tag']}^{{commit}}") == \
        git(repo, "rev-parse", f"{MODEL}@v1.0.0^{{commit}}")
    last = events[-1]
    assert git(repo, "rev-parse", f"{last['tag']}^{{commit}}").strip() == reg_commit
    assert ok(cli(repo, "doctor")).exit_code == 0
    assert ok(cli(repo, "validate")).exit_code == 0
    assert ok(cli(repo, "show", f"{MODEL}#production", "--json")).stdout.count('"version": "3.0.0"') == 1


@pytest.fixture
def three(reg, make_artifact):
    for v, auc in (("1.0.0", 0.80), ("2.0.0", 0.90), ("3.0.0", 0.95)):
        reg.register("m", [make_artifact()], VersionInfo(metrics={"auc": auc}), version=v)
    return reg


def _policy(repo, **production):
    cfg = yamlio.load_file(repo / "gitreg.yaml")
    cfg["policies"] = {"production": production}
    (repo / "gitreg.yaml").write_text(yamlio.dump(cfg))
    git(repo, "commit", "-qam", "policy")


def test_policy_refusals_exit_3_and_leave_nothing(cli, repo, three):
    _policy(repo, **{"from": ["staging"], "approvals": 0, "metrics": {"auc": ">= 0.85"}})
    ok(cli(repo, "promote", "m", "1.0.0", "staging"))
    before = snapshot(repo)
    r = cli(repo, "promote", "m", "1.0.0", "production")  # gate fails
    assert r.exit_code == 3 and "auc = 0.8 fails the gate auc >= 0.85" in r.stderr
    r = cli(repo, "promote", "m", "2.0.0", "production")  # skips staging
    assert r.exit_code == 3 and "only from staging" in r.stderr
    r = cli(repo, "promote", "m", "2.0.0", "archived")
    assert r.exit_code == 0
    before = snapshot(repo)
    r = cli(repo, "promote", "m", "2.0.0", "none")  # archived -> none is not a transition
    assert r.exit_code == 3 and "not allowed" in r.stderr
    r = cli(repo, "promote", "m", "1.0.0", "Staging")  # case-insensitive, already there
    assert r.exit_code == 1 and "already in staging" in r.stderr
    r = cli(repo, "promote", "m", "1.0.0", "prod")
    assert r.exit_code == 1 and "unknown stage" in r.stderr and "production" in r.stderr
    r = cli(repo, "promote", "m", "9.0.0", "staging")
    assert r.exit_code == 1 and "no version 9.0.0" in r.stderr
    assert snapshot(repo) == before


def test_approvals_missing_self_and_reject(cli, repo, three):
    ok(cli(repo, "promote", "m", "3.0.0", "staging"))
    before = snapshot(repo)
    r = cli(repo, "promote", "m", "3.0.0", "production")
    assert r.exit_code == 3 and "approval" in r.stderr and "gitreg request" in r.stderr
    r = cli(repo, "approve", "m", "3.0.0", "production", env=as_user(BOB))
    assert r.exit_code == 1 and "no pending request" in r.stderr
    assert snapshot(repo) == before
    ok(cli(repo, "request", "m", "3.0.0", "production", "--reason", "go"))
    before = snapshot(repo)
    r = cli(repo, "approve", "m", "3.0.0", "production")  # alice approving her own request
    assert r.exit_code == 3 and "cannot approve it too" in r.stderr
    assert snapshot(repo) == before
    ok(cli(repo, "reject", "m", "3.0.0", "production", "--reason", "needs a load test", env=as_user(BOB)))
    m = Registry(repo).show("m@3.0.0")
    assert m["approval"]["status"] == "rejected" and m["approval"]["rejected_by"] == BOB
    assert m["stage"] == "staging"
    assert m["history"][-1]["action"] == "reject" and m["history"][-1]["reason"] == "needs a load test"


def test_two_approvals_need_two_distinct_people(repo, three):
    _policy(repo, **{"from": ["staging"], "approvals": 2})
    alice = Registry(repo)
    alice.promote("m", "2.0.0", "staging")
    alice.request("m", "2.0.0", "production", reason="ship")
    first = registry_as(repo, BOB).approve("m", "2.0.0", "production")
    assert not first.details["promoted"] and alice.show("m@2.0.0")["stage"] == "staging"
    second = registry_as(repo, CAROL).approve("m", "2.0.0", "production")
    assert second.details["promoted"]
    m = alice.show("m@2.0.0")
    assert m["stage"] == "production" and m["history"][-1]["approved_by"] == [BOB, CAROL]


def test_keep_existing_refused_on_exclusive_stage_allowed_elsewhere(repo, three):
    reg = Registry(repo)
    reg.promote("m", "1.0.0", "staging")
    reg.promote("m", "2.0.0", "staging", keep_existing=True)
    assert {m["version"]: m["stage"] for m in reg.show("m")["versions"]} == {
        "1.0.0": "staging", "2.0.0": "staging", "3.0.0": "none"}
    assert reg.list_models()["models"][0]["stages"] == {"staging": "2.0.0"}
    _policy(repo, **{"approvals": 0})
    reg.promote("m", "1.0.0", "production")
    from gitreg import PolicyError

    with pytest.raises(PolicyError, match="exclusive"):
        reg.promote("m", "2.0.0", "production", keep_existing=True)


def test_doctor_finds_and_fixes_missing_tags_ignores_foreign(cli, repo, three):
    reg = Registry(repo)
    reg.promote("m", "2.0.0", "staging")
    git(repo, "tag", "-d", "m@v1.0.0")
    git(repo, "tag", "-d", "m#staging#4")
    git(repo, "tag", "release-1")
    git(repo, "tag", "-a", "-m", "x", "weird@thing")
    r = cli(repo, "doctor")
    assert r.exit_code == 1
    assert "missing: m@v1.0.0" in r.stderr and "missing: m#staging#4" in r.stderr
    assert "weird@thing" in r.stderr and "ignored" in r.stderr
    ok(cli(repo, "doctor", "--fix"))
    added = git(repo, "log", "--diff-filter=A", "--format=%H", "--", "models/m/1.0.0/manifest.yaml")
    assert git(repo, "rev-parse", "m@v1.0.0^{commit}") == added
    assert git(repo, "cat-file", "-t", "m@v1.0.0").strip() == "tag"
    assert git(repo, "rev-parse", "m#staging#4^{commit}") == git(repo, "rev-parse", "m@v2.0.0^{commit}")
    assert ok(cli(repo, "doctor")).exit_code == 0
    assert gto_state(repo) == gitreg_state(repo)
    git(repo, "tag", "-f", "-a", "-m", "moved", "m@v3.0.0", "HEAD")
    r = cli(repo, "doctor")
    assert r.exit_code == 1 and "wrong commit: m@v3.0.0" in r.stderr


def test_dvc_artifacts_get_resolves_the_production_version(repo, reg, make_artifact, tmp_path):
    _policy(repo, **{"approvals": 0})
    arts = {}
    for v in ("1.0.0", "2.0.0"):
        arts[v] = make_artifact(4000)
        reg.register("churn", [arts[v]], version=v)
        reg.promote("churn", v, "staging")
        reg.promote("churn", v, "production")
    reg.rollback("churn", reason="bad")
    proc = subprocess.run([sys.executable, "-m", "dvc", "push", "-q"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "fetched"
    proc = subprocess.run([sys.executable, "-m", "dvc", "artifacts", "get", str(repo), "churn",
                           "--stage", "production", "-o", str(out)], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == arts["1.0.0"].read_bytes()


def test_require_signed_binds_approve_as_well_as_promote(cli, repo, three):
    _policy(repo, **{"from": ["staging"], "approvals": 1, "require_signed": True})
    ok(cli(repo, "promote", "m", "3.0.0", "staging"))
    ok(cli(repo, "request", "m", "3.0.0", "production", "--reason", "ship"))
    before = snapshot(repo)
    r = cli(repo, "approve", "m", "3.0.0", "production", env=as_user(BOB))
    assert r.exit_code == 3 and "requires signed promotions" in r.stderr
    assert snapshot(repo) == before
    assert Registry(repo).show("m@3.0.0")["stage"] == "staging"
