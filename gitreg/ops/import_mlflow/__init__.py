"""`gitreg import mlflow`: an MLflow model registry carried into gitreg (issue 15).

Everything MLflow is asked is read first (the URI checked, the models listed, each
model's versions and aliases), so bad input changes nothing. Then each model is one
`create` (or `annotate`), one `register` per new version with MLflow's number, one commit
per stage and alias. A second run recognises what an earlier one imported by the
number and `custom.mlflow` it recorded, and imports only what is new.
"""

from __future__ import annotations

import difflib
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

from gitreg.core.names import check_name
from gitreg.errors import NotFoundError, UserError
from gitreg.ops.context import Context
from gitreg.ops.import_mlflow import source, steps
from gitreg.ops.import_mlflow.report import ImportReport
from gitreg.ops.import_mlflow.source import MlflowModel
from gitreg.ops.results import Progress


def _select(c: object, wanted: Sequence[str], report: ImportReport) -> list[str]:
    """The MLflow models to import: the ones named (each must exist) or all; names gitreg
    cannot store are skipped with the reason (named explicitly: refused)."""
    names = source.model_names(c)
    for name in wanted:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            raise NotFoundError(f"MLflow has no registered model {name!r}",
                                f"did you mean {close[0]!r}?" if close else
                                "MLflow's models: " + (", ".join(names[:20]) or "none"))
        check_name(name)
    chosen = []
    for name in list(dict.fromkeys(wanted)) or names:
        try:
            check_name(name)
        except UserError as exc:
            report.skipped.append(f"model {name!r}: not imported, {exc} (README, Model names; "
                                  "rename it in MLflow and import again)")
            continue
        chosen.append(name)
    return chosen


def _import_model(ctx: Context, c: object, uri: str, m: MlflowModel, report: ImportReport,
                  workdir: Path, progress: Progress | None) -> None:
    steps.ensure_model(ctx, m, report)
    new: dict[int, str] = {}
    for mv in m.versions:
        ver = steps.import_version(ctx, c, uri, m, mv, report, workdir, progress)
        if ver is not None:
            new[mv.number] = ver
    have = {v.number for v in m.versions}
    missing = [n for n in range(1, max(have, default=0)) if n not in have]
    if missing:
        report.gaps.append(f"{m.name}: MLflow has no version {', '.join(map(str, missing))} "
                           "(deleted there); the numbers stay unused")
    steps.apply_stages(ctx, m, new, report)
    steps.apply_aliases(ctx, m, new, report)


def import_mlflow(ctx: Context, tracking_uri: str, models: Sequence[str] = (), *,
                  progress: Progress | None = None) -> ImportReport:
    """Import every model (or the ones named) of the MLflow registry at tracking_uri."""
    if not tracking_uri or not tracking_uri.strip():
        raise UserError("empty --tracking-uri", source.URI_HINT)
    report = ImportReport(tracking_uri)
    workdir = Path(tempfile.mkdtemp(prefix="gitreg-mlflow-"))  # outside the registry
    try:
        uri = source.open_copy(tracking_uri, workdir)
        c = source.client(uri, tracking_uri)
        chosen = _select(c, models, report)
        read = [source.read_model(c, name) for name in chosen]
        lifecycle = ctx.lifecycle()
        ctx.store.require_branch(lifecycle)  # before the first commit, not halfway
        ctx.store.require_clean()
        report.models = [m.name for m in read]
        for m in read:
            _import_model(ctx, c, uri, m, report, workdir, progress)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return report
