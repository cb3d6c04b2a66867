"""dvc.yaml's `artifacts:` entry of a model, as DVC Studio and `dvc artifacts get` read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from gitreg import yamlio
from gitreg.core import events as ev
from gitreg.core.manifest import tag_map
from gitreg.core.version import parse_version
from gitreg.errors import UserError
from gitreg.store import DVC_YAML

DESC_LIMIT = 500


def artifact_entry(path: str, manifests: Mapping[str, Mapping[str, Any]],
                   model: Mapping[str, Any] | None) -> dict[str, Any]:
    """{path, type, desc, labels, meta}: DVC's artifact schema (labels are strings, meta free).

    desc is the model's description (else the latest version's); labels are the model's
    and the latest version's tags, `KEY` or `KEY=VALUE`; meta has the latest version, its
    framework and metrics, the owner and each stage's holder.
    """
    model = model or {}
    latest_ver = max(manifests, key=parse_version) if manifests else None
    latest = manifests[latest_ver] if latest_ver else {}
    entry: dict[str, Any] = {"path": path, "type": "model"}
    desc = model.get("description") or latest.get("description")
    if isinstance(desc, str) and desc.strip():
        entry["desc"] = " ".join(desc.split())[:DESC_LIMIT]
    tags = {**tag_map(model.get("tags")), **tag_map(latest.get("tags"))}
    if tags:
        entry["labels"] = [f"{k}={v}" if v else k for k, v in tags.items()]
    meta: dict[str, Any] = {}
    if latest_ver:
        meta["version"] = latest_ver
    if latest.get("framework"):
        meta["framework"] = latest["framework"]
    if latest.get("metrics"):
        meta["metrics"] = dict(latest["metrics"])
    business = latest.get("business")
    business = business if isinstance(business, Mapping) else {}
    owner = model.get("owner") or business.get("owner")
    if owner:
        meta["owner"] = owner
    holders = ev.stage_holders(manifests.values())
    if holders:
        meta["stages"] = {stage: versions[0] for stage, versions in sorted(holders.items())}
    if meta:
        entry["meta"] = meta
    return entry


def _load(root: Path) -> dict[str, Any]:
    dvc_yaml = root / DVC_YAML
    data = yamlio.load_file(dvc_yaml, DVC_YAML) if dvc_yaml.exists() else {}
    if not isinstance(data, dict):
        raise UserError(f"{DVC_YAML} is not a mapping", "fix dvc.yaml by hand")
    return data


def write_entry(root: Path, name: str, path: str, manifests: Mapping[str, Mapping[str, Any]],
                model: Mapping[str, Any] | None) -> None:
    """Point the model's entry at `path` (a registration) with everything else up to date."""
    data = _load(root)
    artifacts = data.get("artifacts") or {}
    artifacts[name] = artifact_entry(path, manifests, model)
    data["artifacts"] = artifacts
    yamlio.write_atomic(root / DVC_YAML, yamlio.dump(data))


def refreshed(root: Path, name: str, manifests: Mapping[str, Mapping[str, Any]],
              model: Mapping[str, Any] | None) -> str | None:
    """dvc.yaml's new text after a change that keeps the path (None: nothing to change)."""
    data = _load(root)
    artifacts = data.get("artifacts")
    if not isinstance(artifacts, dict):
        return None
    old = artifacts.get(name)
    if not isinstance(old, dict) or not isinstance(old.get("path"), str):
        return None  # no registered version yet: DVC needs a path
    new = artifact_entry(old["path"], manifests, model)
    if new == old:
        return None
    artifacts[name] = new
    return yamlio.dump(data)
