"""monitor: live metrics of the production holder against checks; auto-rollback only on a real failure."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import BOB, _base_env, as_user, git, snapshot
from gitreg import Registry
from gitreg.errors import UsageError, UserError

NAME = "churn"


@pytest.fixture(scope="module")
def _prod_template(tmp_path_factory: pytest.TempPathFactory, _template: Path, session_home: Path) -> Path:
    """churn 1.0.0 held production, then 2.0.0 replaced it (1.0.0 archived): rollback has a target."""
    base = tmp_path_factory.mktemp("prod") / "reg"
    shutil.copytree(_template, base, symlinks=True)
    env = _base_env(session_home)
    art = base.parent / "art"
    art.mkdir()
    alice = Registry(base, env=env)
    bob = Registry(base, env={**env, **as_user(BOB)})
    for i, version in enumerate(("1.0.0", "2.0.0")):
        f = art / f"m{i}.pkl"
        f.write_bytes(bytes([i]) * 64)
        from gitreg.api import VersionInfo

        alice.register(NAME, [f], VersionInfo(metrics={"accuracy": 0.9 + i / 100}), version=version)
        alice.promote(NAME, version, "staging")
        alice.request(NAME, version, "production", reason="ready")
        bob.approve(NAME, version, "production")
    return base


@pytest.fixture
def prod(tmp_path: Path, _prod_template: Path) -> Path:
    path = tmp_path / "reg"
    shutil.copytree(_prod_template, path, symlinks=True)
    return path


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


class FakeSleep:
    """Records the sleeps asked for and advances the injected clock instead of waiting."""

    def __init__(self, clock: Clock) -> None:
        self.calls: list[float] = []
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.now += timedelta(seconds=seconds)


def write_metrics(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def py_cmd(code: str) -> str:
    return shlex.join([sys.executable, "-c", code])


def production(reg: Registry) -> str:
    return reg.show(f"{NAME}#production")["version"]


def test_passing_checks_exit_0_and_change_nothing(prod, tmp_path, cli):
    before = snapshot(prod)
    live = write_metrics(tmp_path / "live.json", {"accuracy": 0.93, "latency_ms": 80})
    res = cli(prod, "monitor", NAME, "--check", "accuracy>0.85", "--check", "latency_ms<100",
              "--metrics", str(live), "--rollback", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["passed"] is True and report["version"] == "2.0.0"
    assert [c["ok"] for c in report["rounds"][0]["checks"]] == [True, True]
    assert report["rollback"] is None
    assert snapshot(prod) == before


def test_nested_metrics_are_flattened(prod, tmp_path):
    live = write_metrics(tmp_path / "live.json", {"eval": {"accuracy": 0.95}, "note": "text is skipped"})
    report = Registry(prod).monitor(NAME, ["eval.accuracy>=0.9"], metrics_file=live)
    assert report["passed"] and report["rounds"][0]["checks"][0]["value"] == 0.95


def test_failing_check_without_rollback_exits_3_and_changes_nothing(prod, tmp_path, cli):
    before = snapshot(prod)
    live = write_metrics(tmp_path / "live.json", {"accuracy": 0.80, "latency_ms": 80})
    res = cli(prod, "monitor", NAME, "--check", "accuracy>0.85", "--check", "latency_ms<100",
              "--metrics", str(live))
    assert res.exit_code == 3, res.output
    assert "failed checks [accuracy > 0.85]" in res.stderr
    assert "FAILED" in res.stderr
    assert snapshot(prod) == before


def test_failing_check_with_rollback_rolls_back_once_with_observed_values(prod, tmp_path, cli):
    live = write_metrics(tmp_path / "live.json", {"accuracy": 0.80, "latency_ms": 120})
    res = cli(prod, "monitor", NAME, "--check", "accuracy>0.85", "--check", "latency_ms<100",
              "--metrics", str(live), "--rollback", "--max-checks", "5", "--json")
    assert res.exit_code == 3, res.output
    report = json.loads(res.stdout)
    assert report["rollback"]["from"] == "2.0.0" and report["rollback"]["to"] == "1.0.0"
    assert len(report["rounds"]) == 1  # stops after the rollback: once, not per round
    reg = Registry(prod)
    assert production(reg) == "1.0.0"
    events = reg.history(NAME)["events"]
    rollbacks = [e for e in events if e["action"] == "rollback"]
    assert len(rollbacks) == 2  # the old holder archived and the previous one restored, one commit
    assert len({e["commit"] for e in rollbacks}) == 1
    for e in rollbacks:
        assert e["reason"] == "Auto-rollback: failed checks [accuracy > 0.85, latency_ms < 100]"
        assert e["observed"] == {"accuracy": 0.80, "latency_ms": 120}
    # GTO tags were written for the rollback too
    tags = git(prod, "tag", "--list", f"{NAME}#production#*").split()
    assert tags and all(t.startswith(f"{NAME}#production#") for t in tags)


def test_rollback_with_nothing_to_roll_back_to_still_exits_3(prod, tmp_path, cli):
    reg = Registry(prod)
    reg.rollback(NAME, reason="manual")  # 1.0.0 holds production, no earlier holder
    live = write_metrics(tmp_path / "live.json", {"accuracy": 0.5})
    res = cli(prod, "monitor", NAME, "--check", "accuracy>0.85", "--metrics", str(live), "--rollback")
    assert res.exit_code == 3, res.output
    assert "automatic rollback failed" in res.stderr
    assert production(Registry(prod)) == "1.0.0"


def test_rollback_after_a_rollback_to_restores_the_version_it_displaced(prod, tmp_path, cli):
    """rollback (1.0.0 holds), rollback --to 2.0.0: 1.0.0 stays on the stack, so the monitor's
    automatic rollback lands on it (it found 'nothing to roll back to' before issue 11)."""
    reg = Registry(prod)
    reg.rollback(NAME, reason="manual")
    reg.rollback(NAME, to="2.0.0", reason="fixed")
    assert production(reg) == "2.0.0"
    live = write_metrics(tmp_path / "live.json", {"accuracy": 0.5})
    res = cli(prod, "monitor", NAME, "--check", "accuracy>0.85", "--metrics", str(live), "--rollback", "--json")
    assert res.exit_code == 3, res.output
    report = json.loads(res.stdout)
    assert report["rollback"]["from"] == "2.0.0" and report["rollback"]["to"] == "1.0.0"
    assert production(Registry(prod)) == "1.0.0"


@pytest.mark.parametrize("case", ["missing-file", "bad-json", "not-object", "unknown-metric",
                                  "non-number", "cmd-fails", "cmd-not-json", "cmd-missing"])
def test_unreadable_metrics_are_errors_and_never_roll_back(prod, tmp_path, cli, case):
    live = tmp_path / "live.json"
    args: list[str]
    if case == "missing-file":
        args = ["--metrics", str(tmp_path / "nope.json")]
        expect = "does not exist"
    elif case == "bad-json":
        live.write_text("{accuracy: 0.5")
        args, expect = ["--metrics", str(live)], "is not JSON"
    elif case == "not-object":
        live.write_text("[0.5]")
        args, expect = ["--metrics", str(live)], "must be a mapping"
    elif case == "unknown-metric":
        write_metrics(live, {"acc": 0.5})
        args, expect = ["--metrics", str(live)], "has no metric accuracy"
    elif case == "non-number":
        write_metrics(live, {"accuracy": "bad"})
        args, expect = ["--metrics", str(live)], "has no metric accuracy"
    elif case == "cmd-fails":
        args = ["--metrics-cmd", py_cmd("import sys; sys.stderr.write('serving down\\n'); sys.exit(7)")]
        expect = "failed with exit code 7: serving down"
    elif case == "cmd-not-json":
        args, expect = ["--metrics-cmd", py_cmd("print('hello')")], "is not JSON"
    else:
        args, expect = ["--metrics-cmd", str(tmp_path / "no-such-probe")], "not found"
    before = snapshot(prod)
    res = cli(prod, "monitor", NAME, "--check", "accuracy>0.85", *args, "--rollback")
    assert res.exit_code == 1, res.output
    assert expect in res.stderr
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert snapshot(prod) == before
    assert production(Registry(prod)) == "2.0.0"


def test_hanging_metrics_command_times_out_without_rollback(prod, cli):
    before = snapshot(prod)
    # the probe starts a grandchild that would keep the pipe open: the whole group is killed
    code = ("import subprocess, sys, time; "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)")
    res = cli(prod, "monitor", NAME, "--check", "accuracy>0.85", "--metrics-cmd", py_cmd(code),
              "--timeout", "0.5", "--rollback")
    assert res.exit_code == 1, res.output
    assert "did not finish within 0.5 s" in res.stderr
    assert snapshot(prod) == before


def test_metrics_command_runs_without_a_shell(prod, tmp_path):
    marker = tmp_path / "pwned"
    cmd = py_cmd("import json; print(json.dumps({'accuracy': 0.9}))") + f" ; touch {marker}"
    # without a shell, '; touch ...' are just extra arguments to python -c
    report = Registry(prod).monitor(NAME, ["accuracy>0.85"], metrics_cmd=cmd)
    assert report["passed"]
    assert not marker.exists()


def test_bounded_rounds_use_the_injected_sleep(prod, tmp_path):
    clock = Clock()
    sleep = FakeSleep(clock)
    live = write_metrics(tmp_path / "live.json", {"accuracy": 0.9})
    reg = Registry(prod, clock=clock)
    seen = []
    report = reg.monitor(NAME, ["accuracy>0.85"], metrics_file=live, interval=60, max_checks=3,
                         sleep=sleep, on_round=seen.append)
    assert report["passed"] and len(report["rounds"]) == 3 and len(seen) == 3
    assert sleep.calls == [60, 60]
    assert [r["at"] for r in report["rounds"]] == [
        "2026-11-27T12:00:00Z", "2026-11-27T12:01:00Z", "2026-11-27T12:02:00Z"]


def test_unbounded_rounds_stop_at_the_first_failure(prod, tmp_path):
    clock = Clock()
    live = write_metrics(tmp_path / "live.json", {"accuracy": 0.9})

    class Degrading(FakeSleep):
        def __call__(self, seconds: float) -> None:
            super().__call__(seconds)
            if len(self.calls) == 4:
                write_metrics(live, {"accuracy": 0.7})

    sleep = Degrading(clock)
    report = Registry(prod, clock=clock).monitor(NAME, ["accuracy>0.85"], metrics_file=live,
                                                 interval=5, max_checks=0, sleep=sleep, rollback=True)
    assert not report["passed"] and len(report["rounds"]) == 5
    assert report["rollback"]["to"] == "1.0.0"
    assert production(Registry(prod)) == "1.0.0"


def test_read_error_in_a_later_round_never_rolls_back(prod, tmp_path):
    live = write_metrics(tmp_path / "live.json", {"accuracy": 0.9})
    sleep_calls = []

    def sleep(seconds: float) -> None:
        sleep_calls.append(seconds)
        live.write_text("garbage")

    with pytest.raises(UserError, match="is not JSON"):
        Registry(prod).monitor(NAME, ["accuracy>0.85"], metrics_file=live, interval=1, max_checks=3,
                               sleep=sleep, rollback=True)
    assert sleep_calls == [1]
    assert production(Registry(prod)) == "2.0.0"


@pytest.mark.parametrize("args, code, text", [
    (["--check", "accuracy>>0.85", "--metrics", "x.json"], 1, "invalid check"),
    (["--check", "accuracy>0.85"], 2, "exactly one of --metrics"),
    (["--check", "accuracy>0.85", "--metrics", "x.json", "--metrics-cmd", "true"], 2, "exactly one of"),
    (["--metrics", "x.json"], 2, "at least one --check"),
    (["--check", "accuracy>0.85", "--metrics", "x.json", "--max-checks", "-1"], 2, "--max-checks"),
    (["--check", "accuracy>0.85", "--metrics-cmd", "'unclosed"], 1, "cannot parse --metrics-cmd"),
])
def test_bad_monitor_input(prod, cli, args, code, text):
    res = cli(prod, "monitor", NAME, *args)
    assert res.exit_code == code, res.output
    assert text in res.stderr


def test_no_production_version_is_an_error(reg, make_artifact, tmp_path):
    reg.register(NAME, [make_artifact(size=16)])
    live = write_metrics(tmp_path / "live.json", {"accuracy": 0.9})
    with pytest.raises(UserError, match="no version of churn is in production"):
        reg.monitor(NAME, ["accuracy>0.85"], metrics_file=live, rollback=True)


def test_usage_errors_raise_before_reading(prod):
    with pytest.raises(UsageError):
        Registry(prod).monitor(NAME, ["accuracy>0.85"])
