"""Reading the registry: list, show, history, and the model lookup every use case starts from."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from gitreg.core import events as ev
from gitreg.core.aliases import version_aliases
from gitreg.core.manifest import tag_map
from gitreg.core.refs import parse_ref
from gitreg.core.names import check_name
from gitreg.core.tags import register_tag
from gitreg.core.version import parse_version
from gitreg.errors import NotFoundError, UserError
from gitreg.ops.context import Context
from gitreg.store import manifest_path


def find_model(ctx: Context, name: str, allow_empty: bool = False) -> tuple[dict[str, dict], dict | None]:
    """(version -> manifest, model.yaml) of a registered model; NotFoundError with a close match.

    A model made by `create` has model.yaml and no versions yet: allow_empty returns it
    (show, history, annotate); otherwise that is a NotFoundError saying so.
    """
    check_name(name)
    manifests, model = ctx.store.model_manifests(name)
    if not manifests and model is not None and not ctx.store.broken_files(name):
        if allow_empty:
            return manifests, model
        raise NotFoundError(f"model {name!r} has no versions yet",
                            f"register one with `gitreg register {name} PATH`")
    if not manifests:
        broken = ctx.store.broken_files(name)
        if broken:
            raise UserError(f"cannot read {name}: {broken[0]}",
                            "fix or restore that file (`gitreg validate` lists every problem)")
        import difflib

        known = list(ctx.store.model_tree().keys())
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "run `gitreg list` to see registered models"
        raise NotFoundError(f"model {name!r} is not registered", hint)
    return manifests, model


def list_models(ctx: Context, stage: str | None = None, include_deprecated: bool = False) -> dict[str, Any]:
    """Each model's latest live version and stage holders; deprecated models are left out
    (and named in "hidden") unless include_deprecated."""
    lifecycle = ctx.lifecycle()
    want = lifecycle.stage(stage) if stage else None
    stages = list(lifecycle.stages)
    rows = ctx.store.answer("list", stages, lambda names: _list_rows(ctx, stages, names), _rows_ok)
    # as `gto show` does (its --deprecated shows them)
    hidden = [] if include_deprecated else [r["name"] for r in rows if r["deprecated"]]
    return {"models": [r for r in rows if (not want or want in r["stages"])
                       and (include_deprecated or not r["deprecated"])],
            "hidden": hidden}


def _list_rows(ctx: Context, lifecycle_stages: Sequence[str],
               names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every model's row (or the rows of `names`), deprecated ones too (list_models
    filters): the cached answer. A row depends on its model's directory alone."""
    rows = []
    summaries = ctx.store.summaries(names=names)
    deprecated = ctx.store.deprecated_models(list(summaries))
    for name, versions in sorted(summaries.items()):
        parsed = {v: parse_version(v) for v in versions}
        live = [v for v in versions if not versions[v].get("deprecated")]
        # every version deprecated (or none yet, `create`): no latest (gto: version null)
        latest = max(live, key=lambda v: parsed[v]) if live else None
        stages: dict[str, str] = {}
        for st in lifecycle_stages:
            holders = [(s["stage_seq"], parsed[v], v) for v, s in versions.items() if s["stage"] == st]
            if holders:
                stages[st] = max(holders)[2]
        aliases = {a: v for v, s in versions.items() for a in s.get("aliases") or []}
        rows.append({"name": name, "latest": latest, "versions": len(versions), "stages": stages,
                     "aliases": dict(sorted(aliases.items())),
                     "latest_tag": register_tag(name, latest) if latest else None,  # gto's, dvc --rev's
                     "deprecated": name in deprecated,
                     "deprecated_versions": sorted((v for v in versions if v not in live), key=parse_version)})
    return rows


_ROW_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "latest": (str, type(None)), "versions": (int,), "stages": (dict,),
    "aliases": (dict,), "latest_tag": (str, type(None)), "deprecated": (bool,),
    "deprecated_versions": (list,)}


def _rows_ok(rows: Any) -> bool:
    """A cached answer is used only when it is exactly the shape _list_rows makes."""
    return isinstance(rows, list) and all(
        isinstance(r, dict) and r.keys() == _ROW_TYPES.keys()
        and all(type(r[k]) in t for k, t in _ROW_TYPES.items())
        and all(isinstance(k, str) and isinstance(v, str)
                for key in ("stages", "aliases") for k, v in r[key].items())
        and all(isinstance(v, str) for v in r["deprecated_versions"])
        for r in rows)


def show(ctx: Context, ref: str) -> dict[str, Any]:
    name, version, stage, alias = parse_ref(ref)
    manifests, model = find_model(ctx, name, allow_empty=True)
    # tags always read as a mapping (a legacy list of labels as {label: ""})
    manifests = {v: _tags_mapped(m) for v, m in with_published_approvals(ctx, name, manifests).items()}
    if alias is not None:
        version = alias_version(name, manifests, alias)
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
    info = {k: v for k, v in _tags_mapped(model or {}).items() if k not in ("schema_version",)}
    info["name"] = name
    info["versions"] = [manifests[v] for v in ordered]
    return info


def _tags_mapped(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {**doc, "tags": tag_map(doc.get("tags"))} if "tags" in doc else dict(doc)


HISTORY_EXTRAS = ("results", "observed", "description", "set_tags", "unset_tags")


def alias_version(name: str, manifests: Mapping[str, Mapping[str, Any]], alias: str) -> str:
    """The version holding `alias`, or NotFoundError naming the model's aliases."""
    held = version_aliases(manifests.values())
    if alias not in held:
        names = ", ".join(f"{a} ({v})" for a, v in held.items()) or "none"
        raise NotFoundError(f"{name} has no alias {alias!r} (nor is it a version, e.g. 1.2.0)",
                            f"its aliases: {names}; set one with `gitreg alias {name} {alias} VERSION`")
    return held[alias]


def history(ctx: Context, name: str) -> dict[str, Any]:
    """Every event by seq; a model-level one (model.yaml's history) has version null."""
    from gitreg.store.recorded import recorded_commits

    manifests, model = find_model(ctx, name, allow_empty=True)
    events = ev.model_events(manifests.values(), model)
    # the commit that really added each entry (from the manifests' diffs, not from
    # commit-message trailers, which any commit can claim), remembered by HEAD's id
    recorded = recorded_commits(ctx.git, ctx.store.state_dir, name)
    tags = ctx.git.tag_trailers([f"refs/tags/{name}@*", f"refs/tags/{name}#*"])
    published = published_approvals(name, events, tags)
    out = []
    for e in events:
        tag = event_tag(name, e)
        row = {
            "seq": e.seq, "action": e.action,
            "version": None if e.version == ev.MODEL_LEVEL else e.version,
            "from": e.data.get("from"), "to": e.data.get("to"),
            "at": e.data.get("at"), "by": e.data.get("by"),
            "reason": e.data.get("reason"), "approved_by": e.data.get("approved_by"),
            "commit": recorded.get(e.seq), "tag": tag if tag in tags else None,
            **{k: e.data[k] for k in HISTORY_EXTRAS if k in e.data},
            **({k: e.data.get(k) for k in ("alias", "replaced", "replaced_by")}
               if e.action in (ev.ALIAS, ev.UNALIAS) else {}),
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


def registration_commits(ctx: Context, name: str, versions: Sequence[str],
                         by_manifest: bool = False) -> dict[str, str]:
    """version -> the commit its register tag points at (or, by_manifest, that added its manifest)."""
    found: dict[str, str] = {}
    for ref in [] if by_manifest else ctx.store.tags(name):
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


def latest_version(name: str, manifests: Mapping[str, Mapping[str, Any]]) -> str:
    """The highest version that is not deprecated (what `NAME` alone names, as in GTO)."""
    live = [v for v, m in manifests.items() if not m.get("deprecated")]
    if not live:
        raise NotFoundError(f"every version of {name} is deprecated, so {name} alone names none",
                            f"name one: {name}@VERSION (`gitreg show {name}` lists them)")
    return max(live, key=parse_version)


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
    adopted = e.data.get("adopted_from")
    if isinstance(adopted, str) and adopted:
        return adopted
    tags = ev.event_tags(name, e)
    return tags[-1] if tags else None
