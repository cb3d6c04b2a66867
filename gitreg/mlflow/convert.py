"""gitreg's manifests as MLflow's entities (ModelVersion, RegisteredModel) and back.

MLflow's stages are None, Staging, Production and Archived; gitreg's are lower case (and a
registry may have more, shown as they are written in gitreg.yaml). A version's MLflow
number is gitreg/core/numbers.py's; run id, source and model id are kept in the manifest's
`custom.mlflow` block at registration.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from mlflow.entities.model_registry import (
    ModelVersion, ModelVersionTag, RegisteredModel, RegisteredModelAlias, RegisteredModelTag,
)

from gitreg.core.manifest import tag_map
from gitreg.core.names import NONE_STAGE
from gitreg.mlflow.snapshot import ModelState

MLFLOW_KEY = "mlflow"  # the manifest's custom.mlflow: run_id, source, model_id, run_link
_MLFLOW_STAGES = {"none": "None", "staging": "Staging", "production": "Production",
                  "archived": "Archived"}


def mlflow_stage(stage: str | None) -> str:
    """gitreg's stage as MLflow writes it: `production` -> `Production`, none -> `None`."""
    text = str(stage or NONE_STAGE)
    return _MLFLOW_STAGES.get(text.lower(), text)


def gitreg_stage(stage: str) -> str:
    """MLflow's stage name as gitreg's (case-insensitive; `None` is gitreg's `none`)."""
    return str(stage).strip().lower()


def millis(stamp: Any) -> int | None:
    """An RFC 3339 time (as gitreg writes them) in milliseconds since the epoch."""
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


def _last_change(doc: Mapping[str, Any]) -> Any:
    history = [h for h in doc.get("history") or [] if isinstance(h, dict)]
    return history[-1].get("at") if history else doc.get("created_at")


def mlflow_block(manifest: Mapping[str, Any]) -> dict[str, Any]:
    custom = manifest.get("custom")
    block = custom.get(MLFLOW_KEY) if isinstance(custom, dict) else None
    return block if isinstance(block, dict) else {}


def model_version(state: ModelState, ver: str, numeric: bool = False) -> ModelVersion:
    m = state.manifests[ver]
    block = mlflow_block(m)
    aliases = sorted(str(a) for a in m.get("aliases") or [] if isinstance(a, str))
    return ModelVersion(
        name=state.name, version=state.numbers[ver] if numeric else str(state.numbers[ver]),
        creation_timestamp=millis(m.get("created_at")) or 0,
        last_updated_timestamp=millis(_last_change(m)),
        description=m.get("description") or "",
        user_id=m.get("created_by"),
        current_stage=mlflow_stage(m.get("stage")),
        source=block.get("source") or f"gitreg:{state.name}@{ver}",
        run_id=block.get("run_id"),
        tags=[ModelVersionTag(k, v) for k, v in sorted(_version_tags(m).items())],
        run_link=block.get("run_link"),
        aliases=aliases,
        model_id=block.get("model_id"),
    )


def _version_tags(m: Mapping[str, Any]) -> dict[str, str]:
    """The version's tags, and its SemVer as `gitreg.version` (what the number stands for)."""
    return {**tag_map(m.get("tags")), "gitreg.version": str(m.get("version"))}


def registered_model(state: ModelState) -> RegisteredModel:
    model = state.model or {}
    versions = list(state.manifests)
    created = [millis(state.manifests[v].get("created_at")) or 0 for v in versions]
    updated = [millis(_last_change(state.manifests[v])) or 0 for v in versions]
    if state.model:
        created.append(millis(model.get("created_at")) or 0)
        updated.append(millis(_last_change(model)) or 0)
    aliases = sorted((str(a), str(state.numbers[v])) for v in versions
                     for a in state.manifests[v].get("aliases") or [] if isinstance(a, str))
    return RegisteredModel(
        name=state.name,
        creation_timestamp=min((c for c in created if c), default=0),
        last_updated_timestamp=max(updated, default=0),
        description=model.get("description") or "",
        latest_versions=[model_version(state, v) for v in latest_per_stage(state, None).values()],
        tags=[RegisteredModelTag(k, v) for k, v in sorted(tag_map(model.get("tags")).items())],
        aliases=[RegisteredModelAlias(a, n) for a, n in aliases],
    )


def latest_per_stage(state: ModelState, stages: Any) -> dict[str, str]:
    """{MLflow stage: the version with the highest number in it}, for `stages` (None: all)."""
    wanted = None if not stages else {mlflow_stage(gitreg_stage(s)) for s in stages}
    out: dict[str, str] = {}
    for ver in sorted(state.manifests, key=lambda v: state.numbers[v]):
        stage = mlflow_stage(state.stage(ver))
        if wanted is None or stage in wanted:
            out[stage] = ver
    return out
