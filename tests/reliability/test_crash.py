"""Crash safety: a failure at each step of register and promote, as an exception and as SIGKILL.

The promise: an exception leaves the repository exactly as before. A SIGKILL leaves a journal
under .git/gitreg; every later mutation is refused (exit 4) until `gitreg doctor --fix`, which
finishes the change if it was committed (its tags are made) or undoes it if not. Never a
corrupt manifest, never a version without its tag after --fix, never data lost.
"""

from __future__ import annotations

import importlib

import pytest

from conftest import git, snapshot
from gitreg import Registry

from ._util import assert_healthy, run_gitreg, run_killed, tag_names, versions

# (target, call number, before/after the call): the steps of a registration
REGISTER_STEPS = {
    "artifact copied, before dvc add": ("gitreg.dvc:add", 1, "before"),
    "copying into the DVC cache": ("gitreg.dvcadd:_place", 1, "before"),
    "after dvc add": ("gitreg.dvc:add", 1, "after"),
    "files written and staged": ("gitreg.git:Git.add", 1, "after"),
    "after the commit": ("gitreg.git:Git.commit", 1, "after"),
    "after the first tag": ("gitreg.git:Git.create_tag", 1, "after"),
}
# promoting 2.0.0 to production archives 1.0.0: three tags (unassign, archive, assign)
PROMOTE_STEPS = {
    "manifests written": ("gitreg.git:Git.add", 1, "before"),
    "files staged": ("gitreg.git:Git.add", 1, "after"),
    "after the commit": ("gitreg.git:Git.commit", 1, "after"),
    "after the first tag": ("gitreg.git:Git.create_tag", 1, "after"),
    "after the second tag": ("gitreg.git:Git.create_tag", 2, "after"),
}
COMMITTED = {"after the commit", "after the first tag", "after the second tag"}


def _inject(monkeypatch: pytest.MonkeyPatch, target: str, nth: int, when: str) -> None:
    module_name, _, attr = target.partition(":")
    owner = importlib.import_module(module_name)
    parts = attr.split(".")
    for part in parts[:-1]:
        owner = getattr(owner, part)
    original = getattr(owner, parts[-1])
    calls = [0]

    def failing(*args, **kwargs):
        calls[0] += 1
        if calls[0] == nth and when == "before":
            raise RuntimeError("injected failure")
        out = original(*args, **kwargs)
        if calls[0] == nth and when == "after":
            raise RuntimeError("injected failure")
        return out

    monkeypatch.setattr(owner, parts[-1], failing)


@pytest.mark.parametrize("step", list(REGISTER_STEPS))
def test_register_exception_at_each_step_leaves_repo_as_before(seeded, make_artifact, monkeypatch, step):
    before = snapshot(seeded)
    _inject(monkeypatch, *REGISTER_STEPS[step])
    with pytest.raises(RuntimeError, match="injected"):
        Registry(seeded).register("m", [make_artifact()], version="3.0.0")
    monkeypatch.undo()
    assert snapshot(seeded) == before
    assert_healthy(seeded)
    if step == "after the first tag":  # and the same registration then simply works
        Registry(seeded).register("m", [make_artifact()], version="3.0.0")
        assert "m@v3.0.0" in tag_names(seeded)


@pytest.mark.parametrize("step", list(PROMOTE_STEPS))
def test_promote_exception_at_each_step_leaves_repo_as_before(seeded, monkeypatch, step):
    before = snapshot(seeded)
    _inject(monkeypatch, *PROMOTE_STEPS[step])
    with pytest.raises(RuntimeError, match="injected"):
        Registry(seeded).promote("m", "2.0.0", "production")
    monkeypatch.undo()
    assert snapshot(seeded) == before
    assert_healthy(seeded)
    Registry(seeded).promote("m", "2.0.0", "production")
    assert Registry(seeded).show("m#production")["version"] == "2.0.0"


def _after_sigkill(repo, before, step, make_artifact, cli):
    """What the user sees after a crash, and what `doctor --fix` makes of it."""
    # reads still work; mutations are refused until the crash is dealt with
    assert cli(repo, "list").exit_code == 0
    refused = cli(repo, "register", "other", str(make_artifact()))
    assert refused.exit_code == 4, refused.output
    assert "interrupted" in refused.stderr and "gitreg doctor --fix" in refused.stderr
    report = cli(repo, "doctor")
    assert report.exit_code == 1 and "interrupted" in report.stderr, report.output
    fixed = run_gitreg(repo, "doctor", "--fix")
    assert fixed.returncode == 0, fixed.stderr
    if step in COMMITTED:
        assert "finished the interrupted change" in fixed.stderr
    else:
        assert "undid the interrupted change" in fixed.stderr
        assert snapshot(repo) == before
    assert_healthy(repo)


@pytest.mark.parametrize("step", list(REGISTER_STEPS))
def test_register_sigkill_at_each_step_then_doctor_fix(seeded, make_artifact, cli, step):
    before = snapshot(seeded)
    artifact = make_artifact()
    payload = artifact.read_bytes()
    run_killed(seeded, *REGISTER_STEPS[step], "register", "m", str(artifact), "--version", "3.0.0")
    _after_sigkill(seeded, before, step, make_artifact, cli)
    assert artifact.read_bytes() == payload  # the user's file is never touched
    assert not list((seeded / ".dvc" / "tmp").glob("gitreg-*"))  # no half copy is left
    if step in COMMITTED:
        assert "3.0.0" in versions(seeded, "m") and "m@v3.0.0" in tag_names(seeded)
        assert (seeded / "models/m/3.0.0/model.pkl").read_bytes() == payload
    else:
        assert "3.0.0" not in versions(seeded, "m")
        again = cli(seeded, "register", "m", str(artifact), "--version", "3.0.0")
        assert again.exit_code == 0, again.output
    assert_healthy(seeded)


@pytest.mark.parametrize("step", list(PROMOTE_STEPS))
def test_promote_sigkill_at_each_step_then_doctor_fix(seeded, make_artifact, cli, step):
    before = snapshot(seeded)
    run_killed(seeded, *PROMOTE_STEPS[step], "promote", "m", "2.0.0", "production")
    _after_sigkill(seeded, before, step, make_artifact, cli)
    holder = Registry(seeded).show("m#production")["version"]
    assert holder == ("2.0.0" if step in COMMITTED else "1.0.0")
    if step in COMMITTED:
        stages = {m["version"]: m["stage"] for m in Registry(seeded).show("m")["versions"]}
        assert stages == {"1.0.0": "archived", "2.0.0": "production"}
    assert_healthy(seeded)


def test_journal_of_a_live_change_is_not_recovered_by_another_process(seeded):
    """The flock, not the journal, decides who acts: doctor --fix waits for a running change."""
    from gitreg.store import Store

    reg = Registry(seeded)
    with reg.store.locked():
        other = Registry(seeded)
        proc = run_gitreg(seeded, "doctor", "--fix")
        assert proc.returncode == 4 and "another gitreg operation is running" in proc.stderr
        assert isinstance(other.store, Store)
    assert git(seeded, "status", "--porcelain") == ""
