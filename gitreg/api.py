"""The Python API: `Registry` offers the same verbs as the CLI and returns plain data.

It never prints and never exits; errors are GitregError subclasses with a hint.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from gitreg import dvc, schema, yamlio
from gitreg.ops import ci_check, ci_publish, codeowners, consume
from gitreg.ops import get as get_op
from gitreg.ops.ci_report import CheckReport, PublishReport
from gitreg.ops.site import build as site_pages
from gitreg.core import events as ev
from gitreg.core import manifest as mf
from gitreg.core import policy
from gitreg.core.messages import commit_message as _commit_message
from gitreg.core.messages import tag_message as _tag_message
from gitreg.core.messages import tag_summary
from gitreg.core.policy import require_signature
from gitreg.core.timefmt import rfc3339
from gitreg.core.names import NONE_STAGE, check_name
from gitreg.core.stages import DEFAULT_CONFIG, Lifecycle
from gitreg.core.tags import register_tag
from gitreg.core.version import BUMPS, bump_kind, next_version, parse_version
from gitreg.errors import ConflictError, NotFoundError, PolicyError, UserError
from gitreg.git import Git, find_root
from gitreg.ops import reads, sync
from gitreg.ops.register import (
    _build_manifest, _check_sources, _copy_artifacts, _model_file, _model_updates, _size_text,
    _update_dvc_yaml,
)
from gitreg.ops.context import Context, utc_now
from gitreg.ops.results import InitResult, Progress, Result, VersionInfo
from gitreg.ops.sync import PUSH_ATTEMPTS, PushRaceLost
from gitreg.ops.sync import backoff as _backoff
from gitreg.store import (
    CONFIG_FILE, DVC_YAML, MANIFEST_FILE, MODELS_DIR, Change, PlannedTag, Store,
    manifest_path, model_file_path,
)

def load_metrics_file(path: Path) -> tuple[dict[str, float], list[str]]:
    from gitreg import metrics_file

    return metrics_file.load(Path(path))


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
        self.ctx = Context.open(path, env=env, clock=clock, actor=actor)

    # the context's parts, for callers of the facade (and tests) that read them
    @property
    def root(self) -> Path:
        return self.ctx.root

    @property
    def env(self) -> Mapping[str, str] | None:
        return self.ctx.env

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.ctx.clock

    @property
    def git(self) -> Git:
        return self.ctx.git

    @property
    def store(self) -> Store:
        return self.ctx.store

    @property
    def cache(self) -> dict[str, Any]:
        return self.ctx.cache

    def actor(self) -> str:
        return self.ctx.actor()

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
        github_package: str | None = None,
    ) -> InitResult:
        from gitreg import templates

        # what the workflows install: checked before anything is touched
        package = templates.check_package_spec(github_package) if github_package is not None else None
        root = Path(path).resolve()
        if root.exists() and not root.is_dir():
            raise UserError(f"{root} is a file", "give a directory for the registry")
        # init ends with a commit: without an identity git refuses it, so ask first, before
        # anything is written
        probe = next(p for p in (root, *root.parents) if p.is_dir())
        if Git(probe, env).identity()[1] is None:
            raise UserError("git has no identity here, so gitreg cannot record who made the registry",
                            "run `git config --global user.email you@example.com` and "
                            "`git config --global user.name 'Your Name'` (or set GIT_AUTHOR_EMAIL)")
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
                        git.run(["remote", "add", "--", "origin", remote])
                    else:
                        git.run(["remote", "set-url", "--", "origin", remote])
                    changed.append(f"git remote origin {remote}")
            if github:
                changed += templates.write_github(root, package)
            commit = None
            paths = [p for p in (CONFIG_FILE, DVC_YAML, ".dvc", ".dvcignore", f"{MODELS_DIR}/.gitkeep",
                                 ".github") if (root / p).exists()]
            git.add(paths)
            staged = git.run(["diff", "--cached", "--quiet", "--", *paths], check=False).returncode
            if staged != 0 or git.head() is None:
                commit = git.commit("gitreg: init registry\n\nGitreg-Action: init\n", paths,
                                    allow_empty=git.head() is None, actor=git.identity()[1])
                if "commit" not in changed:
                    changed.append("commit")
        return InitResult(root, changed, commit)

    # -- reads ------------------------------------------------------------------------
    def lifecycle(self) -> Lifecycle:
        return self.store.lifecycle()

    def _model(self, name: str) -> tuple[dict[str, dict], dict | None]:
        return reads.find_model(self.ctx, name)

    def list_models(self, stage: str | None = None) -> dict[str, Any]:
        return reads.list_models(self.ctx, stage)

    def show(self, ref: str) -> dict[str, Any]:
        return reads.show(self.ctx, ref)

    def history(self, name: str) -> dict[str, Any]:
        return reads.history(self.ctx, name)

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
        _attempt: int = 0,
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
        if push:
            sync.require_remote(self)
        with self.store.locked():
            self.store.require_branch(lifecycle)
            self.store.require_clean(model=name)
            manifests, model = self.store.model_manifests(name)
            existing = [parse_version(v) for v in manifests]
            new = wanted if wanted is not None else next_version(existing, bump)
            ver = str(new)
            if ver in manifests or any(v.precedence() == new.precedence() for v in existing):
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
            change = Change(self.store, name, actor)
            change.track_dir(vdir)
            change.extra_paths.append(DVC_YAML)
            if model is None or _model_updates(model, info):
                change.write(model_file_path(name), yamlio.dump(_model_file(name, model, info, now)))
            target_box: list[Path] = []

            def prepare() -> None:
                vdir.mkdir(parents=True)
                if len(sources) == 1 and sources[0].is_file():
                    # one file: DVC copies it from the user's path into its cache and the
                    # version directory; a copy of gitreg's own first cost 1/3 more (issue 6)
                    target = vdir / sources[0].name
                    target_box.append(target)
                    total = sources[0].stat().st_size
                    if progress:
                        progress(sources[0].name, 0, total)
                    added = dvc.add(self.root, [target], self.env, show_progress=progress is not None,
                                    source=sources[0])
                    if progress:
                        progress(sources[0].name, total, total)
                else:
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
            cache_before = dvc.cache_listing(self.root)
            try:
                commit, tags = change.run(message, prepare, sign=sign, now=_epoch(self.clock))
            except BaseException:
                # nothing refers to the objects this failed register put into the DVC cache
                dvc.remove_new_objects(self.root, cache_before)
                raise
            result = Result("register", name, ver, commit, tags, [seq],
                            f"registered {name} {ver} ({_size_text(manifest['artifacts'])})")
            if push:
                try:
                    sync.push(self, result, [target_box[0]])
                except PushRaceLost:
                    # this clone now matches origin: re-check the version there and re-apply
                    if _attempt + 1 >= PUSH_ATTEMPTS:
                        raise
                    if wanted is not None and ver in self.store.model_manifests(name)[0]:
                        raise ConflictError(
                            f"{name} {ver} was registered on origin by someone else meanwhile; "
                            "this clone's commit was undone and it now matches origin",
                            "register it under a new --version, or use --bump") from None
                    _backoff(_attempt)
                    return self.register(name, paths, info, version=version, bump=bump, push=True,
                                         sign=sign, progress=progress, _attempt=_attempt + 1)
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
            return schema.validator_for(raw, path, self.root)  # $refs: files in the repo only
        except UserError:
            raise
        except Exception as exc:  # jsonschema.SchemaError
            raise UserError(f"{extra}: not a valid JSON Schema ({str(exc).splitlines()[0]})",
                            "fix the schema file named by extra_schema") from None

    # -- stage changes -----------------------------------------------------------------
    def _registration_commits(self, name: str, versions: Sequence[str]) -> dict[str, str]:
        return reads.registration_commits(self.ctx, name, versions)

    def _backed_approvers(self, name: str, manifests: Mapping[str, dict], version: str, stage: str,
                          signed: bool) -> set[str]:
        from gitreg import provenance

        prov = provenance.read(self.git, [name], signatures=signed)
        return provenance.backed_approvers(ev.model_events(manifests.values()), prov, name, version,
                                           stage, signed=signed)

    def _version(self, name: str, version: str) -> tuple[str, dict[str, dict]]:
        ver = str(parse_version(version))
        manifests, _ = self._model(name)
        if ver not in manifests:
            raise NotFoundError(f"{name} has no version {ver}",
                                f"registered versions: {reads.versions_text(manifests)}")
        return ver, manifests

    def _commit_moves(
        self,
        name: str,
        manifests: dict[str, dict],
        steps: list[dict[str, Any]],
        *,
        action: str,
        version: str,
        source: str | None,
        target: str | None,
        reason: str | None,
        actor: str,
        sign: bool,
        approvals: Mapping[str, dict | None] | None = None,
        extra_trailers: Mapping[str, str] | None = None,
        branch_commit: Callable[[Change], None] | None = None,
    ) -> Result:
        """Append history steps (each {version, action, from?, to?, ...}) in one commit with tags."""
        now = rfc3339(self.clock())
        seq = ev.max_seq(manifests.values())
        changed: dict[str, dict] = {}
        planned: list[PlannedTag] = []
        seqs: list[int] = []
        for step in steps:
            seq += 1
            seqs.append(seq)
            ver = step["version"]
            m = changed.setdefault(ver, json.loads(json.dumps(manifests[ver])))
            entry: dict[str, Any] = {"seq": seq, "action": step["action"]}
            for key in ("from", "to"):
                if step.get(key) is not None:
                    entry[key] = step[key]
            entry["at"] = now
            entry["by"] = actor
            for key in ("reason", "approved_by", "requested_by", "replaced_by", "results", "observed"):
                if step.get(key) not in (None, "", [], {}):
                    entry[key] = step[key]
            m.setdefault("history", []).append(entry)
            if step["action"] in ev.MOVES:
                m["stage"] = step["to"]
        # the tags come from replaying the whole model: a re-assertion names the holder left behind
        new_tags = [t for t in ev.model_tags(name, ev.model_events({**manifests, **changed}.values()))
                    if t.seq in seqs and t.kind != ev.REGISTER]
        reg_commits = self._registration_commits(name, sorted({t.version for t in new_tags}))
        for t in new_tags:
            if t.version not in reg_commits:
                raise ConflictError(f"cannot find the registration commit of {name} {t.version}",
                                    "run `gitreg doctor` to inspect the registry")
            planned.append(PlannedTag(t.tag, reg_commits[t.version], _tag_message(
                tag_summary(name, t), t.event.action, actor, t.seq, t.event.data.get("reason"),
                t.event.data.get("approved_by"))))
        for ver, approval in (approvals or {}).items():
            m = changed.setdefault(ver, json.loads(json.dumps(manifests[ver])))
            if approval is None:
                m.pop("approval", None)
            else:
                m["approval"] = approval
        extra = self._extra_validator()
        change = Change(self.store, name, actor)
        for ver, m in changed.items():
            problems = schema.errors(schema.MANIFEST, m, extra)
            if problems:
                raise UserError(f"the change would make {name} {ver}'s manifest invalid: {problems[0][1]}",
                                "check the reason and results you gave")
            change.write(manifest_path(name, ver), yamlio.dump(mf.ordered(m)))
        change.tags = planned
        message = _commit_message(action, name, version, source, target, seqs, reason, extra_trailers)
        if branch_commit is not None:
            branch_commit(change)
        commit, tags = change.run(message, sign=sign, now=_epoch(self.clock))
        return Result(action, name, version, commit, tags, seqs)

    def _stage_context(self, sign: bool, name: str | None = None) -> tuple[Lifecycle, str]:
        lifecycle = self.lifecycle()
        actor = self.actor()
        self.store.require_branch(lifecycle)
        self.store.require_clean(model=name)
        return lifecycle, actor

    def _promotion_steps(self, lifecycle: Lifecycle, manifests: dict[str, dict], ver: str, target: str,
                         keep_existing: bool, reason: str | None, approved_by: list[str] | None,
                         action: str = ev.PROMOTE) -> list[dict[str, Any]]:
        current = manifests[ver].get("stage") or NONE_STAGE
        steps: list[dict[str, Any]] = []
        others = [v for v in ev.stage_holders(manifests.values()).get(target, []) if v != ver]
        if lifecycle.is_exclusive(target) and others:
            if keep_existing:
                raise PolicyError(
                    f"{target} is exclusive in gitreg.yaml, so --keep-existing cannot keep {others[0]} there",
                    "drop --keep-existing (the old holder is archived), or remove the stage from exclusive:")
            archive = lifecycle.archive_stage
            if archive is None:
                raise PolicyError(f"{target} is exclusive but gitreg.yaml names no archive_stage",
                                  "set archive_stage: in gitreg.yaml")
            for other in others:
                if not lifecycle.allowed(target, archive):
                    raise PolicyError(f"archiving {other} needs {target} -> {archive}, which gitreg.yaml forbids",
                                      f"allow it under transitions.{target}")
                steps.append({"version": other, "action": ev.ARCHIVE, "from": target, "to": archive,
                              "reason": f"replaced by {ver}" + (f": {reason}" if reason else ""),
                              "replaced_by": ver})
        steps.append({"version": ver, "action": action, "from": current, "to": target,
                      "reason": reason, "approved_by": approved_by})
        return steps

    def promote(self, name: str, version: str, stage: str, *, reason: str | None = None,
                keep_existing: bool = False, push: bool = False, sign: bool = False,
                _attempt: int = 0) -> Result:
        """Move a version to a stage (checks transitions and the stage's policy).

        There is no way to pass approvers in: an approval counts only as gitreg's own
        `approve` commit by the approver (or a pull request's reviews and merge).
        """
        check_name(name)
        if push:
            sync.require_remote(self)
        with self.store.locked():
            lifecycle, actor = self._stage_context(sign, name)
            target = lifecycle.stage(stage, allow_none=True)
            ver, manifests = self._version(name, version)
            current = manifests[ver].get("stage") or NONE_STAGE
            if current == target:
                raise UserError(f"{name} {ver} is already in {target}", "nothing to do")
            pol = lifecycle.policy(target)
            if pol.via_pull_request:
                raise PolicyError(
                    f"{target} is changed only through a reviewed pull request (via_pull_request in gitreg.yaml)",
                    f"run `gitreg promote {name} {ver} {target} --via-pr`")
            require_signature(lifecycle, target, sign)
            violations = policy.promotion_violations(
                lifecycle, current, target, manifests[ver].get("metrics") or {},
                approvers=[], requester=actor, check_gates=target != NONE_STAGE)
            if violations:
                hint = "fix what is listed, or change the policy in gitreg.yaml"
                if any("approval" in v for v in violations):
                    hint = (f"ask for approval: `gitreg request {name} {ver} {target} --reason ...`, "
                            "then another person runs `gitreg approve`")
                raise PolicyError(f"cannot promote {name} {ver} to {target}: " + "; ".join(violations),
                                  hint, violations)
            steps = self._promotion_steps(lifecycle, manifests, ver, target, keep_existing, reason,
                                          None)
            approval = manifests[ver].get("approval")
            approvals = None
            if approval and approval.get("status") == "pending" and approval.get("stage") == target:
                # a direct promotion into a stage with no approvals policy settles the request
                # as the promoter's own approval; that promote commit is authored by them
                approvals = {ver: {**approval, "status": "approved", "approver": actor,
                                   "date": rfc3339(self.clock())}}
            result = self._commit_moves(name, manifests, steps, action="promote", version=ver,
                                        source=current, target=target, reason=reason, actor=actor,
                                        sign=sign, approvals=approvals)
            archived = [s["version"] for s in steps if s["action"] == ev.ARCHIVE]
            result.message = f"promoted {name} {ver}: {current} -> {target}" + (
                f"; archived {', '.join(archived)}" if archived else "")
            result.details = {"from": current, "to": target, "archived": archived}
            if push:
                try:
                    sync.push(self, result)
                except PushRaceLost as lost:
                    # another clone changed this model first: refuse (exactly one wins);
                    # unrelated commits on origin: re-apply on top of them
                    if lost.touched or _attempt + 1 >= PUSH_ATTEMPTS:
                        raise
                    _backoff(_attempt)
                    return self.promote(name, version, stage, reason=reason, keep_existing=keep_existing,
                                        push=True, sign=sign, _attempt=_attempt + 1)
            return result

    def request(self, name: str, version: str, stage: str, *, reason: str,
                results: Mapping[str, Any] | None = None, push: bool = False, sign: bool = False) -> Result:
        """Record a pending request to move a version to a stage (the seed's approval workflow)."""
        check_name(name)
        if not reason or not reason.strip():
            raise UserError("a request needs --reason", "say why this version should move")
        if push:
            sync.require_remote(self)
        with self.store.locked():
            lifecycle, actor = self._stage_context(sign, name)
            target = lifecycle.stage(stage)
            ver, manifests = self._version(name, version)
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
                        "requested_at": rfc3339(self.clock()), "reason": reason,
                        "results": dict(results or {}), "approvers": []}
            if not approval["results"]:
                del approval["results"]
            steps = [{"version": ver, "action": ev.REQUEST, "from": current, "to": target,
                      "reason": reason, "results": dict(results or {})}]
            result = self._commit_moves(name, manifests, steps, action="request", version=ver,
                                        source=current, target=target, reason=reason, actor=actor,
                                        sign=sign, approvals={ver: approval})
            need = lifecycle.policy(target).approvals
            who = f"from someone other than {actor}" if need else "(the requester may approve)"
            result.message = (f"requested {name} {ver}: {current} -> {target}; "
                              f"needs {max(need, 1)} approval(s) {who}")
            result.details = {"from": current, "to": target, "status": "pending"}
            if push:
                sync.push(self, result)
            return result

    def approve(self, name: str, version: str, stage: str, *, reason: str | None = None,
                push: bool = False, sign: bool = False) -> Result:
        """Approve a pending request; with enough approvals the promotion is made."""
        check_name(name)
        if push:
            sync.require_remote(self)
        with self.store.locked():
            lifecycle, actor = self._stage_context(sign, name)
            target = lifecycle.stage(stage)
            ver, manifests = self._version(name, version)
            approval = manifests[ver].get("approval") or {}
            if approval.get("status") != "pending" or approval.get("stage") != target:
                raise UserError(f"there is no pending request to move {name} {ver} to {target}",
                                f"ask for one first: `gitreg request {name} {ver} {target} --reason ...`")
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
            backed = self._backed_approvers(name, manifests, ver, target, pol.require_signed)
            if actor in backed:
                raise UserError(f"{actor} has already approved this request",
                                "another person must approve")
            approvers = [a for a in approval.get("approvers", []) if a in backed] + [actor]
            current = manifests[ver].get("stage") or NONE_STAGE
            enough = len({a for a in approvers if a != requester or not pol.approvals}) >= max(pol.approvals, 1)
            steps: list[dict[str, Any]] = [{"version": ver, "action": ev.APPROVE, "from": current,
                                            "to": target, "reason": reason,
                                            "requested_by": requester}]
            new_approval = {**approval, "approvers": approvers}
            if enough:
                require_signature(lifecycle, target, sign)
                violations = policy.promotion_violations(
                    lifecycle, current, target, manifests[ver].get("metrics") or {}, approvers,
                    requester, check_approvals=True)
                if violations:
                    raise PolicyError(f"cannot promote {name} {ver} to {target}: " + "; ".join(violations),
                                      "fix what is listed, or change the policy in gitreg.yaml", violations)
                steps += self._promotion_steps(lifecycle, manifests, ver, target, False,
                                               approval.get("reason"), approvers)
                new_approval.update(status="approved", approver=actor, date=rfc3339(self.clock()))
            result = self._commit_moves(name, manifests, steps, action="approve", version=ver,
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
            if push:
                sync.push(self, result)
            return result

    def reject(self, name: str, version: str, stage: str, *, reason: str, push: bool = False,
               sign: bool = False) -> Result:
        """Reject a pending request, recording who and why."""
        check_name(name)
        if not reason or not reason.strip():
            raise UserError("a rejection needs --reason", "say why the request is rejected")
        if push:
            sync.require_remote(self)
        with self.store.locked():
            lifecycle, actor = self._stage_context(sign, name)
            target = lifecycle.stage(stage)
            ver, manifests = self._version(name, version)
            approval = manifests[ver].get("approval") or {}
            if approval.get("status") != "pending" or approval.get("stage") != target:
                raise UserError(f"there is no pending request to move {name} {ver} to {target}",
                                "nothing to reject")
            current = manifests[ver].get("stage") or NONE_STAGE
            steps = [{"version": ver, "action": ev.REJECT, "from": current, "to": target,
                      "reason": reason, "requested_by": approval.get("requested_by")}]
            new_approval = {**approval, "status": "rejected", "rejected_by": actor,
                            "date": rfc3339(self.clock())}
            result = self._commit_moves(name, manifests, steps, action="reject", version=ver,
                                        source=current, target=target, reason=reason, actor=actor,
                                        sign=sign, approvals={ver: new_approval})
            result.message = f"rejected the request to move {name} {ver} to {target}"
            if push:
                sync.push(self, result)
            return result

    def rollback_target(self, name: str, to: str | None = None) -> tuple[str | None, str, dict[str, dict]]:
        """(current holder, target, manifests) of a rollback, or raise why there is none."""
        lifecycle = self.lifecycle()
        stage = lifecycle.rollback_stage
        manifests, _ = self._model(name)
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
        return current, stack[-1], manifests

    def rollback(self, name: str, *, to: str | None = None, reason: str, push: bool = False,
                 sign: bool = False, observed: Mapping[str, Any] | None = None) -> Result:
        """Restore the previous production holder (or --to VERSION); archive the current one."""
        check_name(name)
        if not reason or not reason.strip():
            raise UserError("a rollback needs --reason", "say why, e.g. --reason 'error rate doubled'")
        if push:
            sync.require_remote(self)
        with self.store.locked():
            lifecycle, actor = self._stage_context(sign, name)
            stage = lifecycle.rollback_stage
            current, target, manifests = self.rollback_target(name, to)
            target_from = manifests[target].get("stage") or NONE_STAGE
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
            result = self._commit_moves(name, manifests, steps, action="rollback", version=target,
                                        source=current or NONE_STAGE, target=stage, reason=reason,
                                        actor=actor, sign=sign)
            result.message = (f"rolled {name} back: {target} holds {stage}"
                              + (f"; {current} archived" if current else ""))
            result.details = {"from": current, "to": target, "stage": stage}
            if push:
                sync.push(self, result)
            return result

    # -- doctor / verify: gitreg/ops/doctor.py -------------------------------------------
    def doctor(self, fix: bool = False) -> Any:
        """Drift between manifests and tags; fix=True recreates missing tags (never deletes).

        An interrupted change (a crash left its journal under .git) is reported; fix=True
        first finishes it (it was committed: its tags are made) or undoes it (it was not).
        """
        from gitreg.ops import doctor

        return doctor.doctor(self.ctx, fix=fix)

    def verify(self, name: str) -> dict[str, Any]:
        """Check the signatures of a model's tags and of the commits that changed it."""
        from gitreg.ops import doctor

        return doctor.verify(self.ctx, name)

    # -- validate ----------------------------------------------------------------------
    def validate(self, paths: Sequence[str] = (), base: str | None = None) -> Any:
        """Validate manifests; the report's .problems are `path:line:col: message` lines."""
        from gitreg.ops import validate

        return validate.validate(self.ctx, paths, base=base)

    # -- consuming, CI and the site: gitreg/consume.py, gitreg/ci.py, gitreg/site.py --------
    def ci_check(self, base: str, *, summary_file: str | Path | None = None) -> CheckReport:
        """Judge the registry changes between `base` and the work tree like a PR check."""
        return ci_check.ci_check(self.ctx, base, summary_file=summary_file)

    def ci_publish(self, *, release: bool = False, actor: str | None = None,
                   push: bool | None = None, notes_dir: str | Path | None = None) -> PublishReport:
        """Create (and push) the tags of merged changes that have none yet; idempotent."""
        return ci_publish.ci_publish(self.ctx, release=release, actor=actor, push=push,
                                     notes_dir=notes_dir)

    def codeowners(self) -> dict[str, Any]:
        """Write .github/CODEOWNERS so each model's directory is owned by its owner."""
        return codeowners.codeowners(self.ctx)

    def resolve(self, ref: str) -> dict[str, Any]:
        """NAME (latest version), NAME@VERSION or NAME#STAGE -> what a deploy script needs."""
        return consume.resolve(self.ctx, ref)

    def get(self, ref: str, out_dir: str | Path = ".", repo_url: str | None = None,
            progress: Progress | None = None) -> dict[str, Any]:
        """Download a version's artifacts into out_dir through DVC and verify their md5."""
        return get_op.get(self.ctx, ref, out_dir, repo_url, progress)

    def compare(self, name: str, metrics: Sequence[str] | None = None, stage: str | None = None,
                lower_is_better: Iterable[str] | None = None) -> dict[str, Any]:
        """Versions side by side (sorted by version) with stage, date and metrics; best per metric."""
        return consume.compare(self.ctx, name, metrics, stage, lower_is_better)

    def best(self, name: str, metric: str, lower_is_better: bool = False) -> dict[str, Any]:
        """The version with the highest (or lowest) value of one metric."""
        return consume.best(self.ctx, name, metric, lower_is_better)

    def monitor(self, name: str, checks: Sequence[str], *, metrics_file: str | Path | None = None,
                metrics_cmd: str | None = None, rollback: bool = False, interval: float = 0.0,
                max_checks: int = 1, timeout: float = 30.0, push: bool = False,
                sleep: Callable[[float], None] = time.sleep,
                on_round: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Check the live metrics of the production holder; see gitreg.monitor."""
        return consume.monitor(self, name, checks, metrics_file=metrics_file, metrics_cmd=metrics_cmd,
                               rollback=rollback, interval=interval, max_checks=max_checks,
                               timeout=timeout, push=push, sleep=sleep, on_round=on_round)

    def site(self, out_dir: str | Path, title: str | None = None) -> dict[str, Any]:
        """Write the static dashboard into out_dir; returns what was written."""
        return site_pages.site(self.ctx, out_dir, title)

    def write_plot(self, compare: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
        """Write the metric charts of a `compare()` result as one SVG file (compare --plot)."""
        return site_pages.write_plot(self.ctx, compare, path)


# -- helpers ---------------------------------------------------------------------------
_CONFIG_HEADER = (
    "# gitreg registry configuration (schema: schemas/config.schema.json)\n"
    "# stages: display order; transitions: from -> allowed targets (\"none\" = unassigned);\n"
    "# exclusive: one holder at a time, promoting archives the old one;\n"
    "# policies: gates per target stage (from, approvals, metrics, via_pull_request).\n"
)


def _epoch(clock: Callable[[], datetime]) -> Callable[[], float]:
    return lambda: clock().timestamp()
