"""Trust (issue 11 §1): an approval counts only where an identity outside the files backs it.

Every attack here is what a person with write access to a clone can do with an editor and
plain git: append history, edit the approval block, forge commit trailers. Each is run
against real git and DVC through the installed `gitreg`, and the real gto where tags are read.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import ALICE, BOB, CAROL, GTO, as_user, git, gitreg_exe
from gitreg import Registry, VersionInfo, yamlio
from ops.test_ci_flow import _seed, clone, merged, seeded  # noqa: F401 - fixtures

DAVE = "dave@example.com"
MALLORY = "mallory@example.com"


def run(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*gitreg_exe(), *args], cwd=repo, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, check=False, timeout=120)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stderr
    return proc


def manifest(repo: Path, version: str) -> Path:
    return repo / "models" / "churn" / version / "manifest.yaml"


def edit(repo: Path, version: str, change, who: str = ALICE, message: str = "hand edit",  # type: ignore[no-untyped-def]
         ) -> None:
    path = manifest(repo, version)
    data = yamlio.load_file(path)
    change(data)
    path.write_text(yamlio.dump(data))
    git(repo, "commit", "-q", "-am", message, env={**os.environ, **as_user(who)})


def next_seq(repo: Path) -> int:
    ms = Registry(repo).store.model_manifests("churn")[0]
    return max(h["seq"] for m in ms.values() for h in m["history"]) + 1


@pytest.fixture
def staged(repo: Path, make_artifact) -> Path:  # type: ignore[no-untyped-def]
    """churn 0.1.0 and 0.2.0 in staging; production needs 1 approval (init's default)."""
    reg = Registry(repo)
    for v in ("0.1.0", "0.2.0"):
        reg.register("churn", [make_artifact()], VersionInfo(metrics={"auc": 0.9}), version=v)
        reg.promote("churn", v, "staging")
    return repo


def test_a_forged_promotion_with_an_approver_is_reported_by_validate_and_doctor(staged):
    seq = next_seq(staged)

    def forge(m: dict) -> None:
        m["history"].append({"seq": seq, "action": "promote", "from": "staging", "to": "production",
                             "at": "2026-11-27T20:00:00Z", "by": ALICE, "approved_by": [BOB]})
        m["stage"] = "production"

    edit(staged, "0.2.0", forge)
    for args in (["validate"], ["validate", "--base", "HEAD~1"]):
        proc = run(staged, *args)
        assert proc.returncode == 1, proc.stderr
        assert f"names {BOB} as approver, but no approval by {BOB} backs it" in proc.stdout + proc.stderr
    proc = run(staged, "doctor")
    assert proc.returncode == 1 and "unbacked: churn 0.2.0:" in proc.stderr
    assert json.loads(run(staged, "doctor", "--json").stdout)["clean"] is False


def test_an_entry_written_under_someone_elses_name_is_reported(staged):
    # mallory commits an approve event that says bob approved
    seq = next_seq(staged)
    edit(staged, "0.2.0", lambda m: m["history"].append(
        {"seq": seq, "action": "approve", "from": "staging", "to": "production",
         "at": "2026-11-27T20:00:00Z", "by": BOB}), who=MALLORY)
    proc = run(staged, "validate")
    assert proc.returncode == 1
    assert (f"history seq {seq} (approve by {BOB}) was recorded by commit") in proc.stdout + proc.stderr
    assert f"authored by {MALLORY}" in proc.stdout + proc.stderr


def test_hand_edited_approvers_do_not_count_toward_the_policy(staged):
    (staged / "gitreg.yaml").write_text((staged / "gitreg.yaml").read_text().replace(
        "approvals: 1", "approvals: 3"))
    git(staged, "commit", "-q", "-am", "three approvals for production")
    ok(run(staged, "request", "churn", "0.2.0", "production", "--reason", "r"))
    ok(run(staged, "approve", "churn", "0.2.0", "production", env=as_user(BOB)))
    edit(staged, "0.2.0", lambda m: m["approval"]["approvers"].append(CAROL))
    res = ok(run(staged, "approve", "churn", "0.2.0", "production", "--json", env=as_user(DAVE)))
    assert json.loads(res.stdout)["promoted"] is False  # bob and dave: 2 of 3, carol is forged
    shown = Registry(staged).show("churn@0.2.0")
    assert shown["stage"] == "staging" and shown["approval"]["approvers"] == [BOB, DAVE]
    ok(run(staged, "approve", "churn", "0.2.0", "production", env=as_user(CAROL)))
    assert Registry(staged).show("churn@0.2.0")["stage"] == "production"


def test_a_forged_approval_block_is_reported(staged):
    ok(run(staged, "request", "churn", "0.2.0", "production", "--reason", "r"))
    edit(staged, "0.2.0", lambda m: m["approval"].update(approvers=[BOB]))
    proc = run(staged, "validate")
    assert proc.returncode == 1
    assert f"approval to production lists {BOB}, but no `gitreg approve` commit by {BOB}" in proc.stdout


def test_forged_trailers_do_not_reattribute_a_history_event(staged):
    real = {e["seq"]: e["commit"] for e in Registry(staged).history("churn")["events"]}
    target = max(real)
    # a plain commit touching a manifest claims the last event in its trailers
    path = manifest(staged, "0.1.0")
    data = yamlio.load_file(path)
    data["deployment"] = {"endpoint": "https://serving.example/churn"}
    path.write_text(yamlio.dump(data))
    git(staged, "commit", "-q", "-am",
        f"tweak\n\nGitreg-Action: promote\nGitreg-Model: churn\nGitreg-Seq: {target}\n",
        env={**os.environ, **as_user(MALLORY)})
    after = {e["seq"]: e["commit"] for e in Registry(staged).history("churn")["events"]}
    assert after == real
    proc = run(staged, "validate")
    assert proc.returncode == 1
    assert f"claims Gitreg-Seq {target} of churn in its message but did not record that entry" in proc.stdout


def test_a_rewritten_history_entry_is_reported_on_main(staged):
    edit(staged, "0.1.0", lambda m: m["history"][-1].update(reason="rewritten"), who=MALLORY)
    proc = run(staged, "validate")
    assert proc.returncode == 1 and "history is append-only" in proc.stdout


def test_gitregs_own_lifecycle_validates_and_doctors_clean(staged):
    ok(run(staged, "request", "churn", "0.2.0", "production", "--reason", "r"))
    ok(run(staged, "approve", "churn", "0.2.0", "production", env=as_user(BOB)))
    ok(run(staged, "validate"))
    ok(run(staged, "doctor"))
    events = Registry(staged).history("churn")["events"]
    promote = [e for e in events if e["action"] == "promote" and e["to"] == "production"][-1]
    assert promote["approved_by"] == [BOB] and promote["by"] == BOB
    author = git(staged, "log", "-1", "--format=%ae", promote["commit"]).strip()
    assert author == BOB


def test_the_tagger_is_the_actor_for_gto(staged):
    """GIT_AUTHOR_* alone (committer alice from git config) makes bob the tagger."""
    ok(run(staged, "request", "churn", "0.2.0", "production", "--reason", "r"))
    bob = {"GIT_AUTHOR_NAME": "Bob", "GIT_AUTHOR_EMAIL": BOB}
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_COMMITTER_")}
    proc = subprocess.run([*gitreg_exe(), "approve", "churn", "0.2.0", "production"], cwd=staged,
                          env={**env, **bob}, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    tag = [t for t in git(staged, "tag", "-l", "churn#production#*").split()][-1]
    tagger = git(staged, "for-each-ref", "--format=%(taggername) %(taggeremail)", f"refs/tags/{tag}")
    assert tagger.strip() == f"Bob <{BOB}>"
    assert GTO, "the real gto is needed here"
    out = subprocess.run([GTO, "history", "churn", "--json"], cwd=staged, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assigned = [r for r in rows if r.get("event") == "assignment" and r.get("stage") == "production"]
    assert assigned and assigned[-1]["author_email"] == BOB, assigned


def no_identity_env(home: Path) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_AUTHOR", "GIT_COMMITTER"))}
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(home / ".gitconfig"))
    return env


def test_init_without_an_identity_writes_nothing(tmp_path):
    env = no_identity_env(tmp_path / "home")
    target = tmp_path / "reg"
    proc = subprocess.run([*gitreg_exe(), "init", str(target)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and "git has no identity" in proc.stderr
    assert "user.email" in proc.stderr and "Traceback" not in proc.stderr
    assert not target.exists()


def test_author_variables_alone_are_enough_for_every_command(tmp_path, make_artifact):
    env = {**no_identity_env(tmp_path / "home"), "GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": ALICE}
    reg = tmp_path / "reg"

    def gr(*args: str, who: dict[str, str] | None = None) -> None:
        proc = subprocess.run([*gitreg_exe(), "-C", str(reg), *args], cwd=tmp_path,
                              env={**env, **(who or {})}, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, (args, proc.stderr)

    proc = subprocess.run([*gitreg_exe(), "init", str(reg), "--dvc-remote", str(tmp_path / "dvcr")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    gr("register", "churn", str(make_artifact()), "--metric", "auc=0.9")
    gr("promote", "churn", "0.1.0", "staging")
    gr("request", "churn", "0.1.0", "production", "--reason", "r")
    gr("approve", "churn", "0.1.0", "production", who={"GIT_AUTHOR_NAME": "Bob", "GIT_AUTHOR_EMAIL": BOB})
    gr("validate")
    gr("doctor")
    committers = set(git(reg, "log", "--format=%ce", env=env).split())
    assert committers == {ALICE, BOB}  # no committer identity: the author commits


def test_publish_records_the_merger_and_the_merge_time(tmp_path, seeded, cli):  # type: ignore[no-untyped-def]
    runner = merged(seeded, tmp_path)
    merge_time = int(git(runner, "log", "-1", "--format=%ct", "HEAD").strip())
    res = cli(runner, "ci", "publish", env={"GITHUB_ACTOR": "bob-gh"})
    assert res.exit_code == 0, res.output
    history = json.loads(cli(runner, "history", "churn", "--json").stdout)["events"]
    promote = [e for e in history if e["action"] == "promote" and e["version"] == "1.1.0"][-1]
    when = datetime.fromtimestamp(merge_time, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert promote["approved_by"] == ["bob-gh"] and promote["approved_at"] == when
    assert promote["at"] == when and promote["proposed_at"]  # the time the PR was opened stays
    approval = json.loads(cli(runner, "show", "churn@1.1.0", "--json").stdout)["approval"]
    assert approval["status"] == "approved" and approval["approver"] == "bob-gh"
    assert approval["date"] == when
    # the laptop that opened the PR sees the same once it pulls the tags
    laptop = clone(tmp_path / "remote.git", tmp_path / "laptop")
    assert Registry(laptop).show("churn@1.1.0")["approval"]["approver"] == "bob-gh"
    # and the dashboard names the merger on the version's page
    site = Registry(runner).site(tmp_path / "site")
    pages = "".join(p.read_text() for p in (tmp_path / "site").rglob("*.html"))
    assert site["versions"] and "bob-gh" in pages
