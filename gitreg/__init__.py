"""gitreg: a git-native model registry. `from gitreg import Registry`."""

from __future__ import annotations

__version__ = "0.1.0"

from gitreg.api import InitResult, Registry, Result, VersionInfo  # noqa: E402
from gitreg.errors import (  # noqa: E402
    ConflictError, GitregError, InternalError, NotFoundError, PolicyError, UsageError,
    UserError, ValidationError,
)

__all__ = [
    "Registry", "VersionInfo", "Result", "InitResult", "GitregError", "UserError",
    "NotFoundError", "ValidationError", "UsageError", "PolicyError", "ConflictError",
    "InternalError", "__version__",
]
