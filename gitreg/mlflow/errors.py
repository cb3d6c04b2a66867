"""gitreg's errors as MlflowException, with MLflow's error codes."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INTERNAL_ERROR, INVALID_PARAMETER_VALUE, INVALID_STATE, RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)

F = TypeVar("F", bound=Callable[..., Any])


def translate(exc: Exception) -> MlflowException:
    from gitreg.errors import ConflictError, GitregError, NotFoundError, PolicyError, UserError

    if not isinstance(exc, GitregError):
        raise exc
    text = exc.message if hasattr(exc, "message") else str(exc)
    hint = getattr(exc, "hint", None)
    message = f"gitreg: {text}" + (f" ({hint})" if hint else "")
    if isinstance(exc, NotFoundError):
        code = RESOURCE_DOES_NOT_EXIST
    elif isinstance(exc, UserError):
        code = INVALID_PARAMETER_VALUE
    elif isinstance(exc, (PolicyError, ConflictError)):
        code = INVALID_STATE
    else:
        code = INTERNAL_ERROR
    return MlflowException(message, code)


def refused(why: str) -> MlflowException:
    return MlflowException(f"gitreg: {why}", INVALID_STATE)


def exists(what: str) -> MlflowException:
    return MlflowException(f"gitreg: {what}", RESOURCE_ALREADY_EXISTS)


def bad(what: str) -> MlflowException:
    return MlflowException(f"gitreg: {what}", INVALID_PARAMETER_VALUE)


def translated(fn: F) -> F:
    """Run a store method under the store's lock, with gitreg's errors as MlflowException."""
    from gitreg.errors import GitregError

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            try:
                return fn(self, *args, **kwargs)
            except GitregError as exc:
                raise translate(exc) from exc
    return wrapper  # type: ignore[return-value]
