"""init: git + DVC + gitreg.yaml, idempotent, local-folder DVC remote, existing repos."""

from __future__ import annotations

import subprocess

from conftest import git, gitreg_exe
from gitreg import Registry, yamlio


def test_init_makes_a_registry_and_is_idempotent(tmp_path, cli):
    path = tmp_path / "reg"
    remote = tmp_path / "remote-store"
    r = cli(None, "init", str(path), "--dvc-remote", str(remote))
    assert r.exit_code == 0, r.output
    assert "initialised" in r.stderr
    cfg = yamlio.load_file(path / "gitreg.yaml")
    assert cfg["stages"] == ["staging", "production", "archived"]
    assert cfg["policies"]["production"] == {"from": ["staging"], "approvals": 1}
    dvc_config = (path / ".dvc" / "config").read_text()
    assert "analytics = false" in dvc_config and str(remote) in dvc_config
    assert git(path, "status", "--porcelain") == ""
    assert git(path, "log", "--format=%s").strip() == "gitreg: init registry"
    head = git(path, "rev-parse", "HEAD")
    r = cli(None, "init", str(path), "--dvc-remote", str(remote))
    assert r.exit_code == 0 and "nothing changed" in r.stderr
    assert git(path, "rev-parse", "HEAD") == head and git(path, "status", "--porcelain") == ""
    assert Registry(path).list_models() == {"models": [], "hidden": []}


def test_init_in_an_existing_repo_keeps_its_branch_and_history(tmp_path):
    path = tmp_path / "existing"
    path.mkdir()
    git(path, "init", "-q", "-b", "trunk")
    (path / "README").write_text("hi")
    git(path, "add", "README")
    git(path, "commit", "-qm", "first")
    result = Registry.init(path, remote="https://example.invalid/reg.git")
    assert "git init" not in result.changed
    assert yamlio.load_file(path / "gitreg.yaml")["branch"] == "trunk"
    assert git(path, "rev-list", "--count", "HEAD").strip() == "2"
    assert git(path, "remote", "get-url", "origin").strip() == "https://example.invalid/reg.git"


def test_register_on_an_initialised_registry_with_real_subprocess(tmp_path, isolated_env):
    path = tmp_path / "reg"
    art = tmp_path / "model.bin"
    art.write_bytes(b"\x00" * 1000)
    run = lambda *a: subprocess.run([*gitreg_exe(), *a], env=isolated_env, capture_output=True,  # noqa: E731
                                    text=True, cwd=tmp_path)
    assert run("init", str(path), "--dvc-remote", str(tmp_path / "store")).returncode == 0
    proc = run("-C", str(path), "register", "fraud", str(art), "--metric", "auc=0.8")
    assert proc.returncode == 0, proc.stderr
    proc = run("-C", str(path), "list", "--json")
    assert proc.returncode == 0 and '"latest": "0.1.0"' in proc.stdout
    assert proc.stderr == ""
