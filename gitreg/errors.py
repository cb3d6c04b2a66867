"""Errors: each carries a message, a hint that says what to do next, and an exit code."""

from __future__ import annotations


class GitregError(Exception):
    """Base of every error gitreg raises on purpose. The CLI turns it into one line."""

    exit_code = 70

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UserError(GitregError):
    """Bad input or something not found: exit 1."""

    exit_code = 1


class NotFoundError(UserError):
    """An unknown model, version or stage holder."""


class ValidationError(UserError):
    """Manifests or config failing schema or semantic checks; carries every problem."""

    def __init__(self, message: str, problems: list[str] | None = None, hint: str | None = None):
        super().__init__(message, hint)
        self.problems = list(problems or [])


class UsageError(GitregError):
    """The command line itself is wrong: exit 2."""

    exit_code = 2


class PolicyError(GitregError):
    """A gate, a forbidden transition or a failed check refused the change: exit 3."""

    exit_code = 3

    def __init__(self, message: str, hint: str | None = None, violations: list[str] | None = None):
        super().__init__(message, hint)
        self.violations = list(violations or [])


class ConflictError(GitregError):
    """Lost a race, a dirty tree, a held lock or a diverged remote: exit 4."""

    exit_code = 4


class InternalError(GitregError):
    """A bug or an unexpected failure of git/DVC: exit 70."""

    exit_code = 70
