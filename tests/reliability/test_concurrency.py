"""Local concurrency: eight real gitreg processes on one clone; the lock and its stale recovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import git
from gitreg import Registry

from ._util import assert_healthy, run_gitreg, start_gitreg, tag_names

BUSY = "another gitreg operation is running"


def test_eight_processes_at_once_each_succeed_or_exit_4(seeded, make_artifact):
    commands = [("register", "m", str(make_artifact()), "--bump", "minor", "--json") for _ in range(4)]
    commands += [("register", f"solo{i}", str(make_artifact()), "--json") for i in range(2)]
    commands += [("promote", "m", "2.0.0", "staging", "--json"),
                 ("promote", "m", "1.0.0", "archived", "--json")]
    procs = [start_gitreg(seeded, *cmd) for cmd in commands]
    results = [(cmd, p.wait(timeout=120), *p.communicate()) for cmd, p in zip(commands, procs)]
    done = []
    for cmd, code, out, err in results:
        assert code in (0, 4), (cmd, code, err)
        assert "Traceback" not in err
        if code == 4:
            assert BUSY in err, err
        else:
            done.append((cmd, json.loads(out)))
    assert done, "at least the first process must get the lock"
    reg = Registry(seeded)
    stages = {m["version"]: m["stage"] for m in reg.show("m")["versions"]}
    registered = [r["version"] for cmd, r in done if cmd[0] == "register" and cmd[1] == "m"]
    assert len(set(registered)) == len(registered)
    for cmd, r in done:
        if cmd[0] == "register":
            assert r["version"] in {m["version"] for m in reg.show(cmd[1])["versions"]}
            assert f"{cmd[1]}@v{r['version']}" in tag_names(seeded)
        else:
            assert stages[cmd[2]] == cmd[3]
    assert_healthy(seeded)


def test_a_live_holder_blocks_and_its_death_frees_the_lock(seeded, make_artifact):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from gitreg import Registry\n"
         f"reg = Registry({str(seeded)!r})\n"
         "with reg.store.locked():\n    print('held', flush=True); sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        blocked = run_gitreg(seeded, "register", "m", str(make_artifact()))
        assert blocked.returncode == 4
        assert BUSY in blocked.stderr and f"pid {holder.pid}" in blocked.stderr
    finally:
        holder.kill()  # SIGKILL: no cleanup runs, the lock file stays with a dead pid in it
        holder.wait()
    assert (seeded / ".git/gitreg/lock").read_text().strip() == str(holder.pid)
    ok = run_gitreg(seeded, "register", "m", str(make_artifact()))
    assert ok.returncode == 0, ok.stderr
    assert_healthy(seeded)


def test_stale_lock_file_with_a_dead_pid_is_taken_over(seeded, make_artifact):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = seeded / ".git/gitreg/lock"
    lock.write_text(f"{dead.pid}\n")
    ok = run_gitreg(seeded, "register", "m", str(make_artifact()), "--version", "9.0.0")
    assert ok.returncode == 0, ok.stderr
    assert "m@v9.0.0" in tag_names(seeded)
    assert_healthy(seeded)


def test_lock_is_reentrant_within_one_registry_but_not_across(seeded):
    reg = Registry(seeded)
    with reg.store.locked():
        with reg.store.locked():
            pass
        proc = run_gitreg(seeded, "doctor", "--fix")
        assert proc.returncode == 4 and BUSY in proc.stderr
    assert git(seeded, "status", "--porcelain") == ""
    assert os.path.exists(seeded / ".git/gitreg/lock")
