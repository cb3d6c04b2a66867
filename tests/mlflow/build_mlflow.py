"""Build (or extend) a small MLflow registry in a directory, in its own process.

Run as `python build_mlflow.py DIR initial` (two models, versions with sklearn models saved
with skops, descriptions, tags, aliases, stages with two Production holders, a deleted
version, a NaN metric, a model name gitreg cannot store) or `DIR add` (one more version of
churn) or `DIR filestore` (one model in a file store, DIR/mlruns). MLflow's fluent API keeps global state, so it never runs inside the test process.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [2.0, 1.0], [1.0, 2.0]])
Y = np.array([0, 1, 1, 0, 1, 1])


def log_version(name: str, c: float, metrics: dict[str, float]) -> str:
    with mlflow.start_run():
        mlflow.log_params({"C": c, "solver": "lbfgs"})
        mlflow.log_metrics(metrics)
        model = LogisticRegression(C=c).fit(X, Y)
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name,
                                        serialization_format="skops",
                                        input_example=X[:2])
    return str(info.registered_model_version)


def initial(client: MlflowClient) -> None:
    client.create_registered_model("churn", tags={"team": "crm", "pii": ""},
                                   description="Predicts churn next month")
    for i in range(4):  # versions 1..4
        log_version("churn", 0.5 + i, {"accuracy": 0.80 + i / 100, "loss": 0.3 - i / 100,
                                       **({"auc": float("nan")} if i == 2 else {})})
    client.update_model_version("churn", "1", description="baseline")
    client.set_model_version_tag("churn", "1", "validated", "yes")
    client.transition_model_version_stage("churn", "1", "Production")
    client.transition_model_version_stage("churn", "3", "Production")  # two Production holders
    client.transition_model_version_stage("churn", "4", "Staging")
    client.delete_model_version("churn", "2")  # a gap: number 2 is never reused
    client.set_registered_model_alias("churn", "champion", "3")
    client.set_registered_model_alias("churn", "challenger", "4")

    client.create_registered_model("fraud", description="Flags fraudulent payments")
    for i in range(2):
        log_version("fraud", 1.0 + i, {"f1": 0.7 + i / 10})
    client.transition_model_version_stage("fraud", "1", "Archived")
    client.set_registered_model_alias("fraud", "production", "2")  # a gitreg stage name

    log_version("bad name", 1.0, {"accuracy": 0.5})  # gitreg refuses the space


def add(client: MlflowClient) -> None:
    version = log_version("churn", 9.0, {"accuracy": 0.95, "loss": 0.1})
    client.set_model_version_tag("churn", version, "new", "yes")
    client.set_registered_model_alias("fraud", "latest-good", "2")


def filestore(client: MlflowClient) -> None:
    client.create_registered_model("iris", description="in a file store")
    log_version("iris", 1.0, {"accuracy": 0.9})


def main() -> None:
    folder, mode = Path(sys.argv[1]).resolve(), sys.argv[2]
    # a file store (`filestore`, run with MLFLOW_ALLOW_FILE_STORE=true) or a sqlite db
    uri = (folder / "mlruns").as_uri() if mode == "filestore" else f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name("exp") is None:
        mlflow.create_experiment("exp", artifact_location=(folder / "artifacts").as_uri())
    mlflow.set_experiment("exp")
    client = MlflowClient(uri)
    {"initial": initial, "add": add, "filestore": filestore}[mode](client)


if __name__ == "__main__":
    main()
