"""MLflow's writes as gitreg's records: a new version (its artifacts copied into DVC), and a
stage transition (a promotion, a request, an approval or a rollback)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gitreg.api import Registry
from gitreg.core import events as ev
from gitreg.core.names import NONE_STAGE
from gitreg.mlflow import errors
from gitreg.mlflow.convert import MLFLOW_KEY, gitreg_stage
from gitreg.mlflow.snapshot import ModelState
from gitreg.ops.results import VersionInfo

REASON = "set through MLflow's model registry"


def _flavor(model_dir: Path) -> str | None:
    """The MLmodel file's first flavour other than python_function (e.g. sklearn)."""
    import yaml

    try:
        doc = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    flavors = [f for f in (doc or {}).get("flavors") or {} if f != "python_function"]
    return flavors[0] if flavors else None


def _fetch(source: str, tracking_uri: str | None, into: Path) -> Path:
    """MLflow's model at `source` (runs:/, models:/m-ID, a path) as a local directory."""
    from mlflow.artifacts import download_artifacts

    local = Path(source)
    if "://" not in source and ":/" not in source and local.is_dir():
        return local
    return Path(download_artifacts(artifact_uri=source, dst_path=str(into),
                                   tracking_uri=tracking_uri))


def _source_run(model_id: Any, tracking_uri: str | None) -> str | None:
    """The run that logged MLflow 3's model `m-ID` (log_model passes no run id of its own)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        return MlflowClient(tracking_uri=tracking_uri).get_logged_model(model_id).source_run_id
    except MlflowException:
        return None


def create_version(reg: Registry, name: str, source: str, *, run_id: Any, tags: Any,
                   run_link: Any, description: Any, local_model_path: Any, model_id: Any,
                   tracking_uri: str | None) -> str:
    """Register a new SemVer version (gitreg's default bump) from MLflow's model; its version."""
    with tempfile.TemporaryDirectory(prefix="gitreg-mlflow-") as tmp:
        path = Path(local_model_path) if local_model_path else _fetch(source, tracking_uri, Path(tmp))
        if not path.exists():
            raise errors.bad(f"the model to register is not at {path}")
        if path.is_dir():
            # MLflow's own marker of a downloaded registered model is not part of the model
            staged = Path(tmp) / "model"
            shutil.copytree(path, staged, ignore=shutil.ignore_patterns("registered_model_meta"),
                            dirs_exist_ok=True)
            path = staged
        if not run_id and model_id:
            run_id = _source_run(model_id, tracking_uri)
        block = {k: v for k, v in (("source", source), ("run_id", run_id), ("run_link", run_link),
                                   ("model_id", model_id)) if v}
        info = VersionInfo(description=description or None, framework=_flavor(path),
                           tags=[f"{t.key}={t.value}" for t in tags or []],
                           custom={MLFLOW_KEY: block},
                           created_by=os.environ.get("GIT_AUTHOR_EMAIL") or None)
        result = reg.register(name, [path], info)
    return result.version


def _approval_needed(reg: Registry, target: str) -> bool:
    return bool(reg.lifecycle().policy(target).approvals)


def transition(reg: Registry, state: ModelState, ver: str, stage: str, archive_existing: bool) -> None:
    """Move `ver` to MLflow's `stage`: a rollback, an approval, a request or a promotion."""
    lifecycle = reg.lifecycle()
    target = lifecycle.stage(gitreg_stage(stage), allow_none=True)
    current = state.stage(ver)
    name = state.name
    if current == target:
        return
    events = ev.model_events(state.manifests.values())
    if target == lifecycle.rollback_stage and current == lifecycle.archive_stage \
            and ev.held_stage_before(events, ver, target):
        reg.rollback(name, to=ver, reason=f"{REASON}: back to {target}")
    elif target != NONE_STAGE and _approval_needed(reg, target):
        _approve_or_request(reg, state, ver, target)
    else:
        reg.promote(name, ver, target, reason=REASON,
                    keep_existing=target not in lifecycle.exclusive)
    if archive_existing and target not in lifecycle.exclusive \
            and target not in (NONE_STAGE, lifecycle.archive_stage):
        for other, st in sorted((v, state.stage(v)) for v in state.manifests):
            if other != ver and st == target:
                reg.promote(name, other, lifecycle.archive_stage, reason=f"{REASON}: archive_existing_versions")


def _approve_or_request(reg: Registry, state: ModelState, ver: str, target: str) -> None:
    """The first call records gitreg's request and says so; another person's call approves."""
    name = state.name
    approval = state.manifests[ver].get("approval") or {}
    actor = reg.actor()
    pending = approval.get("status") == "pending" and approval.get("stage") == target
    if pending and approval.get("requested_by") != actor:
        result = reg.approve(name, ver, target, reason=f"{REASON}: approved by {actor}")
        if not (result.details or {}).get("promoted"):
            raise errors.refused(f"approval recorded for {name} {ver} -> {target}; "
                                 f"{result.message}")
        return
    if pending:
        raise errors.refused(
            f"{name} {ver} -> {target} awaits approval: {actor} requested it and cannot approve "
            "it; another person (a different GIT_AUTHOR_EMAIL) must make the same call or run "
            f"`gitreg approve {name} {ver} {target}`")
    reg.request(name, ver, target, reason=f"{REASON}: requested by {actor}")
    raise errors.refused(
        f"{target} needs approval (gitreg.yaml policies): recorded a request to move {name} "
        f"{ver} to {target} by {actor}; another person (a different GIT_AUTHOR_EMAIL) approves "
        f"it by making the same call, or with `gitreg approve {name} {ver} {target}`")
