"""Registering a version: the manifest and model.yaml it writes, its sources checked and copied."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from gitreg import yamlio
from gitreg.core import events as ev
from gitreg.core import manifest as mf
from gitreg.core.names import NONE_STAGE
from gitreg.core.timefmt import rfc3339
from gitreg.errors import UserError
from gitreg.store import DVC_YAML, MANIFEST_FILE

if TYPE_CHECKING:
    from gitreg.ops.results import VersionInfo

Progress = Callable[[str, int, int], None]  # (label, done bytes, total bytes)
COPY_CHUNK = 8 * 1024 * 1024
SINGLE_DIR_NAME = "model"  # several files or a directory become models/N/V/model/


def _build_manifest(name: str, version: str, info: VersionInfo, actor: str, now: datetime,
                    seq: int) -> dict[str, Any]:
    training = dict(info.training)
    if info.dataset_version:
        training["dataset_version"] = info.dataset_version
    business = dict(info.business)
    if info.owner:
        business.setdefault("owner", info.owner)
    if info.use_case:
        business.setdefault("use_case", info.use_case)
    m: dict[str, Any] = {
        "schema_version": mf.SCHEMA_VERSION,
        "name": name,
        "version": version,
        "description": info.description or "",
        "created_at": rfc3339(now),
        "created_by": actor,
    }
    for key, value in (("framework", info.framework), ("algorithm", info.algorithm)):
        if value:
            m[key] = value
    m["hyperparameters"] = dict(info.hyperparameters)
    m["metrics"] = dict(info.metrics)
    if training:
        m["training"] = training
    if info.signature is not None:
        m["signature"] = info.signature
    m["artifacts"] = []
    m["tags"] = list(dict.fromkeys(info.tags))
    if business:
        m["business"] = business
    m["custom"] = dict(info.custom)
    m["stage"] = NONE_STAGE
    m["history"] = [{"seq": seq, "action": ev.REGISTER, "at": rfc3339(now), "by": actor}]
    return m


def _model_updates(model: Mapping[str, Any], info: VersionInfo) -> bool:
    return any(
        value and model.get(key) != value
        for key, value in (("owner", info.owner), ("use_case", info.use_case),
                           ("description", info.model_description))
    )


def _model_file(name: str, model: Mapping[str, Any] | None, info: VersionInfo, now: datetime) -> dict:
    out = dict(model or {})
    out.setdefault("schema_version", 1)
    out["name"] = name
    if info.model_description:  # a version's message is not the model's description (issue 14)
        out["description"] = info.model_description
    if info.owner:
        out["owner"] = info.owner
    if info.use_case:
        out["use_case"] = info.use_case
    if info.tags and "tags" not in out:
        out["tags"] = list(dict.fromkeys(info.tags))
    out.setdefault("created_at", rfc3339(now))
    return out


def _check_sources(paths: Sequence[str | Path], root: Path) -> list[Path]:
    if not paths:
        raise UserError("no artifact given", "name the model file(s) or directory to register")
    sources = []
    for p in paths:
        path = Path(p)
        if "\x00" in str(p):  # os.stat raises ValueError on it
            raise UserError(f"artifact path {str(p)!r} contains a NUL byte", "check the path to the model file")
        if not path.exists():
            raise UserError(f"artifact path {p} does not exist", "check the path to the model file")
        if not (path.is_file() or path.is_dir()):
            raise UserError(f"artifact path {p} is not a regular file or directory",
                            "give model files or a directory")
        resolved = path.resolve()
        git_dir = (root / ".git").resolve()
        if resolved == git_dir or git_dir in resolved.parents:
            raise UserError(f"artifact path {p} is inside .git", "give a model file outside .git")
        sources.append(resolved)
    names = [s.name for s in sources]
    if len(sources) == 1 and sources[0].is_file() and _reserved_name(names[0]):
        # it would sit beside the manifest: DVC's .gitignore would hide gitreg's own file
        raise UserError(f"artifact file name {names[0]!r} collides with gitreg's or DVC's own files "
                        "in the version directory (manifest.yaml, .gitignore, *.dvc)",
                        "rename the file, or register its directory instead")
    if len(sources) > 1 and len(set(names)) != len(names):
        raise UserError("two artifacts have the same file name", "rename one, or register a directory")
    return sources


def _reserved_name(name: str) -> bool:
    low = name.lower()  # case-insensitive file systems make Manifest.YAML the same file
    return low in (MANIFEST_FILE, ".gitignore", ".dvcignore", "model.yaml") or low.endswith(".dvc") \
        or low.startswith(f".{MANIFEST_FILE}.")


def _copy_artifacts(sources: Sequence[Path], vdir: Path, progress: Progress | None) -> Path:
    """Copy the artifacts into the version directory; returns the one path DVC will track."""
    if len(sources) == 1 and sources[0].is_file():
        target = vdir / sources[0].name
        _copy_file(sources[0], target, progress)
        return target
    target = vdir / SINGLE_DIR_NAME
    target.mkdir()
    for src in sources:
        if src.is_file():
            _copy_file(src, target / src.name, progress)
        else:
            dest = target if len(sources) == 1 else target / src.name
            for item in sorted(src.rglob("*")):
                rel = item.relative_to(src)
                if item.is_symlink():
                    raise UserError(f"{item} is a symbolic link", "register regular files only")
                if item.is_dir():
                    (dest / rel).mkdir(parents=True, exist_ok=True)
                elif item.is_file():
                    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                    _copy_file(item, dest / rel, progress)
    if not any(p.is_file() for p in target.rglob("*")):
        raise UserError("the artifact directory is empty", "register a directory with files in it")
    return target


def _copy_file(src: Path, dest: Path, progress: Progress | None) -> None:
    total = src.stat().st_size
    if progress is None or total < COPY_CHUNK:
        shutil.copyfile(src, dest)
        return
    done = 0
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while chunk := fin.read(COPY_CHUNK):
            fout.write(chunk)
            done += len(chunk)
            progress(src.name, done, total)


def _update_dvc_yaml(root: Path, name: str, path: str, info: VersionInfo) -> None:
    dvc_yaml = root / DVC_YAML
    data = yamlio.load_file(dvc_yaml, DVC_YAML) if dvc_yaml.exists() else {}
    if not isinstance(data, dict):
        raise UserError(f"{DVC_YAML} is not a mapping", "fix dvc.yaml by hand")
    artifacts = data.get("artifacts") or {}
    entry = {"path": path, "type": "model"}
    if info.description:
        entry["desc"] = " ".join(info.description.split())[:500]
    if info.tags:
        entry["labels"] = list(dict.fromkeys(info.tags))
    artifacts[name] = entry
    data["artifacts"] = artifacts
    yamlio.write_atomic(dvc_yaml, yamlio.dump(data))


def _size_text(artifacts: Sequence[Mapping[str, Any]]) -> str:
    size = sum(int(a.get("size", 0)) for a in artifacts)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"
