"""resolve, compare, best: reads over committed manifests and one for-each-ref pass, no DVC."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import BOB, _base_env, git, registry_as
from gitreg import Registry
from gitreg import dvc as dvc_mod
from gitreg.api import VersionInfo
from gitreg.errors import NotFoundError, UserError

NAME = "churn"


@pytest.fixture(scope="module")
def _three_template(tmp_path_factory, _template, session_home):
    """1.0.0 {accuracy, f1}, 1.1.0 {accuracy, auc, latency_ms}, 2.0.0 {f1, latency_ms}; 1.1.0 in staging."""
    base = tmp_path_factory.mktemp("three") / "reg"
    shutil.copytree(_template, base, symlinks=True)
    reg = Registry(base, env=_base_env(session_home))
    metrics = {
        "1.0.0": {"accuracy": 0.90, "f1": 0.80},
        "1.1.0": {"accuracy": 0.93, "auc": 0.95, "latency_ms": 120},
        "2.0.0": {"f1": 0.85, "latency_ms": 90},
    }
    for i, (version, m) in enumerate(metrics.items()):
        art = base.parent / f"a{i}" / "model.pkl"
        art.parent.mkdir()
        art.write_bytes(bytes([i]) * 32)
        reg.register(NAME, [art], VersionInfo(metrics=m), version=version)
    reg.promote(NAME, "1.1.0", "staging")
    return base


@pytest.fixture
def three(tmp_path, _three_template):
    path = tmp_path / "reg"
    shutil.copytree(_three_template, path, symlinks=True)
    return Registry(path)


@pytest.fixture
def no_dvc(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a read ran dvc")

    monkeypatch.setattr(dvc_mod, "run", refuse)


def test_compare_partial_metrics_side_by_side(three, no_dvc):
    data = three.compare(NAME)
    assert data["name"] == NAME
    assert data["metrics"] == ["accuracy", "auc", "f1", "latency_ms"]
    assert [v["version"] for v in data["versions"]] == ["1.0.0", "1.1.0", "2.0.0"]
    by = {v["version"]: v for v in data["versions"]}
    assert by["1.0.0"]["metrics"] == {"accuracy": 0.90, "auc": None, "f1": 0.80, "latency_ms": None}
    assert by["1.1.0"]["stage"] == "staging" and by["2.0.0"]["stage"] == "none"
    assert all(v["created_at"] for v in data["versions"])
    # latency_ms: lower is better by its name; everything else higher
    assert data["best"] == {"accuracy": "1.1.0", "auc": "1.1.0", "f1": "2.0.0", "latency_ms": "2.0.0"}
    assert data["lower_is_better"] == ["latency_ms"]


def test_compare_selected_metrics_stage_and_explicit_direction(three):
    data = three.compare(NAME, metrics=["f1", "latency_ms"], lower_is_better=[])
    assert data["metrics"] == ["f1", "latency_ms"]
    assert data["best"] == {"f1": "2.0.0", "latency_ms": "1.1.0"}
    staged = three.compare(NAME, stage="Staging")
    assert [v["version"] for v in staged["versions"]] == ["1.1.0"]
    assert staged["best"] == {"accuracy": "1.1.0", "auc": "1.1.0", "latency_ms": "1.1.0"}
    # a metric nobody has: shown as missing when others are known, an error when none is
    partly = three.compare(NAME, metrics=["f1", "nope"])
    assert partly["best"] == {"f1": "2.0.0"}
    assert all(v["metrics"]["nope"] is None for v in partly["versions"])
    with pytest.raises(UserError, match="no version of churn has metric"):
        three.compare(NAME, metrics=["nope"])


def test_compare_cli_table_marks_best_and_missing(three, cli):
    res = cli(three.root, "compare", NAME, "--metrics", "accuracy,f1")
    assert res.exit_code == 0, res.output
    # columns are separated by two or more spaces (values never contain two)
    rows = {cells[0]: cells for cells in (re.split(r"\s{2,}", ln.strip()) for ln in res.stdout.splitlines())}
    assert rows["version"] == ["version", "stage", "created", "accuracy", "f1"]
    assert rows["1.1.0"][3] == "0.93 *" and rows["1.0.0"][4] == "0.8"
    assert rows["2.0.0"][4] == "0.85 *"
    assert rows["2.0.0"][3] == "-"  # 2.0.0 has no accuracy
    res = cli(three.root, "compare", NAME, "--json", "--stage", "staging")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert set(data) >= {"name", "metrics", "versions", "best"}
    assert set(data["versions"][0]) == {"version", "stage", "created_at", "deprecated", "aliases", "metrics"}


def test_compare_empty_stage_and_unknown_model(three, cli):
    assert three.compare(NAME, stage="production")["versions"] == []
    res = cli(three.root, "compare", NAME, "--stage", "production")
    assert res.exit_code == 0 and "no versions" in res.stderr
    res = cli(three.root, "compare", "chrun")
    assert res.exit_code == 1 and "did you mean 'churn'" in res.stderr


def test_best(three, cli, no_dvc):
    assert three.best(NAME, "f1") == {"name": NAME, "metric": "f1", "version": "2.0.0", "value": 0.85}
    assert three.best(NAME, "latency_ms", lower_is_better=True)["version"] == "2.0.0"
    assert three.best(NAME, "latency_ms")["version"] == "1.1.0"
    assert three.best(NAME, "auc")["version"] == "1.1.0"  # only one version has it
    res = cli(three.root, "best", NAME, "--metric", "accuracy", "--json")
    assert res.exit_code == 0
    assert json.loads(res.stdout) == {"name": NAME, "metric": "accuracy", "version": "1.1.0", "value": 0.93}
    res = cli(three.root, "best", NAME, "--metric", "latency_ms", "--lower-is-better")
    assert res.exit_code == 0 and "2.0.0" in res.stdout


def test_best_without_that_metric_is_exit_1(three, cli):
    res = cli(three.root, "best", NAME, "--metric", "rmse")
    assert res.exit_code == 1
    assert "no version of churn has metric 'rmse'" in res.stderr
    assert "accuracy, auc, f1, latency_ms" in res.stderr


def test_best_ties_go_to_the_newest(reg, make_artifact):
    for v in ("1.2.0", "1.1.0"):  # registered out of order
        reg.register(NAME, [make_artifact(size=8)], VersionInfo(metrics={"f1": 0.5}), version=v)
    assert reg.best(NAME, "f1")["version"] == "1.2.0"


def test_resolve_keys_commit_and_tag(three, cli, no_dvc):
    data = three.resolve(f"{NAME}@1.0.0")
    assert set(data) >= {"name", "version", "stage", "commit", "tag", "artifacts"}
    assert data["version"] == "1.0.0" and data["tag"] == f"{NAME}@v1.0.0"
    assert data["commit"] == git(three.root, "rev-list", "-n1", f"{NAME}@v1.0.0").strip()
    art = data["artifacts"][0]
    assert art["path"] == f"models/{NAME}/1.0.0/model.pkl"
    manifest = three.show(f"{NAME}@1.0.0")
    assert art["md5"] == manifest["artifacts"][0]["md5"] and art["size"] == 32
    # bare NAME is the latest version, NAME#STAGE the holder
    assert three.resolve(NAME)["version"] == "2.0.0"
    staged = three.resolve(f"{NAME}#STAGING")
    assert staged["version"] == "1.1.0" and staged["stage"] == "staging"
    assert staged["commit"] == git(three.root, "rev-list", "-n1", f"{NAME}@v1.1.0").strip()
    assert staged["stage_tag"].startswith(f"{NAME}#staging#")
    res = cli(three.root, "resolve", f"{NAME}#staging", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout) == staged


def test_resolve_production_after_approval(three):
    three.request(NAME, "1.1.0", "production", reason="ok")
    registry_as(three.root, BOB).approve(NAME, "1.1.0", "production")
    data = three.resolve(f"{NAME}#production")
    assert data["version"] == "1.1.0" and data["stage"] == "production"


@pytest.mark.parametrize("ref, error, text", [
    (f"{NAME}#production", NotFoundError, "no version of churn is in production"),
    (f"{NAME}@9.9.9", NotFoundError, "has no version 9.9.9"),
    (f"{NAME}@not-semver", UserError, "version"),
    ("nope", NotFoundError, "not registered"),
    ("../etc", UserError, "invalid model name"),
    (f"{NAME}#bogus", UserError, "unknown stage"),
])
def test_resolve_bad_refs(three, ref, error, text):
    with pytest.raises(error, match=text):
        three.resolve(ref)


def test_resolve_cli_error_is_one_line(three, cli):
    res = cli(three.root, "resolve", f"{NAME}@9.9.9")
    assert res.exit_code == 1
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error:")


def test_resolve_without_tags_falls_back_to_the_manifest_commit(three):
    commit = git(three.root, "rev-list", "-n1", f"{NAME}@v1.0.0").strip()
    git(three.root, "tag", "-d", f"{NAME}@v1.0.0")
    data = three.resolve(f"{NAME}@1.0.0")
    assert data["tag"] is None and data["commit"] == commit


@pytest.mark.parametrize("metric, lower", [
    ("val_loss", True), ("logloss", True), ("latency_ms", True), ("eval.rmse", True),
    ("error_rate", True), ("p99-latency", True), ("accuracy", False), ("f1", False),
    ("auc", False), ("answer_rate", False), ("power", False), ("precision", False),
])
def test_lower_is_better_guess_uses_whole_name_parts(metric, lower):
    from gitreg.ops.consume import lower_is_better_by_name

    assert lower_is_better_by_name(metric) is lower
