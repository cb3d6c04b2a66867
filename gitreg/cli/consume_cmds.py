"""resolve, get, compare, best, monitor: use the registry from deploy scripts and CI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer

from gitreg.cli.common import (
    JSON_OPTION, PUSH_OPTION, command, err, message, out, print_json, print_table, printable, registry,
)
from gitreg.errors import PolicyError

LARGE = 8 * 1024 * 1024  # show a progress bar from this many bytes


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


@command("resolve")
def resolve_cmd(
    ref: str = typer.Argument(..., help="NAME (latest version), NAME@VERSION, NAME@ALIAS or NAME#STAGE."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print the version, registration commit, tag and artifact md5s a ref points at."""
    data = registry().resolve(ref)
    if as_json:
        print_json(data)
        return
    lines = [f"{data['name']} {data['version']} ({data['stage']})",
             f"commit {data['commit']}", f"tag    {data['tag'] or '-'}"]
    lines += [f"{a['md5']}  {a['size']:>12}  {a['path']}" for a in data["artifacts"]]
    out().print(printable("\n".join(lines)), markup=False)


def _progress() -> Callable[[str, int, int], None]:
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    state: dict[str, Any] = {}

    def update(label: str, done: int, total: int) -> None:
        if max(done, total) < LARGE and "bar" not in state:
            return
        if "bar" not in state:
            console = err()
            if not console.is_terminal:  # a bar in a log is noise (and leaves a blank line)
                return
            bar = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                           TransferSpeedColumn(), transient=True, console=console)
            bar.start()
            state["bar"] = bar
            state["task"] = bar.add_task(f"downloading {label}", total=total or None)
        state["bar"].update(state["task"], completed=done, total=total or None)

    def close() -> None:
        if "bar" in state:
            state["bar"].stop()

    update.close = close  # type: ignore[attr-defined]
    return update


@command("get")
def get_cmd(
    ref: str = typer.Argument(..., help="NAME (latest version), NAME@VERSION, NAME@ALIAS or NAME#STAGE."),
    out_dir: Path = typer.Option(Path("."), "-o", "--out", help="Directory to put the artifacts in (created if missing; existing files are never overwritten)."),
    repo: Optional[str] = typer.Option(None, "--repo", help="Another registry repository (git URL or path) to fetch from, without cloning it."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Download a version's artifacts through DVC and verify their md5."""
    progress = _progress()
    try:
        if repo is not None:
            from gitreg.ops.get import get_from_repo

            data = get_from_repo(ref, out_dir, repo, env=dict(os.environ), progress=progress)
        else:
            data = registry().get(ref, out_dir, progress=progress)
    finally:
        progress.close()  # type: ignore[attr-defined]
    if as_json:
        print_json(data)
    for a in data["artifacts"]:
        message(f"{data['name']} {data['version']}: {a['path']} (md5 {a['md5']} verified)")


def _parse_metrics(text: Optional[str]) -> Optional[List[str]]:
    if not text:
        return None
    return [m.strip() for m in text.split(",") if m.strip()]


@command("compare")
def compare_cmd(
    name: str = typer.Argument(..., help="Model name."),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="Comma-separated metrics to show (default: all recorded)."),
    stage: Optional[str] = typer.Option(None, "--stage", help="Only versions currently in this stage."),
    lower: List[str] = typer.Option([], "--lower-is-better", help="A metric whose best is its minimum (repeatable; default: guessed from names like loss, latency_ms)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also write a chart of each metric across versions (staging and production marked) to this .svg file."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Versions side by side with stage, date and metrics; the best per metric is marked."""
    reg = registry()
    data = reg.compare(name, metrics=_parse_metrics(metrics), stage=stage,
                       lower_is_better=lower or None)
    if plot is not None:
        written = reg.write_plot(data, plot)
        message(f"wrote {written['path']}: {len(written['metrics'])} metric chart(s) across "
                f"{written['versions']} version(s)")
    if as_json:
        print_json(data)
        return
    _print_compare(data)


def _print_compare(data: dict[str, Any]) -> None:
    if not data["versions"]:
        message(f"no versions of {data['name']} to compare")
        return
    from rich.text import Text  # lazily: start-up cost (issue 6)

    columns = [("version", False), ("stage", False), ("created", False),
               *[(metric, False) for metric in data["metrics"]]]
    rows = []
    for row in data["versions"]:
        stage = " ".join([row["stage"], *(f"@{a}" for a in row.get("aliases") or [])])
        cells: list[Any] = [row["version"], stage, row["created_at"] or "-"]
        for metric in data["metrics"]:
            text = _fmt(row["metrics"].get(metric))
            best = data["best"].get(metric) == row["version"]
            cells.append(Text(f"{text} *", style="bold") if best else text)
        rows.append(cells)
    lower = data["lower_is_better"]
    print_table(columns, rows, caption="* best per metric" + (
        f" (lower is better: {', '.join(lower)})" if lower else ""))


@command("best")
def best_cmd(
    name: str = typer.Argument(..., help="Model name."),
    metric: str = typer.Option(..., "--metric", help="The metric to rank by, e.g. f1."),
    lower_is_better: bool = typer.Option(False, "--lower-is-better", help="The smallest value wins (loss, latency)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The version with the best value of one metric (highest unless --lower-is-better)."""
    data = registry().best(name, metric, lower_is_better=lower_is_better)
    if as_json:
        print_json(data)
        return
    out().print(printable(f"{data['name']} {data['version']} ({data['metric']}={_fmt(data['value'])})"),
                markup=False)


@command("monitor")
def monitor_cmd(
    name: str = typer.Argument(..., help="Model name; its production version is monitored."),
    check: List[str] = typer.Option([], "--check", help="A check METRIC OP NUMBER, e.g. 'accuracy>0.85' (repeatable; all must hold)."),
    metrics: Optional[Path] = typer.Option(None, "--metrics", help="JSON file with the live metrics (flat or nested)."),
    metrics_cmd: Optional[str] = typer.Option(None, "--metrics-cmd", help="Command that prints the live metrics JSON (run without a shell)."),
    rollback: bool = typer.Option(False, "--rollback", help="On a failed check, roll production back to the previous holder (once)."),
    interval: float = typer.Option(0.0, "--interval", help="Seconds between checks."),
    max_checks: int = typer.Option(1, "--max-checks", help="Number of checks before exiting 0 (0 = until a check fails)."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds the metrics command may run."),
    push: bool = PUSH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Check live metrics of the production version: exit 0 all pass, 3 a check failed."""
    def show(rnd: dict[str, Any]) -> None:
        parts = [f"{r['check']}: {_fmt(r['value'])} {'ok' if r['ok'] else 'FAILED'}" for r in rnd["checks"]]
        message(f"[{rnd['round']}] {name} {rnd['version']}: " + "; ".join(parts))

    report = registry().monitor(name, check, metrics_file=metrics, metrics_cmd=metrics_cmd,
                                rollback=rollback, interval=interval, max_checks=max_checks,
                                timeout=timeout, push=push, on_round=show)
    if as_json:
        print_json(report)
    if report["rollback"]:
        message(report["rollback"]["message"])
    if not report["passed"]:
        failed = ", ".join(report["failed"])
        if report["rollback_error"]:
            raise PolicyError(f"{name} {report['version']} failed checks [{failed}]; the automatic "
                              f"rollback failed: {report['rollback_error']}",
                              f"roll back by hand: `gitreg rollback {name} --reason ...`")
        if report["rollback"]:
            raise PolicyError(f"{name} {report['version']} failed checks [{failed}]; rolled back to "
                              f"{report['rollback']['to']}", f"see `gitreg history {name}`")
        raise PolicyError(f"{name} {report['version']} failed checks [{failed}]",
                          f"investigate, or roll back: `gitreg rollback {name} --reason ...` "
                          "(or rerun with --rollback)")
