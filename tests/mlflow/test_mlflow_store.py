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
from mlflow.entities.model_registry import ModelVersionTag
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
    # MLflow's setters also export MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI and never take
    # them back: through monkeypatch they go with the test (else a later test's MLflow
    # subprocess writes to this test's gitreg registry)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"gitreg://{repo}")
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
    start = text.index("\npolicies:") + 1
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


@pytest.fixture
def three_models(repo: Path, ml: MlflowClient, tmp_path: Path) -> MlflowClient:
    """churn with 3 versions (v2 tagged team=risk, in Staging), fraud with 2, straight from paths."""
    no_approvals(repo)
    src = model_dir(tmp_path, 1)
    for name, count in (("churn", 3), ("fraud", 2)):
        ml.create_registered_model(name, description=f"{name} model")
        for _ in range(count):
            ml.create_model_version(name, str(src))
    ml.set_model_version_tag("churn", "2", "team", "risk")
    ml.transition_model_version_stage("churn", "2", "Staging")
    return ml


def test_search_filters_order_and_page_tokens(three_models: MlflowClient):
    ml = three_models
    every = ml.search_model_versions()
    assert sorted((v.name, v.version) for v in every) == [
        ("churn", "1"), ("churn", "2"), ("churn", "3"), ("fraud", "1"), ("fraud", "2")]
    assert [v.version for v in ml.search_model_versions("name='churn'", order_by=["version_number ASC"])] \
        == ["1", "2", "3"]
    assert [(v.name, v.version) for v in ml.search_model_versions(
        "tags.team = 'risk'")] == [("churn", "2")]
    assert [v.version for v in ml.search_model_versions(
        "name = 'churn' AND version_number >= 2", order_by=["version_number DESC"])] == ["3", "2"]
    assert [v.name for v in ml.search_model_versions("name LIKE 'fr%'")] == ["fraud", "fraud"]
    first = ml.search_model_versions(max_results=2, order_by=["name ASC", "version_number ASC"])
    assert [(v.name, v.version) for v in first] == [("churn", "1"), ("churn", "2")] and first.token
    second = ml.search_model_versions(max_results=2, order_by=["name ASC", "version_number ASC"],
                                      page_token=first.token)
    third = ml.search_model_versions(max_results=2, order_by=["name ASC", "version_number ASC"],
                                     page_token=second.token)
    assert [(v.name, v.version) for v in second] == [("churn", "3"), ("fraud", "1")]
    assert [(v.name, v.version) for v in third] == [("fraud", "2")] and not third.token
    models = ml.search_registered_models(order_by=["name DESC"])
    assert [m.name for m in models] == ["fraud", "churn"]
    assert [m.name for m in ml.search_registered_models("name = 'churn'")] == ["churn"]
    page = ml.search_registered_models(max_results=1, order_by=["name ASC"])
    assert [m.name for m in page] == ["churn"]
    assert [m.name for m in ml.search_registered_models(max_results=1, order_by=["name ASC"],
                                                        page_token=page.token)] == ["fraud"]
    with pytest.raises(MlflowException) as err:
        ml.search_model_versions("name ~ 'x'")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert {v.current_stage for v in ml.get_latest_versions("churn")} == {"Staging", "None"}
    assert [v.version for v in ml.get_latest_versions("churn", ["None"])] == ["3"]


def test_delete_and_rename_are_refused_and_nothing_changes(repo: Path, three_models: MlflowClient):
    ml = three_models
    before = snapshot(repo)
    for call, why in ((lambda: ml.delete_registered_model("churn"), "never deletes"),
                      (lambda: ml.delete_model_version("churn", "1"), "never deletes"),
                      (lambda: ml.rename_registered_model("churn", "attrition"), "cannot rename")):
        with pytest.raises(MlflowException, match=why) as err:
            call()
        assert err.value.error_code == "INVALID_STATE"
    with pytest.raises(MlflowException, match="prompts are not kept"):
        ml.search_prompts()
    assert snapshot(repo) == before
    assert len(ml.search_model_versions("name='churn'")) == 3


def test_errors_have_mlflows_codes(three_models: MlflowClient):
    ml = three_models
    cases = [(lambda: ml.get_model_version("churn", "9"), "RESOURCE_DOES_NOT_EXIST"),
             (lambda: ml.get_registered_model("nope"), "RESOURCE_DOES_NOT_EXIST"),
             (lambda: ml.get_model_version_by_alias("churn", "nobody"), "RESOURCE_DOES_NOT_EXIST"),
             (lambda: ml.create_registered_model("churn"), "RESOURCE_ALREADY_EXISTS"),
             (lambda: ml.transition_model_version_stage("churn", "1", "Nowhere"),
              "INVALID_PARAMETER_VALUE"),
             (lambda: ml.set_model_version_tag("churn", "1", "team", "a\x00b"),
              "INVALID_PARAMETER_VALUE"),
             # production only from staging (gitreg.yaml's transitions)
             (lambda: ml.transition_model_version_stage("churn", "1", "Production"), "INVALID_STATE")]
    for call, code in cases:
        with pytest.raises(MlflowException) as err:
            call()
        assert err.value.error_code == code, err.value
        assert str(err.value.message).startswith(("gitreg: ", "Registered model alias", "Model Version"))


def test_rollback_is_gitregs_rollback_and_needs_no_new_approval(
        repo: Path, ml: MlflowClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    src = model_dir(tmp_path, 1)
    ml.create_registered_model("churn")
    for _ in range(2):
        ml.create_model_version("churn", str(src))
    for number in ("1", "2"):  # production needs Bob's approval of Alice's request
        ml.transition_model_version_stage("churn", number, "Staging")
        with pytest.raises(MlflowException, match="recorded a request"):
            ml.transition_model_version_stage("churn", number, "Production")
        act_as(monkeypatch, BOB)
        ml.transition_model_version_stage("churn", number, "Production")
        act_as(monkeypatch, ALICE)
    assert ml.get_model_version("churn", "1").current_stage == "Archived"  # exclusive stage
    back = ml.transition_model_version_stage("churn", "1", "Production")
    assert back.current_stage == "Production"
    assert ml.get_model_version("churn", "2").current_stage == "Archived"
    last = Registry(repo).history("churn")["events"][-1]
    assert (last["action"], last["version"], last["to"], last["by"]) == (
        "rollback", "0.1.0", "production", ALICE)
    assert "MLflow" in last["reason"]
    author, subject = git(repo, "log", "-1", "--format=%ae%n%s").split("\n")[:2]
    assert (author, subject.split(" ")[:3]) == (ALICE, ["gitreg:", "rollback", "churn"])
    assert_tools_agree(repo, ["churn"])
    # a version that never held production is not rolled back to: it needs the approval
    ml.create_model_version("churn", str(src))
    ml.transition_model_version_stage("churn", "3", "Archived")
    with pytest.raises(MlflowException, match="transition|cannot|needs approval"):
        ml.transition_model_version_stage("churn", "3", "Production")


def test_archive_existing_versions_archives_other_holders_of_a_shared_stage(
        three_models: MlflowClient):
    ml = three_models
    ml.transition_model_version_stage("churn", "1", "Staging")
    assert {ml.get_model_version("churn", n).current_stage for n in ("1", "2")} == {"Staging"}
    ml.transition_model_version_stage("churn", "3", "Staging", archive_existing_versions=True)
    assert [ml.get_model_version("churn", n).current_stage for n in ("1", "2", "3")] == [
        "Archived", "Archived", "Staging"]
    with pytest.raises(MlflowException) as err:
        ml.transition_model_version_stage("churn", "3", "Archived", archive_existing_versions=True)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_one_store_serves_threads(three_models: MlflowClient):
    from concurrent.futures import ThreadPoolExecutor

    store = mlflow.tracking._model_registry.utils._get_store()
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda n: store.get_model_version("churn", str(n)).version,
                            [1, 2, 3] * 4))
    assert got == ["1", "2", "3"] * 4


def _git_processes(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every git process started from now on (subprocess.run / Popen with argv[0] == git)."""
    seen: list[list[str]] = []
    real_popen_init = subprocess.Popen.__init__

    def counting(self: Any, args: Any, *a: Any, **kw: Any) -> None:
        argv = [str(x) for x in args] if isinstance(args, (list, tuple)) else [str(args)]
        if Path(argv[0]).name == "git":
            seen.append(argv)
        real_popen_init(self, args, *a, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", counting)
    return seen


def test_each_read_costs_the_same_git_processes_at_3_and_8_versions(
        repo: Path, ml: MlflowClient, make_artifact: Any, monkeypatch: pytest.MonkeyPatch):
    reg = Registry(repo)
    store = mlflow.tracking._model_registry.utils._get_store()
    reads = [lambda: store.get_model_version("churn", "2"),
             lambda: store.get_registered_model("churn"),
             lambda: store.get_latest_versions("churn", ["Staging"]),
             lambda: store.search_model_versions("name='churn'", max_results=100),
             lambda: store.search_registered_models(max_results=100),
             lambda: store.get_model_version_by_alias("churn", "champion")]
    counts = {}
    for total in (3, 8):
        while len(reg.show("churn")["versions"] if total > 3 or (repo / "models" / "churn").exists()
                  else []) < total:
            reg.register("churn", [make_artifact()])
        if total == 3:
            reg.alias("churn", "champion", "0.2.0")
            reg.promote("churn", "0.1.0", "staging")
        seen = _git_processes(monkeypatch)
        per_call = []
        for read in reads:
            seen.clear()
            read()
            per_call.append(len(seen))
        monkeypatch.undo()
        counts[total] = per_call
    assert counts[3] == counts[8], counts
    assert all(0 < n <= 6 for n in counts[3]), counts


def test_download_uri_is_an_md5_checked_export_outside_the_work_tree(
        repo: Path, three_models: MlflowClient, tmp_path: Path):
    ml = three_models
    uri = ml.get_model_version_download_uri("churn", "2")
    path = Path(uri).resolve()
    assert repo.resolve() not in path.parents
    assert (tmp_path / "mlflow-cache").resolve() in path.parents
    assert (path / "MLmodel").exists()
    loaded = mlflow.pyfunc.load_model("models:/churn/2")
    from sklearn.linear_model import LogisticRegression

    assert (loaded.predict(X) == LogisticRegression(C=1.0).fit(X, Y).predict(X)).all()
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    # exported once: a second look is the same directory, unchanged by what MLflow wrote there
    assert ml.get_model_version_download_uri("churn", "2") == uri
    # a corrupted DVC cache is caught by get's md5 check: nothing is exported
    import shutil

    shutil.rmtree(tmp_path / "mlflow-cache")
    for blob in (repo / ".dvc" / "cache").rglob("*"):
        if blob.is_file() and not blob.name.endswith(".dir"):
            blob.chmod(0o644)
            blob.write_bytes(b"tampered")
    remote = tmp_path / "dvc-remote"
    shutil.rmtree(remote)
    remote.mkdir()
    with pytest.raises(MlflowException, match="md5|checksum|missing|failed"):
        ml.get_model_version_download_uri("churn", "2")
    assert not any((tmp_path / "mlflow-cache").rglob("MLmodel"))


def test_a_download_cache_inside_the_work_tree_is_refused(
        repo: Path, three_models: MlflowClient, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GITREG_MLFLOW_CACHE", str(repo / "exports"))
    before = snapshot(repo)
    with pytest.raises(MlflowException, match="points into the registry's work tree") as err:
        three_models.get_model_version_download_uri("churn", "1")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert snapshot(repo) == before


def test_the_store_is_found_by_entry_point_and_pickles(repo: Path, three_models: MlflowClient):
    from gitreg.mlflow.store import GitregRegistryStore

    store = mlflow.tracking._model_registry.utils._get_store()
    assert type(store) is GitregRegistryStore and store.root == str(repo)
    copy = pickle.loads(pickle.dumps(store))
    assert copy.get_model_version("churn", "2").tags["team"] == "risk"
    copy.set_model_version_tag("churn", "2", ModelVersionTag("team", "growth"))  # its lock works after unpickling
    assert store.get_model_version("churn", "2").tags["team"] == "growth"  # state read afresh


def test_every_abstract_store_method_is_implemented_or_refused():
    from mlflow.store.model_registry.abstract_store import AbstractStore

    from gitreg.mlflow.store import GitregRegistryStore

    public = [n for n, v in vars(AbstractStore).items() if callable(v) and not n.startswith("_")]
    missing = [n for n in public if n not in vars(GitregRegistryStore)]
    assert public and missing == []


@pytest.mark.parametrize("uri", ["gitreg://host/path", "gitreg:", "file:///x"])
def test_bad_registry_uris_are_refused(uri: str):
    from gitreg.mlflow.store import GitregRegistryStore

    with pytest.raises(MlflowException) as err:
        GitregRegistryStore(uri)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_register_model_from_a_run_copies_the_artifacts_into_the_registry(
        repo: Path, ml: MlflowClient, tmp_path: Path):
    from sklearn.linear_model import RidgeClassifier

    fitted = RidgeClassifier(alpha=0.3).fit(X, Y)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(fitted, name="model")
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", "fraud")
    assert (mv.version, mv.run_id, mv.status) == ("1", run.info.run_id, "READY")
    assert mv.source.startswith("models:/m-")  # MLflow 3 hands the store its logged model
    # the registry holds the files (DVC-tracked in the version's directory), not a pointer
    files = repo / "models" / "fraud" / "0.1.0" / "model"
    assert (files / "MLmodel").exists() and not (files / "registered_model_meta").exists()
    assert "skops" in (files / "MLmodel").read_text()  # mlflow 3's sklearn flavour saves with skops
    manifest = Registry(repo).show("fraud@0.1.0")
    assert manifest["framework"] == "sklearn"
    assert manifest["custom"]["mlflow"]["run_id"] == run.info.run_id
    loaded = mlflow.pyfunc.load_model("models:/fraud/1")
    assert (loaded.predict(X) == fitted.predict(X)).all()
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
