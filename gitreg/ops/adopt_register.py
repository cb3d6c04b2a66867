"""A version gto registered (`gto register`) that gitreg has no manifest for: its manifest drafted.

What gto registers is the commit; what it stands for is dvc.yaml's `artifacts:` entry at that
commit and the DVC-tracked file it names (its `.dvc` file, else dvc.lock). The manifest takes
path, md5 and size from there and its description and labels from the entry; the version
directory gets the same `.dvc` entry, so gitreg's `get` and DVC fetch the same bytes.
"""

from __future__ import annotations

import posixpath
from datetime import datetime, timezone
from typing import Any, Mapping

from gitreg import yamlio
from gitreg.errors import UserError
from gitreg.ops.context import Context
from gitreg.ops.gto_tags import GtoTag
from gitreg.ops.register import build_manifest
from gitreg.ops.results import VersionInfo
from gitreg.store import MODELS_DIR, manifest_path

DVC_YAML = "dvc.yaml"


def _yaml_at(ctx: Context, commit: str, path: str) -> Any:
    data = ctx.git.show_file(commit, path)
    if data is None:
        return None
    try:
        return yamlio.loads(data.decode("utf-8", "replace"), f"{path} at {commit[:10]}")
    except UserError:
        return None


def artifact_entry(ctx: Context, name: str, commit: str) -> Mapping[str, Any] | str:
    """dvc.yaml's `artifacts.NAME` at the commit, or why there is none."""
    data = _yaml_at(ctx, commit, DVC_YAML)
    arts = data.get("artifacts") if isinstance(data, dict) else None
    entry = arts.get(name) if isinstance(arts, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        return f"dvc.yaml at {commit[:10]} has no `artifacts: {name}: path:` entry, so gitreg cannot tell its files"
    return entry


def tracked_out(ctx: Context, path: str, commit: str) -> Mapping[str, Any] | str:
    """DVC's record of `path` at the commit ({md5, size, nfiles?}), or why there is none."""
    dvc_file = _yaml_at(ctx, commit, path + ".dvc")
    outs = dvc_file.get("outs") if isinstance(dvc_file, dict) else None
    for out in outs if isinstance(outs, list) else []:
        if isinstance(out, dict) and isinstance(out.get("md5"), str):
            return out
    lock = _yaml_at(ctx, commit, "dvc.lock")
    stages = lock.get("stages") if isinstance(lock, dict) else None
    for stage in (stages or {}).values() if isinstance(stages, dict) else []:
        for out in (stage.get("outs") or []) if isinstance(stage, dict) else []:
            if isinstance(out, dict) and out.get("path") == path and isinstance(out.get("md5"), str):
                return out
    return f"{path} is not tracked by DVC at {commit[:10]} (no {path}.dvc, nothing in dvc.lock)"


def draft(ctx: Context, t: GtoTag, seq: int) -> tuple[dict[str, Any], dict[str, str]] | str:
    """(manifest, {file: text}) of the version `t` registers, or why it cannot be drafted."""
    name, ver = t.model, t.version or ""
    entry = artifact_entry(ctx, name, t.target)
    if isinstance(entry, str):
        return entry
    path = posixpath.normpath(str(entry["path"]))
    out = tracked_out(ctx, path, t.target)
    if isinstance(out, str):
        return out
    labels = entry.get("labels")
    info = VersionInfo(description=str(entry.get("desc") or "") or None,
                       tags=[str(x) for x in labels] if isinstance(labels, list) else [])
    when = datetime.fromtimestamp(t.time, timezone.utc)
    manifest = build_manifest(name, ver, info, t.email or "unknown", when, seq)
    manifest["history"][0]["adopted_from"] = t.tag
    base = posixpath.basename(path)
    art: dict[str, Any] = {"path": base, "md5": out["md5"], "size": int(out.get("size") or 0)}
    if out.get("nfiles"):
        art["nfiles"] = int(out["nfiles"])
    manifest["artifacts"] = [art]
    vdir = f"{MODELS_DIR}/{name}/{ver}"
    dvc_out = {k: out[k] for k in ("md5", "size", "nfiles", "hash") if k in out}
    files = {
        f"{vdir}/{base}.dvc": yamlio.dump({"outs": [{**dvc_out, "path": base}]}),
        f"{vdir}/.gitignore": f"/{base}\n",
    }
    assert manifest_path(name, ver) == f"{vdir}/manifest.yaml"
    return manifest, files
