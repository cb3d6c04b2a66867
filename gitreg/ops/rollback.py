"""Rollback: restore the previous holder of the rollback stage (or a named one), archive the current."""

from __future__ import annotations

from typing import Any, Mapping

from gitreg.core import events as ev
from gitreg.core import policy
from gitreg.core.names import NONE_STAGE, check_name
from gitreg.core.stages import Lifecycle
from gitreg.core.version import parse_version
from gitreg.errors import NotFoundError, PolicyError, UserError
from gitreg.ops import reads, sync
from gitreg.ops.context import Context
from gitreg.ops.results import Result
from gitreg.ops.stages import commit_moves, stage_context


def rollback_target(ctx: Context, name: str, to: str | None = None) -> tuple[str | None, str, dict[str, dict]]:
    """(current holder, target, manifests) of a rollback, or raise why there is none."""
    lifecycle = ctx.lifecycle()
    stage = lifecycle.rollback_stage
    manifests, model = reads.find_model(ctx, name)
    policy.require_model_not_deprecated(name, model)
    events = ev.model_events(manifests.values())
    holders = ev.stage_holders(manifests.values()).get(stage, [])
    current = holders[0] if holders else None
    if to is not None:
        target = str(parse_version(to))
        if target not in manifests:
            raise NotFoundError(f"{name} has no version {target}",
                                f"registered versions: {reads.versions_text(manifests)}")
        if target in holders:
            raise UserError(f"{name} {target} already holds {stage}", "nothing to roll back")
        policy.require_not_deprecated(name, target, manifests[target])
        if not ev.held_stage_before(events, target, stage):
            raise UserError(f"{name} {target} never held {stage}, so it cannot be rolled back to",
                            f"promote it instead: `gitreg promote {name} {target} {stage}`")
        return current, target, manifests
    stack = ev.holder_stack(events, stage)
    while stack and stack[-1] in holders:
        stack.pop()
    if not stack:
        raise UserError(f"nothing to roll back to: no earlier version of {name} held {stage}",
                        f"see `gitreg history {name}`")
    policy.require_not_deprecated(name, stack[-1], manifests[stack[-1]])
    return current, stack[-1], manifests


def _rollback_steps(lifecycle: Lifecycle, name: str, current: str | None, target: str, target_from: str,
                    reason: str, observed: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Archive the current holder, restore the target; bound by transitions, not by the gates."""
    stage = lifecycle.rollback_stage
    steps: list[dict[str, Any]] = []
    problems = []
    if current is not None:
        archive = lifecycle.archive_stage or NONE_STAGE
        if not lifecycle.allowed(stage, archive):
            problems.append(f"transition {stage} -> {archive} is not allowed by gitreg.yaml")
        steps.append({"version": current, "action": ev.ROLLBACK, "from": stage, "to": archive,
                      "reason": reason, "replaced_by": target, "observed": dict(observed or {})})
    if not lifecycle.allowed(target_from, stage):
        problems.append(f"transition {target_from} -> {stage} is not allowed by gitreg.yaml")
    if problems:
        raise PolicyError(f"cannot roll {name} back to {target}: " + "; ".join(problems),
                          "allow the transition in gitreg.yaml", problems)
    steps.append({"version": target, "action": ev.ROLLBACK, "from": target_from, "to": stage,
                  "reason": reason, "observed": dict(observed or {})})
    return steps


def rollback(ctx: Context, name: str, *, to: str | None = None, reason: str, push: bool = False,
             sign: bool = False, observed: Mapping[str, Any] | None = None) -> Result:
    """Restore the previous production holder (or --to VERSION); archive the current one."""
    check_name(name)
    if not reason or not reason.strip():
        raise UserError("a rollback needs --reason", "say why, e.g. --reason 'error rate doubled'")
    if push:
        sync.require_remote(ctx)
    with ctx.store.locked():
        lifecycle, actor = stage_context(ctx, name)
        stage = lifecycle.rollback_stage
        current, target, manifests = rollback_target(ctx, name, to)
        target_from = manifests[target].get("stage") or NONE_STAGE
        steps = _rollback_steps(lifecycle, name, current, target, target_from, reason, observed)
        result = commit_moves(ctx, name, manifests, steps, action="rollback", version=target,
                              source=current or NONE_STAGE, target=stage, reason=reason,
                              actor=actor, sign=sign)
        result.message = (f"rolled {name} back: {target} holds {stage}"
                          + (f"; {current} archived" if current else ""))
        result.details = {"from": current, "to": target, "stage": stage}
        if push:
            sync.push(ctx, result)
        return result
