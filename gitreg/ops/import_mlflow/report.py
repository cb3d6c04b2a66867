"""What `gitreg import mlflow` did, skipped, dropped and could not carry."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# what MLflow holds that gitreg cannot take over, whatever the registry (README)
NOT_CARRIED = [
    "stage transition history (OSS MLflow keeps only the current stage; gitreg records the "
    "import as one promote per version)",
    "who set each tag, description and alias, and when (the import commits are yours)",
    "versions deleted in MLflow (gone from MLflow; their numbers stay unused)",
    "the run's artifacts other than the model's, its metric history (the last value is kept) "
    "and its tags",
]


@dataclass
class ImportReport:
    tracking_uri: str
    models: list[str] = field(default_factory=list)  # the MLflow models looked at
    created: list[str] = field(default_factory=list)  # gitreg models created
    imported: list[dict[str, Any]] = field(default_factory=list)  # {name, version, number, run_id}
    already: int = 0  # versions imported by an earlier run
    stages: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    annotated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # each with its reason
    dropped: list[str] = field(default_factory=list)  # metrics and tags gitreg cannot store
    gaps: list[str] = field(default_factory=list)  # numbers MLflow no longer has
    not_carried: list[str] = field(default_factory=lambda: list(NOT_CARRIED))

    @property
    def changed(self) -> bool:
        return bool(self.created or self.imported or self.stages or self.aliases or self.annotated)

    @property
    def message(self) -> str:
        if not self.changed:
            return (f"nothing new to import from {self.tracking_uri} "
                    f"({self.already} version(s) imported before)")
        return (f"imported {len(self.imported)} version(s) of {len(self.models)} model(s) from "
                f"{self.tracking_uri}" + (f"; {self.already} imported before" if self.already else ""))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "changed": self.changed, "message": self.message}
