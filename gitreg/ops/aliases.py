"""Aliases: point one (MLflow's champion, challenger) at a version, move it, or delete it."""

from __future__ import annotations

from typing import Any

from gitreg.core import events as ev
from gitreg.core import policy
from gitreg.core.aliases import alias_holders
from gitreg.core.stages import Lifecycle
from gitreg.errors import PolicyError, UserError
from gitreg.ops import reads, sync
from gitreg.ops.context import Context
from gitreg.ops.results import Result
from gitreg.ops.stages import commit_moves, find_live_version, stage_context


def holders(manifests: dict[str, dict], model: dict | None = None) -> dict[str, str]:
    """alias -> version holding it, replayed from the model's history."""
    return alias_holders(ev.model_events(manifests.values(), model))


def check_alias_policy(ctx: Context, lifecycle: Lifecycle, name: str, ver: str, alias: str,
                       manifests: dict[str, dict], actor: str, sign: bool) -> list[str]:
    """The backed approvers when gitreg.yaml's policy for `alias` lets `ver` take it; else PolicyError."""
    from gitreg.ops import approvals

    pol = lifecycle.alias_policy(alias)
    if pol.require_signed and not sign:
        raise PolicyError(f"alias {alias} requires signed changes (require_signed in gitreg.yaml)",
                          "add --sign (and set up git signing)")
    approval = manifests[ver].get("approval") or {}
    # only an open request's approvals count: one settled earlier never lets the alias back on
    open_request = approval.get("status") == "pending" and approval.get("alias") == alias
    requester = approval.get("requested_by") if open_request else None
    approvers = sorted(approvals.backed_alias_approvers(ctx, name, manifests, ver, alias,
                                                        pol.require_signed)) if open_request else []
    violations = policy.alias_violations(lifecycle, alias, manifests[ver].get("metrics") or {},
                                         approvers, requester or actor)
    if violations:
        hint = "fix what is listed, or change aliases.policies in gitreg.yaml"
        if any("approval" in v for v in violations):
            hint = (f"ask for approval: `gitreg request {name} {ver} --alias {alias} --reason ...`, "
                    f"then another person runs `gitreg approve {name} {ver} --alias {alias}`")
        raise PolicyError(f"cannot give {name} {ver} the alias {alias}: " + "; ".join(violations),
                          hint, violations)
    return approvers


def _alias_locked(ctx: Context, name: str, alias: str, version: str, reason: str | None,
                  sign: bool) -> Result:
    lifecycle, actor = stage_context(ctx, name)
    al = lifecycle.alias(alias)
    ver, manifests = find_live_version(ctx, name, version)
    old = holders(manifests).get(al)
    if old == ver:
        raise UserError(f"{name} {ver} already has the alias {al}", "nothing to do")
    approvers = check_alias_policy(ctx, lifecycle, name, ver, al, manifests, actor, sign)
    steps: list[dict[str, Any]] = []
    if old is not None:
        # moving is one commit: the old holder loses it first, so its unassignment tag is older
        steps.append({"version": old, "action": ev.UNALIAS, "alias": al, "replaced_by": ver,
                      "reason": reason})
    steps.append({"version": ver, "action": ev.ALIAS, "alias": al, "replaced": old,
                  "reason": reason, "approved_by": approvers or None})
    approval = manifests[ver].get("approval") or {}
    settled = None
    if approval.get("status") == "pending" and approval.get("alias") == al:
        settled = {ver: {**approval, "status": "approved", "approvers": approvers,
                         **({"approver": approvers[-1]} if approvers else {})}}
    result = commit_moves(ctx, name, manifests, steps, action=ev.ALIAS, version=ver, source=None,
                          target=None, reason=reason, actor=actor, sign=sign, approvals=settled,
                          extra_trailers={"Gitreg-Alias": al})
    result.message = f"{name}@{al} -> {ver}" + (f" (was {old})" if old else "")
    result.details = {"alias": al, "replaced": old}
    return result


def _unalias_locked(ctx: Context, name: str, alias: str, reason: str | None, sign: bool) -> Result:
    lifecycle, actor = stage_context(ctx, name)
    al = lifecycle.alias(alias)
    manifests, model = reads.find_model(ctx, name)
    ver = holders(manifests).get(al)
    if ver is None:
        raise UserError(f"no version of {name} has the alias {al}",
                        "nothing to delete; `gitreg list` shows each model's aliases")
    steps = [{"version": ver, "action": ev.UNALIAS, "alias": al, "reason": reason}]
    result = commit_moves(ctx, name, manifests, steps, action=ev.UNALIAS, version=ver, source=None,
                          target=None, reason=reason, actor=actor, sign=sign,
                          extra_trailers={"Gitreg-Alias": al})
    result.message = f"deleted {name}@{al} (was {ver})"
    result.details = {"alias": al, "deleted": True}
    return result


def alias(ctx: Context, name: str, alias_name: str, version: str, *, reason: str | None = None,
          push: bool = False, sign: bool = False) -> Result:
    """Point `alias_name` at a version (moving it from its old holder in the same commit)."""
    return sync.mutate(ctx, name, push, lambda: _alias_locked(ctx, name, alias_name, version, reason, sign))


def unalias(ctx: Context, name: str, alias_name: str, *, reason: str | None = None,
            push: bool = False, sign: bool = False) -> Result:
    """Delete an alias: the version holding it loses it (history and an unassignment tag)."""
    return sync.mutate(ctx, name, push, lambda: _unalias_locked(ctx, name, alias_name, reason, sign))
