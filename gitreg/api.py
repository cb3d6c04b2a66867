"""The Python API: `Registry` offers the same verbs as the CLI and returns plain data.

It never prints and never exits; errors are GitregError subclasses with a hint.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from gitreg import yamlio
from gitreg.core.stages import Lifecycle
from gitreg.errors import UserError
from gitreg.git import Git
from gitreg.ops import aliases, approvals, ci_check, ci_publish, codeowners, consume, reads, stages
from gitreg.ops import annotate as annotate_ops
from gitreg.ops import deprecate as deprecation
from gitreg.ops import get as get_op
from gitreg.ops import init as init_ops
from gitreg.ops import register as register_ops
from gitreg.ops import rollback as rollbacks
from gitreg.ops.ci_report import CheckReport, PublishReport
from gitreg.ops.site import build as site_pages
from gitreg.ops.context import Context, utc_now
from gitreg.ops.results import InitResult, Progress, Result, VersionInfo
from gitreg.store import Store


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
        return init_ops.init(path, dvc_remote=dvc_remote, dvc_remote_options=dvc_remote_options,
                             remote=remote, github=github, env=env, github_package=github_package)

    @classmethod
    def adopt_repository(cls, path: str | Path = ".", *, env: Mapping[str, str] | None = None,
                         push: bool = False) -> Result:
        """Make a GTO-only repository (gto tags, dvc.yaml artifacts) a registry, in one commit."""
        from gitreg.ops import adopt_repo

        return adopt_repo.adopt_repository(path, env=env, push=push)  # type: ignore[no-any-return]

    # -- reads ------------------------------------------------------------------------
    def lifecycle(self) -> Lifecycle:
        return self.store.lifecycle()

    def _model(self, name: str) -> tuple[dict[str, dict], dict | None]:
        return reads.find_model(self.ctx, name)

    def list_models(self, stage: str | None = None, include_deprecated: bool = False) -> dict[str, Any]:
        return reads.list_models(self.ctx, stage, include_deprecated)

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
        return register_ops.register(self.ctx, name, paths, info, version=version, bump=bump,
                                     push=push, sign=sign, progress=progress, _attempt=_attempt)

    # -- edits after registration, a model before its first version: ops/annotate.py ----
    def annotate(self, name: str, version: str | None = None, *, description: str | None = None,
                 set_tags: Mapping[str, str] | Sequence[str] | None = None,
                 unset_tags: Sequence[str] = (), reason: str | None = None, push: bool = False,
                 sign: bool = False) -> Result:
        """Change a version's (no version: the model's) description and tags, in history."""
        return annotate_ops.annotate(self.ctx, name, version, description=description,
                                    set_tags=set_tags, unset_tags=unset_tags, reason=reason,
                                    push=push, sign=sign)

    def create(self, name: str, *, description: str | None = None, owner: str | None = None,
               use_case: str | None = None, tags: Mapping[str, str] | Sequence[str] | None = None,
               push: bool = False, sign: bool = False) -> Result:
        """Create a model with no versions yet (MLflow's create_registered_model)."""
        return annotate_ops.create(self.ctx, name, description=description, owner=owner,
                                  use_case=use_case, tags=tags, push=push, sign=sign)

    # -- stage changes: gitreg/ops/stages.py, approvals.py, rollback.py -----------------
    def _registration_commits(self, name: str, versions: Sequence[str]) -> dict[str, str]:
        return reads.registration_commits(self.ctx, name, versions)

    # gitreg/pr.py still calls these three on a Registry; the use cases are in ops/stages.py
    def promote(self, name: str, version: str, stage: str, *, reason: str | None = None,
                keep_existing: bool = False, push: bool = False, sign: bool = False) -> Result:
        """Move a version to a stage (checks transitions and the stage's policy).

        There is no way to pass approvers in: an approval counts only as gitreg's own
        `approve` commit by the approver (or a pull request's reviews and merge).
        """
        return stages.promote(self.ctx, name, version, stage, reason=reason,
                              keep_existing=keep_existing, push=push, sign=sign)

    def deprecate(self, name: str, version: str | None = None, *, reason: str, push: bool = False,
                  sign: bool = False) -> Result:
        """Deprecate a version (GTO's `NAME@vX.Y.Z!`) or, with no version, the model (`NAME@deprecated`)."""
        return deprecation.deprecate(self.ctx, name, version, reason=reason, push=push, sign=sign)

    def undeprecate(self, name: str, version: str | None = None, *, reason: str, push: bool = False,
                    sign: bool = False) -> Result:
        """Reverse a deprecation; GTO's tag is deleted (on origin too with push)."""
        return deprecation.undeprecate(self.ctx, name, version, reason=reason, push=push, sign=sign)

    def request(self, name: str, version: str, stage: str | None = None, *, reason: str,
                results: Mapping[str, Any] | None = None, push: bool = False, sign: bool = False,
                alias: str | None = None) -> Result:
        """Record a pending request to move a version to a stage (or to give it `alias`)."""
        return approvals.request(self.ctx, name, version, stage, reason=reason, results=results,
                                 push=push, sign=sign, alias=alias)

    def approve(self, name: str, version: str, stage: str | None = None, *, reason: str | None = None,
                push: bool = False, sign: bool = False, alias: str | None = None) -> Result:
        """Approve a pending request; with enough approvals the promotion is made (for an
        alias, `alias` then passes its approvals policy)."""
        return approvals.approve(self.ctx, name, version, stage, reason=reason, push=push, sign=sign,
                                 alias=alias)

    def alias(self, name: str, alias: str, version: str, *, reason: str | None = None,
              push: bool = False, sign: bool = False) -> Result:
        """Point an alias (e.g. champion) at a version, moving it from its old holder."""
        return aliases.alias(self.ctx, name, alias, version, reason=reason, push=push, sign=sign)

    def unalias(self, name: str, alias: str, *, reason: str | None = None, push: bool = False,
                sign: bool = False) -> Result:
        """Delete an alias: the version holding it loses it."""
        return aliases.unalias(self.ctx, name, alias, reason=reason, push=push, sign=sign)

    def reject(self, name: str, version: str, stage: str, *, reason: str, push: bool = False,
               sign: bool = False) -> Result:
        """Reject a pending request, recording who and why."""
        return approvals.reject(self.ctx, name, version, stage, reason=reason, push=push, sign=sign)

    def rollback_target(self, name: str, to: str | None = None) -> tuple[str | None, str, dict[str, dict]]:
        """(current holder, target, manifests) of a rollback, or raise why there is none."""
        return rollbacks.rollback_target(self.ctx, name, to)

    def rollback(self, name: str, *, to: str | None = None, reason: str, push: bool = False,
                 sign: bool = False, observed: Mapping[str, Any] | None = None) -> Result:
        """Restore the previous production holder (or --to VERSION); archive the current one."""
        return rollbacks.rollback(self.ctx, name, to=to, reason=reason, push=push, sign=sign,
                                  observed=observed)

    # -- doctor / verify: gitreg/ops/doctor.py -------------------------------------------
    def doctor(self, fix: bool = False, adopt: bool = False, push: bool = False) -> Any:
        """Drift between manifests and tags; fix=True recreates missing tags (never deletes).

        An interrupted change (a crash left its journal under .git) is reported; fix=True
        first finishes it (it was committed: its tags are made) or undoes it (it was not).
        adopt=True first records the tags gto wrote as history, in one commit (push: and pushes it).
        """
        from gitreg.ops import doctor

        return doctor.doctor(self.ctx, fix=fix, adopt_tags=adopt, push=push)

    def verify(self, name: str) -> dict[str, Any]:
        """Check the signatures of a model's tags and of the commits that changed it."""
        from gitreg.ops import doctor

        return doctor.verify(self.ctx, name)

    # -- validate ----------------------------------------------------------------------
    def validate(self, paths: Sequence[str] = (), base: str | None = None) -> Any:
        """Validate manifests; the report's .problems are `path:line:col: message` lines."""
        from gitreg.ops import validate

        return validate.validate(self.ctx, paths, base=base)

    # -- consuming, CI and the site: gitreg/ops/consume.py, get.py, ci_*.py, site/ ---------
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
        """Check the live metrics of the production holder; see gitreg/ops/monitor.py."""
        from gitreg.ops import monitor as monitoring

        source = monitoring.MetricsSource.of(metrics_file, metrics_cmd, timeout)
        return monitoring.run(self.ctx, name, checks, source, rollback=rollback, interval=interval,
                              max_checks=max_checks, push=push, sleep=sleep, on_round=on_round)

    def import_mlflow(self, tracking_uri: str, models: Sequence[str] = (), *,
                      progress: Progress | None = None) -> Any:
        """Import an MLflow registry (sqlite, file store or server): see gitreg/ops/import_mlflow/."""
        from gitreg.ops import import_mlflow

        return import_mlflow.import_mlflow(self.ctx, tracking_uri, models, progress=progress)

    def site(self, out_dir: str | Path, title: str | None = None) -> dict[str, Any]:
        """Write the static dashboard into out_dir; returns what was written."""
        return site_pages.site(self.ctx, out_dir, title)

    def write_plot(self, compare: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
        """Write the metric charts of a `compare()` result as one SVG file (compare --plot)."""
        return site_pages.write_plot(self.ctx, compare, path)
