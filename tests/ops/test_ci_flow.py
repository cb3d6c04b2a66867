"""Pull requests as approvals, end to end with a bare repo standing in for GitHub.

A laptop clone opens the promotion branch; CI checks it against main; the platform merges it
(`git merge --no-ff` in another clone); CI publishes the tags with GITHUB_ACTOR as approver;
the production tag matches the deploy workflow's trigger; a second publish changes nothing.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ALICE, BOB, GTO, _base_env, as_user, git, gitreg_exe, snapshot
from github_standin import github_api  # noqa: F401 - a fixture
from gitreg import Registry, VersionInfo, yamlio
from gitreg.ops import pr as prmod
from gitreg.core import events as ev
from gitreg.core.tags import parse_tag

TEMPLATES = Path(__file__).resolve().parents[2] / "gitreg" / "templates" / "workflows"

POLICY = """\
schema_version: 1
branch: main
stages: [staging, production, archived]
transitions:
  none: [staging, archived]
  staging: [production, archived, none]
  production: [archived]
  archived: [staging, production]
exclusive: [production]
archive_stage: archived
rollback_stage: production
policies:
  production:
    from: [staging]
    approvals: 1
    metrics: {auc: ">= 0.85"}
"""


_SEED: dict[str, Path] = {}


@pytest.fixture(scope="session")
def _seed(tmp_path_factory: pytest.TempPathFactory, _template: Path, session_home: Path) -> Path:
    """Built once: churn 1.0.0 in production (request + approval), 1.1.0 (auc .93) and
    1.2.0 (auc .80) in staging, 1.3.0 unassigned; everything pushed to a bare remote."""
    if "base" in _SEED:  # test_pr.py imports this fixture too: build it once per session
        return _SEED["base"]
    base = tmp_path_factory.mktemp("ci-seed")
    env = _base_env(session_home)
    repo = base / "registry"
    shutil.copytree(_template, repo, symlinks=True)
    (base / "dvc-remote").mkdir()
    (repo / ".dvc" / "config").write_text(
        "[core]\n    analytics = false\n    remote = storage\n"
        f"['remote \"storage\"']\n    url = {base / 'dvc-remote'}\n")
    (repo / "gitreg.yaml").write_text(POLICY)
    git(repo, "commit", "-q", "-am", "test: gated production policy", env=env)
    git(base, "init", "-q", "--bare", "-b", "main", str(base / "remote.git"), env=env)
    git(repo, "remote", "add", "origin", str(base / "remote.git"), env=env)
    git(repo, "push", "-q", "origin", "main", env=env)
    reg = Registry(repo, env=env)
    for i, (version, auc) in enumerate([("1.0.0", 0.91), ("1.1.0", 0.93), ("1.2.0", 0.80), ("1.3.0", 0.95)]):
        art = base / f"art{i}" / "model.pkl"
        art.parent.mkdir()
        art.write_bytes(os.urandom(256))
        reg.register("churn", [art], VersionInfo(metrics={"auc": auc, "f1": 0.8}, owner="data-team"),
                     version=version)
        if version != "1.3.0":
            reg.promote("churn", version, "staging")
    reg.request("churn", "1.0.0", "production", reason="first release")
    Registry(repo, env={**env, **as_user(BOB)}).approve("churn", "1.0.0", "production")
    git(repo, "push", "-q", "origin", "main", "--tags", env=env)
    _SEED["base"] = base
    return base


@pytest.fixture
def seeded(tmp_path: Path, _seed: Path) -> Path:
    """A copy of the seed: tmp_path/registry (alice's laptop clone) with origin tmp_path/remote.git."""
    for part in ("registry", "remote.git"):
        shutil.copytree(_seed / part, tmp_path / part, symlinks=True)
    repo = tmp_path / "registry"
    git(repo, "remote", "set-url", "origin", str(tmp_path / "remote.git"))
    return repo


def clone(remote: Path, dest: Path, branch: str | None = None) -> Path:
    git(remote.parent, "clone", "-q", str(remote), str(dest))
    if branch:
        git(dest, "checkout", "-q", branch)
    return dest


def remote_tags(remote: Path) -> dict[str, str]:
    out = git(remote, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/tags")
    return dict(line.split(" ") for line in out.splitlines())


def workflow(name: str) -> dict:
    data = yamlio.load_file(TEMPLATES / name)
    # YAML 1.1 reads the key `on` as True
    data["on"] = data.pop(True, data.get("on"))
    return data


def deploy_triggered(tag: str) -> bool:
    patterns = workflow("gitreg-deploy.yml")["on"]["push"]["tags"]
    return any(fnmatch.fnmatchcase(tag, p) for p in patterns)


def edit_manifest(repo: Path, version: str, change) -> None:  # type: ignore[no-untyped-def]
    path = repo / "models" / "churn" / version / "manifest.yaml"
    data = yamlio.load_file(path)
    change(data)
    path.write_text(yamlio.dump(data))


def hand_move(repo: Path, version: str, source: str, target: str, **extra) -> None:  # type: ignore[no-untyped-def]
    """What someone editing YAML by hand would commit: a history step and the stage."""
    reg = Registry(repo)
    seq = max(h["seq"] for m in reg.store.model_manifests("churn")[0].values() for h in m["history"]) + 1

    def change(m: dict) -> None:
        m["history"].append({"seq": seq, "action": "promote", "from": source, "to": target,
                             "at": "2026-11-27T20:00:00Z", "by": ALICE, **extra})
        m["stage"] = target

    edit_manifest(repo, version, change)


def branch_with(repo: Path, name: str, edit, message: str = "hand edit") -> None:  # type: ignore[no-untyped-def]
    git(repo, "checkout", "-q", "-b", name, "origin/main")
    edit()
    git(repo, "commit", "-q", "-am", message)


# -- the whole flow ------------------------------------------------------------------------
def test_promotion_goes_from_laptop_to_production_tag_without_gitreg_on_main(seeded, tmp_path, cli):
    remote = tmp_path / "remote.git"
    before = snapshot(seeded)
    tags_before = remote_tags(remote)

    # 1. the laptop opens the promotion branch; its own checkout does not move
    result = prmod.open_promotion(Registry(seeded).ctx, "churn", "1.1.0", "production", reason="better auc")
    branch = "gitreg/churn-1.1.0-production"
    assert result.pushed and result.details["branch"] == branch
    assert result.tags == []
    assert snapshot(seeded)["head"] == before["head"]
    assert snapshot(seeded)["status"] == "" and snapshot(seeded)["files"] == before["files"]
    assert git(seeded, "branch", "--show-current").strip() == "main"
    assert git(seeded, "worktree", "list").count("\n") == 1
    assert git(seeded, "branch", "--list", branch) == ""  # the remote branch is the PR
    assert remote_tags(remote) == tags_before  # no tags before the merge
    main_tip = git(remote, "rev-parse", "main").strip()
    assert git(remote, "rev-parse", f"{branch}^").strip() == main_tip  # one commit on main
    changed = git(remote, "diff", "--name-only", main_tip, branch).split()
    # the manifests, and dvc.yaml's Studio meta (its stage holders) in the same commit
    assert changed == [".gitreg/summaries/churn.json", "dvc.yaml", "models/churn/1.0.0/manifest.yaml",
                       "models/churn/1.1.0/manifest.yaml"]
    assert "gh pr create" in " ".join(result.details["commands"][-1])
    assert "1.0.0 (current production)" in result.details["body"]

    # 2. CI checks the branch against main and writes the job summary
    ci = clone(remote, tmp_path / "ci", branch)
    step_summary = tmp_path / "step-summary.md"
    res = cli(ci, "ci", "check", "--base", "origin/main", env={"GITHUB_STEP_SUMMARY": str(step_summary)})
    assert res.exit_code == 0, res.output
    assert "✅ passed" in res.stdout and "staging → production" in res.stdout
    assert "| auc | 0.93 | 0.91 |" in res.stdout
    assert "✅ auc >= 0.85" in res.stdout
    assert step_summary.read_text() == res.stdout

    # 3. the platform merges the pull request
    platform = clone(remote, tmp_path / "platform")
    git(platform, "merge", "-q", "--no-ff", f"origin/{branch}", "-m", "Merge pull request #1",
        env={**os.environ, **as_user(BOB)})
    git(platform, "push", "-q", "origin", "main")

    # 4. CI publishes on main with the merger as approver
    runner = clone(remote, tmp_path / "runner")
    res = cli(runner, "ci", "publish", "--json", env={"GITHUB_ACTOR": "bob-gh"})
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    seq = max(h["seq"] for h in Registry(runner).show("churn@1.1.0")["history"])
    new = ["churn#production!#{}".format(seq - 1), "churn#archived#{}".format(seq - 1),
           f"churn#staging!#{seq}", f"churn#staging#{seq}", f"churn#production#{seq}"]
    assert report["created"] == new and report["pushed"] == new
    # 1.2.0 is still in staging: re-asserted, so `dvc artifacts get --stage staging` finds it
    assert git(runner, "rev-parse", f"churn#staging#{seq}^{{commit}}") == \
        git(runner, "rev-parse", "churn@v1.2.0^{commit}")
    after = remote_tags(remote)
    assert set(after) == set(tags_before) | set(new)
    reg_commit = git(runner, "rev-parse", "churn@v1.1.0^{commit}").strip()
    assert git(runner, "rev-parse", f"churn#production#{seq}^{{commit}}").strip() == reg_commit
    message = git(runner, "cat-file", "-p", f"churn#production#{seq}")
    assert "Gitreg-Approved-By: bob-gh" in message and "Gitreg-Published-By: bob-gh" in message
    assert f"Gitreg-Actor: {ALICE}" in message
    times = [int(git(runner, "for-each-ref", "--format=%(taggerdate:unix)", f"refs/tags/{t}"))
             for t in new]
    assert times == list(range(times[0], times[0] + len(new)))  # GTO sees seq order
    assert Registry(runner).doctor().clean

    # 5. a second publish changes nothing
    res = cli(runner, "ci", "publish", "--json", env={"GITHUB_ACTOR": "bob-gh"})
    assert res.exit_code == 0 and json.loads(res.stdout)["created"] == []
    assert json.loads(res.stdout)["pushed"] == [] and remote_tags(remote) == after
    assert "nothing to publish" in res.stderr

    # 6. the tags that went out start the deploy workflow exactly once: for 1.1.0
    assert [t for t in new if deploy_triggered(t)] == [f"churn#production#{seq}"]

    # 7. GTO and the laptop agree: 1.1.0 is in production
    assert GTO, "GTO must be installed for this test (.ci/run installs it)"
    proc = subprocess.run([GTO, "show", "--json"], cwd=runner, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["churn"]["stage"]["production"] == "v1.1.0"
    git(seeded, "pull", "-q", "--ff-only", "origin", "main")  # no divergence on the laptop
    assert Registry(seeded).show("churn#production")["version"] == "1.1.0"


# -- ci check violations ---------------------------------------------------------------------
def check(repo: Path, cli) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    res = cli(repo, "ci", "check", "--base", "origin/main")
    return res.exit_code, res.stdout, res.stderr


def test_check_fails_an_edited_immutable_field(seeded, cli):
    branch_with(seeded, "edit-metrics",
                lambda: edit_manifest(seeded, "1.2.0", lambda m: m["metrics"].update(auc=0.99)))
    code, out, err = check(seeded, cli)
    assert code == 3
    assert "❌ 1 violation(s)" in out
    assert "models/churn/1.2.0/manifest.yaml" in out and "metrics changed since origin/main" in out
    assert "registered fields are immutable" in err and err.strip().splitlines()[-1].startswith("error: 1 violation")


def test_check_fails_a_skipped_stage(seeded, cli):
    branch_with(seeded, "skip", lambda: hand_move(seeded, "1.3.0", "none", "production",
                                                  approved_by=[BOB]))
    code, out, err = check(seeded, cli)
    assert code == 3
    assert "transition none -> production is not allowed by gitreg.yaml (from none: staging, archived)" in out
    assert "comes from none (gate: from staging)" in out
    assert "production is exclusive but 1.0.0, 1.3.0 all hold it" in out
    assert "### churn 1.3.0: none → production" in out


def test_check_fails_a_missed_metric_gate_and_shows_both_versions(seeded, cli):
    branch_with(seeded, "gate", lambda: hand_move(seeded, "1.2.0", "staging", "production",
                                                  approved_by=[BOB]))
    code, out, _ = check(seeded, cli)
    assert code == 3
    assert "metric auc = 0.8 fails the gate auc >= 0.85" in out
    assert "| auc | 0.8 | 0.91 |" in out and "1.0.0 (current production)" in out
    assert "❌ auc >= 0.85" in out


def test_check_fails_two_stage_changes_and_edits_without_history(seeded, cli):
    def edit() -> None:
        hand_move(seeded, "1.3.0", "none", "staging")
        hand_move(seeded, "1.1.0", "staging", "archived")
        edit_manifest(seeded, "1.2.0", lambda m: m.update(stage="archived"))

    branch_with(seeded, "two", edit)
    code, out, _ = check(seeded, cli)
    assert code == 3
    assert "churn: 2 stage changes in one pull request" in out
    assert "churn 1.2.0: stage is archived but its history leaves it in staging" in out


def hand_alias(repo: Path, version: str, alias: str) -> None:
    """An alias entry written by hand (what `gitreg alias` would write, without its checks)."""
    reg = Registry(repo)
    manifests, model = reg.store.model_manifests("churn")
    seq = ev.max_seq(manifests.values(), model) + 1

    def change(m: dict) -> None:
        m["history"].append({"seq": seq, "action": "alias", "alias": alias,
                             "at": "2026-11-27T20:00:00Z", "by": ALICE})
        m["aliases"] = sorted({*(m.get("aliases") or []), alias})

    edit_manifest(repo, version, change)


def test_check_judges_alias_entries_by_the_base_policy(seeded, cli, github_api, tmp_path):
    cfg = yamlio.load_file(seeded / "gitreg.yaml")
    cfg["aliases"] = {"allowed": ["champion", "challenger"],
                      "policies": {"champion": {"approvals": 1, "metrics": {"auc": ">= 0.85"}}}}
    (seeded / "gitreg.yaml").write_text(yamlio.dump(cfg))
    git(seeded, "commit", "-qam", "aliases policy")
    git(seeded, "push", "-q", "origin", "HEAD:main")
    git(seeded, "fetch", "-q", "origin")
    # 1.2.0 (auc 0.8) takes champion by a hand edit: the gate fails, an unknown alias is refused,
    # and an `aliases:` the history does not give is named
    def edit() -> None:
        hand_alias(seeded, "1.2.0", "champion")
        hand_alias(seeded, "1.1.0", "stable")
        edit_manifest(seeded, "1.0.0", lambda m: m.update(aliases=["challenger"]))

    branch_with(seeded, "aliases", edit)
    code, out, _ = check(seeded, cli)
    assert code == 3
    assert "churn 1.2.0 @champion: metric auc = 0.8 fails the gate auc >= 0.85" in out
    assert "alias 'stable' is not allowed by gitreg.yaml" in out
    assert ("churn 1.0.0: aliases are [challenger] but its history gives [] "
            "(set aliases with `gitreg alias`, never by editing aliases:)") in out
    # a version that meets the gates still needs the pull request's approving review
    git(seeded, "checkout", "-q", "-b", "champion-ok", "origin/main")
    hand_alias(seeded, "1.1.0", "champion")
    git(seeded, "commit", "-q", "-am", "champion 1.1.0")
    env = github_api.env(tmp_path, author="alice-gh")
    res = cli(seeded, "ci", "check", "--base", "origin/main", env=env)
    assert res.exit_code == 3 and "churn 1.1.0 -> @champion: needs 1 approving review(s)" in res.stdout
    github_api.review("bob-gh")
    res = cli(seeded, "ci", "check", "--base", "origin/main", env=env)
    assert res.exit_code == 0, res.stdout


def pr_clone(seeded: Path, tmp_path: Path) -> Path:
    """CI's checkout of `gitreg promote churn 1.1.0 production --via-pr`'s branch."""
    prmod.open_promotion(Registry(seeded).ctx, "churn", "1.1.0", "production", reason="better auc")
    return clone(tmp_path / "remote.git", tmp_path / "ci", "gitreg/churn-1.1.0-production")


def test_check_counts_the_pull_requests_reviews_not_the_files(seeded, cli, github_api, tmp_path):
    seeded = pr_clone(seeded, tmp_path)
    env = github_api.env(tmp_path, author="alice-gh")
    res = cli(seeded, "ci", "check", "--base", "origin/main", env=env)
    assert res.exit_code == 3
    assert ("needs 1 approving review(s) of this pull request by someone other than its author "
            "(alice-gh); it has 0") in res.stdout
    assert github_api.requests == [("/repos/acme/models/pulls/7/reviews?per_page=100&page=1",
                                     "Bearer test-token")]
    github_api.review("alice-gh")  # the author's own approval never counts
    assert cli(seeded, "ci", "check", "--base", "origin/main", env=env).exit_code == 3
    github_api.review("bob-gh")
    res = cli(seeded, "ci", "check", "--base", "origin/main", env=env)
    assert res.exit_code == 0, res.stdout
    assert "approving reviews by bob-gh" in res.stdout
    github_api.review("carol-gh", "CHANGES_REQUESTED")
    res = cli(seeded, "ci", "check", "--base", "origin/main", env=env)
    assert res.exit_code == 3 and "changes requested by carol-gh" in res.stdout
    github_api.status = 500  # GitHub failing is not a pass
    res = cli(seeded, "ci", "check", "--base", "origin/main", env=env)
    assert res.exit_code == 3 and "cannot check its 1 approval(s): reading the reviews failed" in res.stdout


def test_check_outside_a_pull_request_leaves_the_approval_to_the_merge(seeded, cli, tmp_path):
    code, out, _ = check(pr_clone(seeded, tmp_path), cli)
    assert code == 0, out
    assert "the pull request's reviews were not read" in out and "the merge is the approval" in out


def test_check_refuses_approvals_written_into_the_files(seeded, cli, github_api, tmp_path):
    # the forged approval of issue 11: a promote naming bob as approver, no approve by bob
    branch_with(seeded, "forged", lambda: hand_move(seeded, "1.1.0", "staging", "production",
                                                   approved_by=[BOB]))
    github_api.review("bob-gh")
    res = cli(seeded, "ci", "check", "--base", "origin/main", env=github_api.env(tmp_path))
    assert res.exit_code == 3
    assert f"names {BOB} as approver: approvals written into files never count" in res.stdout
    assert f"no approval by {BOB} backs it" in res.stdout  # validate --base says it too
    assert "1 approval(s) (approved by" not in res.stdout


def test_check_judges_by_the_base_policy_not_the_one_in_the_pull_request(seeded, cli):
    def edit() -> None:
        (seeded / "gitreg.yaml").write_text(POLICY.replace('">= 0.85"', '">= 0.5"'))
        hand_move(seeded, "1.2.0", "staging", "production", approved_by=[BOB])

    branch_with(seeded, "loosen", edit)
    code, out, _ = check(seeded, cli)
    assert code == 3
    assert "metric auc = 0.8 fails the gate auc >= 0.85" in out
    assert "gitreg.yaml changes in this pull request" in out


def test_check_asks_to_rebase_when_main_moved_on(seeded, tmp_path, cli):
    prmod.open_promotion(Registry(seeded).ctx, "churn", "1.1.0", "production", reason="r")
    # meanwhile someone else registers a stage change of the same model on main
    other = clone(tmp_path / "remote.git", tmp_path / "other")
    Registry(other).promote("churn", "1.3.0", "staging", push=True)
    ci = clone(tmp_path / "remote.git", tmp_path / "ci", "gitreg/churn-1.1.0-production")
    code, out, _ = check(ci, cli)
    assert code == 3
    assert "rebase this branch on origin/main" in out


def test_check_passes_a_registration_and_writes_the_summary_file(seeded, tmp_path, cli, make_artifact):
    # register refuses other branches: register on main, then move the commit to a branch
    Registry(seeded).register("churn", [make_artifact()], VersionInfo(metrics={"auc": 0.9}), version="2.0.0")
    git(seeded, "branch", "-f", "new-version")
    git(seeded, "reset", "-q", "--hard", "origin/main")
    git(seeded, "checkout", "-q", "new-version")
    summary = tmp_path / "summary.md"
    res = cli(seeded, "ci", "check", "--base", "origin/main", "--summary", str(summary))
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    assert "No stage changes in this pull request." in summary.read_text()
    data = Registry(seeded).ci_check("origin/main").to_dict()
    assert data["ok"] and "models/churn/2.0.0/manifest.yaml" in data["changed"]


def test_check_needs_a_known_base(seeded, cli):
    res = cli(seeded, "ci", "check", "--base", "origin/nope")
    assert res.exit_code == 1 and "unknown git reference 'origin/nope'" in res.stderr


def test_installed_command_exits_3_with_every_violation_and_no_traceback(seeded):
    def edit() -> None:
        edit_manifest(seeded, "1.2.0", lambda m: m["metrics"].update(auc=0.99))
        hand_move(seeded, "1.2.0", "staging", "production", approved_by=[BOB])

    branch_with(seeded, "bad", edit)
    proc = subprocess.run([*gitreg_exe(), "ci", "check", "--base", "origin/main"], cwd=seeded,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("  - ")]
    assert len(lines) == 5 and "metrics changed since origin/main" in lines[0]
    assert f"names {BOB} as approver, but no approval by {BOB} backs it" in lines[1]
    assert f"names {BOB} as approver: approvals written into files never count" in lines[2]
    assert "metric auc = 0.8 fails the gate auc >= 0.85" in lines[3]  # the registered value
    assert "production is exclusive but 1.0.0, 1.2.0 all hold it" in lines[4]
    assert proc.stderr.splitlines()[-1].startswith("error: 5 violation(s)")


# -- ci publish ------------------------------------------------------------------------------
def merged(seeded: Path, tmp_path: Path) -> Path:
    """The promotion of 1.1.0 opened, merged on the remote; returns a CI clone of main."""
    prmod.open_promotion(Registry(seeded).ctx, "churn", "1.1.0", "production", reason="better")
    platform = clone(tmp_path / "remote.git", tmp_path / "platform")
    git(platform, "merge", "-q", "--no-ff", "origin/gitreg/churn-1.1.0-production", "-m", "Merge")
    git(platform, "push", "-q", "origin", "main")
    return clone(tmp_path / "remote.git", tmp_path / "runner")


def fake_gh(folder: Path) -> Path:
    """A stand-in for the gh CLI (GitHub is not reachable): logs its arguments and stdin."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "gh"
    script.write_text(
        "#!/bin/sh\n"
        f"log={folder}/calls\n"
        'echo "$@" >> "$log"\n'
        'case "$1 $2" in\n'
        '  "auth status") exit 0 ;;\n'
        f'  "pr create") cat > {folder}/stdin; echo https://github.com/acme/models/pull/7 ;;\n'
        '  "release create") echo "https://github.com/acme/models/releases/tag/$3" ;;\n'
        "esac\n")
    script.chmod(0o755)
    return folder


def test_publish_creates_a_release_with_gh_and_writes_the_notes(seeded, tmp_path):
    runner = merged(seeded, tmp_path)
    gh = fake_gh(tmp_path / "bin")
    env = {**os.environ, "PATH": f"{gh}{os.pathsep}{os.environ['PATH']}", "GITHUB_ACTOR": "bob-gh",
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    report = Registry(runner, env=env).ci_publish(release=True, notes_dir=tmp_path / "notes")
    prod = [t for t in report.created if t.startswith("churn#production#")]
    assert len(prod) == 1 and [r["tag"] for r in report.releases] == prod  # only the assignment
    rel = report.releases[0]
    assert rel["created"] and rel["url"].endswith(prod[0])
    notes = Path(rel["notes_file"]).read_text()
    assert "churn 1.1.0: staging → production" in notes and "| auc | 0.93 |" in notes
    assert "approved by: bob-gh" in notes
    calls = (gh / "calls").read_text().splitlines()
    assert f"release create {prod[0]} --title churn 1.1.0 → production --notes-file {rel['notes_file']} --verify-tag" in calls
    assert "created `" in (tmp_path / "summary.md").read_text()


def test_publish_without_gh_keeps_the_notes_and_warns(seeded, tmp_path):
    runner = merged(seeded, tmp_path)
    env = {**os.environ, "PATH": "/usr/bin:/bin", "GITHUB_ACTOR": "bob-gh"}
    report = Registry(runner, env=env).ci_publish(release=True)
    assert report.releases and not report.releases[0]["created"]
    assert Path(report.releases[0]["notes_file"]).is_file()
    assert any("gh is not installed" in w for w in report.warnings)
    assert report.releases[0]["command"][:3] == ["gh", "release", "create"]


def test_publish_refused_push_leaves_the_clone_as_it_was(seeded, tmp_path, cli):
    runner = merged(seeded, tmp_path)
    hook = tmp_path / "remote.git" / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected tags' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = snapshot(runner)
    res = cli(runner, "ci", "publish", env={"GITHUB_ACTOR": "bob-gh"})
    assert res.exit_code == 4 and "pushing the tags was rejected" in res.stderr
    assert snapshot(runner)["refs"] == before["refs"]
    hook.unlink()
    res = cli(runner, "ci", "publish", env={"GITHUB_ACTOR": "bob-gh"})
    assert res.exit_code == 0 and "published 5 new tag(s) with approver bob-gh" in res.stderr


def test_publish_pushes_tags_a_previous_local_run_left_behind(seeded, tmp_path):
    runner = merged(seeded, tmp_path)
    local = Registry(runner, env={**os.environ, "GITHUB_ACTOR": "ci"}).ci_publish(push=False)
    assert len(local.created) == 5 and local.pushed == []  # incl. 1.2.0 re-asserted in staging
    again = Registry(runner, env={**os.environ, "GITHUB_ACTOR": "ci"}).ci_publish()
    assert again.created == [] and sorted(again.pushed) == sorted(local.created)
    assert set(local.created) <= set(remote_tags(tmp_path / "remote.git"))


def test_publish_approver_defaults_and_option(seeded, tmp_path, cli):
    runner = merged(seeded, tmp_path)
    res = cli(runner, "ci", "publish", "--no-push", "--approver", "carol-gh", env={"GITHUB_ACTOR": "bob-gh"})
    assert res.exit_code == 0
    tag = [t for t in git(runner, "tag").split() if t.startswith("churn#production#")][-1]
    assert "Gitreg-Approved-By: carol-gh" in git(runner, "cat-file", "-p", tag)


def test_publish_runs_only_on_the_registry_branch(seeded, cli):
    git(seeded, "checkout", "-q", "-b", "feature")
    res = cli(seeded, "ci", "publish")
    assert res.exit_code == 4 and "registry changes are made on main" in res.stderr


def test_publish_with_push_needs_origin(repo, cli):
    res = cli(repo, "ci", "publish", "--push")
    assert res.exit_code == 1 and "no git remote 'origin'" in res.stderr
    res = cli(repo, "ci", "publish")  # no origin: tags locally, nothing to push
    assert res.exit_code == 0 and "nothing to publish" in res.stderr


# -- via_pull_request policy ------------------------------------------------------------------
def test_via_pull_request_policy_refuses_direct_promote_but_not_the_pr_path(seeded, tmp_path, cli):
    (seeded / "gitreg.yaml").write_text(POLICY.replace("approvals: 1", "approvals: 1\n    via_pull_request: true"))
    git(seeded, "commit", "-q", "-am", "production only through pull requests")
    git(seeded, "push", "-q", "origin", "main")
    before = snapshot(seeded)
    res = cli(seeded, "promote", "churn", "1.1.0", "production", env=as_user(BOB))
    assert res.exit_code == 3 and "--via-pr" in res.stderr
    assert snapshot(seeded) == before
    res = cli(seeded, "promote", "churn", "1.1.0", "production", "--via-pr", "--reason", "r", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["branch"] == "gitreg/churn-1.1.0-production"
    ci = clone(tmp_path / "remote.git", tmp_path / "ci", "gitreg/churn-1.1.0-production")
    assert check(ci, cli)[0] == 0
    # a hand-made promotion that did not go through --via-pr is flagged by the check
    branch_with(seeded, "direct", lambda: hand_move(seeded, "1.1.0", "staging", "production",
                                                    approved_by=[BOB]))
    code, out, _ = check(seeded, cli)
    assert code == 3 and "is changed only through a pull request made with" in out
    # publish may still land it (the merge is the review)
    platform = clone(tmp_path / "remote.git", tmp_path / "platform")
    git(platform, "merge", "-q", "--no-ff", "origin/gitreg/churn-1.1.0-production", "-m", "Merge")
    git(platform, "push", "-q", "origin", "main")
    runner = clone(tmp_path / "remote.git", tmp_path / "runner")
    report = Registry(runner, env={**os.environ, "GITHUB_ACTOR": "bob-gh"}).ci_publish()
    assert any(parse_tag(t).stage == "production" for t in report.pushed)
