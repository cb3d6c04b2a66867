"""Where a registry's files are: their names and paths, and one model's committed files."""

from __future__ import annotations

from dataclasses import dataclass, field

from gitreg import yamlio

CONFIG_FILE = "gitreg.yaml"
MODELS_DIR = "models"
MANIFEST_FILE = "manifest.yaml"
MODEL_FILE = "model.yaml"
DVC_YAML = "dvc.yaml"
JOURNAL_FILE = "change.json"  # the change in progress; left behind only by a crash


def manifest_path(name: str, version: str) -> str:
    return f"{MODELS_DIR}/{name}/{version}/{MANIFEST_FILE}"


def model_file_path(name: str) -> str:
    return f"{MODELS_DIR}/{name}/{MODEL_FILE}"


def is_temp_file(rel: str) -> bool:
    """Is this path one of write_atomic's temp files of a registry file gitreg writes?"""
    base = rel.rsplit("/", 1)[-1]
    m = yamlio.TEMP_NAME_RE.fullmatch(base)
    return m is not None and m.group("name") in (MANIFEST_FILE, MODEL_FILE, DVC_YAML, CONFIG_FILE)


@dataclass
class ModelFiles:
    """The committed files of one model at a revision: {version: manifest blob id}."""

    name: str
    manifests: dict[str, str] = field(default_factory=dict)
    model_file: str | None = None

