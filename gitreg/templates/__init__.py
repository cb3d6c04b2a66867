"""Files gitreg writes into users' registries: the GitHub Actions workflows of `init --github`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from gitreg import yamlio

WORKFLOWS_DIR = ".github/workflows"


def workflow_templates() -> dict[str, str]:
    """{file name: text} of every workflow shipped in gitreg/templates/workflows/."""
    folder = resources.files(__package__).joinpath("workflows")
    return {item.name: item.read_text("utf-8") for item in sorted(folder.iterdir(), key=lambda i: i.name)
            if item.is_file() and item.name.endswith((".yml", ".yaml"))}


def write_github(root: Path) -> list[str]:
    """Write the workflows into root/.github/workflows/; returns the paths written.

    Idempotent: a file already identical is left alone. A file the user changed is left
    alone too (their edit wins); `gitreg init --github` reports only what it wrote.
    """
    target = Path(root) / WORKFLOWS_DIR
    written: list[str] = []
    for name, text in workflow_templates().items():
        path = target / name
        if path.exists():
            continue
        target.mkdir(parents=True, exist_ok=True)
        yamlio.write_atomic(path, text)
        written.append(f"{WORKFLOWS_DIR}/{name}")
    return written
