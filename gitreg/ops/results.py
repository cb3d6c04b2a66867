"""The plain data use cases take and return: what a registration carries, what a change did."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

Progress = Callable[[str, int, int], None]  # (label, done bytes, total bytes)


@dataclass
class VersionInfo:
    """Metadata given at registration (everything optional)."""

    description: str | None = None  # the version's (manifest); never copied to the model
    model_description: str | None = None  # the model's (model.yaml), set or replaced when given
    framework: str | None = None
    algorithm: str | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    dataset_version: str | None = None
    training: dict[str, Any] = field(default_factory=dict)
    signature: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    owner: str | None = None
    use_case: str | None = None
    business: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    created_by: str | None = None
    number: int | None = None  # MLflow's version number; None: one above the model's highest


@dataclass
class Result:
    """What a mutation did."""

    action: str
    name: str
    version: str
    commit: str | None = None
    tags: list[str] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    pushed: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action, "name": self.name, "version": self.version,
            "commit": self.commit, "tags": self.tags, "seq": self.seq,
            "message": self.message, "warnings": self.warnings, "pushed": self.pushed,
            **self.details,
        }


@dataclass
class InitResult:
    root: Path
    changed: list[str]
    commit: str | None

    @property
    def message(self) -> str:
        if not self.changed:
            return f"{self.root} is already a gitreg registry; nothing changed"
        return f"initialised gitreg registry in {self.root}: " + ", ".join(self.changed)
