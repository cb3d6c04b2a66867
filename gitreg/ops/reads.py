"""Reading the registry: list, show, history, and the model lookup every use case starts from."""

from __future__ import annotations

import difflib
from typing import Any, Mapping, Sequence

from gitreg.core import events as ev
from gitreg.core.refs import parse_ref
from gitreg.core.names import check_name
from gitreg.core.tags import register_tag
from gitreg.core.version import parse_version
from gitreg.errors import NotFoundError, UserError
from gitreg.ops.context import Context
from gitreg.store import manifest_path


def find_model(ctx: Context, name: str) -> tuple[dict[str, dict], dict | None]:
    """(version -> manifest, model.yaml) of a registered model; NotFoundError with a close match."""
    check_name(name)
    manifests, model = ctx.store.model_manifests(name)
    if not manifests:
        broken = ctx.store.broken_files(name)
        if broken:
            raise UserError(f"cannot read {name}: {broken[0]}",
                            "fix or restore that file (`gitreg validate` lists every problem)")
        known = list(ctx.store.model_tree().keys())
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "run `gitreg list` to see registered models"
        raise NotFoundError(f"model {name!r} is not registered", hint)
    return manifests, model


def list_models(ctx: Context, stage: str | None = None) -> dict[str, Any]:
    lifecycle = ctx.lifecycle()
    want = lifecycle.stage(stage) if stage else None
    stages = list(lifecycle.stages)
    rows = ctx.store.answer("list", stages, lambda: _list_rows(ctx, stages), _rows_ok)
    return {"models": [r for r in rows if not want or want in r["stages"]]}


def _list_rows(ctx: Context, lifecycle_stages: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for name, versions in sorted(ctx.store.summaries().items()):
        parsed = {v: parse_version(v) for v in versions}
        latest = max(parsed, key=lambda v: parsed[v])
        stages: dict[str, str] = {}
        for st in lifecycle_stages:
            holders = [(s["stage_seq"], parsed[v], v) for v, s in versions.items() if s["stage"] == st]
            if holders:
                stages[st] = max(holders)[2]
        rows.append({"name": name, "latest": latest, "versions": len(versions), "stages": stages,
                     "latest_tag": register_tag(name, latest)})  # what gto and dvc --rev take
    return rows


_ROW_TYPES = {"name": str, "latest": str, "versions": int, "stages": dict, "latest_tag": str}


def _rows_ok(rows: Any) -> bool:
    """A cached answer is used only when it is exactly the shape _list_rows makes."""
    return isinstance(rows, list) and all(
        isinstance(r, dict) and r.keys() == _ROW_TYPES.keys()
        and all(type(r[k]) is t for k, t in _ROW_TYPES.items())
        and all(isinstance(k, str) and isinstance(v, str) for k, v in r["stages"].items())
        for r in rows)


def show(ctx: Context, ref: str) -> dict[str, Any]:
    name, version, stage = parse_ref(ref)
    manifests, model = find_model(ctx, name)
    manifests = with_published_approvals(ctx, name, manifests)
    if version is not None:
        bad = [b for b in ctx.store.broken_files(name) if b.startswith(manifest_path(name, version))]
        if version not in manifests and bad:
            raise UserError(f"cannot read {name} {version}: {bad[0]}",
                            "fix or restore that file (`gitreg validate` lists every problem)")
        if version not in manifests:
            raise NotFoundError(f"{name} has no version {version}",
                                f"registered versions: {versions_text(manifests)}")
        return manifests[version]
    if stage is not None:
        st = ctx.lifecycle().stage(stage)
        holders = ev.stage_holders(manifests.values()).get(st)
        if not holders:
            raise NotFoundError(f"no version of {name} is in {st}",
                                f"see `gitreg show {name}` for each version's stage")
        return manifests[holders[0]]
    ordered = sorted(manifests, key=parse_version)
    info = {k: v for k, v in (model or {}).items() if k not in ("schema_version",)}
    info["name"] = name
    info["versions"] = [manifests[v] for v in ordered]
    return info


def history(ctx: Context, name: str) -> dict[str, Any]:
    from gitreg import provenance

    manifests, _ = find_model(ctx, name)
    events = ev.model_events(manifests.values())
    # the commit that really added each entry (from the manifests' diffs, not from
    # commit-message trailers, which any commit can claim)
    prov = provenance.read(ctx.git, [name], by_directory=True)
    tags = ctx.git.tag_trailers([f"refs/tags/{name}@*", f"refs/tags/{name}#*"])
    published = published_approvals(name, events, tags)
    out = []
    for e in events:
        tag = event_tag(name, e)
        row = {
            "seq": e.seq, "action": e.action, "version": e.version,
            "from": e.data.get("from"), "to": e.data.get("to"),
            "at": e.data.get("at"), "by": e.data.get("by"),
            "reason": e.data.get("reason"), "approved_by": e.data.get("approved_by"),
            "commit": prov.recorded.get((name, e.seq)), "tag": tag if tag in tags else None,
            **({"results": e.data["results"]} if "results" in e.data else {}),
            **({"observed": e.data["observed"]} if "observed" in e.data else {}),
        }
        if e.seq in published:
            # landed by a reviewed pull request: the merger approved it when it merged
            who, when = published[e.seq]
            row.update(approved_by=[who], approved_at=when, proposed_at=row["at"],
                       at=when or row["at"])
        out.append(row)
    return {"name": name, "events": out}


def with_published_approvals(ctx: Context, name: str, manifests: dict[str, dict]) -> dict[str, dict]:
    """Manifests whose pull-request approval is settled by `ci publish`'s tag (never in the file)."""
    pending = {v for v, m in manifests.items()
               if isinstance(m.get("approval"), dict) and m["approval"].get("via_pull_request")
               and m["approval"].get("status") == "pending"}
    if not pending:
        return manifests
    events = ev.model_events(manifests.values())
    published = published_approvals(name, events, ctx.git.tag_trailers([f"refs/tags/{name}#*"]))
    out = dict(manifests)
    for e in events:
        approval = manifests[e.version].get("approval") or {}
        if e.version in pending and e.seq in published and e.target == approval.get("stage"):
            who, when = published[e.seq]
            m = dict(out[e.version])
            m["approval"] = {**approval, "status": "approved", "approver": who, "date": when}
            out[e.version] = m
    return out


def registration_commits(ctx: Context, name: str, versions: Sequence[str]) -> dict[str, str]:
    """version -> the commit its register tag points at (or that added its manifest)."""
    found: dict[str, str] = {}
    for ref in ctx.store.tags(name):
        if ref.name.startswith(f"{name}@v") and ref.name[len(name) + 2:] in versions:
            found[ref.name[len(name) + 2:]] = ref.target
    for version in versions:
        if version not in found:
            proc = ctx.git.run(["log", "--diff-filter=A", "--format=%H", "HEAD", "--",
                                 manifest_path(name, version)], check=False)
            commits = proc.stdout.split()
            if commits:
                found[version] = commits[-1]
    return found


def versions_text(manifests: Mapping[str, Any]) -> str:
    versions = sorted(manifests, key=parse_version)
    return ", ".join(versions[-8:]) if versions else "none"


def published_approvals(name: str, events: Sequence[ev.Event],
                         tags: Mapping[str, Mapping[str, str]]) -> dict[int, tuple[str, str | None]]:
    """seq -> (approver, approved_at) of moves that `ci publish` tagged after their merge."""
    out: dict[int, tuple[str, str | None]] = {}
    for e in events:
        if e.action not in ev.MOVES:
            continue
        fields = tags.get(event_tag(name, e) or "", {})
        # Approved-At is written only when the merge is the approval (no approve commits)
        if fields.get("Gitreg-Published-By") and fields.get("Gitreg-Approved-At"):
            out[e.seq] = (fields.get("Gitreg-Approved-By") or fields["Gitreg-Published-By"],
                          fields["Gitreg-Approved-At"])
    return out


def event_tag(name: str, e: ev.Event) -> str | None:
    """The event's main tag (the assignment, else the unassignment) for history."""
    tags = ev.event_tags(name, e)
    return tags[-1] if tags else None
