"""The registry side of the import: one model, its versions, stages and aliases, each one commit.

Each step goes through the use cases everyone else uses (create, annotate, register,
alias) or, for a stage, the shared commit_moves step: a stage MLflow already decided is
recorded as it is, so gitreg.yaml's transitions and approval gates are not asked again
(README "Importing from MLflow"). A step that gitreg refuses is reported and skipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from gitreg.core import events as ev
from gitreg.core import numbers
from gitreg.core.names import NONE_STAGE
from gitreg.errors import GitregError
from gitreg.ops import aliases, annotate, register, stages, sync
from gitreg.ops.context import Context
from gitreg.ops.import_mlflow import mapping, source
from gitreg.ops.import_mlflow.report import ImportReport
from gitreg.ops.import_mlflow.source import MlflowModel, MlflowVersion
from gitreg.ops.results import Progress, Result

REASON = "imported from MLflow"


def ensure_model(ctx: Context, m: MlflowModel, report: ImportReport) -> None:
    """Create the gitreg model (description, tags), or bring its description and tags up to
    MLflow's (tags MLflow lacks are left: gitreg users may have added them)."""
    manifests, model = ctx.store.model_manifests(m.name)
    tags = mapping.good_tags(m.tags, f"model {m.name}", report.dropped)
    description = m.description[:10000] or None
    if model is None and not manifests:
        try:
            annotate.create(ctx, m.name, description=description, tags=tags)
        except GitregError as exc:  # its versions may still be registered: reported, not fatal
            report.skipped.append(f"model {m.name}: description and tags not set ({exc})")
            return
        report.created.append(m.name)
        return
    current = (model or {}).get("tags") or {}
    current = current if isinstance(current, dict) else {t: "" for t in current}
    changed_tags = {k: v for k, v in tags.items() if current.get(k) != v}
    new_description = description if description and description != (model or {}).get("description") \
        else None
    if changed_tags or new_description:
        try:
            annotate.annotate(ctx, m.name, description=new_description,
                              set_tags=changed_tags or None, reason=REASON)
        except GitregError as exc:
            report.skipped.append(f"model {m.name}: description and tags not updated ({exc})")
            return
        report.annotated.append(m.name)


def _already(manifests: dict[str, dict], mv: MlflowVersion) -> str | bool | None:
    """The gitreg version an earlier import gave MLflow's number; False: a version registered
    in gitreg holds that number; None: no version has it."""
    holder = numbers.by_number(manifests, mv.number)
    if holder is None:
        return None
    found = mapping.origin(manifests[holder])
    return holder if found is not None and found.get("version") == mv.number else False


def import_version(ctx: Context, c: Any, uri: str, m: MlflowModel, mv: MlflowVersion,
                   report: ImportReport, workdir: Path, progress: Progress | None) -> str | None:
    """Register one MLflow version with its number; None if it was skipped or imported before."""
    what = f"{m.name} version {mv.number}"
    manifests, _ = ctx.store.model_manifests(m.name)
    held = _already(manifests, mv)
    if held is False:
        report.skipped.append(f"{what}: gitreg's {m.name} "
                              f"{numbers.by_number(manifests, mv.number)} already has number "
                              f"{mv.number} (registered in gitreg, not imported)")
        return None
    if held:
        report.already += 1
        return None
    ver = mapping.semver(mv.number)
    if ver in manifests:
        report.skipped.append(f"{what}: gitreg already has a {m.name} {ver} with another number")
        return None
    if mv.status != "READY":
        report.skipped.append(f"{what}: its MLflow status is {mv.status}, not READY")
        return None
    params, metrics, why = source.run_data(c, mv.run_id)
    if why:
        report.dropped.append(f"{what}: no hyperparameters or metrics: {why}")
    dest = workdir / f"{m.name}-{mv.number}"
    try:
        artifacts = source.download(c, uri, m.name, mv.number, dest, progress)
    except Exception as exc:  # noqa: BLE001 - a missing artifact store: this version is skipped
        report.skipped.append(f"{what}: its artifacts cannot be downloaded "
                              f"({(str(exc).splitlines() or [type(exc).__name__])[0][:200]})")
        return None
    try:
        info = mapping.version_info(m.name, mv, params, metrics, artifacts, report.dropped)
        register.register(ctx, m.name, [artifacts], info, version=ver, progress=progress)
    except GitregError as exc:
        report.skipped.append(f"{what}: gitreg refused it ({exc})")
        return None
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    report.imported.append({"name": m.name, "version": ver, "number": mv.number,
                            "run_id": mv.run_id})
    return ver


def _set_stage_locked(ctx: Context, name: str, ver: str, target: str) -> Result:
    lifecycle, actor = stages.stage_context(ctx, name)
    manifests, _ = ctx.store.model_manifests(name)
    current = manifests[ver].get("stage") or NONE_STAGE
    steps = stages.promotion_steps(lifecycle, manifests, ver, target, False,
                                   f"{REASON} (stage {target})", None)
    return stages.commit_moves(ctx, name, manifests, steps, action=ev.PROMOTE, version=ver,
                               source=current, target=target, reason=REASON, actor=actor,
                               sign=False)


def _stage_targets(ctx: Context, m: MlflowModel, new: dict[int, str],
                   report: ImportReport) -> list[tuple[MlflowVersion, str]]:
    """(version, gitreg stage) for the stages to record, in the order they are recorded."""
    lifecycle = ctx.lifecycle()
    holders: dict[str, list[MlflowVersion]] = {}
    for mv in m.versions:
        if mv.stage.lower() != NONE_STAGE:
            holders.setdefault(mv.stage.lower(), []).append(mv)
    out = []
    for stage, held in holders.items():
        if stage not in lifecycle.stages:
            report.skipped.append(f"{m.name}: MLflow stage {stage} of version(s) "
                                  f"{', '.join(str(v.number) for v in held)} is not a stage in "
                                  "gitreg.yaml")
            continue
        if lifecycle.is_exclusive(stage) and len(held) > 1:
            keep = max(held, key=lambda v: v.number)
            report.skipped.append(
                f"{m.name}: MLflow has {len(held)} versions in {stage} "
                f"({', '.join(str(v.number) for v in held)}); {stage} holds one in gitreg, so "
                f"version {keep.number} (the newest) got it and the others none")
            held = [keep]
        out += [(mv, stage) for mv in held if mv.number in new]
    exclusive_last = sorted(out, key=lambda t: (lifecycle.is_exclusive(t[1]), t[0].number))
    return exclusive_last


def apply_stages(ctx: Context, m: MlflowModel, new: dict[int, str], report: ImportReport) -> None:
    """The current MLflow stage of each version imported now (an earlier import's are left)."""
    for mv, stage in _stage_targets(ctx, m, new, report):
        ver = new[mv.number]
        try:
            sync.mutate(ctx, m.name, False, lambda: _set_stage_locked(ctx, m.name, ver, stage))
        except GitregError as exc:
            report.skipped.append(f"{m.name} {ver}: stage {stage} not recorded ({exc})")
            continue
        report.stages.append(f"{m.name} {ver} -> {stage}")


def apply_aliases(ctx: Context, m: MlflowModel, new: dict[int, str], report: ImportReport) -> None:
    """MLflow's aliases: set when gitreg has none by that name or it points at a version this
    run imported; one that gitreg points elsewhere is reported, not moved."""
    manifests, model = ctx.store.model_manifests(m.name)
    held = aliases.holders(manifests, model)
    lifecycle = ctx.lifecycle()
    for raw, number in sorted(m.aliases.items()):
        ver = numbers.by_number(manifests, number)
        try:
            alias = lifecycle.alias(raw)
        except GitregError as exc:
            report.skipped.append(f"{m.name}: alias {raw!r} not carried ({exc})")
            continue
        if ver is None or mapping.origin(manifests[ver]) is None:
            report.skipped.append(f"{m.name}: alias {alias} names version {number}, "
                                  "which was not imported")
            continue
        if held.get(alias) == ver:
            continue
        if alias in held and number not in new:
            report.skipped.append(f"{m.name}: alias {alias} is on {held[alias]} in gitreg and on "
                                  f"version {number} in MLflow; left as gitreg has it")
            continue
        try:
            aliases.alias(ctx, m.name, alias, ver, reason=REASON)
        except GitregError as exc:
            report.skipped.append(f"{m.name}: alias {alias} not set on {ver} ({exc})")
            continue
        report.aliases.append(f"{m.name}@{alias} -> {ver}")
