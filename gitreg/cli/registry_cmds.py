"""init, register, validate, demo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from gitreg.cli.common import (
    JSON_OPTION, PUSH_OPTION, SIGN_OPTION, STATE, command, err, message, print_json, printable, registry,
)
from gitreg.errors import UsageError, UserError, ValidationError


@command("init")
def init_cmd(
    path: Optional[Path] = typer.Argument(None, help="Directory of the registry (default: current)."),
    github: bool = typer.Option(False, "--github", help="Also write GitHub Actions workflows for PR approvals, publishing and deploys."),
    remote: Optional[str] = typer.Option(None, "--remote", help="Set the git remote 'origin' to this URL."),
    dvc_remote: Optional[str] = typer.Option(None, "--dvc-remote", help="Default DVC remote: a folder path, s3://bucket/path, ..."),
    dvc_remote_option: List[str] = typer.Option([], "--dvc-remote-option", help="Extra remote setting key=value, e.g. endpointurl=http://127.0.0.1:9000 (repeatable)."),
    package: Optional[str] = typer.Option(None, "--package", help="With --github: the pinned gitreg the workflows install, e.g. git+https://github.com/org/gitreg@COMMIT or a wheel (default: gitreg-registry==this version)."),
    adopt: bool = typer.Option(False, "--adopt", help="Make a GTO repository a registry: its gto tags and dvc.yaml artifacts become gitreg.yaml, manifests and history."),
    push: bool = typer.Option(False, "--push", help="With --adopt: push the commit and the tags."),
) -> None:
    """Make a directory a gitreg registry (git, DVC, gitreg.yaml). Safe to run again."""
    from gitreg.api import Registry

    if push and not adopt:
        raise UsageError("--push goes with --adopt", "run `gitreg init --adopt --push`")
    if adopt:
        if github or remote or dvc_remote or dvc_remote_option or package:
            raise UsageError("--adopt takes no other option but --push",
                             "run `gitreg init --adopt`, then set remotes or workflows")
        adopted = Registry.adopt_repository(path or STATE["path"] or Path("."), env=dict(os.environ),
                                            push=push)
        for line in adopted.warnings:
            message(f"skipped: {line}")
        message(adopted.message + (", pushed" if adopted.pushed else ""))
        return

    if package is not None and not github:
        raise UsageError("--package is only used with --github", "add --github, or drop --package")
    options = {}
    for item in dvc_remote_option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"invalid --dvc-remote-option {item!r}", "write it as key=value")
        options[key] = value
    target = path or STATE["path"] or Path(".")
    result = Registry.init(target, dvc_remote=dvc_remote, dvc_remote_options=options,
                           remote=remote, github=github, env=dict(os.environ),
                           github_package=package)
    message(result.message)


def _progress_printer():  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    state: dict = {}

    def update(label: str, done: int, total: int) -> None:
        if "bar" not in state:
            console = err()
            if not console.is_terminal:  # a bar in a log is noise (and left a blank line)
                return
            bar = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                           TransferSpeedColumn(), transient=True, console=console)
            bar.start()
            state["bar"] = bar
            state["task"] = bar.add_task(f"copying {label}", total=total)
        state["bar"].update(state["task"], completed=done, total=total, description=f"copying {label}")
        if done >= total:
            state["bar"].stop()
            state.clear()

    return update


@command("register")
def register_cmd(
    name: str = typer.Argument(..., help="Model name, e.g. churn."),
    paths: List[Path] = typer.Argument(..., help="Artifact file(s) or one directory.", show_default=False),
    version: Optional[str] = typer.Option(None, "--version", help="SemVer version to register, e.g. 2.1.0."),
    bump: Optional[str] = typer.Option(None, "--bump", help="Bump major, minor or patch from the highest version (default minor; first is 0.1.0)."),
    metrics: Optional[Path] = typer.Option(None, "--metrics", help="JSON/YAML metrics file (flat, or nested as dvclive writes)."),
    metric: List[str] = typer.Option([], "--metric", help="A metric k=v (repeatable)."),
    params: Optional[Path] = typer.Option(None, "--params", help="JSON/YAML file of hyperparameters."),
    param: List[str] = typer.Option([], "--param", help="A hyperparameter k=v (repeatable)."),
    framework: Optional[str] = typer.Option(None, "--framework", help="sklearn, pytorch, xgboost, ..."),
    algorithm: Optional[str] = typer.Option(None, "--algorithm", help="e.g. RandomForestClassifier."),
    description: Optional[str] = typer.Option(None, "--description", "-m", help="What this version is."),
    model_description: Optional[str] = typer.Option(None, "--model-description", help="What the model is (models/NAME/model.yaml; replaces the old one)."),
    dataset_version: Optional[str] = typer.Option(None, "--dataset-version", help="Training data version."),
    tag: List[str] = typer.Option([], "--tag", help="A tag KEY=VALUE, or a LABEL (value \"\"); repeatable."),
    owner: Optional[str] = typer.Option(None, "--owner", help="Model owner (e-mail or team)."),
    use_case: Optional[str] = typer.Option(None, "--use-case", help="Business use case."),
    signature: Optional[Path] = typer.Option(None, "--signature", help="JSON/YAML file with the model signature {inputs, outputs}."),
    training: Optional[Path] = typer.Option(None, "--training", help="JSON/YAML file of training info (date, duration_minutes, data_size, code_commit)."),
    push: bool = PUSH_OPTION,
    sign: bool = SIGN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Register files or a directory as a new version of a model (one commit, tag NAME@vVERSION)."""
    from gitreg.api import VersionInfo, load_mapping_file, load_metrics_file
    from gitreg.core.manifest import parse_key_values

    info = VersionInfo(description=description, model_description=model_description,
                       framework=framework, algorithm=algorithm,
                       dataset_version=dataset_version, tags=list(tag), owner=owner, use_case=use_case)
    warnings: list[str] = []
    if metrics:
        info.metrics, skipped = load_metrics_file(metrics)
        warnings += [f"skipped non-numeric metric {k!r} from {metrics}" for k in skipped]
    info.metrics.update(parse_key_values(metric, "--metric", numeric=True))
    if params:
        info.hyperparameters = load_mapping_file(params, "params")
    info.hyperparameters.update(parse_key_values(param, "--param", numeric=False))
    if signature:
        info.signature = load_mapping_file(signature, "signature")
    if training:
        info.training = load_mapping_file(training, "training info")
    reg = registry()
    result = reg.register(name, paths, info, version=version, bump=bump, push=push, sign=sign,
                          progress=_progress_printer())
    result.warnings = warnings + result.warnings
    for w in result.warnings:
        message(f"warning: {w}")
    if as_json:
        print_json(result.to_dict())
    message(result.message + ("; pushed" if result.pushed else "") + f" [{result.commit[:10]}]")


@command("validate")
def validate_cmd(
    paths: List[str] = typer.Argument(None, help="Manifests or directories (default: all of models/)."),
    base: Optional[str] = typer.Option(None, "--base", help="Also check immutable fields and append-only history against this git ref."),
) -> None:
    """Check manifests: schema, names, versions, artifacts' .dvc md5, immutability vs --base."""
    reg = registry()
    report = reg.validate(paths or [], base=base)
    for problem in report.problems:
        typer.echo(printable(problem))
    if report.problems:
        raise ValidationError(f"{len(report.problems)} problem(s) in {report.checked} file(s)",
                              hint="fix each line above and run gitreg validate again")
    message(f"ok: {report.checked} file(s) valid")


@command("demo")
def demo_cmd(
    directory: Optional[Path] = typer.Argument(None, help="An empty directory for the throwaway registry (default: a new temp dir)."),
) -> None:
    """Run the main job on a throwaway registry: train, register, approve, promote, push."""
    from gitreg.cli.read_cmds import list_cmd
    from gitreg.demo import run_demo

    result = run_demo(directory, dict(os.environ), say=message)
    STATE["path"] = result.registry
    list_cmd(stage=None, as_json=False)
    message(f"demo registry kept at {result.registry}; try: gitreg -C {result.registry} history churn")
