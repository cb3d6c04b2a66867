"""gitreg: a git-native model registry. `from gitreg import Registry`."""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

from gitreg.errors import (  # noqa: E402
    ConflictError, GitregError, InternalError, NotFoundError, PolicyError, UsageError,
    UserError, ValidationError,
)

if TYPE_CHECKING:
    from gitreg.api import InitResult, Registry, Result, VersionInfo

_API = ("Registry", "VersionInfo", "Result", "InitResult")


def __getattr__(name: str) -> Any:
    # The API (and jsonschema, the use cases, ...) is imported on first use, so that
    # `gitreg --help` and the CLI's start-up do not pay for it (issue 6).
    if name in _API:
        from gitreg import api

        return getattr(api, name)
    raise AttributeError(f"module 'gitreg' has no attribute {name!r}")

__all__ = [
    "Registry", "VersionInfo", "Result", "InitResult", "GitregError", "UserError",
    "NotFoundError", "ValidationError", "UsageError", "PolicyError", "ConflictError",
    "InternalError", "__version__",
]
