"""Where MLflow downloads a version from: an md5-checked export outside the work tree.

MLflow loads a local download URI in place and writes its `registered_model_meta` file
into it, so the URI never points into the registry's work tree. Each version is exported
once with gitreg's `get` (DVC, every md5 checked) into a cache directory named by the
model, the version and the artifact's md5: $GITREG_MLFLOW_CACHE, else $XDG_CACHE_HOME/gitreg/mlflow, else
~/.cache/gitreg/mlflow.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gitreg.errors import UserError
from gitreg.mlflow.snapshot import ModelState

CACHE_VAR = "GITREG_MLFLOW_CACHE"
_DONE = ".gitreg-exported"


def cache_root() -> Path:
    explicit = os.environ.get(CACHE_VAR)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gitreg" / "mlflow"


def _key(manifest: dict) -> str:
    md5s = [str(a.get("md5", "")).replace(".dir", "") for a in manifest.get("artifacts") or []
            if isinstance(a, dict)]
    key = "-".join(m for m in md5s if m.isalnum())
    if not key:
        raise UserError(f"{manifest.get('name')} {manifest.get('version')} records no artifact md5",
                        "run `gitreg validate` to see what is wrong with its manifest")
    return key[:200]


def exported(reg: Any, state: ModelState, ver: str) -> str:
    """The local directory holding `ver`'s MLflow model (exported on first use)."""
    manifest = state.manifests[ver]
    # by name and version too: MLflow writes that version's registered_model_meta in it
    target = cache_root() / state.name / f"{ver}-{_key(manifest)}"
    root = Path(reg.root).resolve()
    if root == target.resolve() or root in target.resolve().parents:
        raise UserError(f"{CACHE_VAR} points into the registry's work tree ({target})",
                        "set it to a directory outside the registry")
    if not (target / _DONE).exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
        try:
            reg.get(f"{state.name}@{ver}", staging / "out")
            (staging / "out" / _DONE).write_text(f"{state.name}@{ver}\n")
            if target.exists() and not (target / _DONE).exists():
                shutil.rmtree(target)  # an export interrupted before it was marked done
            try:
                os.replace(staging / "out", target)
            except OSError:
                if not (target / _DONE).exists():  # not another process's finished export
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return str(_model_dir(target))


def _model_dir(target: Path) -> Path:
    """The exported directory with the MLmodel file (the artifact directory, or the root)."""
    if (target / "MLmodel").exists():
        return target
    for child in sorted(target.iterdir()):
        if child.is_dir() and (child / "MLmodel").exists():
            return child
    return target
