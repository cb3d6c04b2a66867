"""The Python API: `Registry` offers the same verbs as the CLI and returns plain data.

It never prints and never exits; errors are GitregError subclasses with a hint.
"""

from __future__ import annotations

import difflib
import hashlib
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from gitreg import dvc, schema, yamlio
from gitreg.core import events as ev
from gitreg.core import manifest as mf
from gitreg.core import policy
from gitreg.core.names import NONE_STAGE, check_name
from gitreg.core.stages import DEFAULT_CONFIG, Lifecycle
from gitreg.core.tags import assign_tag, register_tag, unassign_tag
from gitreg.core.version import BUMPS, Version, bump_kind, next_version, parse_version
from gitreg.errors import ConflictError, NotFoundError, PolicyError, UserError
from gitreg.git import Git, find_root
from gitreg.store import (
    CONFIG_FILE, DVC_YAML, MANIFEST_FILE, MODELS_DIR, Change, PlannedTag, Store,
    manifest_path, model_file_path,
)

Progress = Callable[[str, int, int], None]  # (label, done bytes, total bytes)
COPY_CHUNK = 8 * 1024 * 1024
SINGLE_DIR_NAME = "model"  # several files or a directory become models/N/V/model/


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class VersionInfo:
    """Metadata given at registration (everything optional)."""

    description: str | None = None
    framework: str | None = None
    algorithm: str | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    dataset_version: str | None = None
    training: dict[str, Any] = field(default_factory=dict)
    signature: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    owner: str | None = None
    use_case: str | None = None
    business: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    created_by: str | None = None


@dataclass
class Result:
    """What a mutation did."""

    action: str
    name: str
    version: str
    commit: str | None = None
    tags: list[str] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    pushed: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action, "name": self.name, "version": self.version,
            "commit": self.commit, "tags": self.tags, "seq": self.seq,
            "message": self.message, "warnings": self.warnings, "pushed": self.pushed,
            **self.details,
        }


@dataclass
class InitResult:
    root: Path
    changed: list[str]
    commit: str | None

    @property
    def message(self) -> str:
        if not self.changed:
            return f"{self.root} is already a gitreg registry; nothing changed"
        return f"initialised gitreg registry in {self.root}: " + ", ".join(self.changed)


def parse_ref(text: str) -> tuple[str, str | None, str | None]:
    """NAME, NAME@VERSION or NAME#STAGE -> (name, version, stage)."""
    if "@" in text:
        name, _, version = text.partition("@")
        check_name(name)
        return name, str(parse_version(version)), None
    if "#" in text:
        name, _, stage = text.partition("#")
        check_name(name)
        return name, None, stage
    return check_name(text), None, None


def load_metrics_file(path: Path) -> tuple[dict[str, float], list[str]]:
    data = yamlio.load_file(Path(path))
    return mf.flatten_metrics(data, str(path))


def load_mapping_file(path: Path, what: str) -> dict[str, Any]:
    data = yamlio.load_file(Path(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: {what} must be a mapping", "write key: value pairs")
    return data


class Registry:
    """A gitreg registry: a git repository with gitreg.yaml at its root."""

    def __init__(
        self,
        path: str | Path = ".",
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = utc_now,
        actor: str | None = None,
    ):
        start = Path(path)
        if not start.exists():
            raise UserError(f"{start}: no such directory", "give the path of a gitreg registry")
        root = find_root(start, env)
        if root is None:
            raise UserError(f"{start} is not a git repository, so not a gitreg registry",
                            "run `gitreg init` to make one")
        if not (root / CONFIG_FILE).exists():
            raise UserError(f"{root} is not a gitreg registry (no {CONFIG_FILE})",
                            "run `gitreg init` there to make it one")
        self.root = root
        self.env = env
        self.clock = clock
        self._actor = actor
        self.git = Git(root, env)
        self.store = Store(root, self.git)

    # -- identity ----------------------------------------------------------------------
    def actor(self) -> str:
        if self._actor:
            return self._actor
        _, email = self.git.identity()
        if not email:
            raise UserError("git user.email is not set, so gitreg cannot record who acts",
                            "run `git config user.email you@example.com`")
        return email

    # -- init --------------------------------------------------------------------------
    @classmethod
    def init(
        cls,
        path: str | Path = ".",
        *,
        dvc_remote: str | None = None,
        dvc_remote_options: Mapping[str, str] | None = None,
        remote: str | None = None,
        github: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> InitResult:
        root = Path(path).resolve()
        if root.exists() and not root.is_dir():
            raise UserError(f"{root} is a file", "give a directory for the registry")
        root.mkdir(parents=True, exist_ok=True)
        changed: list[str] = []
        found = find_root(root, env)
        git = Git(root, env)
        if found is None or found.resolve() != root:
            git.run(["init", "-q", "-b", DEFAULT_CONFIG["branch"]])
            changed.append("git init")
        store = Store(root, git)
        with store.locked():
            if not dvc.is_initialised(root):
                dvc.init(root, env)
                changed.append("dvc init")
            if dvc.configure(root, dvc_remote, dvc_remote_options, env):
                changed.append("dvc config" + (f" (remote {dvc_remote})" if dvc_remote else ""))
            config_path = root / CONFIG_FILE
            if not config_path.exists():
                config = dict(DEFAULT_CONFIG)
                config["branch"] = git.current_branch() or DEFAULT_CONFIG["branch"]
                yamlio.write_atomic(config_path, _CONFIG_HEADER + yamlio.dump(config))
                changed.append(CONFIG_FILE)
            models = root / MODELS_DIR
            models.mkdir(exist_ok=True)
            if not any(models.iterdir()):
                (models / ".gitkeep").write_text("")
                changed.append(f"{MODELS_DIR}/")
            if not (root / DVC_YAML).exists():
                yamlio.write_atomic(root / DVC_YAML, yamlio.dump({"artifacts": {}}))
                changed.append(DVC_YAML)
            if remote:
                current = git.remote_url("origin")
                if current != remote:
                    if current is None:
                        git.run(["remote", "add", "origin", remote])
                    else:
                        git.run(["remote", "set-url", "origin", remote])
                    changed.append(f"git remote origin {remote}")
            if github:
                from gitreg import templates

                changed += templates.write_github(root)
            commit = None
            paths = [p for p in (CONFIG_FILE, DVC_YAML, ".dvc", ".dvcignore", f"{MODELS_DIR}/.gitkeep",
                                 ".github") if (root / p).exists()]
            git.add(paths)
            staged = git.run(["diff", "--cached", "--quiet", "--", *paths], check=False).returncode
            if staged != 0 or git.head() is None:
                commit = git.commit("gitreg: init registry\n\nGitreg-Action: init\n", paths,
                                    allow_empty=git.head() is None)
                if "commit" not in changed:
                    changed.append("commit")
        return InitResult(root, changed, commit)

    # -- reads ------------------------------------------------------------------------
    def lifecycle(self) -> Lifecycle:
        return self.store.lifecycle()

    def _model(self, name: str) -> tuple[dict[str, dict], dict | None]:
        check_name(name)
        manifests, model = self.store.model_manifests(name)
        if not manifests:
            known = list(self.store.model_tree().keys())
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "run `gitreg list` to see registered models"
            raise NotFoundError(f"model {name!r} is not registered", hint)
        return manifests, model

    def list_models(self, stage: str | None = None) -> dict[str, Any]:
        lifecycle = self.lifecycle()
        want = lifecycle.stage(stage) if stage else None
        rows = []
        for name, versions in sorted(self.store.summaries().items()):
            parsed = {v: parse_version(v) for v in versions}
            latest = max(parsed, key=lambda v: parsed[v])
            stages: dict[str, str] = {}
            for st in lifecycle.stages:
                holders = [(s["stage_seq"], parsed[v], v) for v, s in versions.items() if s["stage"] == st]
                if holders:
                    stages[st] = max(holders)[2]
            if want and want not in stages:
                continue
            rows.append({"name": name, "latest": latest, "versions": len(versions), "stages": stages})
        return {"models": rows}

    def show(self, ref: str) -> dict[str, Any]:
        name, version, stage = parse_ref(ref)
        manifests, model = self._model(name)
        if version is not None:
            if version not in manifests:
                raise NotFoundError(f"{name} has no version {version}",
                                    f"registered versions: {_versions_text(manifests)}")
            return manifests[version]
        if stage is not None:
            st = self.lifecycle().stage(stage)
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

    def history(self, name: str) -> dict[str, Any]:
        manifests, _ = self._model(name)
        events = ev.model_events(manifests.values())
        commits = self._event_commits(name)
        tag_names = {r.name for r in self.store.tags(name)}
        out = []
        for e in events:
            tag = _event_tag(name, e)
            out.append({
                "seq": e.seq, "action": e.action, "version": e.version,
                "from": e.data.get("from"), "to": e.data.get("to"),
                "at": e.data.get("at"), "by": e.data.get("by"),
                "reason": e.data.get("reason"), "approved_by": e.data.get("approved_by"),
                "commit": commits.get(e.seq), "tag": tag if tag in tag_names else None,
                **({"results": e.data["results"]} if "results" in e.data else {}),
                **({"observed": e.data["observed"]} if "observed" in e.data else {}),
            })
        return {"name": name, "events": out}

    def _event_commits(self, name: str) -> dict[int, str]:
        proc = self.git.run(
            ["log", "--format=%H%x00%(trailers:key=Gitreg-Model,valueonly,separator=%x01)%x00"
             "%(trailers:key=Gitreg-Seq,valueonly,separator=%x01)%x1e", "HEAD", "--",
             f"{MODELS_DIR}/{name}"], check=False)
        found: dict[int, str] = {}
        for rec in proc.stdout.split("\x1e"):
            parts = rec.strip("\n").split("\x00")
            if len(parts) < 3 or parts[1].strip() != name:
                continue
            for s in parts[2].replace("\x01", ",").split(","):
                s = s.strip()
                if s.isdigit():
                    found.setdefault(int(s), parts[0])
        return found

    # -- register ----------------------------------------------------------------------
    def register(
        self,
        name: str,
        paths: Sequence[str | Path],
        info: VersionInfo | None = None,
        *,
        version: str | None = None,
        bump: str | None = None,
        push: bool = False,
        sign: bool = False,
        progress: Progress | None = None,
    ) -> Result:
        check_name(name)
        info = info or VersionInfo()
        if version is not None and bump is not None:
            raise UserError("give either --version or --bump, not both", "drop one of them")
        if bump is not None and bump not in BUMPS:
            raise UserError(f"unknown bump {bump!r}", "use --bump major, minor or patch")
        wanted = parse_version(version) if version is not None else None
        sources = _check_sources(paths, self.root)
        for tag in info.tags:
            if not isinstance(tag, str) or not tag.strip() or len(tag) > 100:
                raise UserError(f"invalid tag {tag!r}", "tags are short non-empty strings")
        lifecycle = self.lifecycle()
        actor = info.created_by or self.actor()
        with self.store.locked():
            self.store.require_branch(lifecycle)
            self.store.require_clean()
            manifests, model = self.store.model_manifests(name)
            existing = [parse_version(v) for v in manifests]
            new = wanted if wanted is not None else next_version(existing, bump)
            ver = str(new)
            if ver in manifests or any(v == new for v in existing):
                raise UserError(f"{name} {ver} is already registered",
                                f"use --bump or a new --version (latest is {max(existing)})")
            vdir = self.root / MODELS_DIR / name / ver
            if vdir.exists():
                raise ConflictError(f"{vdir.relative_to(self.root)} already exists but is not committed",
                                    "remove it or commit it first")
            previous = max((v for v in existing if v < new), default=None)
            if previous is not None and info.signature is not None:
                prev_sig = manifests[str(previous)].get("signature")
                if prev_sig is not None and prev_sig != info.signature and bump_kind(previous, new) != "major":
                    raise PolicyError(
                        f"the signature of {name} {ver} differs from {previous}'s, so a MAJOR "
                        f"bump is required ({bump_kind(previous, new)} given)",
                        f"register it as {previous.bump('major')} (--bump major)")
            now = self.clock()
            seq = ev.max_seq(manifests.values()) + 1
            manifest = _build_manifest(name, ver, info, actor, now, seq)
            pre = [m for p, m in schema.errors(schema.MANIFEST, {**manifest, "artifacts": [
                {"path": "x", "md5": "0" * 32, "size": 0}]})]
            if pre:
                raise UserError(f"the manifest for {name} {ver} would be invalid: {pre[0]}",
                                "fix the metadata you gave")
            change = Change(self.store, name)
            change.track_dir(vdir)
            change.extra_paths.append(DVC_YAML)
            if model is None or _model_updates(model, info):
                change.write(model_file_path(name), yamlio.dump(_model_file(name, model, info, now)))
            target_box: list[Path] = []

            def prepare() -> None:
                vdir.mkdir(parents=True)
                target = _copy_artifacts(sources, vdir, progress)
                target_box.append(target)
                added = dvc.add(self.root, [target], self.env, show_progress=progress is not None)
                manifest["artifacts"] = [
                    {"path": a.path, "md5": a.md5, "size": a.size,
                     **({"nfiles": a.nfiles} if a.nfiles else {})} for a in added
                ]
                problems = schema.errors(schema.MANIFEST, manifest, self._extra_validator())
                if problems:
                    raise UserError(f"the manifest for {name} {ver} is invalid: {problems[0][1]}",
                                    "fix the metadata you gave")
                yamlio.write_atomic(vdir / MANIFEST_FILE, yamlio.dump(mf.ordered(manifest)))
                _update_dvc_yaml(self.root, name, f"{MODELS_DIR}/{name}/{ver}/{target.name}", info)

            tag_msg = _tag_message(f"register {name} {ver}", "register", actor, seq,
                                   reason=info.description)
            change.tags.append(PlannedTag(register_tag(name, ver), None, tag_msg))
            message = _commit_message("register", name, ver, None, None, [seq], info.description)
            commit, tags = change.run(message, prepare, sign=sign, now=_epoch(self.clock))
            result = Result("register", name, ver, commit, tags, [seq],
                            f"registered {name} {ver} ({_size_text(manifest['artifacts'])})")
            if push:
                self._push(result, [target_box[0]])
            return result

    def _extra_validator(self) -> Any:
        extra = self.lifecycle().extra_schema
        if not extra:
            return None
        path = (self.root / extra).resolve()
        if self.root.resolve() not in path.parents:
            raise UserError(f"gitreg.yaml extra_schema {extra!r} is outside the registry",
                            "give a path inside the repository")
        raw = yamlio.load_file(path, extra)
        try:
            return schema.validator_for(raw)
        except Exception as exc:  # jsonschema.SchemaError
            raise UserError(f"{extra}: not a valid JSON Schema ({str(exc).splitlines()[0]})",
                            "fix the schema file named by extra_schema") from None

    # -- validate ----------------------------------------------------------------------
    def validate(self, paths: Sequence[str] = (), base: str | None = None) -> Any:
        """Validate manifests; the report's .problems are `path:line:col: message` lines."""
        from gitreg import validate as v

        try:
            lifecycle: Lifecycle | None = self.lifecycle()
        except UserError:
            lifecycle = None
        extra = self._extra_validator() if lifecycle else None
        return v.validate(self.store, lifecycle, paths, base=base, extra=extra)

    # -- push --------------------------------------------------------------------------
    def _push(self, result: Result, artifacts: Sequence[Path] = ()) -> None:
        remote = "origin"
        if self.git.remote_url(remote) is None:
            raise UserError(f"{result.action} done locally, but there is no git remote 'origin' to push to",
                            "add one with `git remote add origin URL`, then `git push --follow-tags`")
        if artifacts:
            dvc.push(self.root, artifacts, self.env)
        branch = self.git.current_branch()
        refspecs = [f"refs/heads/{branch}:refs/heads/{branch}"] + [f"refs/tags/{t}:refs/tags/{t}" for t in result.tags]
        proc = self.git.push(remote, refspecs)
        if proc.returncode != 0:
            raise ConflictError(
                f"{result.action} {result.name} {result.version} is committed locally, but the push "
                f"was rejected: {(proc.stderr.strip().splitlines() or ['remote refused'])[-1]}",
                "run `git pull --rebase` then `git push --follow-tags`, or `gitreg doctor --fix` after pulling")
        result.pushed = True


# -- helpers ---------------------------------------------------------------------------
_CONFIG_HEADER = (
    "# gitreg registry configuration (schema: schemas/config.schema.json)\n"
    "# stages: display order; transitions: from -> allowed targets (\"none\" = unassigned);\n"
    "# exclusive: one holder at a time, promoting archives the old one;\n"
    "# policies: gates per target stage (from, approvals, metrics, via_pull_request).\n"
)


def _epoch(clock: Callable[[], datetime]) -> Callable[[], float]:
    return lambda: clock().timestamp()


def _versions_text(manifests: Mapping[str, Any]) -> str:
    versions = sorted(manifests, key=parse_version)
    return ", ".join(versions[-8:]) if versions else "none"


def _event_tag(name: str, e: ev.Event) -> str | None:
    if e.action == ev.REGISTER:
        return register_tag(name, e.version)
    if e.action in ev.MOVES:
        if e.target and e.target != NONE_STAGE:
            return assign_tag(name, e.target, e.seq)
        if e.source and e.source != NONE_STAGE:
            return unassign_tag(name, e.source, e.seq)
    return None


def _commit_message(action: str, name: str, version: str, source: str | None, target: str | None,
                    seqs: Sequence[int], reason: str | None, extra: Mapping[str, str] | None = None) -> str:
    subject = f"gitreg: {action} {name} {version}"
    if source is not None and target is not None:
        subject += f" {source} -> {target}"
    body = ""
    if reason:
        body = " ".join(reason.split())[:2000] + "\n\n"
    trailers = [f"Gitreg-Action: {action}", f"Gitreg-Model: {name}", f"Gitreg-Version: {version}"]
    trailers += [f"Gitreg-Seq: {s}" for s in seqs]
    for key, value in (extra or {}).items():
        trailers.append(f"{key}: {' '.join(str(value).split())}")
    return f"{subject}\n\n{body}" + "\n".join(trailers) + "\n"


def _tag_message(summary: str, action: str, actor: str, seq: int, reason: str | None = None,
                 approved_by: Sequence[str] | str | None = None) -> str:
    lines = [summary, "", f"Gitreg-Action: {action}", "Gitreg-Commit: {commit}",
             f"Gitreg-Actor: {actor}", f"Gitreg-Seq: {seq}"]
    if reason:
        lines.append(f"Gitreg-Reason: {' '.join(reason.split())[:2000]}")
    if approved_by:
        who = approved_by if isinstance(approved_by, str) else ", ".join(approved_by)
        lines.append(f"Gitreg-Approved-By: {who}")
    return "\n".join(lines) + "\n"


def _build_manifest(name: str, version: str, info: VersionInfo, actor: str, now: datetime,
                    seq: int) -> dict[str, Any]:
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
    m["tags"] = list(dict.fromkeys(info.tags))
    if business:
        m["business"] = business
    m["custom"] = dict(info.custom)
    m["stage"] = NONE_STAGE
    m["history"] = [{"seq": seq, "action": ev.REGISTER, "at": rfc3339(now), "by": actor}]
    return m


def _model_updates(model: Mapping[str, Any], info: VersionInfo) -> bool:
    return any(
        value and model.get(key) != value
        for key, value in (("owner", info.owner), ("use_case", info.use_case))
    )


def _model_file(name: str, model: Mapping[str, Any] | None, info: VersionInfo, now: datetime) -> dict:
    out = dict(model or {})
    out.setdefault("schema_version", 1)
    out["name"] = name
    if info.description and "description" not in out:
        out["description"] = info.description
    if info.owner:
        out["owner"] = info.owner
    if info.use_case:
        out["use_case"] = info.use_case
    if info.tags and "tags" not in out:
        out["tags"] = list(dict.fromkeys(info.tags))
    out.setdefault("created_at", rfc3339(now))
    return out


def _check_sources(paths: Sequence[str | Path], root: Path) -> list[Path]:
    if not paths:
        raise UserError("no artifact given", "name the model file(s) or directory to register")
    sources = []
    for p in paths:
        path = Path(p)
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
    if len(sources) > 1 and len(set(names)) != len(names):
        raise UserError("two artifacts have the same file name", "rename one, or register a directory")
    return sources


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


def _update_dvc_yaml(root: Path, name: str, path: str, info: VersionInfo) -> None:
    dvc_yaml = root / DVC_YAML
    data = yamlio.load_file(dvc_yaml, DVC_YAML) if dvc_yaml.exists() else {}
    if not isinstance(data, dict):
        raise UserError(f"{DVC_YAML} is not a mapping", "fix dvc.yaml by hand")
    artifacts = data.get("artifacts") or {}
    entry = {"path": path, "type": "model"}
    if info.description:
        entry["desc"] = " ".join(info.description.split())[:500]
    if info.tags:
        entry["labels"] = list(dict.fromkeys(info.tags))
    artifacts[name] = entry
    data["artifacts"] = artifacts
    yamlio.write_atomic(dvc_yaml, yamlio.dump(data))


def _size_text(artifacts: Sequence[Mapping[str, Any]]) -> str:
    size = sum(int(a.get("size", 0)) for a in artifacts)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


def md5_file(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()



