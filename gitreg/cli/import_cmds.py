"""import mlflow: carry an MLflow model registry into gitreg."""

from __future__ import annotations

from typing import List

import typer

from gitreg.cli.common import JSON_OPTION, _Panels, app, command, message, panel, print_json, registry
from gitreg.cli.registry_cmds import _progress_printer

import_app = typer.Typer(name="import", help="Import models from another registry (MLflow).",
                         no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                         cls=_Panels)
app.add_typer(import_app, name="import", rich_help_panel=panel("import"))


@command("mlflow", parent=import_app)
def mlflow_cmd(
    tracking_uri: str = typer.Option(..., "--tracking-uri", help="sqlite:///PATH/mlflow.db, a file store (file:///PATH/mlruns) or a tracking server's http(s):// URL. A local store is read from a copy and never changed."),
    model: List[str] = typer.Option([], "--model", help="Import only this MLflow model (repeatable; default: all)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import an MLflow registry: versions with their numbers and artifacts, descriptions, tags, aliases, stages, run params and metrics. Run again to import only what is new."""
    report = registry().import_mlflow(tracking_uri, model, progress=_progress_printer())
    if as_json:
        print_json(report.to_dict())
    for item in report.imported:
        message(f"imported {item['name']} {item['version']} (MLflow version {item['number']})")
    for title, lines in (("created model", report.created), ("updated model", report.annotated),
                         ("stage", report.stages), ("alias", report.aliases),
                         ("skipped", report.skipped), ("dropped", report.dropped),
                         ("gap", report.gaps)):
        for line in lines:
            message(f"{title}: {line}")
    message(report.message)
    message("not carried over from MLflow:")
    for line in report.not_carried:
        message(f"  - {line}")
