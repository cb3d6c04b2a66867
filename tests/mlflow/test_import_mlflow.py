"""`gitreg import mlflow` from a real MLflow registry (a local sqlite tracking store, built by
build_mlflow.py in its own process): what is carried, what is reported, a second run, bad input.

The truth about the MLflow side is read straight from its sqlite file (read-only), never
through the importer's own code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agree import as_gto_sees_it, assert_tools_agree, gitreg_state_with_aliases, gto_state
from conftest import git, snapshot
from gitreg import yamlio

BUILD = Path(__file__).with_name("build_mlflow.py")


def _build(folder: Path, mode: str) -> None:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "HOME": str(folder.parent / "home"),
           "PYTHONWARNINGS": "ignore", "MLFLOW_ALLOW_FILE_STORE": "true"}
    proc = subprocess.run([sys.executable, str(BUILD), str(folder), mode], cwd=folder, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def _mlflow_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mlflow-built") / "store"
    folder.mkdir()
    _build(folder, "initial")
    return folder


@pytest.fixture
def mlflow_dir(tmp_path: Path, _mlflow_built: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's copy of the MLflow store (its recorded artifact paths are the built ones)."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    folder = tmp_path / "mlflow"
    shutil.copytree(_mlflow_built, folder)
    return folder


def _uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mlflow_rows(folder: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """{(model, number): row} of the versions MLflow still has, read from the db itself."""
    con = sqlite3.connect(f"file:{folder / 'mlflow.db'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT name, version, run_id, current_stage, storage_location "
                           "FROM model_versions").fetchall()
    finally:
        con.close()
    return {(n, int(v)): {"run_id": r, "stage": s, "storage": loc}
            for n, v, r, s, loc in rows if s != "Deleted_Internal"}


def _import(cli: Any, repo: Path, folder: Path, *extra: str) -> dict[str, Any]:
    r = cli(repo, "import", "mlflow", "--tracking-uri", _uri(folder), *extra, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _numbers(repo: Path, name: str) -> dict[str, int]:
    return {p.parent.name: yamlio.load_file(p)["number"]
            for p in sorted((repo / "models" / name).glob("*/manifest.yaml"))}


def _check_registry(cli: Any, repo: Path) -> dict[str, Any]:
    """gitreg list, gto show (the real CLI too), doctor, validate agree; the tree is clean."""
    state = assert_tools_agree(repo)
    assert gto_state(repo) == as_gto_sees_it(gitreg_state_with_aliases(repo))
    for args in (["validate"], ["doctor"]):
        r = cli(repo, *args)
        assert r.exit_code == 0, r.output
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    return state


def test_import_carries_models_versions_stages_aliases_and_reports_the_rest(
        cli: Any, repo: Path, mlflow_dir: Path, tmp_path: Path) -> None:
    db = mlflow_dir / "mlflow.db"
    before = _sha(db)
    mlflow = _mlflow_rows(mlflow_dir)
    report = _import(cli, repo, mlflow_dir)
    assert _sha(db) == before, "the import changed the user's MLflow database"

    state = _check_registry(cli, repo)
    assert state == {
        "churn": {"latest": "4.0.0", "stages": {"production": "3.0.0", "staging": "4.0.0"},
                  "aliases": {"champion": "3.0.0", "challenger": "4.0.0"}},
        "fraud": {"latest": "2.0.0", "stages": {"archived": "1.0.0"}, "aliases": {}},
    }
    # MLflow's numbers, with the gap the deleted version 2 left
    assert _numbers(repo, "churn") == {"1.0.0": 1, "3.0.0": 3, "4.0.0": 4}
    assert _numbers(repo, "fraud") == {"1.0.0": 1, "2.0.0": 2}
    carried = sorted(k for k in mlflow if k[0] != "bad name")
    assert carried == [("churn", 1), ("churn", 3), ("churn", 4), ("fraud", 1), ("fraud", 2)]
    assert sorted((i["name"], i["number"]) for i in report["imported"]) == carried

    model = json.loads(cli(repo, "show", "churn", "--json").stdout)
    assert model["description"] == "Predicts churn next month"
    assert model["tags"] == {"team": "crm", "pii": ""}
    v1 = json.loads(cli(repo, "show", "churn@1.0.0", "--json").stdout)
    assert v1["description"] == "baseline" and v1["tags"] == {"validated": "yes"}
    assert v1["hyperparameters"] == {"C": "0.5", "solver": "lbfgs"}
    assert v1["metrics"] == {"accuracy": pytest.approx(0.80), "loss": pytest.approx(0.30)}
    assert v1["framework"] == "sklearn" and v1["signature"]["inputs"]
    assert v1["custom"]["mlflow"]["run_id"] == mlflow[("churn", 1)]["run_id"]
    assert v1["custom"]["mlflow"]["stage"] == "Production" and v1["stage"] == "none"
    v3 = json.loads(cli(repo, "show", "churn@3.0.0", "--json").stdout)
    assert set(v3["metrics"]) == {"accuracy", "loss"}  # auc was NaN

    # every carried version's bytes are MLflow's, through gitreg get (DVC, md5-checked)
    for (name, number), row in mlflow.items():
        if name == "bad name":
            continue
        out = tmp_path / "got" / f"{name}-{number}"
        r = cli(repo, "get", f"{name}@{number}.0.0", "-o", str(out))
        assert r.exit_code == 0, r.output
        src = Path(row["storage"].removeprefix("file://"))
        got = {p.relative_to(out / "model"): p.read_bytes() for p in (out / "model").rglob("*")
               if p.is_file()}
        assert got == {p.relative_to(src): p.read_bytes() for p in src.rglob("*") if p.is_file()}
        assert any(k.name == "model.skops" for k in got)

    assert any("'bad name'" in s for s in report["skipped"])
    assert any("2 versions in production (1, 3)" in s for s in report["skipped"])
    assert any("alias 'production' not carried" in s for s in report["skipped"])
    assert [d for d in report["dropped"] if "auc" in d] == [
        "churn version 3: metric 'auc' = nan dropped (gitreg keeps finite numbers only)"]
    assert report["gaps"] == ["churn: MLflow has no version 2 (deleted there); the numbers stay unused"]
    assert any("stage transition history" in n for n in report["not_carried"])


def test_a_second_run_imports_only_what_is_new(cli: Any, repo: Path, mlflow_dir: Path) -> None:
    first = _import(cli, repo, mlflow_dir, "--model", "churn")
    assert [i["version"] for i in first["imported"]] == ["1.0.0", "3.0.0", "4.0.0"]
    assert "fraud" not in gitreg_state_with_aliases(repo)
    head = git(repo, "rev-parse", "HEAD")

    again = _import(cli, repo, mlflow_dir, "--model", "churn")
    assert (again["changed"], again["imported"], again["already"]) == (False, [], 3)
    assert git(repo, "rev-parse", "HEAD") == head

    _build(mlflow_dir, "add")  # churn version 5, and an alias on fraud 2
    before = _sha(mlflow_dir / "mlflow.db")
    r = cli(repo, "import", "mlflow", "--tracking-uri", _uri(mlflow_dir))
    assert r.exit_code == 0, r.output
    assert "imported churn 5.0.0 (MLflow version 5)" in r.output
    assert "imported churn 1.0.0" not in r.output and "not carried over from MLflow" in r.output
    assert _sha(mlflow_dir / "mlflow.db") == before
    assert _numbers(repo, "churn") == {"1.0.0": 1, "3.0.0": 3, "4.0.0": 4, "5.0.0": 5}
    new = json.loads(cli(repo, "show", "churn@5.0.0", "--json").stdout)
    assert new["tags"] == {"new": "yes"} and new["metrics"]["accuracy"] == pytest.approx(0.95)
    state = _check_registry(cli, repo)
    assert state["churn"]["latest"] == "5.0.0"
    assert state["fraud"]["aliases"] == {"latest-good": "2.0.0"}

    last = _import(cli, repo, mlflow_dir)
    assert (last["changed"], last["already"]) == (False, 6)


@pytest.mark.parametrize("args, says", [
    (["--tracking-uri", "sqlite:///{tmp}/missing.db"], "no sqlite database at"),
    (["--tracking-uri", "{tmp}/not-a-store"], "no MLflow file store at"),
    (["--tracking-uri", "postgresql://u@h/db"], "unsupported tracking URI scheme"),
    (["--tracking-uri", "{uri}", "--model", "churm"], "did you mean 'churn'?"),
    (["--tracking-uri", "{uri}", "--model", "bad name"], "invalid model name 'bad name'"),
])
def test_bad_input_is_one_line_and_changes_nothing(cli: Any, repo: Path, mlflow_dir: Path,
                                                   tmp_path: Path, args: list[str],
                                                   says: str) -> None:
    before, db = snapshot(repo), _sha(mlflow_dir / "mlflow.db")
    argv = [a.format(tmp=tmp_path, uri=_uri(mlflow_dir)) for a in args]
    r = cli(repo, "import", "mlflow", *argv)
    assert r.exit_code == 1, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "(hint: " in lines[0], r.stderr
    assert says in lines[0] and "Traceback" not in r.output
    assert snapshot(repo) == before and _sha(mlflow_dir / "mlflow.db") == db
    assert not (tmp_path / "missing.db").exists()  # MLflow would have created an empty one


def test_a_dirty_registry_is_refused_before_anything_is_imported(cli: Any, repo: Path,
                                                                 mlflow_dir: Path) -> None:
    (repo / "models").mkdir(exist_ok=True)
    (repo / "models" / "stray.txt").write_text("uncommitted\n")
    head = git(repo, "rev-parse", "HEAD")
    r = cli(repo, "import", "mlflow", "--tracking-uri", _uri(mlflow_dir))
    assert r.exit_code == 4, r.output
    assert git(repo, "rev-parse", "HEAD") == head and not (repo / "models" / "churn").exists()


def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in sorted(root.rglob("*"))}


def test_a_file_store_is_imported_from_a_copy(cli: Any, repo: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    folder = tmp_path / "fs"
    folder.mkdir()
    _build(folder, "filestore")
    # a store without .trash/ (older MLflow, or emptied): MLflow opening it in place makes one
    shutil.rmtree(folder / "mlruns" / ".trash")
    before = _tree(folder)
    uri = (folder / "mlruns").as_uri()
    r = cli(repo, "import", "mlflow", "--tracking-uri", uri)
    assert r.exit_code == 1 and "MLFLOW_ALLOW_FILE_STORE=true" in r.stderr, r.output
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    r = cli(repo, "import", "mlflow", "--tracking-uri", uri)
    assert r.exit_code == 0, r.output
    assert "imported iris 1.0.0 (MLflow version 1)" in r.stderr
    assert _tree(folder) == before, "the import changed the file store (MLflow adds .trash/)"
    assert _numbers(repo, "iris") == {"1.0.0": 1}
    assert _check_registry(cli, repo)["iris"]["latest"] == "1.0.0"


def test_a_server_that_does_not_answer_is_one_line_quickly(cli: Any, repo: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on once it is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    before = snapshot(repo)
    r = cli(repo, "import", "mlflow", "--tracking-uri", f"http://127.0.0.1:{port}")
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith(f"error: cannot reach the MLflow tracking server at http://127.0.0.1:{port}")
    assert r.stderr.count("\n") == 1 and snapshot(repo) == before
