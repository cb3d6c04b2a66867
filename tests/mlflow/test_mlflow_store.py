"""Issue 15: MLflow's own client on a gitreg registry (`mlflow.set_registry_uri("gitreg:///PATH")`).

The real MLflow (mlflow-skinny 3.x), a sqlite tracking store in the test's tmp dir, a sklearn
model saved with skops, the registry store found through the `mlflow.model_registry_store`
entry point; then gitreg, the real gto and git log are asked what MLflow did.
"""

from __future__ import annotations

import os
import pickle
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agree import assert_tools_agree, gitreg_json, gto_state
from conftest import ALICE, BOB, as_user, git, snapshot
from gitreg import Registry

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

X = np.random.RandomState(0).rand(60, 4)
Y = (X[:, 0] + X[:, 1] > 1.0).astype(int)


@pytest.fixture
def ml(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """MLflow pointed at `repo` (registry) and a sqlite tracking store, both in tmp_path."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # MLflow's default artifact root (./mlruns) lands here
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("GITREG_MLFLOW_CACHE", str(tmp_path / "mlflow-cache"))
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_registry_uri(f"gitreg://{repo}")
    yield MlflowClient()
    mlflow.set_registry_uri("")
    mlflow.set_tracking_uri("")


def act_as(monkeypatch: pytest.MonkeyPatch, email: str) -> None:
    for key, value in as_user(email).items():
        monkeypatch.setenv(key, value)


def no_approvals(repo: Path) -> None:
    """gitreg.yaml without the production approval policy (for tests about other things)."""
    path = repo / "gitreg.yaml"
    text = path.read_text()
    start = text.index("policies:")
    path.write_text(text[:start] + "policies: {}\n")
    git(repo, "commit", "-q", "-am", "test: no approvals")


def model_dir(tmp_path: Path, n: int) -> Path:
    """A small MLflow model directory (a fitted sklearn model) to register from a path."""
    from sklearn.linear_model import LogisticRegression

    path = tmp_path / "models" / str(n)
    mlflow.sklearn.save_model(LogisticRegression(C=float(n)).fit(X, Y), str(path))
    return path


def versions_by_number(client: MlflowClient, name: str) -> dict[str, Any]:
    return {v.version: v for v in client.search_model_versions(f"name='{name}'")}


@pytest.mark.slow
def test_mlflow_client_end_to_end(repo: Path, ml: MlflowClient, monkeypatch: pytest.MonkeyPatch):
    from sklearn.linear_model import LogisticRegression

    runs = []
    for c in (0.5, 1.0, 2.0):
        with mlflow.start_run() as run:
            mlflow.log_param("C", c)
            info = mlflow.sklearn.log_model(LogisticRegression(C=c).fit(X, Y), name="model",
                                            registered_model_name="churn", input_example=X[:2])
            runs.append(run.info.run_id)
        assert info.registered_model_version == str(len(runs))
    mv = versions_by_number(ml, "churn")
    assert sorted(mv) == ["1", "2", "3"]
    assert [mv[n].tags["gitreg.version"] for n in ("1", "2", "3")] == ["0.1.0", "0.2.0", "0.3.0"]
    assert [mv[n].run_id for n in ("1", "2", "3")] == runs
    assert {v.status for v in mv.values()} == {"READY"}

    ml.update_model_version("churn", "2", description="the candidate")
    ml.set_model_version_tag("churn", "2", "team", "risk")
    ml.set_registered_model_tag("churn", "domain", "retention")
    ml.update_registered_model("churn", description="churn classifier")
    ml.transition_model_version_stage("churn", "1", "Staging")
    ml.transition_model_version_stage("churn", "2", "Staging")
    # production needs one approval (gitreg init's policy): Alice's call records a request
    with pytest.raises(MlflowException, match="needs approval.*recorded a request") as err:
        ml.transition_model_version_stage("churn", "2", "Production", archive_existing_versions=True)
    assert err.value.error_code == "INVALID_STATE"
    with pytest.raises(MlflowException, match="alice@example.com requested it and cannot approve"):
        ml.transition_model_version_stage("churn", "2", "Production", archive_existing_versions=True)
    assert ml.get_model_version("churn", "2").current_stage == "Staging"
    act_as(monkeypatch, BOB)  # the same call by another identity approves (and promotes)
    moved = ml.transition_model_version_stage("churn", "2", "Production",
                                              archive_existing_versions=True)
    assert moved.current_stage == "Production"
    act_as(monkeypatch, ALICE)
    ml.set_registered_model_alias("churn", "champion", "2")

    assert ml.get_model_version_by_alias("churn", "champion").version == "2"
    latest = ml.get_latest_versions("churn", stages=["Production", "Staging"])
    assert {v.current_stage: v.version for v in latest} == {"Production": "2", "Staging": "1"}
    got = ml.get_model_version("churn", "2")
    assert (got.description, got.tags["team"], got.aliases) == ("the candidate", "risk", ["champion"])
    model = ml.get_registered_model("churn")
    assert (model.description, model.tags, model.aliases) == (
        "churn classifier", {"domain": "retention"}, {"champion": "2"})
    assert [m.name for m in ml.search_registered_models()] == ["churn"]

    by_stage = mlflow.pyfunc.load_model("models:/churn/Production").predict(X)
    by_alias = mlflow.pyfunc.load_model("models:/churn@champion").predict(X)
    by_number = mlflow.pyfunc.load_model("models:/churn/2").predict(X)
    expected = LogisticRegression(C=1.0).fit(X, Y).predict(X)
    assert (by_stage == by_alias).all() and (by_alias == by_number).all()
    assert (by_stage == expected).all()
    latest_one = mlflow.pyfunc.load_model("models:/churn/latest").predict(X)
    assert (latest_one == LogisticRegression(C=2.0).fit(X, Y).predict(X)).all()

    # what gitreg, the real gto and git log say is what MLflow reported
    state = assert_tools_agree(repo)
    semver = {n: v.tags["gitreg.version"] for n, v in versions_by_number(ml, "churn").items()}
    assert state["churn"] == {"latest": semver["3"],
                              "stages": {"staging": semver["1"], "production": semver["2"]},
                              "aliases": {"champion": semver["2"]}}
    gto = gto_state(repo)
    assert gto["churn"]["stages"]["production"] == semver["2"]
    assert gto["churn"]["stages"]["champion"] == semver["2"]
    listed = gitreg_json(repo, "list")["models"][0]
    assert (listed["latest"], listed["versions"]) == (semver["3"], 3)
    shown = gitreg_json(repo, "show", "churn@0.2.0")
    assert (shown["number"], shown["description"], shown["tags"]["team"]) == (2, "the candidate", "risk")
    log = git(repo, "log", "--reverse", "--format=%ae %s").splitlines()
    assert [line for line in log if "churn" in line] == [
        f"{ALICE} gitreg: create churn",
        f"{ALICE} gitreg: register churn 0.1.0", f"{ALICE} gitreg: register churn 0.2.0",
        f"{ALICE} gitreg: register churn 0.3.0",
        f"{ALICE} gitreg: annotate churn 0.2.0", f"{ALICE} gitreg: annotate churn 0.2.0",
        f"{ALICE} gitreg: annotate churn", f"{ALICE} gitreg: annotate churn",
        f"{ALICE} gitreg: promote churn 0.1.0 none -> staging",
        f"{ALICE} gitreg: promote churn 0.2.0 none -> staging",
        f"{ALICE} gitreg: request churn 0.2.0 staging -> production",
        f"{BOB} gitreg: approve churn 0.2.0 staging -> production",
        f"{ALICE} gitreg: alias churn 0.2.0",
    ]
    for args in (["validate"], ["doctor"]):
        proc = subprocess.run(["gitreg", "-C", str(repo), *args], capture_output=True, text=True,
                              env=dict(os.environ), check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    # the registry holds the artifacts (DVC): the MLmodel file is in the version's directory
    assert (repo / "models" / "churn" / "0.2.0" / "model" / "MLmodel").exists()
