"""Reads committed registry state fast and writes one change as one commit, atomically.

store.py reads (its summaries through cache.py) and guards a change (the lock, the
journal); change.py writes one change and undoes a failed one; recovery.py finishes or
undoes a change a crash interrupted; layout.py names the files.
"""

from __future__ import annotations

from gitreg.store.cache import CACHE_VERSION
from gitreg.store.digest import summarize
from gitreg.store.change import SIGN_HINT, Change, PlannedTag, is_git_error, undo_change
from gitreg.store.layout import (
    CONFIG_FILE, DVC_YAML, JOURNAL_FILE, MANIFEST_FILE, MODEL_FILE, MODELS_DIR, ModelFiles,
    is_temp_file, manifest_path, model_file_path,
)
from gitreg.store.shape import check_shape
from gitreg.store.store import Store

__all__ = [
    "CACHE_VERSION", "CONFIG_FILE", "DVC_YAML", "JOURNAL_FILE",
    "MANIFEST_FILE", "MODEL_FILE", "MODELS_DIR", "SIGN_HINT", "Change", "ModelFiles",
    "PlannedTag", "Store", "check_shape", "is_git_error", "is_temp_file", "manifest_path",
    "model_file_path", "summarize", "undo_change",
]
