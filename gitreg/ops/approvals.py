"""The approval workflow: request a stage change, approve it (promoting when enough), reject it."""

from __future__ import annotations

from typing import Any, Mapping

from gitreg.core import events as ev
from gitreg.core import policy
from gitreg.core.aliases import alias_holders
from gitreg.core.names import NONE_STAGE, check_name
from gitreg.core.policy import require_signature
from gitreg.core.stages import Lifecycle
from gitreg.core.timefmt import rfc3339
from gitreg.errors import PolicyError, UserError
from gitreg.ops import sync
from gitreg.ops.context import Context
from gitreg.ops.results import Result
from gitreg.ops.stages import commit_moves, find_live_version, find_version, promotion_steps, stage_context


def backed_approvers(ctx: Context, name: str, manifests: Mapping[str, dict], version: str, stage: str,
                     signed: bool) -> set[str]:
    """The approvers of the open request whose own `approve` commits back them (see provenance)."""
    from gitreg import provenance

    prov = provenance.read(ctx.git, [name], signatures=signed)
    return provenance.backed_approvers(ev.model_events(manifests.values()), prov, name, version,
                                       stage, signed=signed)


def backed_alias_approvers(ctx: Context, name: str, manifests: Mapping[str, dict], version: str,
                           alias: str, signed: bool) -> set[str]:
    """Who approved giving `version` the alias since its latest request, backed by their commits."""
    return backed_approvers(ctx, name, manifests, version, f"@{alias}", signed)


def _pending(manifests: Mapping[str, dict], name: str, ver: str, target: str, hint: str) -> dict:
    approval = manifests[ver].get("approval") or {}
    if approval.get("status") != "pending" or approval.get("stage") != target:
        raise UserError(f"there is no pending request to move {name} {ver} to {target}", hint)
    return approval


# -- request ----------------------------------------------------------------------------
def request(ctx: Context, name: str, version: str, stage: str | None, *, reason: str,
            results: Mapping[str, Any] | None = None, push: bool = False, sign: bool = False,
            alias: str | None = None) -> Result:
    """Record a pending request to move a version to a stage (the seed's approval workflow),
    or, with `alias`, to give it that alias (gitreg.yaml's aliases.policies may ask approvals)."""
    check_name(name)
    if (stage is None) == (alias is None):
        raise UserError("a request names a stage or an alias", "e.g. production, or --alias champion")
    if not reason or not reason.strip():
        raise UserError("a request needs --reason", "say why this version should move")
    if push:
        sync.require_remote(ctx)
    with ctx.store.locked():
        if alias is not None:
            result = _request_alias(ctx, name, version, alias, reason, results, sign)
            if push:
                sync.push(ctx, result)
            return result
        stage = str(stage)
        lifecycle, actor = stage_context(ctx, name)
        target = lifecycle.stage(stage)
        ver, manifests = find_live_version(ctx, name, version)
        current = manifests[ver].get("stage") or NONE_STAGE
        if current == target:
            raise UserError(f"{name} {ver} is already in {target}", "nothing to request")
        violations = policy.promotion_violations(
            lifecycle, current, target, manifests[ver].get("metrics") or {}, [], actor,
            check_approvals=False)
        if violations:
            raise PolicyError(f"cannot request {name} {ver} -> {target}: " + "; ".join(violations),
                              "fix what is listed first; a request that cannot pass is refused",
                              violations)
        approval = {"status": "pending", "stage": target, "requested_by": actor,
                    "requested_at": rfc3339(ctx.clock()), "reason": reason,
                    "results": dict(results or {}), "approvers": []}
        if not approval["results"]:
            del approval["results"]
        steps = [{"version": ver, "action": ev.REQUEST, "from": current, "to": target,
                  "reason": reason, "results": dict(results or {})}]
        result = commit_moves(ctx, name, manifests, steps, action="request", version=ver,
                              source=current, target=target, reason=reason, actor=actor,
                              sign=sign, approvals={ver: approval})
        need = lifecycle.policy(target).approvals
        who = f"from someone other than {actor}" if need else "(the requester may approve)"
        result.message = (f"requested {name} {ver}: {current} -> {target}; "
                          f"needs {max(need, 1)} approval(s) {who}")
        result.details = {"from": current, "to": target, "status": "pending"}
        if push:
            sync.push(ctx, result)
        return result


# -- approve ----------------------------------------------------------------------------
def _approvers(ctx: Context, lifecycle: Lifecycle, name: str, ver: str, target: str,
               manifests: Mapping[str, dict], approval: Mapping[str, Any], actor: str) -> list[str]:
    """Who has approved once `actor` does; refuses an approval that may not be given."""
    pol = lifecycle.policy(target)
    requester = approval.get("requested_by")
    if actor == requester and pol.approvals:
        raise PolicyError(f"{actor} requested this change and cannot approve it too",
                          "another person (a different git user.email) must approve")
    if pol.via_pull_request:
        raise PolicyError(
            f"{target} is changed only through a reviewed pull request (via_pull_request in gitreg.yaml)",
            f"run `gitreg request {name} {ver} {target} --via-pr`")
    # only approvals gitreg recorded in the approvers' own commits count; names
    # written into the approval block by hand are dropped here (validate reports them)
    backed = backed_approvers(ctx, name, manifests, ver, target, pol.require_signed)
    if actor in backed:
        raise UserError(f"{actor} has already approved this request",
                        "another person must approve")
    return [a for a in approval.get("approvers", []) if a in backed] + [actor]


def _approve_locked(ctx: Context, name: str, version: str, stage: str, reason: str | None,
                    sign: bool) -> Result:
    lifecycle, actor = stage_context(ctx, name)
    target = lifecycle.stage(stage)
    ver, manifests = find_live_version(ctx, name, version)
    approval = _pending(manifests, name, ver, target,
                        f"ask for one first: `gitreg request {name} {ver} {target} --reason ...`")
    pol = lifecycle.policy(target)
    requester = approval.get("requested_by")
    approvers = _approvers(ctx, lifecycle, name, ver, target, manifests, approval, actor)
    current = manifests[ver].get("stage") or NONE_STAGE
    enough = len({a for a in approvers if a != requester or not pol.approvals}) >= max(pol.approvals, 1)
    steps: list[dict[str, Any]] = [{"version": ver, "action": ev.APPROVE, "from": current,
                                    "to": target, "reason": reason, "requested_by": requester}]
    new_approval = {**approval, "approvers": approvers}
    if enough:
        require_signature(lifecycle, target, sign)
        violations = policy.promotion_violations(
            lifecycle, current, target, manifests[ver].get("metrics") or {}, approvers,
            requester, check_approvals=True)
        if violations:
            raise PolicyError(f"cannot promote {name} {ver} to {target}: " + "; ".join(violations),
                              "fix what is listed, or change the policy in gitreg.yaml", violations)
        steps += promotion_steps(lifecycle, manifests, ver, target, False, approval.get("reason"),
                                 approvers)
        new_approval.update(status="approved", approver=actor, date=rfc3339(ctx.clock()))
    result = commit_moves(ctx, name, manifests, steps, action="approve", version=ver,
                          source=current, target=target, reason=reason, actor=actor,
                          sign=sign, approvals={ver: new_approval})
    archived = [s["version"] for s in steps if s["action"] == ev.ARCHIVE]
    if enough:
        result.message = f"approved and promoted {name} {ver}: {current} -> {target}" + (
            f"; archived {', '.join(archived)}" if archived else "")
    else:
        result.message = (f"approved {name} {ver} -> {target} "
                          f"({len(approvers)}/{pol.approvals} approvals); still pending")
    result.details = {"from": current, "to": target, "promoted": enough, "archived": archived}
    return result


def approve(ctx: Context, name: str, version: str, stage: str | None, *, reason: str | None = None,
            push: bool = False, sign: bool = False, alias: str | None = None) -> Result:
    """Approve a pending request; with enough approvals the promotion is made. With `alias`,
    the approval is recorded and `gitreg alias` then passes the alias's approvals policy."""
    check_name(name)
    if push:
        sync.require_remote(ctx)
    with ctx.store.locked():
        if alias is not None:
            result = _approve_alias(ctx, name, version, alias, reason, sign)
        else:
            result = _approve_locked(ctx, name, version, str(stage), reason, sign)
        if push:
            sync.push(ctx, result)
        return result


# -- reject -----------------------------------------------------------------------------
def reject(ctx: Context, name: str, version: str, stage: str, *, reason: str, push: bool = False,
           sign: bool = False) -> Result:
    """Reject a pending request, recording who and why."""
    check_name(name)
    if not reason or not reason.strip():
        raise UserError("a rejection needs --reason", "say why the request is rejected")
    if push:
        sync.require_remote(ctx)
    with ctx.store.locked():
        lifecycle, actor = stage_context(ctx, name)
        target = lifecycle.stage(stage)
        ver, manifests = find_version(ctx, name, version)
        approval = _pending(manifests, name, ver, target, "nothing to reject")
        current = manifests[ver].get("stage") or NONE_STAGE
        steps = [{"version": ver, "action": ev.REJECT, "from": current, "to": target,
                  "reason": reason, "requested_by": approval.get("requested_by")}]
        new_approval = {**approval, "status": "rejected", "rejected_by": actor,
                        "date": rfc3339(ctx.clock())}
        result = commit_moves(ctx, name, manifests, steps, action="reject", version=ver,
                              source=current, target=target, reason=reason, actor=actor,
                              sign=sign, approvals={ver: new_approval})
        result.message = f"rejected the request to move {name} {ver} to {target}"
        if push:
            sync.push(ctx, result)
        return result


# -- requests for an alias ----------------------------------------------------------------
def _request_alias(ctx: Context, name: str, version: str, alias: str, reason: str,
                   results: Mapping[str, Any] | None, sign: bool) -> Result:
    lifecycle, actor = stage_context(ctx, name)
    al = lifecycle.alias(alias)
    ver, manifests = find_live_version(ctx, name, version)
    if alias_holders(ev.model_events(manifests.values())).get(al) == ver:
        raise UserError(f"{name} {ver} already has the alias {al}", "nothing to request")
    violations = policy.alias_violations(lifecycle, al, manifests[ver].get("metrics") or {}, [],
                                         actor, check_approvals=False)
    if violations:
        raise PolicyError(f"cannot request the alias {al} for {name} {ver}: " + "; ".join(violations),
                          "fix what is listed first; a request that cannot pass is refused", violations)
    approval = {"status": "pending", "alias": al, "requested_by": actor,
                "requested_at": rfc3339(ctx.clock()), "reason": reason, "approvers": [],
                **({"results": dict(results)} if results else {})}
    steps = [{"version": ver, "action": ev.REQUEST, "alias": al, "reason": reason,
              "results": dict(results or {})}]
    result = commit_moves(ctx, name, manifests, steps, action="request", version=ver, source=None,
                          target=None, reason=reason, actor=actor, sign=sign, approvals={ver: approval},
                          extra_trailers={"Gitreg-Alias": al})
    need = lifecycle.alias_policy(al).approvals
    result.message = (f"requested the alias {al} for {name} {ver}; needs {need} approval(s) "
                      f"from someone other than {actor}, then `gitreg alias {name} {al} {ver}`")
    result.details = {"alias": al, "status": "pending"}
    return result


def _approve_alias(ctx: Context, name: str, version: str, alias: str, reason: str | None,
                   sign: bool) -> Result:
    lifecycle, actor = stage_context(ctx, name)
    al = lifecycle.alias(alias)
    ver, manifests = find_live_version(ctx, name, version)
    approval = manifests[ver].get("approval") or {}
    if approval.get("status") != "pending" or approval.get("alias") != al:
        raise UserError(f"there is no pending request to give {name} {ver} the alias {al}",
                        f"ask for one first: `gitreg request {name} {ver} --alias {al} --reason ...`")
    pol = lifecycle.alias_policy(al)
    requester = approval.get("requested_by")
    if actor == requester:
        raise PolicyError(f"{actor} requested this alias and cannot approve it too",
                          "another person (a different git user.email) must approve")
    backed = backed_alias_approvers(ctx, name, manifests, ver, al, pol.require_signed)
    if actor in backed:
        raise UserError(f"{actor} has already approved this request", "another person must approve")
    approvers = [a for a in approval.get("approvers", []) if a in backed] + [actor]
    steps = [{"version": ver, "action": ev.APPROVE, "alias": al, "reason": reason,
              "requested_by": requester}]
    result = commit_moves(ctx, name, manifests, steps, action="approve", version=ver, source=None,
                          target=None, reason=reason, actor=actor, sign=sign,
                          approvals={ver: {**approval, "approvers": approvers}},
                          extra_trailers={"Gitreg-Alias": al})
    result.message = (f"approved the alias {al} for {name} {ver} ({len(approvers)}/{pol.approvals} "
                      f"approvals); `gitreg alias {name} {al} {ver}` sets it")
    result.details = {"alias": al, "approvers": approvers}
    return result
