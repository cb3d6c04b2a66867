"""Production monitor: live metrics of the production holder against checks, bounded rounds.

A failed check (a metric read fine but out of bounds) is exit 3 and, with rollback, rolls
production back once. Anything that stops us from reading the metrics (missing file, not
JSON, a command that fails or hangs, a check naming a metric that is not there) is an
error: it never triggers a rollback, because a broken probe says nothing about the model.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from gitreg.core import events as ev
from gitreg.core.manifest import flatten_metrics
from gitreg.core.policy import Condition, parse_check
from gitreg.errors import GitregError, NotFoundError, UsageError, UserError
from gitreg.ops import reads
from gitreg.ops import rollback as rollbacks
from gitreg.ops.context import Context

MAX_OUTPUT = 1 << 20  # a metrics document larger than this is not a metrics document


@dataclass(frozen=True)
class MetricsSource:
    file: Path | None = None
    command: str | None = None
    timeout: float = 30.0

    @classmethod
    def of(cls, file: str | Path | None, command: str | None, timeout: float) -> MetricsSource:
        """The source `monitor --metrics FILE | --metrics-cmd CMD [--timeout S]` names."""
        return cls(Path(file) if file is not None else None, command, timeout)

    def describe(self) -> str:
        return f"metrics file {self.file}" if self.file is not None else f"metrics command {self.command!r}"


def parse_checks(checks: Sequence[str]) -> list[Condition]:
    if not checks:
        raise UsageError("give at least one --check", "e.g. --check 'accuracy>0.85'")
    conditions = []
    for text in checks:
        try:
            conditions.append(parse_check(text))
        except UserError:
            raise UserError(f"invalid check {text!r}",
                            "write METRIC OP NUMBER, e.g. 'accuracy>0.85' or 'latency_ms<=100'") from None
    return conditions


def check_source(source: MetricsSource) -> None:
    if (source.file is None) == (source.command is None):
        raise UsageError("give exactly one of --metrics FILE or --metrics-cmd CMD",
                         "--metrics reads a JSON file; --metrics-cmd runs a command that prints JSON")
    if source.command is not None:
        if not source.timeout or source.timeout <= 0:
            raise UsageError("--timeout must be a positive number of seconds", "e.g. --timeout 30")
        try:
            argv = shlex.split(source.command)
        except ValueError as exc:
            raise UserError(f"cannot parse --metrics-cmd {source.command!r}: {exc}",
                            "quote it as a shell would; it runs without a shell") from None
        if not argv:
            raise UserError("--metrics-cmd is empty", "give the command that prints the metrics JSON")


def read_metrics(source: MetricsSource, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> dict[str, float]:
    """The live metrics as {name: number}; nested JSON is flattened to dotted names."""
    if source.file is not None:
        path = source.file
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            raise UserError(f"metrics file {path} does not exist",
                            "check the path (the serving system writes it?)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read metrics file {path}: {exc}", "check the file") from None
        where = f"metrics file {path}"
    else:
        text = run_command(source.command or "", source.timeout, env, cwd)
        where = f"output of {source.command!r}"
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UserError(f"{where} is not JSON ({exc})",
                        'it must be a JSON object, e.g. {"accuracy": 0.91, "latency_ms": 80}') from None
    metrics, _skipped = flatten_metrics(data, where)
    return metrics


def run_command(command: str, timeout: float, env: Mapping[str, str] | None = None,
                cwd: Path | None = None) -> str:
    """Run the metrics command without a shell; its stdout is returned.

    It runs in its own process group so a timeout kills everything it started (a child
    left holding the pipe would otherwise keep us waiting).
    """
    argv = shlex.split(command)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=dict(os.environ if env is None else env),
                                cwd=cwd, start_new_session=True)
    except FileNotFoundError:
        raise UserError(f"metrics command not found: {argv[0]}", "give the full path, or check PATH") from None
    except OSError as exc:
        raise UserError(f"cannot run metrics command {argv[0]}: {exc.strerror}", "check the command") from None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise UserError(f"metrics command {command!r} did not finish within {timeout:g} s",
                        "check the serving system, or allow more time with --timeout") from None
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        detail = f": {lines[-1]}" if lines else ""
        raise UserError(f"metrics command {command!r} failed with exit code {proc.returncode}{detail}",
                        "run it by hand to see why")
    if len(out) > MAX_OUTPUT:
        raise UserError(f"metrics command {command!r} printed more than {MAX_OUTPUT} bytes",
                        "print only the metrics JSON")
    return out.decode("utf-8", "replace")


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()


def evaluate_checks(conditions: Sequence[Condition], metrics: Mapping[str, Any],
                    where: str) -> list[dict[str, Any]]:
    """One result per check; a metric that is absent or not a number is an error, not a failure."""
    absent = [c.metric for c in conditions if c.metric not in metrics]
    if absent:
        known = ", ".join(sorted(metrics)) or "none"
        raise UserError(f"{where} has no metric {', '.join(dict.fromkeys(absent))} (it has: {known})",
                        "fix the --check names or the metrics source; nothing was rolled back")
    results = []
    for c in conditions:
        value = metrics[c.metric]
        ok = c.holds(float(value))
        results.append({"check": str(c), "metric": c.metric, "value": value, "ok": ok})
    return results


def run(ctx: Context, name: str, checks: Sequence[str], source: MetricsSource, *,
        rollback: bool = False, interval: float = 0.0, max_checks: int = 1, push: bool = False,
        sleep: Callable[[float], None], on_round: Callable[[dict[str, Any]], None] | None = None,
        ) -> dict[str, Any]:
    """Check up to max_checks rounds (0 = until a check fails), interval seconds apart."""
    from gitreg.core.timefmt import rfc3339

    conditions = parse_checks(checks)
    check_source(source)
    if interval < 0:
        raise UsageError("--interval must not be negative", "give seconds between checks, e.g. 60")
    if max_checks < 0:
        raise UsageError("--max-checks must not be negative", "give a number of rounds (0 = unbounded)")
    stage = ctx.lifecycle().rollback_stage
    where = source.describe()
    report: dict[str, Any] = {"name": name, "stage": stage, "version": None, "passed": True,
                              "failed": [], "rounds": [], "rollback": None, "rollback_error": None}
    n = 0
    while True:
        n += 1
        version = production_holder(ctx, name, stage)
        metrics = read_metrics(source, ctx.env, None)
        results = evaluate_checks(conditions, metrics, where)
        failed = [r for r in results if not r["ok"]]
        rnd = {"round": n, "at": rfc3339(ctx.clock()), "version": version, "checks": results,
               "passed": not failed}
        report["rounds"].append(rnd)
        report["version"] = version
        if on_round is not None:
            on_round(rnd)
        if failed:
            report["passed"] = False
            report["failed"] = [r["check"] for r in failed]
            if rollback:
                _roll_back(ctx, name, results, failed, push, report)
            return report
        if max_checks and n >= max_checks:
            return report
        sleep(interval)


def production_holder(ctx: Context, name: str, stage: str) -> str:
    manifests, _ = reads.find_model(ctx, name)
    holders = ev.stage_holders(manifests.values()).get(stage)
    if not holders:
        raise NotFoundError(f"no version of {name} is in {stage}, so there is nothing to monitor",
                            f"promote one first (`gitreg show {name}` lists the versions)")
    return holders[0]


def _roll_back(ctx: Context, name: str, results: Sequence[Mapping[str, Any]],
               failed: Sequence[Mapping[str, Any]], push: bool, report: dict[str, Any]) -> None:
    reason = "Auto-rollback: failed checks [" + ", ".join(r["check"] for r in failed) + "]"
    observed = {r["metric"]: r["value"] for r in results}
    try:
        result = rollbacks.rollback(ctx, name, reason=reason, observed=observed, push=push)
    except GitregError as exc:
        report["rollback_error"] = str(exc)
        return
    report["rollback"] = {"from": result.details.get("from"), "to": result.details.get("to"),
                          "commit": result.commit, "tags": result.tags, "reason": reason,
                          "observed": observed, "pushed": result.pushed, "message": result.message}
