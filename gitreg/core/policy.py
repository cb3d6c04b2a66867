"""Metric gates and promotion checks: pure functions that return violations, never raise."""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from gitreg.core.names import NONE_STAGE
from gitreg.core.stages import Lifecycle
from gitreg.errors import PolicyError, UserError

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_CONDITION_RE = re.compile(r"\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*")
_CHECK_RE = re.compile(r"\s*([A-Za-z0-9_][A-Za-z0-9_./-]*)\s*(>=|<=|==|!=|>|<)\s*(\S.*)")


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    threshold: float

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


def parse_condition(metric: str, text: str) -> Condition:
    """Parse a gate such as (auc, '>= 0.85')."""
    m = _CONDITION_RE.fullmatch(str(text))
    if not m:
        raise UserError(
            f"invalid metric gate {metric}: {text!r}",
            "write it as an operator and a number, e.g. '>= 0.85' or '< 100'",
        )
    return Condition(metric, m[1], float(m[2]))


def parse_check(text: str) -> Condition:
    """Parse a monitor check such as 'accuracy>0.85' or 'latency_ms <= 100'."""
    m = _CHECK_RE.fullmatch(text or "")
    if not m:
        raise UserError(
            f"invalid check {text!r}",
            "write METRIC OP NUMBER, e.g. 'accuracy>0.85' or 'latency_ms<=100'",
        )
    return parse_condition(m[1], f"{m[2]} {m[3]}")


def evaluate(cond: Condition, metrics: Mapping[str, Any]) -> str | None:
    """None when the condition holds, else a message naming the metric, value and threshold."""
    value = metrics.get(cond.metric)
    if value is None:
        return f"metric {cond.metric} is missing (gate: {cond})"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return f"metric {cond.metric} is not a number ({value!r}; gate: {cond})"
    if not cond.holds(float(value)):
        return f"metric {cond.metric} = {value:g} fails the gate {cond}"
    return None


def promotion_violations(
    lifecycle: Lifecycle,
    current: str,
    target: str,
    metrics: Mapping[str, Any],
    approvers: list[str],
    requester: str | None,
    check_gates: bool = True,
    check_approvals: bool = True,
) -> list[str]:
    """Every reason the move current -> target is refused; empty when it is allowed."""
    problems: list[str] = []
    if not lifecycle.allowed(current, target):
        allowed = ", ".join(lifecycle.allowed_from(current)) or "nothing"
        problems.append(
            f"transition {current} -> {target} is not allowed by gitreg.yaml "
            f"(from {current}: {allowed})"
        )
    if not check_gates:
        return problems
    policy = lifecycle.policy(target)
    if policy.from_stages is not None and current not in policy.from_stages:
        problems.append(
            f"{target} accepts versions only from {', '.join(policy.from_stages)} "
            f"(this one is in {current if current != NONE_STAGE else 'no stage'})"
        )
    for metric, text in policy.metrics:
        problem = evaluate(parse_condition(metric, text), metrics)
        if problem:
            problems.append(problem)
    if check_approvals and policy.approvals:
        distinct = {a for a in approvers if a and a != requester}
        if len(distinct) < policy.approvals:
            problems.append(
                f"{target} needs {policy.approvals} approval(s) from someone other than "
                f"the requester; it has {len(distinct)}"
            )
    return problems


def require_signature(lifecycle: Lifecycle, target: str, sign: bool) -> None:
    """Refuse an unsigned promotion into a stage whose policy says require_signed."""
    if lifecycle.policy(target).require_signed and not sign:
        raise PolicyError(f"{target} requires signed promotions (require_signed in gitreg.yaml)",
                          "add --sign (and set up git signing)")


def require_not_deprecated(name: str, version: str, manifest: Mapping[str, Any]) -> None:
    """Refuse changing the stage (or an alias) of a deprecated version: undeprecate it first."""
    if manifest.get("deprecated"):
        raise PolicyError(f"{name} {version} is deprecated, so it cannot change stage or alias",
                          f"run `gitreg undeprecate {name} {version} --reason ...` first")


def require_model_not_deprecated(name: str, model: Mapping[str, Any] | None) -> None:
    """Refuse adding to (registering, promoting, aliasing in) a deprecated model."""
    if model and model.get("deprecated"):
        raise PolicyError(f"model {name} is deprecated, so nothing new can be registered, "
                          "promoted or aliased in it",
                          f"run `gitreg undeprecate {name} --reason ...` first")


def alias_violations(lifecycle: Lifecycle, alias: str, metrics: Mapping[str, Any],
                     approvers: list[str], requester: str | None,
                     check_approvals: bool = True) -> list[str]:
    """Every reason gitreg.yaml's policy for `alias` refuses a version; the stage gates' code."""
    policy = lifecycle.alias_policy(alias)
    problems = [p for metric, text in policy.metrics
                if (p := evaluate(parse_condition(metric, text), metrics))]
    if check_approvals and policy.approvals:
        distinct = {a for a in approvers if a and a != requester}
        if len(distinct) < policy.approvals:
            problems.append(f"alias {alias} needs {policy.approvals} approval(s) from someone other "
                            f"than the requester; it has {len(distinct)}")
    return problems

