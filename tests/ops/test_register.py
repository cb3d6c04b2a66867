"""register -> list/show/history on real git + DVC; push, clone and dvc pull byte for byte."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ALICE, git
from gitreg import PolicyError, Registry, UserError, VersionInfo
from gitreg import yamlio


def test_register_round_trips_through_list_show_history(reg, repo, make_artifact):
    art = make_artifact(5000)
    info = VersionInfo(description="XGBoost v2", framework="xgboost", algorithm="XGBClassifier",
                       metrics={"auc": 0.94, "f1": 0.88}, hyperparameters={"max_depth": 6},
                       dataset_version="v2023.01", tags=["churn"], owner="team-a@example.com",
                       use_case="retention")
    result = reg.register("churn", [art], info, version="2.1.0")
    assert result.version == "2.1.0" and result.tags == ["churn@v2.1.0"]

    vdir = repo / "models" / "churn" / "2.1.0"
    manifest = yamlio.load_file(vdir / "manifest.yaml")
    assert manifest["artifacts"] == [{"path": "model.pkl", "md5": _md5(art), "size": 5000}]
    assert manifest["created_by"] == ALICE and manifest["stage"] == "none"
    assert manifest["number"] == 1  # MLflow's version number (README "Using gitreg from MLflow")
    assert manifest["metrics"] == {"auc": 0.94, "f1": 0.88}
    assert manifest["training"]["dataset_version"] == "v2023.01"
    assert (vdir / "model.pkl.dvc").exists()
    assert "model.pkl" in (vdir / ".gitignore").read_text()
    # the payload is git-ignored, the pointer is committed
    tracked = git(repo, "ls-files", "models/churn").split()
    assert "models/churn/2.1.0/model.pkl.dvc" in tracked
    assert "models/churn/2.1.0/model.pkl" not in tracked
    assert git(repo, "status", "--porcelain") == ""
    # one commit with trailers; an annotated tag on it
    log = git(repo, "log", "-1", "--format=%s%n%b")
    assert log.startswith("gitreg: register churn 2.1.0")
    assert "Gitreg-Action: register" in log and "Gitreg-Seq: 1" in log
    assert git(repo, "cat-file", "-t", "churn@v2.1.0").strip() == "tag"
    assert git(repo, "rev-parse", "churn@v2.1.0^{commit}").strip() == result.commit
    dvc_yaml = yamlio.load_file(repo / "dvc.yaml")
    assert dvc_yaml["artifacts"]["churn"]["path"] == "models/churn/2.1.0/model.pkl"

    assert reg.list_models() == {"models": [
        {"name": "churn", "latest": "2.1.0", "versions": 1, "stages": {}, "aliases": {},
         "latest_tag": "churn@v2.1.0", "deprecated": False, "deprecated_versions": []}], "hidden": []}
    shown = reg.show("churn")
    assert shown["owner"] == "team-a@example.com" and [m["version"] for m in shown["versions"]] == ["2.1.0"]
    assert reg.show("churn@2.1.0")["metrics"]["auc"] == 0.94
    events = reg.history("churn")["events"]
    assert [(e["seq"], e["action"], e["tag"], e["commit"]) for e in events] == [
        (1, "register", "churn@v2.1.0", result.commit)]
    assert reg.validate().problems == []


def _md5(path):
    import hashlib

    return hashlib.md5(path.read_bytes()).hexdigest()


def test_bump_from_highest_and_first_version(reg, make_artifact):
    assert reg.register("m", [make_artifact()]).version == "0.1.0"
    assert reg.register("m", [make_artifact()], bump="patch").version == "0.1.1"
    assert reg.register("m", [make_artifact()], version="1.4.0").version == "1.4.0"
    assert reg.register("m", [make_artifact()], version="1.0.0").version == "1.0.0"
    assert reg.register("m", [make_artifact()], bump="minor").version == "1.5.0"
    assert reg.register("m", [make_artifact()], bump="major").version == "2.0.0"
    assert reg.list_models()["models"][0] == {"name": "m", "latest": "2.0.0", "versions": 6, "stages": {},
                                             "aliases": {}, "latest_tag": "m@v2.0.0",
                                             "deprecated": False, "deprecated_versions": []}
    seqs = [e["seq"] for e in reg.history("m")["events"]]
    assert seqs == [1, 2, 3, 4, 5, 6]
    # MLflow numbers follow the order of registration, not SemVer (1.0.0 came fourth)
    got = {v: yamlio.load_file(reg.root / "models" / "m" / v / "manifest.yaml")["number"]
           for v in ("0.1.0", "0.1.1", "1.4.0", "1.0.0", "1.5.0", "2.0.0")}
    assert got == {"0.1.0": 1, "0.1.1": 2, "1.4.0": 3, "1.0.0": 4, "1.5.0": 5, "2.0.0": 6}


def test_directory_and_several_files_become_one_dvc_directory(reg, repo, tmp_path):
    src = tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    (src / "weights.bin").write_bytes(b"w" * 100)
    (src / "sub" / "config.json").write_text("{}")
    r1 = reg.register("d", [src], version="1.0.0")
    m = reg.show("d@1.0.0")
    assert m["artifacts"][0]["path"] == "model" and m["artifacts"][0]["md5"].endswith(".dir")
    assert m["artifacts"][0]["nfiles"] == 2 and m["artifacts"][0]["size"] == 102
    assert (repo / "models/d/1.0.0/model.dvc").exists()
    assert (repo / "models/d/1.0.0/model/sub/config.json").read_text() == "{}"
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("a")
    b.write_text("b")
    reg.register("d", [a, b], version="1.1.0")
    assert sorted(p.name for p in (repo / "models/d/1.1.0/model").iterdir()) == ["a.txt", "b.txt"]
    assert r1.commit
    assert reg.validate().problems == []


def test_existing_version_is_refused_and_nothing_changes(reg, repo, make_artifact):
    from conftest import snapshot

    reg.register("m", [make_artifact()], version="1.0.0")
    before = snapshot(repo)
    with pytest.raises(UserError, match="already registered"):
        reg.register("m", [make_artifact()], version="1.0.0")
    assert snapshot(repo) == before


def test_signature_change_requires_major_bump(reg, repo, make_artifact):
    from conftest import snapshot

    sig = {"inputs": [{"name": "age", "type": "long"}], "outputs": [{"type": "double"}]}
    reg.register("s", [make_artifact()], VersionInfo(signature=sig), version="1.0.0")
    reg.register("s", [make_artifact()], VersionInfo(signature=sig), bump="minor")  # same signature
    new_sig = {"inputs": [{"name": "age", "type": "long"}, {"name": "plan", "type": "string"}],
               "outputs": [{"type": "double"}]}
    before = snapshot(repo)
    for bump in ("minor", "patch"):
        with pytest.raises(PolicyError, match="MAJOR") as exc:
            reg.register("s", [make_artifact()], VersionInfo(signature=new_sig), bump=bump)
        assert "2.0.0" in exc.value.hint
    assert snapshot(repo) == before
    assert reg.register("s", [make_artifact()], VersionInfo(signature=new_sig), bump="major").version == "2.0.0"


def test_metrics_files_flat_nested_yaml_and_flags(cli, repo, make_artifact, tmp_path):
    nested = tmp_path / "metrics.json"
    nested.write_text(json.dumps({"eval": {"auc": 0.91, "loss": 0.2}, "step": 10, "note": "x"}))
    params = tmp_path / "params.yaml"
    params.write_text("n_estimators: 100\nmax_depth: 10\n")
    r = cli(repo, "register", "churn", str(make_artifact()), "--metrics", str(nested),
            "--metric", "f1=0.88", "--params", str(params), "--param", "lr=0.1",
            "--framework", "sklearn", "--algorithm", "RandomForestClassifier", "-m", "first",
            "--dataset-version", "v1", "--tag", "a", "--tag", "b", "--owner", "o@example.com",
            "--use-case", "churn")
    assert r.exit_code == 0, r.output
    assert "skipped non-numeric metric 'note'" in r.stderr
    m = Registry(repo).show("churn@0.1.0")
    assert m["metrics"] == {"eval.auc": 0.91, "eval.loss": 0.2, "step": 10, "f1": 0.88}
    assert m["hyperparameters"] == {"n_estimators": 100, "max_depth": 10, "lr": 0.1}
    assert m["framework"] == "sklearn" and m["tags"] == {"a": "", "b": ""}
    yml = tmp_path / "m.yaml"
    yml.write_text("accuracy: 0.9\n")
    r = cli(repo, "register", "churn", str(make_artifact()), "--metrics", str(yml))
    assert r.exit_code == 0, r.output
    assert Registry(repo).show("churn@0.2.0")["metrics"] == {"accuracy": 0.9}


def test_push_then_fresh_clone_and_dvc_pull_restore_bytes(reg, repo, bare_remote, dvc_remote,
                                                          make_artifact, tmp_path):
    art = make_artifact(300_000)
    result = reg.register("churn", [art], version="1.0.0", push=True)
    assert result.pushed
    assert "churn@v1.0.0" in git(bare_remote, "tag")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare_remote), str(clone))
    proc = subprocess.run([sys.executable, "-m", "dvc", "pull", "-q"], cwd=clone,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (clone / "models/churn/1.0.0/model.pkl").read_bytes() == art.read_bytes()
    assert Registry(clone).list_models()["models"][0]["latest"] == "1.0.0"


def test_progress_is_reported_for_large_artifacts(reg, make_artifact):
    seen = []
    art = make_artifact(20 * 1024 * 1024)
    reg.register("big", [art], progress=lambda label, done, total: seen.append((label, done, total)))
    assert seen and seen[-1][1] == seen[-1][2] == 20 * 1024 * 1024


def test_other_staged_changes_are_neither_committed_nor_lost(reg, repo, make_artifact):
    (repo / "NOTES.md").write_text("work in progress\n")
    git(repo, "add", "NOTES.md")
    result = reg.register("churn", [make_artifact()], version="1.0.0")
    committed = git(repo, "show", "--name-only", "--format=", result.commit).split()
    assert "NOTES.md" not in committed and "models/churn/1.0.0/manifest.yaml" in committed
    assert git(repo, "diff", "--cached", "--name-only").split() == ["NOTES.md"]
    # and without anything else staged, the fast path gives the same kind of commit
    git(repo, "commit", "-qm", "notes")
    second = reg.register("churn", [make_artifact()], version="1.1.0")
    assert git(repo, "rev-parse", "HEAD").strip() == second.commit
    assert git(repo, "log", "-1", "--format=%s", f"{second.commit}~1").strip() == "notes"
    assert "commit: gitreg: register churn 1.1.0" in git(repo, "reflog", "-1")
    assert git(repo, "status", "--porcelain") == ""
