"""`promote/request --via-pr`: the branch, its one commit, the push, the pull request (or what to run)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import ALICE, BOB, as_user, git, snapshot
from gitreg import ConflictError, PolicyError, Registry, yamlio
from gitreg.ops import pr as prmod
from gitreg.ops.ci_report import github_repo_url
import ops.test_ci_flow as flow
from ops.test_ci_flow import clone, fake_gh, remote_tags

BRANCH = "gitreg/churn-1.1.0-production"
# the seeded registry of test_ci_flow (built once per session)
_seed = flow._seed
seeded = flow.seeded


def worktrees(repo: Path) -> int:
    return git(repo, "worktree", "list").count("\n")


def test_the_branch_commit_is_a_promotion_without_tags_and_approval_pending(seeded, tmp_path):
    tags = git(seeded, "tag")
    result = prmod.open_promotion(Registry(seeded).ctx, "churn", "1.1.0", "production", reason="better auc")
    assert git(seeded, "tag") == tags and result.tags == []
    remote = tmp_path / "remote.git"
    message = git(remote, "log", "-1", "--format=%B", BRANCH)
    assert message.startswith("gitreg: promote churn 1.1.0 staging -> production")
    assert "Gitreg-Via: pull-request" in message and "Gitreg-Action: promote" in message
    manifest = yamlio.loads(git(remote, "show", f"{BRANCH}:models/churn/1.1.0/manifest.yaml"), "m")
    assert manifest["stage"] == "production"
    assert manifest["approval"] == {"status": "pending", "stage": "production", "requested_by": ALICE,
                                    "requested_at": manifest["approval"]["requested_at"],
                                    "via_pull_request": True, "reason": "better auc"}
    step = manifest["history"][-1]
    assert (step["action"], step["from"], step["to"], step["by"]) == ("promote", "staging", "production", ALICE)
    old = yamlio.loads(git(remote, "show", f"{BRANCH}:models/churn/1.0.0/manifest.yaml"), "m")
    assert old["stage"] == "archived" and old["history"][-1]["replaced_by"] == "1.1.0"
    assert result.details["from"] == "staging" and result.details["archived"] == ["1.0.0"]


def test_body_lists_version_move_metrics_beside_the_holder_and_gates(seeded):
    result = prmod.open_promotion(Registry(seeded).ctx, "churn", "1.1.0", "production", reason="r")
    body = result.details["body"]
    assert "Promote **churn 1.1.0**: `staging` → `production`" in body
    assert "| metric | 1.1.0 (candidate) | 1.0.0 (current production) |" in body
    assert "| auc | 0.93 | 0.91 |" in body
    assert "✅ auc >= 0.85 (auc = 0.93)" in body and "✅ from staging" in body
    assert "1 approving review(s)" in body and "1.0.0 leaves production (archived)" in body


def test_gh_opens_the_pull_request_when_installed_and_authenticated(seeded, tmp_path):
    gh = fake_gh(tmp_path / "bin")
    env = {**os.environ, "PATH": f"{gh}{os.pathsep}{os.environ['PATH']}"}
    result = prmod.open_promotion(Registry(seeded, env=env).ctx, "churn", "1.1.0", "production", reason="r")
    assert result.details["pr_url"] == "https://github.com/acme/models/pull/7"
    assert "opened pull request https://github.com/acme/models/pull/7" in result.message
    calls = (gh / "calls").read_text().splitlines()
    assert calls[0] == "auth status"
    assert calls[1].startswith(f"pr create --base main --head {BRANCH} --title gitreg: promote churn 1.1.0")
    assert (gh / "stdin").read_text() == result.details["body"]


def test_without_gh_it_says_what_to_run_and_the_compare_url(seeded, cli):
    res = cli(seeded, "promote", "churn", "1.1.0", "production", "--via-pr", "--reason", "r", "--json",
              env={"PATH": "/usr/bin:/bin"})
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["pushed"] and data["pr_url"] is None and data["compare_url"] is None  # not a GitHub remote
    assert data["commands"][-1][:3] == ["gh", "pr", "create"]
    assert f"gh pr create --base main --head {BRANCH}" in res.stderr


@pytest.mark.parametrize("url,expected", [
    ("git@github.com:acme/models.git", "https://github.com/acme/models"),
    ("https://github.com/acme/models.git", "https://github.com/acme/models"),
    ("https://github.com/acme/models", "https://github.com/acme/models"),
    ("https://x-access-token:t@github.com/acme/models.git", "https://github.com/acme/models"),
    ("ssh://git@github.com/acme/models.git", "https://github.com/acme/models"),
    ("https://gitlab.com/acme/models.git", None),
    ("/srv/git/models.git", None),
    (None, None),
])
def test_github_repo_url(url, expected):
    assert github_repo_url(url) == expected


def test_compare_url_for_a_github_remote(seeded, tmp_path):
    # the fetch URL names GitHub; pushes go to the local stand-in
    bare = git(seeded, "remote", "get-url", "origin").strip()
    git(seeded, "config", "remote.origin.url", "git@github.com:acme/models.git")
    git(seeded, "config", "remote.origin.pushurl", bare)
    git(seeded, "config", f"url.{bare}.insteadOf", "git@github.com:acme/models.git")
    result = prmod.open_promotion(Registry(seeded, env={**os.environ, "PATH": "/usr/bin:/bin"}).ctx,
                                  "churn", "1.1.0", "production", reason="r")
    assert result.details["compare_url"] == f"https://github.com/acme/models/compare/main...{BRANCH}?expand=1"
    assert result.details["compare_url"] in result.message


def test_a_failing_gate_refuses_and_leaves_everything_as_it_was(seeded, tmp_path, cli):
    before = snapshot(seeded)
    remote_before = git(tmp_path / "remote.git", "for-each-ref")
    res = cli(seeded, "promote", "churn", "1.2.0", "production", "--via-pr", "--reason", "r")
    assert res.exit_code == 3
    assert "metric auc = 0.8 fails the gate auc >= 0.85" in res.stderr
    assert snapshot(seeded) == before
    assert git(tmp_path / "remote.git", "for-each-ref") == remote_before
    assert worktrees(seeded) == 1


def test_an_existing_pull_request_branch_is_a_conflict(seeded, tmp_path):
    prmod.open_promotion(Registry(seeded).ctx, "churn", "1.1.0", "production", reason="r")
    other = clone(tmp_path / "remote.git", tmp_path / "other")
    before = snapshot(other)
    with pytest.raises(ConflictError, match="could not push gitreg/churn-1.1.0-production"):
        prmod.open_promotion(Registry(other).ctx, "churn", "1.1.0", "production", reason="again")
    assert git(other, "branch", "--list", BRANCH) == "" and worktrees(other) == 1
    assert snapshot(other)["head"] == before["head"] and snapshot(other)["status"] == ""


def test_local_branch_of_the_same_name_is_a_conflict(seeded):
    git(seeded, "branch", BRANCH)
    with pytest.raises(ConflictError, match="already exists in this clone"):
        prmod.open_promotion(Registry(seeded).ctx, "churn", "1.1.0", "production")


def test_base_is_origin_when_the_laptop_is_behind(seeded, tmp_path):
    other = clone(tmp_path / "remote.git", tmp_path / "other")
    Registry(other).promote("churn", "1.3.0", "staging", push=True)
    old_head = git(seeded, "rev-parse", "HEAD").strip()
    prmod.open_promotion(Registry(seeded).ctx, "churn", "1.1.0", "production", reason="r")
    remote = tmp_path / "remote.git"
    assert git(remote, "rev-parse", f"{BRANCH}^").strip() == git(remote, "rev-parse", "main").strip()
    assert git(seeded, "rev-parse", "HEAD").strip() == old_head  # the laptop's main is not moved


def test_diverged_main_is_refused(seeded, tmp_path):
    other = clone(tmp_path / "remote.git", tmp_path / "other")
    Registry(other).promote("churn", "1.3.0", "staging", push=True)
    Registry(seeded).promote("churn", "1.3.0", "archived")
    with pytest.raises(ConflictError, match="have diverged"):
        prmod.open_promotion(Registry(seeded).ctx, "churn", "1.1.0", "production", reason="r")
    assert git(seeded, "branch", "--list", BRANCH) == ""


def test_without_origin_the_branch_stays_local_with_instructions(seeded):
    git(seeded, "remote", "remove", "origin")
    reg = Registry(seeded)
    result = prmod.open_promotion(reg.ctx, "churn", "1.3.0", "staging")
    assert not result.pushed
    branch = "gitreg/churn-1.3.0-staging"
    assert git(seeded, "rev-parse", f"{branch}^").strip() == git(seeded, "rev-parse", "main").strip()
    assert any("no git remote origin" in w for w in result.warnings)
    assert ["git", "push", "origin", f"{branch}:{branch}"] in result.details["commands"]
    assert git(seeded, "branch", "--show-current").strip() == "main"
    assert git(seeded, "status", "--porcelain") == ""


def test_request_via_pr_records_the_results(seeded, tmp_path, cli):
    res = cli(seeded, "request", "churn", "1.1.0", "production", "--reason", "validated",
              "--result", "accuracy=0.92", "--via-pr", "--json", env=as_user(BOB))
    assert res.exit_code == 0, res.output
    manifest = yamlio.loads(git(tmp_path / "remote.git", "show", f"{BRANCH}:models/churn/1.1.0/manifest.yaml"), "m")
    assert manifest["approval"]["results"] == {"accuracy": 0.92}
    assert manifest["approval"]["requested_by"] == BOB
    assert manifest["history"][-1]["results"] == {"accuracy": 0.92}
    assert "validation results: accuracy=0.92" in json.loads(res.stdout)["body"]


def test_a_refused_push_undoes_the_local_branch(seeded, tmp_path):
    hook = tmp_path / "remote.git" / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    tags = remote_tags(tmp_path / "remote.git")
    with pytest.raises(ConflictError):
        prmod.open_promotion(Registry(seeded).ctx, "churn", "1.1.0", "production")
    assert git(seeded, "branch", "--list", "gitreg/*") == "" and worktrees(seeded) == 1
    assert remote_tags(tmp_path / "remote.git") == tags


def test_already_in_the_stage(seeded):
    with pytest.raises(Exception, match="already in staging"):
        prmod.open_promotion(Registry(seeded).ctx, "churn", "1.1.0", "staging")
    with pytest.raises(PolicyError, match="transition none -> production is not allowed"):
        prmod.open_promotion(Registry(seeded).ctx, "churn", "1.3.0", "production")
