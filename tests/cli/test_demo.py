"""`gitreg demo`: the main job runs end to end on a throwaway registry, offline."""

from __future__ import annotations

import json
import subprocess

from conftest import GTO, git, gitreg_exe
from gitreg import Registry


def test_demo_registers_promotes_pushes_and_writes_the_dashboard(tmp_path, isolated_env):
    env = {k: v for k, v in isolated_env.items() if not k.startswith("GIT_AUTHOR")
           and not k.startswith("GIT_COMMITTER")}  # a fresh machine: no identity given
    target = tmp_path / "demo"
    proc = subprocess.run([*gitreg_exe(), "demo", str(target)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "churn" in proc.stdout and "0.3.0" in proc.stdout
    reg = Registry(target / "registry", env=env)
    models = reg.list_models()["models"]
    assert models == [{"name": "churn", "latest": "0.3.0", "versions": 3,
                       "stages": {"production": "0.3.0", "archived": "0.1.0"},
                       "aliases": {}, "latest_tag": "churn@v0.3.0", "deprecated": False,
                       "deprecated_versions": []}]
    aucs = {m["version"]: m["metrics"]["auc"] for m in reg.show("churn")["versions"]}
    assert max(aucs, key=aucs.get) == "0.3.0"  # the best measured model serves
    prod = reg.show("churn#production")
    assert prod["history"][-1]["approved_by"] == ["rui@demo.gitreg.dev"]
    assert prod["created_by"] == "dana@demo.gitreg.dev"
    assert reg.validate().problems == [] and reg.doctor().clean
    # everything landed on the stand-ins for the git host and the DVC remote
    remote = target / "remote.git"
    assert git(remote, "rev-parse", "main") == git(target / "registry", "rev-parse", "main")
    assert "churn#production#" in git(remote, "tag")
    assert any((target / "dvc-remote").rglob("*"))
    assert (target / "site" / "index.html").read_text().count("churn") > 1
    index = (target / "site" / "index.html").read_text()
    assert "<h1>Model registry <span class=\"muted\">gitreg demo</span></h1>" in index
    assert "registry registry" not in index.lower()
    model_page = (target / "site" / "models" / "churn" / "index.html").read_text()
    assert '<p class="lead">Predicts which customers will cancel next month' in model_page
    assert '<p class="lead">baseline: tenure and charges' not in model_page  # a version's message
    out = subprocess.run([GTO, "show", "--json"], cwd=target / "registry", capture_output=True,
                         text=True)
    assert json.loads(out.stdout)["churn"]["stage"]["production"] == "v0.3.0"


def test_demo_into_a_relative_directory(tmp_path, isolated_env):
    # the git and DVC remotes it configures were relative to the cwd, so the demo's own
    # push (run from the registry directory) failed with exit 70
    proc = subprocess.run([*gitreg_exe(), "demo", "rel"], env=isolated_env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    reg = Registry(tmp_path / "rel" / "registry", env=isolated_env)
    assert reg.list_models()["models"][0]["stages"]["production"] == "0.3.0"
