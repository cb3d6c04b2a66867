"""The MLflow side of `gitreg import mlflow`: open a registry without changing it, read it.

MLflow is imported here only, lazily (read commands never import it). A sqlite db is
copied into a temp dir and MLflow opens the copy: opening an older db with a newer MLflow
migrates its schema in place, silently. A file store's metadata (everything but its
`artifacts/` directories) is copied the same way, since MLflow's FileStore creates
`.trash/` on open. Artifacts are read where they are, never written.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from gitreg.errors import UserError
from gitreg.ops.results import Progress

URI_HINT = ("give sqlite:///PATH/mlflow.db, a file store directory (file:///PATH/mlruns) "
            "or a tracking server's http(s):// URL")


@dataclass
class MlflowVersion:
    """One model version as MLflow holds it (plain data; its artifacts are fetched later)."""

    number: int
    description: str
    tags: dict[str, str]
    stage: str  # MLflow's current_stage: None, Staging, Production, Archived
    status: str  # READY, PENDING_REGISTRATION, FAILED_REGISTRATION
    run_id: str | None
    source: str
    created_ms: int | None
    user_id: str | None


@dataclass
class MlflowModel:
    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, int]  # alias -> version number
    versions: list[MlflowVersion] = field(default_factory=list)  # ascending numbers


def _sqlite_path(uri: str) -> Path:
    path = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else ""
    path = unquote(path.split("?", 1)[0])
    if not path:
        raise UserError(f"cannot read the sqlite URI {uri!r}", URI_HINT)
    return Path("/" + path.lstrip("/")) if uri.startswith("sqlite:////") else Path(path)


PROBE_TIMEOUT = 10.0


def _probe(uri: str) -> None:
    """One short request before MLflow's client, which retries for minutes when nothing answers."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=PROBE_TIMEOUT):
            pass
    except urllib.error.HTTPError:
        return  # something answered (a proxy may not serve /health): MLflow's client decides
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"cannot reach the MLflow tracking server at {uri}: {reason}",
                        "check the URL and that `mlflow server` is running there") from None


def open_copy(uri: str, workdir: Path) -> str:
    """The tracking URI MLflow is given: a copy of a local store in workdir, or the server's URL.

    Raises UserError before anything is opened when the store does not exist: MLflow would
    create an empty one instead."""
    scheme = urlparse(uri).scheme
    if scheme == "sqlite":
        db = _sqlite_path(uri)
        if not db.is_file():
            raise UserError(f"no sqlite database at {db}", URI_HINT)
        copy = workdir / "mlflow.db"
        shutil.copyfile(db, copy)
        for suffix in ("-wal", "-shm", "-journal"):  # uncommitted pages live beside it
            if Path(f"{db}{suffix}").is_file():
                shutil.copyfile(f"{db}{suffix}", f"{copy}{suffix}")
        return f"sqlite:///{copy}"
    if scheme in ("http", "https"):
        _probe(uri)
        return uri
    if scheme in ("", "file"):
        root = Path(unquote(urlparse(uri).path)) if scheme == "file" else Path(uri)
        if not root.is_dir() or not any(root.glob("*/meta.yaml")):
            raise UserError(f"no MLflow file store at {root} (no experiment's meta.yaml in it)",
                            URI_HINT)
        copy = workdir / "mlruns"
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns("artifacts"), symlinks=True)
        return copy.as_uri()
    raise UserError(f"unsupported tracking URI scheme {scheme!r} in {uri!r}", URI_HINT)


def client(tracking_uri: str, shown: str) -> Any:
    """An MlflowClient over tracking_uri, checked by one read; UserError if MLflow refuses."""
    from mlflow import MlflowClient

    try:
        c = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        c.search_registered_models(max_results=1)
    except Exception as exc:  # noqa: BLE001 - MLflow raises many kinds; one line says which
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        hint = URI_HINT
        if "MLFLOW_ALLOW_FILE_STORE" in str(exc):
            hint = "set MLFLOW_ALLOW_FILE_STORE=true to let MLflow read a file store"
        raise UserError(f"MLflow cannot open {shown}: {first}", hint) from None
    return c


def _pages(search: Any, **kwargs: Any) -> list[Any]:
    out: list[Any] = []
    token = None
    while True:
        page = search(max_results=100, page_token=token, **kwargs)
        out.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return out


def model_names(c: Any) -> list[str]:
    return sorted(rm.name for rm in _pages(c.search_registered_models))


def _aliases(raw: Any) -> dict[str, int]:
    if isinstance(raw, dict):  # MLflow 3: {alias: version}
        return {str(a): int(v) for a, v in raw.items()}
    return {str(a.alias): int(a.version) for a in raw or []}


def read_model(c: Any, name: str) -> MlflowModel:
    """The model, its aliases and every version MLflow still has (deleted ones are gone)."""
    rm = c.get_registered_model(name)
    quoted = name.replace("'", "\\'")
    versions = []
    for mv in _pages(c.search_model_versions, filter_string=f"name = '{quoted}'"):
        versions.append(MlflowVersion(
            number=int(mv.version), description=mv.description or "", tags=dict(mv.tags or {}),
            stage=mv.current_stage or "None", status=str(mv.status or "READY"),
            run_id=mv.run_id or None, source=str(mv.source or ""),
            created_ms=mv.creation_timestamp, user_id=mv.user_id or None))
    versions.sort(key=lambda v: v.number)
    return MlflowModel(name, rm.description or "", dict(rm.tags or {}), _aliases(rm.aliases),
                       versions)


def run_data(c: Any, run_id: str | None) -> tuple[dict[str, str], dict[str, float], str | None]:
    """(params, metrics, why none) of the version's source run."""
    if not run_id:
        return {}, {}, "the version has no source run"
    try:
        run = c.get_run(run_id)
    except Exception as exc:  # noqa: BLE001 - a deleted or unreadable run: reported, not fatal
        return {}, {}, f"its run {run_id} cannot be read ({str(exc).splitlines()[0][:120]})"
    return dict(run.data.params), dict(run.data.metrics), None


def _local_dir(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        return None
    path = Path(unquote(parsed.path) if parsed.scheme else uri)
    return path if path.is_dir() else None


def _copy_tree(src: Path, dest: Path, label: str, progress: Progress | None) -> None:
    """Copy src into dest, reporting bytes (MLflow's own download prints a tqdm bar always)."""
    files = [p for p in sorted(src.rglob("*")) if p.is_file() and not p.is_symlink()]
    total = sum(p.stat().st_size for p in files)
    done = 0
    for path in files:
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        done += path.stat().st_size
        if progress is not None:
            progress(label, done, total)


def download(c: Any, tracking_uri: str, name: str, number: int, dest: Path,
             progress: Progress | None = None) -> Path:
    """The version's artifacts (its model directory), copied or downloaded into dest."""
    uri = c.get_model_version_download_uri(name, str(number))
    dest.mkdir(parents=True)
    local = _local_dir(uri)
    if local is not None:
        _copy_tree(local, dest / "model", f"{name} version {number}", progress)
        return dest / "model"
    import mlflow.artifacts

    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dest),
                                                    tracking_uri=tracking_uri))
