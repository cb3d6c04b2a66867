"""What `ci check` and `ci publish` report: the report types, their Markdown, and the gh/GitHub helpers.

The metrics table and gates list are shared with the pull-request body (gitreg.ops.pr).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitreg.core import policy
from gitreg.core.names import NONE_STAGE
from gitreg.core.stages import Lifecycle


# -- reports ---------------------------------------------------------------------------
@dataclass
class StageChange:
    """One stage change found in a pull request, with what the summary shows about it."""

    model: str
    version: str
    action: str
    source: str
    target: str
    by: str | None
    via_pull_request: bool
    metrics: dict[str, Any]
    holder: str | None  # the version holding the target stage on the base branch
    holder_metrics: dict[str, Any]
    gates: list[dict[str, Any]] = field(default_factory=list)  # {gate, ok, detail}
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "action": self.action,
                "from": self.source, "to": self.target, "by": self.by,
                "via_pull_request": self.via_pull_request, "metrics": self.metrics,
                "holder": self.holder, "holder_metrics": self.holder_metrics,
                "gates": self.gates, "notes": self.notes}


@dataclass
class CheckReport:
    base: str
    base_commit: str
    changed: list[str] = field(default_factory=list)
    changes: list[StageChange] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: str = ""
    summary_files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "base": self.base, "base_commit": self.base_commit,
                "changed": self.changed, "changes": [c.to_dict() for c in self.changes],
                "violations": self.violations, "notes": self.notes}


@dataclass
class PublishReport:
    approver: str
    created: list[str] = field(default_factory=list)
    pushed: list[str] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.created or self.pushed)

    def to_dict(self) -> dict[str, Any]:
        return {"approver": self.approver, "created": self.created, "pushed": self.pushed,
                "releases": self.releases, "warnings": self.warnings}



# -- markdown helpers (shared with the pull-request body in gitreg.ops.pr) ------------------------
def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def metrics_table(version: str, metrics: Mapping[str, Any], columns: Sequence[tuple[str, Mapping[str, Any]]],
                  label: str = "candidate") -> str:
    """A Markdown table: one row per metric, the candidate beside each other column."""
    names = list(dict.fromkeys([*metrics, *(k for _, m in columns for k in m)]))
    if not names:
        return "_no metrics recorded_\n"
    head = f"| metric | {version} ({label}) |" + "".join(f" {title} |" for title, _ in columns)
    sep = "|---|---:|" + "---:|" * len(columns)
    rows = [f"| {n} | {_fmt(metrics.get(n))} |" + "".join(f" {_fmt(m.get(n))} |" for _, m in columns)
            for n in names]
    return "\n".join([head, sep, *rows]) + "\n"


def gate_results(lifecycle: Lifecycle, source: str, target: str, metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each gate of the target stage's policy with whether the version passes it."""
    out: list[dict[str, Any]] = []
    allowed = lifecycle.allowed(source, target)
    out.append({"gate": f"transition {source} -> {target}", "ok": allowed,
                "detail": "allowed by gitreg.yaml" if allowed else
                f"gitreg.yaml allows from {source}: {', '.join(lifecycle.allowed_from(source)) or 'nothing'}"})
    if target == NONE_STAGE:
        return out
    pol = lifecycle.policy(target)
    if pol.from_stages is not None:
        ok = source in pol.from_stages
        out.append({"gate": f"from {', '.join(pol.from_stages)}", "ok": ok,
                    "detail": f"comes from {source}"})
    for metric, text in pol.metrics:
        cond = policy.parse_condition(metric, text)
        problem = policy.evaluate(cond, metrics)
        out.append({"gate": str(cond), "ok": problem is None,
                    "detail": problem or f"{metric} = {_fmt(metrics.get(metric))}"})
    return out


def gates_markdown(gates: Sequence[Mapping[str, Any]]) -> str:
    return "".join(f"- {'✅' if g['ok'] else '❌'} {g['gate']} ({g['detail']})\n" for g in gates)


def comparison_columns(holders: Mapping[str, list[str]], manifests: Mapping[str, Mapping[str, Any]],
                       version: str, target: str, rollback_stage: str) -> tuple[str | None, list[tuple[str, Mapping[str, Any]]]]:
    """The current holder of the target stage (and of production) as table columns."""
    columns: list[tuple[str, Mapping[str, Any]]] = []
    holder = next((v for v in holders.get(target, []) if v != version), None)
    if holder:
        columns.append((f"{holder} (current {target})", manifests[holder].get("metrics") or {}))
    prod = next((v for v in holders.get(rollback_stage, []) if v != version), None)
    if target != rollback_stage and prod and prod != holder:
        columns.append((f"{prod} (current {rollback_stage})", manifests[prod].get("metrics") or {}))
    return holder, columns



# -- the GitHub boundary -----------------------------------------------------------------------
def gh_path(env: Mapping[str, str] | None) -> str | None:
    return shutil.which("gh", path=(env or {}).get("PATH"))


def gh_ready(root: Path, env: Mapping[str, str] | None) -> str | None:
    """The gh executable when it is installed and authenticated, else None."""
    exe = gh_path(env)
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, "auth", "status"], cwd=root, env=dict(env or {}),
                              capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return exe if proc.returncode == 0 else None


def run_gh(exe: str, args: Sequence[str], root: Path, env: Mapping[str, str] | None,
           input: str | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([exe, *args], cwd=root, env=dict(env or {}), input=input,
                              capture_output=True, text=True, check=False, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess([exe, *args], 1, "", str(exc))


def github_repo_url(url: str | None) -> str | None:
    """https://github.com/OWNER/REPO for a github.com remote URL, else None."""
    if not url:
        return None
    m = re.fullmatch(r"(?:https?://(?:[^@/]+@)?|ssh://git@|git@)github\.com[:/]([^/]+)/([^/]+?)(?:\.git)?/?",
                     url.strip())
    return f"https://github.com/{m[1]}/{m[2]}" if m else None


def append_step_summary(env: Mapping[str, str] | None, text: str) -> str | None:
    path = (env or {}).get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")
    return path


# -- summaries -------------------------------------------------------------------------------
def check_summary(report: CheckReport) -> str:
    head = ("## gitreg ci check: ✅ passed" if report.ok
            else f"## gitreg ci check: ❌ {len(report.violations)} violation(s)")
    where = f"Base: `{report.base}` ({report.base_commit[:10]}); {len(report.changed)} registry file(s) changed."
    out = [head, "", where, ""]
    if not report.changes:
        out += ["No stage changes in this pull request.", ""]
    for c in report.changes:
        via = " via pull request" if c.via_pull_request else ""
        out += [f"### {c.model} {c.version}: {c.source} → {c.target}", "",
                f"{c.action} by {c.by or 'unknown'}{via}", ""]
        out += [n.rstrip("\n") for n in c.notes]
        out += ["", "Gates:", "", gates_markdown(c.gates).rstrip("\n"), ""]
    if report.violations:
        out += ["### Violations", ""] + [f"- {v}" for v in report.violations] + [""]
    if report.notes:
        out += ["### Notes", ""] + [f"- {n}" for n in report.notes] + [""]
    return "\n".join(out)


def publish_summary(report: PublishReport) -> str:
    out = ["## gitreg ci publish", ""]
    if not report.changed:
        out.append("Nothing to publish: every stage change already has its tags.")
    for t in report.created:
        out.append(f"- created `{t}`")
    for t in report.pushed:
        out.append(f"- pushed `{t}`")
    for r in report.releases:
        out.append(f"- release {r['title']}: {'created' if r['created'] else 'notes in ' + r['notes_file']}")
    out.append(f"\nApprover: {report.approver}")
    return "\n".join(out) + "\n"
