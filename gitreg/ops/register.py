"""Registering a version: the manifest and model.yaml it writes, its sources checked and copied."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping, Sequence

from gitreg import dvc, schema, yamlio
from gitreg.core import events as ev
from gitreg.core import manifest as mf
from gitreg.core import numbers
from gitreg.core import policy
from gitreg.core.messages import commit_message, tag_message
from gitreg.core.names import NONE_STAGE, check_name
from gitreg.core.tags import register_tag
from gitreg.core.timefmt import rfc3339
from gitreg.core.version import BUMPS, Version, bump_kind, next_version, parse_version
from gitreg.errors import ConflictError, PolicyError, UserError
from gitreg.ops import studio, sync
from gitreg.ops.context import Context, epoch
from gitreg.ops.results import Progress, Result, VersionInfo
from gitreg.ops.sync import PUSH_ATTEMPTS, PushRaceLost
from gitreg.store import (
    DVC_YAML, MANIFEST_FILE, MODELS_DIR, Change, PlannedTag, model_file_path,
)

COPY_CHUNK = 8 * 1024 * 1024
SINGLE_DIR_NAME = "model"  # several files or a directory become models/N/V/model/


def build_manifest(name: str, version: str, info: VersionInfo, actor: str, now: datetime,
                    seq: int, number: int | None = None) -> dict[str, Any]:
    training = dict(info.training)
    if info.dataset_version:
        training["dataset_version"] = info.dataset_version
    business = dict(info.business)
    if info.owner:
        business.setdefault("owner", info.owner)
    if info.use_case:
        business.setdefault("use_case", info.use_case)
    m: dict[str, Any] = {
        "schema_version": mf.SCHEMA_VERSION,
        "name": name,
        "version": version,
        "description": info.description or "",
        "created_at": rfc3339(now),
        "created_by": actor,
    }
    if number is not None:  # an adopted gto version has none: numbered by registration order
        m = {**{k: m[k] for k in ("schema_version", "name", "version")}, "number": number, **m}
    for key, value in (("framework", info.framework), ("algorithm", info.algorithm)):
        if value:
            m[key] = value
    m["hyperparameters"] = dict(info.hyperparameters)
    m["metrics"] = dict(info.metrics)
    if training:
        m["training"] = training
    if info.signature is not None:
        m["signature"] = info.signature
    m["artifacts"] = []
    m["tags"] = mf.parse_tags(info.tags)  # key -> value; a LABEL is {LABEL: ""}
    if business:
        m["business"] = business
    m["custom"] = dict(info.custom)
    m["stage"] = NONE_STAGE
    m["history"] = [{"seq": seq, "action": ev.REGISTER, "at": rfc3339(now), "by": actor}]
    return m


def _model_updates(model: Mapping[str, Any], info: VersionInfo) -> bool:
    return any(
        value and model.get(key) != value
        for key, value in (("owner", info.owner), ("use_case", info.use_case),
                           ("description", info.model_description))
    )


def _model_file(name: str, model: Mapping[str, Any] | None, info: VersionInfo, now: datetime,
                actor: str, seq: int) -> dict:
    """model.yaml after a registration; replacing an existing model's description is an
    `annotate` entry in its history (seq), as `gitreg annotate NAME` would record it."""
    out = dict(model or {})
    if model is not None and info.model_description \
            and info.model_description != model.get("description"):
        out["history"] = [*(model.get("history") or []), {
            "seq": seq, "action": ev.ANNOTATE, "at": rfc3339(now), "by": actor,
            "description": info.model_description}]
    out.setdefault("schema_version", 1)
    out["name"] = name
    if info.model_description:  # a version's message is not the model's description (issue 14)
        out["description"] = info.model_description
    if info.owner:
        out["owner"] = info.owner
    if info.use_case:
        out["use_case"] = info.use_case
    if info.tags and model is None:  # a model's own tags change only through annotate later
        out["tags"] = mf.parse_tags(info.tags)
    out.setdefault("created_at", rfc3339(now))
    return out


def _check_sources(paths: Sequence[str | Path], root: Path) -> list[Path]:
    if not paths:
        raise UserError("no artifact given", "name the model file(s) or directory to register")
    sources = []
    for p in paths:
        path = Path(p)
        if "\x00" in str(p):  # os.stat raises ValueError on it
            raise UserError(f"artifact path {str(p)!r} contains a NUL byte", "check the path to the model file")
        if not path.exists():
            raise UserError(f"artifact path {p} does not exist", "check the path to the model file")
        if not (path.is_file() or path.is_dir()):
            raise UserError(f"artifact path {p} is not a regular file or directory",
                            "give model files or a directory")
        resolved = path.resolve()
        git_dir = (root / ".git").resolve()
        if resolved == git_dir or git_dir in resolved.parents:
            raise UserError(f"artifact path {p} is inside .git", "give a model file outside .git")
        sources.append(resolved)
    names = [s.name for s in sources]
    if len(sources) == 1 and sources[0].is_file() and _reserved_name(names[0]):
        # it would sit beside the manifest: DVC's .gitignore would hide gitreg's own file
        raise UserError(f"artifact file name {names[0]!r} collides with gitreg's or DVC's own files "
                        "in the version directory (manifest.yaml, .gitignore, *.dvc)",
                        "rename the file, or register its directory instead")
    if len(sources) > 1 and len(set(names)) != len(names):
        raise UserError("two artifacts have the same file name", "rename one, or register a directory")
    return sources


def _reserved_name(name: str) -> bool:
    low = name.lower()  # case-insensitive file systems make Manifest.YAML the same file
    return low in (MANIFEST_FILE, ".gitignore", ".dvcignore", "model.yaml") or low.endswith(".dvc") \
        or low.startswith(f".{MANIFEST_FILE}.")


def _copy_artifacts(sources: Sequence[Path], vdir: Path, progress: Progress | None) -> Path:
    """Copy the artifacts into the version directory; returns the one path DVC will track."""
    if len(sources) == 1 and sources[0].is_file():
        target = vdir / sources[0].name
        _copy_file(sources[0], target, progress)
        return target
    target = vdir / SINGLE_DIR_NAME
    target.mkdir()
    for src in sources:
        if src.is_file():
            _copy_file(src, target / src.name, progress)
        else:
            dest = target if len(sources) == 1 else target / src.name
            for item in sorted(src.rglob("*")):
                rel = item.relative_to(src)
                if item.is_symlink():
                    raise UserError(f"{item} is a symbolic link", "register regular files only")
                if item.is_dir():
                    (dest / rel).mkdir(parents=True, exist_ok=True)
                elif item.is_file():
                    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                    _copy_file(item, dest / rel, progress)
    if not any(p.is_file() for p in target.rglob("*")):
        raise UserError("the artifact directory is empty", "register a directory with files in it")
    return target


def _copy_file(src: Path, dest: Path, progress: Progress | None) -> None:
    total = src.stat().st_size
    if progress is None or total < COPY_CHUNK:
        shutil.copyfile(src, dest)
        return
    done = 0
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while chunk := fin.read(COPY_CHUNK):
            fout.write(chunk)
            done += len(chunk)
            progress(src.name, done, total)


def _size_text(artifacts: Sequence[Mapping[str, Any]]) -> str:
    size = sum(int(a.get("size", 0)) for a in artifacts)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


# -- the use case ------------------------------------------------------------------------
def _check_request(ctx: Context, name: str, paths: Sequence[str | Path], info: VersionInfo,
                   version: str | None, bump: str | None) -> tuple[Version | None, list[Path]]:
    """(the version asked for, the artifact paths), checked before anything is touched."""
    check_name(name)
    if version is not None and bump is not None:
        raise UserError("give either --version or --bump, not both", "drop one of them")
    if bump is not None and bump not in BUMPS:
        raise UserError(f"unknown bump {bump!r}", "use --bump major, minor or patch")
    wanted = parse_version(version) if version is not None else None
    sources = _check_sources(paths, ctx.root)
    mf.parse_tags(info.tags)  # KEY=VALUE or LABEL, refused before anything is touched
    return wanted, sources


def _new_version(ctx: Context, name: str, manifests: Mapping[str, dict], wanted: Version | None,
                 bump: str | None, info: VersionInfo) -> str:
    """The version to register: free, not on disk, and MAJOR-bumped if the signature changed."""
    existing = [parse_version(v) for v in manifests]
    new = wanted if wanted is not None else next_version(existing, bump)
    ver = str(new)
    if ver in manifests or any(v.precedence() == new.precedence() for v in existing):
        raise UserError(f"{name} {ver} is already registered",
                        f"use --bump or a new --version (latest is {max(existing)})")
    vdir = ctx.root / MODELS_DIR / name / ver
    if vdir.exists():
        raise ConflictError(f"{vdir.relative_to(ctx.root)} already exists but is not committed",
                            "remove it or commit it first")
    previous = max((v for v in existing if v < new), default=None)
    if previous is not None and info.signature is not None:
        prev_sig = manifests[str(previous)].get("signature")
        if prev_sig is not None and prev_sig != info.signature and bump_kind(previous, new) != "major":
            raise PolicyError(
                f"the signature of {name} {ver} differs from {previous}'s, so a MAJOR "
                f"bump is required ({bump_kind(previous, new)} given)",
                f"register it as {previous.bump('major')} (--bump major)")
    return ver


def _number(name: str, manifests: Mapping[str, dict], info: VersionInfo) -> int:
    """The new version's MLflow number: the one asked for (an import) if free, else the next."""
    if info.number is None:
        return numbers.next_number(manifests)
    taken = numbers.version_numbers(manifests)
    if info.number in taken.values():
        holder = next(v for v, n in taken.items() if n == info.number)
        raise ConflictError(f"{name} already has a version number {info.number} ({holder})",
                            "leave the number out to get the next free one")
    return info.number


def _draft_manifest(name: str, ver: str, info: VersionInfo, actor: str, now: datetime,
                    seq: int, number: int) -> dict[str, Any]:
    manifest = build_manifest(name, ver, info, actor, now, seq, number)
    pre = [m for p, m in schema.errors(schema.MANIFEST, {**manifest, "artifacts": [
        {"path": "x", "md5": "0" * 32, "size": 0}]})]
    if pre:
        raise UserError(f"the manifest for {name} {ver} would be invalid: {pre[0]}",
                        "fix the metadata you gave")
    return manifest


def _add_artifacts(ctx: Context, sources: Sequence[Path], vdir: Path,
                   progress: Progress | None) -> tuple[Path, list[Any]]:
    """Put the artifacts into the version directory under DVC: (the tracked path, DVC's entries)."""
    if len(sources) == 1 and sources[0].is_file():
        # one file: DVC copies it from the user's path into its cache and the
        # version directory; a copy of gitreg's own first cost 1/3 more (issue 6)
        target = vdir / sources[0].name
        total = sources[0].stat().st_size
        if progress:
            progress(sources[0].name, 0, total)
        added = dvc.add(ctx.root, [target], ctx.env, show_progress=progress is not None,
                        source=sources[0], ignored=ctx.store.git.ignored, progress=progress)
        if progress:
            progress(sources[0].name, total, total)
        return target, added
    target = _copy_artifacts(sources, vdir, progress)
    return target, dvc.add(ctx.root, [target], ctx.env, show_progress=progress is not None,
                           ignored=ctx.store.git.ignored)


def _commit_registration(ctx: Context, name: str, ver: str, manifests: Mapping[str, dict],
                         model: Mapping[str, Any] | None, info: VersionInfo, actor: str,
                         sources: Sequence[Path], sign: bool,
                         progress: Progress | None) -> tuple[Result, Path]:
    """The registration commit and its tag: (the result, the artifact path DVC tracks)."""
    vdir = ctx.root / MODELS_DIR / name / ver
    now = ctx.clock()
    seq = ev.max_seq(manifests.values(), model) + 1  # a created model's seqs continue
    manifest = _draft_manifest(name, ver, info, actor, now, seq, _number(name, manifests, info))
    seqs = [seq]
    change = Change(ctx.store, name, actor)
    change.track_dir(vdir)
    change.extra_paths.append(DVC_YAML)
    new_model = model
    if model is None or _model_updates(model, info):
        new_model = _model_file(name, model, info, now, actor, seq + 1)
        seqs += [h["seq"] for h in new_model.get("history") or [] if h.get("seq") == seq + 1]
        change.write(model_file_path(name), yamlio.dump(new_model))
    target_box: list[Path] = []

    def prepare() -> None:
        vdir.mkdir(parents=True)
        target, added = _add_artifacts(ctx, sources, vdir, progress)
        target_box.append(target)
        manifest["artifacts"] = [
            {"path": a.path, "md5": a.md5, "size": a.size,
             **({"nfiles": a.nfiles} if a.nfiles else {})} for a in added
        ]
        problems = schema.errors(schema.MANIFEST, manifest, schema.extra_validator(ctx.root, ctx.lifecycle().extra_schema))
        if problems:
            raise UserError(f"the manifest for {name} {ver} is invalid: {problems[0][1]}",
                            "fix the metadata you gave")
        yamlio.write_atomic(vdir / MANIFEST_FILE, yamlio.dump(mf.ordered(manifest)))
        dvc_text = studio.write_entry(ctx.root, name, f"{MODELS_DIR}/{name}/{ver}/{target.name}",
                                      {**manifests, ver: manifest}, new_model, state_dir=ctx.store.state_dir)
        if dvc_text is not None:
            change.after_commit.append(lambda: studio.remember(ctx.store.state_dir, dvc_text))

    tag_msg = tag_message(f"register {name} {ver}", "register", actor, seq, reason=info.description)
    change.tags.append(PlannedTag(register_tag(name, ver), None, tag_msg))
    message = commit_message("register", name, ver, None, None, seqs, info.description)
    cache_before = dvc.cache_listing(ctx.root)
    try:
        commit, tags = change.run(message, prepare, sign=sign, now=epoch(ctx.clock))
    except BaseException:
        # nothing refers to the objects this failed register put into the DVC cache
        dvc.remove_new_objects(ctx.root, cache_before)
        raise
    result = Result("register", name, ver, commit, tags, seqs,
                    f"registered {name} {ver} ({_size_text(manifest['artifacts'])})")
    return result, target_box[0]


def register(ctx: Context, name: str, paths: Sequence[str | Path], info: VersionInfo | None = None, *,
             version: str | None = None, bump: str | None = None, push: bool = False,
             sign: bool = False, progress: Progress | None = None, _attempt: int = 0) -> Result:
    """Register a new version of `name` from artifact files: one commit and its tag."""
    info = info or VersionInfo()
    wanted, sources = _check_request(ctx, name, paths, info, version, bump)
    lifecycle = ctx.lifecycle()
    actor = info.created_by or ctx.actor()
    if push:
        sync.require_remote(ctx)
    with ctx.store.locked():
        ctx.store.require_branch(lifecycle)
        ctx.store.require_clean(model=name)
        manifests, model = ctx.store.model_manifests(name)
        policy.require_model_not_deprecated(name, model)
        ver = _new_version(ctx, name, manifests, wanted, bump, info)
        result, target = _commit_registration(ctx, name, ver, manifests, model, info, actor, sources,
                                              sign, progress)
        if push:
            try:
                sync.push(ctx, result, [target])
            except PushRaceLost:
                # this clone now matches origin: re-check the version there and re-apply
                if _attempt + 1 >= PUSH_ATTEMPTS:
                    raise
                if wanted is not None and ver in ctx.store.model_manifests(name)[0]:
                    raise ConflictError(
                        f"{name} {ver} was registered on origin by someone else meanwhile; "
                        "this clone's commit was undone and it now matches origin",
                        "register it under a new --version, or use --bump") from None
                sync.backoff(_attempt)
                return register(ctx, name, paths, info, version=version, bump=bump, push=True,
                                sign=sign, progress=progress, _attempt=_attempt + 1)
        return result
