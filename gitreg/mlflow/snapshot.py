"""One read of the registry for one MLflow call: every manifest (of one model, or of all) in a
constant number of git processes (one ls-tree, one batch size check, one batch read)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitreg.core import numbers
from gitreg.core.names import NONE_STAGE
from gitreg.errors import NotFoundError
from gitreg.ops.context import Context
from gitreg.store.layout import manifest_path, model_file_path
from gitreg.store.shape import shape_problem


@dataclass
class ModelState:
    """One model as MLflow sees it: its manifests, model.yaml and MLflow numbers."""

    name: str
    manifests: dict[str, dict]
    model: dict | None
    numbers: dict[str, int] = field(init=False)  # derived from the manifests

    def __post_init__(self) -> None:
        self.numbers = numbers.version_numbers(self.manifests)

    def version_of(self, number: Any) -> str:
        """The SemVer version whose MLflow number is `number` (a string of digits)."""
        text = str(number).strip()
        wanted = int(text) if text.isdigit() else None
        ver = next((v for v, n in self.numbers.items() if n == wanted), None)
        if ver is None:
            raise NotFoundError(f"Model Version (name={self.name}, version={number}) not found",
                                f"{self.name}'s versions are numbered "
                                f"{', '.join(str(n) for n in sorted(self.numbers.values())) or 'none yet'}")
        return ver

    def stage(self, ver: str) -> str:
        return str(self.manifests[ver].get("stage") or NONE_STAGE)


def read(ctx: Context, name: str | None = None) -> dict[str, ModelState]:
    """{model: ModelState} at HEAD, for one model (name) or all."""
    store = ctx.store
    tree = store.model_tree("HEAD", name)
    paths: dict[str, str] = {}
    for model, files in tree.items():
        for ver, sha in files.manifests.items():
            paths[sha] = manifest_path(model, ver)
        if files.model_file:
            paths[files.model_file] = model_file_path(model)
    parsed = store.parse_blobs(list(paths), lambda sha: paths[sha]) if paths else {}
    out: dict[str, ModelState] = {}
    for model, files in sorted(tree.items()):
        manifests = {v: parsed[sha] for v, sha in files.manifests.items()
                     if isinstance(parsed.get(sha), dict) and not shape_problem(parsed[sha])}
        doc = parsed.get(files.model_file) if files.model_file else None
        out[model] = ModelState(model, manifests, doc if isinstance(doc, dict) else None)
    return out


def one(ctx: Context, name: str) -> ModelState:
    """The model `name`, or NotFoundError in MLflow's words."""
    from gitreg.core.names import check_name

    check_name(name)
    found = read(ctx, name).get(name)
    if found is None:
        raise NotFoundError(f"Registered Model with name={name} not found",
                            "create it (mlflow's create_registered_model) or register a version")
    return found
