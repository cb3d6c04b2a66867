"""`gitreg demo`: the main job on a throwaway registry, with no network and no server.

It trains a small real model (logistic regression, pure Python, seeded) three times,
registers each version with its measured metrics, takes the best through staging and
production with a second person approving, pushes commits, tags and artifacts to a bare
git repo and a local-folder DVC remote that stand in for a git host and S3, and writes
the static dashboard.
"""

from __future__ import annotations

import json
import math
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from gitreg.api import Registry, VersionInfo
from gitreg.errors import UserError
from gitreg.git import Git

AUTHOR = ("Dana Scientist", "dana@demo.gitreg.dev")
REVIEWER = ("Rui Reviewer", "rui@demo.gitreg.dev")
MODEL = "churn"
MODEL_DESCRIPTION = "Predicts which customers will cancel next month (logistic regression)"
DEMO_TITLE = "gitreg demo"  # the registry's directory is just `registry`


@dataclass
class DemoResult:
    root: Path
    registry: Path
    versions: list[dict] = field(default_factory=list)
    production: str | None = None
    site: Path | None = None


def _dataset(seed: int, n: int = 1200) -> list[tuple[list[float], int]]:
    """Synthetic churn data: tenure, monthly charge, support calls, contract -> churned."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        tenure = rng.uniform(0, 72)
        charge = rng.uniform(20, 120)
        calls = rng.randint(0, 8)
        contract = rng.choice([0.0, 1.0])
        logit = -1.2 - 0.05 * tenure + 0.025 * charge + 0.45 * calls - 1.4 * contract
        label = 1 if rng.random() < 1 / (1 + math.exp(-logit)) else 0
        rows.append(([tenure / 72, charge / 120, calls / 8, contract], label))
    return rows


def train(rows: list[tuple[list[float], int]], features: int, epochs: int, lr: float,
          seed: int) -> list[float]:
    rng = random.Random(seed)
    w = [0.0] * (features + 1)
    data = list(rows)
    for _ in range(epochs):
        rng.shuffle(data)
        for x, y in data:
            z = w[0] + sum(wi * xi for wi, xi in zip(w[1:], x[:features]))
            p = 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))
            g = p - y
            w[0] -= lr * g
            for i in range(features):
                w[i + 1] -= lr * g * x[i]
    return w


def evaluate(w: list[float], rows: list[tuple[list[float], int]], features: int) -> dict[str, float]:
    scores = []
    for x, y in rows:
        z = w[0] + sum(wi * xi for wi, xi in zip(w[1:], x[:features]))
        scores.append((1 / (1 + math.exp(-max(-30.0, min(30.0, z)))), y))
    tp = sum(1 for p, y in scores if p >= 0.5 and y == 1)
    fp = sum(1 for p, y in scores if p >= 0.5 and y == 0)
    fn = sum(1 for p, y in scores if p < 0.5 and y == 1)
    correct = sum(1 for p, y in scores if (p >= 0.5) == (y == 1))
    pos = [p for p, y in scores if y == 1]
    neg = [p for p, y in scores if y == 0]
    auc = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / max(1, len(pos) * len(neg))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": round(correct / len(scores), 4), "auc": round(auc, 4), "f1": round(f1, 4)}


def _register_runs(author: Registry, work: Path, result: DemoResult, say: Callable[[str], None]) -> None:
    """Train three models of growing skill and register each, with its measured metrics, pushed."""
    data = _dataset(seed=7)
    train_rows, test_rows = data[:900], data[900:]
    runs = [  # (features used, epochs, learning rate, description)
        (2, 3, 0.05, "baseline: tenure and charges"),
        (3, 6, 0.1, "adds support calls"),
        (4, 10, 0.1, "adds contract type"),
    ]
    work.mkdir()
    for i, (features, epochs, lr, desc) in enumerate(runs, start=1):
        w = train(train_rows, features, epochs, lr, seed=i)
        metrics = evaluate(w, test_rows, features)
        artifact = work / f"run{i}" / "model.json"
        artifact.parent.mkdir()
        artifact.write_text(json.dumps({"type": "logistic_regression", "features": features,
                                        "weights": w}, indent=2))
        info = VersionInfo(description=desc, framework="python", algorithm="LogisticRegression",
                           hyperparameters={"features": features, "epochs": epochs, "lr": lr},
                           metrics=metrics, dataset_version="synthetic-churn-v1",
                           training={"data_size": len(train_rows)}, tags=["churn", "demo"],
                           owner=AUTHOR[1], use_case="customer retention",
                           model_description=MODEL_DESCRIPTION if i == 1 else None)
        reg = author.register(MODEL, [artifact], info, bump="minor" if i > 1 else None, push=True)
        result.versions.append({"version": reg.version, **metrics})
        say(f"registered {MODEL} {reg.version}: " + ", ".join(f"{k}={v}" for k, v in metrics.items()))


def run_demo(directory: Path | None, env: Mapping[str, str],
             say: Callable[[str], None] = lambda _: None) -> DemoResult:
    # absolute: the remotes it configures must not depend on the cwd of later commands
    root = Path(directory).resolve() if directory else Path(tempfile.mkdtemp(prefix="gitreg-demo-"))
    if root.exists() and any(root.iterdir()):
        raise UserError(f"{root} is not empty", "give a new or empty directory for the demo")
    root.mkdir(parents=True, exist_ok=True)
    result = DemoResult(root, root / "registry")
    remote_git = root / "remote.git"
    # The demo's people are set through the environment of its own git calls, so it runs on
    # a fresh machine with no git identity and never touches the user's git config.
    author_env = {**env, "GIT_AUTHOR_NAME": AUTHOR[0], "GIT_AUTHOR_EMAIL": AUTHOR[1],
                  "GIT_COMMITTER_NAME": AUTHOR[0], "GIT_COMMITTER_EMAIL": AUTHOR[1]}
    env = author_env
    Git(root, env).run(["init", "-q", "--bare", "-b", "main", str(remote_git)])
    say(f"git host stand-in: {remote_git} (a bare repo); DVC remote: {root / 'dvc-remote'} (a folder)")
    Registry.init(result.registry, dvc_remote=str(root / "dvc-remote"), remote=str(remote_git), env=env)
    Git(result.registry, env).run(["push", "-q", "-u", "origin", "main"])
    author = Registry(result.registry, env=env)
    reviewer_env = {**env, "GIT_AUTHOR_NAME": REVIEWER[0], "GIT_AUTHOR_EMAIL": REVIEWER[1],
                    "GIT_COMMITTER_NAME": REVIEWER[0], "GIT_COMMITTER_EMAIL": REVIEWER[1]}
    reviewer = Registry(result.registry, env=reviewer_env)
    say(f"registry: {result.registry}")

    _register_runs(author, root / "work", result, say)
    best = max(result.versions, key=lambda v: v["auc"])["version"]
    first = result.versions[0]["version"]
    for version in dict.fromkeys([first, best]):
        author.request(MODEL, version, "staging", reason="candidate for evaluation", push=True)
        reviewer.approve(MODEL, version, "staging", push=True)
        author.request(MODEL, version, "production", reason="best offline metrics",
                       results={"auc": next(v["auc"] for v in result.versions if v["version"] == version)},
                       push=True)
        done = reviewer.approve(MODEL, version, "production", push=True)
        say(done.message + f" (approved by {REVIEWER[1]})")
    result.production = best
    result.site = root / "site"
    author.site(result.site, title=DEMO_TITLE)
    say(f"dashboard: {result.site / 'index.html'}")
    return result
