"""How an MLflow version becomes a gitreg registration: its SemVer, metadata and what is dropped.

The SemVer of MLflow's version N is `N.0.0` (README "Importing from MLflow"): stable (the
same on every run and every clone), ordered like MLflow's numbers, and every import a
MAJOR step, so the signature rule never refuses one. The number itself is recorded as
the manifest's `number`, and where it came from under `custom.mlflow`.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from gitreg import yamlio
from gitreg.core import manifest as mf
from gitreg.core.timefmt import rfc3339
from gitreg.errors import GitregError
from gitreg.ops.import_mlflow.source import MlflowVersion
from gitreg.ops.results import VersionInfo

IMPORTED_BY = "gitreg import mlflow"
ORIGIN_KEY = "mlflow"  # custom.mlflow: {version, run_id, source, created_at, user_id, stage}


def semver(number: int) -> str:
    return f"{number}.0.0"


def origin(manifest: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """custom.mlflow of a manifest this command wrote, else None."""
    found = (manifest.get("custom") or {}).get(ORIGIN_KEY)
    return found if isinstance(found, Mapping) and "version" in found else None


def good_tags(tags: Mapping[str, str], what: str, dropped: list[str]) -> dict[str, str]:
    """The tags gitreg can store; each other one is added to `dropped` with the reason."""
    out = {}
    for key, value in tags.items():
        try:
            out.update(mf.parse_tags({key: value}))
        except GitregError as exc:
            dropped.append(f"{what}: tag {key[:60]!r} dropped ({exc.message})")
    return out


def finite_metrics(metrics: Mapping[str, float], what: str, dropped: list[str]) -> dict[str, float]:
    out = {}
    for key, value in sorted(metrics.items()):
        if isinstance(value, (int, float)) and math.isfinite(value) and 1 <= len(key) <= 200:
            out[key] = float(value)
        else:
            dropped.append(f"{what}: metric {key!r} = {value} dropped (gitreg keeps finite numbers only)")
    return out


def _mlmodel(artifacts: Path) -> dict[str, Any]:
    path = artifacts / "MLmodel"
    try:
        data = yamlio.load_file(path) if path.is_file() else None
    except GitregError:
        return {}
    return data if isinstance(data, dict) else {}


def framework(mlmodel: Mapping[str, Any]) -> str | None:
    flavors = [f for f in (mlmodel.get("flavors") or {}) if f != "python_function"]
    return str(flavors[0])[:100] if flavors else None


def signature(mlmodel: Mapping[str, Any]) -> dict[str, Any] | None:
    sig = mlmodel.get("signature")
    if not isinstance(sig, Mapping):
        return None
    out: dict[str, Any] = {}
    for part in ("inputs", "outputs"):
        raw = sig.get(part)
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return None
        if value is not None:
            if not isinstance(value, list):
                return None
            out[part] = value
    return out or None


def created_at(ms: int | None) -> str | None:
    if not isinstance(ms, int) or ms <= 0:
        return None
    return rfc3339(datetime.fromtimestamp(ms / 1000, timezone.utc))


def version_info(name: str, mv: MlflowVersion, params: Mapping[str, str],
                 metrics: Mapping[str, float], artifacts: Path, dropped: list[str]) -> VersionInfo:
    """The VersionInfo that registers MLflow's version `mv` with its number."""
    what = f"{name} version {mv.number}"
    mlmodel = _mlmodel(artifacts)
    record: dict[str, Any] = {"version": mv.number, "source": mv.source, "stage": mv.stage}
    for key, value in (("run_id", mv.run_id), ("created_at", created_at(mv.created_ms)),
                       ("user_id", mv.user_id)):
        if value:
            record[key] = value
    tags = good_tags(mv.tags, what, dropped)
    return VersionInfo(
        description=mv.description[:10000] or None,
        framework=framework(mlmodel),
        hyperparameters=dict(params),
        metrics=finite_metrics(metrics, what, dropped),
        training={"mlflow_run_id": mv.run_id} if mv.run_id else {},
        signature=signature(mlmodel),
        tags=[f"{k}={v}" if v else k for k, v in tags.items()],
        custom={ORIGIN_KEY: record},
        number=mv.number,
    )
