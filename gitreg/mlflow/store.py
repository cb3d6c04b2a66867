"""GitregRegistryStore: MLflow's registry store for `gitreg:///PATH` URIs (issue 15).

Every installed plugin is imported by every MLflow process, so gitreg's own modules are
imported inside the methods. MLflow caches one store per (registry URI, tracking URI) and
may share it between threads or pickle it: nothing is kept between calls but the path, and
each call reads the registry afresh (one snapshot, a constant number of git processes).

Every method of MLflow's AbstractStore is here: implemented, or refused with an
MlflowException saying why (gitreg never deletes what is registered; prompts and webhooks
are not a model registry's records in gitreg).
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import unquote, urlparse

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry.abstract_store import AbstractStore

from gitreg.mlflow.errors import bad, exists, refused, translated

SCHEME = "gitreg"
_NEVER_DELETED = ("gitreg never deletes what is registered: its history is the audit trail "
                  "(deprecate a version or model with `gitreg deprecate` instead)")


def registry_path(store_uri: str) -> str:
    """The directory of `gitreg:///abs/path` (or `gitreg:relative/path`)."""
    parsed = urlparse(store_uri or "")
    if parsed.scheme != SCHEME:
        raise MlflowException(f"not a gitreg registry URI: {store_uri!r} (write gitreg:///PATH)",
                              INVALID_PARAMETER_VALUE)
    if parsed.netloc and parsed.netloc != "localhost":
        raise MlflowException(f"{store_uri!r}: a gitreg registry is a local path (gitreg:///PATH)",
                              INVALID_PARAMETER_VALUE)
    path = unquote(parsed.path or "")
    if not path:
        raise MlflowException(f"{store_uri!r} names no directory (write gitreg:///PATH)",
                              INVALID_PARAMETER_VALUE)
    return path


class GitregRegistryStore(AbstractStore):
    """MLflow's model registry backed by a gitreg registry (a git repository + DVC)."""

    def __init__(self, store_uri: str | None = None, tracking_uri: str | None = None):
        super().__init__(store_uri, tracking_uri)
        self.store_uri = store_uri
        self.tracking_uri = tracking_uri
        self.root = registry_path(store_uri or "")
        self._lock = threading.RLock()

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._lock = threading.RLock()

    # -- the registry, read afresh ----------------------------------------------------
    def _registry(self) -> Any:
        from gitreg.api import Registry

        return Registry(self.root)  # the environment now: GIT_AUTHOR_EMAIL is who acts

    def _model(self, name: str, reg: Any = None) -> Any:
        from gitreg.mlflow import snapshot

        return snapshot.one((reg or self._registry()).ctx, name)

    def _version(self, name: str, version: Any) -> Any:
        from gitreg.mlflow import convert

        state = self._model(name)
        return convert.model_version(state, state.version_of(version))

    # -- registered models -------------------------------------------------------------
    @translated
    def create_registered_model(self, name, tags=None, description=None, deployment_job_id=None):
        from gitreg.mlflow import convert, snapshot

        from gitreg.core.names import check_name

        reg = self._registry()
        if check_name(name) and name in snapshot.read(reg.ctx, name):
            raise exists(f"Registered Model (name={name}) already exists")
        reg.create(name, description=description or None,
                   tags={t.key: t.value for t in tags or []} or None)
        return convert.registered_model(self._model(name))

    @translated
    def update_registered_model(self, name, description, deployment_job_id=None):
        from gitreg.mlflow import convert

        reg = self._registry()
        self._model(name, reg)
        reg.annotate(name, None, description=description or "")
        return convert.registered_model(self._model(name, reg))

    def rename_registered_model(self, name, new_name):
        raise refused(f"cannot rename {name} to {new_name}: a model's name is in its git tags "
                      "and every consumer's references; register under the new name instead")

    def delete_registered_model(self, name):
        raise refused(f"cannot delete registered model {name}: {_NEVER_DELETED}")

    @translated
    def search_registered_models(self, filter_string=None, max_results=None, order_by=None,
                                 page_token=None):
        from mlflow.utils.search_utils import SearchModelUtils

        from gitreg.mlflow import convert, snapshot

        models = [convert.registered_model(s) for s in snapshot.read(self._registry().ctx).values()]
        found = SearchModelUtils.sort(SearchModelUtils.filter(models, filter_string), order_by)
        return _page(found, max_results, page_token)

    @translated
    def get_registered_model(self, name):
        from gitreg.mlflow import convert

        return convert.registered_model(self._model(name))

    @translated
    def get_latest_versions(self, name, stages=None):
        from gitreg.mlflow import convert

        state = self._model(name)
        return [convert.model_version(state, v)
                for v in convert.latest_per_stage(state, stages).values()]

    @translated
    def set_registered_model_tag(self, name, tag):
        reg = self._registry()
        self._model(name, reg)
        reg.annotate(name, None, set_tags={tag.key: tag.value})

    @translated
    def delete_registered_model_tag(self, name, key):
        reg = self._registry()
        self._model(name, reg)
        reg.annotate(name, None, unset_tags=[key])

    # -- model versions ----------------------------------------------------------------
    @translated
    def create_model_version(self, name, source, run_id=None, tags=None, run_link=None,
                             description=None, local_model_path=None, model_id=None):
        from gitreg.mlflow import convert, writes

        reg = self._registry()
        ver = writes.create_version(reg, name, source, run_id=run_id, tags=tags,
                                    run_link=run_link, description=description,
                                    local_model_path=local_model_path, model_id=model_id,
                                    tracking_uri=self.tracking_uri)
        return convert.model_version(self._model(name, reg), ver)

    @translated
    def update_model_version(self, name, version, description):
        reg = self._registry()
        ver = self._model(name, reg).version_of(version)
        reg.annotate(name, ver, description=description or "")
        return self._version(name, version)

    @translated
    def transition_model_version_stage(self, name, version, stage, archive_existing_versions=False):
        from mlflow.entities.model_registry.model_version_stages import (
            DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS, get_canonical_stage,
        )

        from gitreg.mlflow import writes

        if archive_existing_versions and \
                get_canonical_stage(stage) not in DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS:
            raise bad(f"archive_existing_versions needs an active stage "
                      f"({', '.join(DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS)}), not {stage!r}")
        reg = self._registry()
        state = self._model(name, reg)
        writes.transition(reg, state, state.version_of(version), stage,
                          bool(archive_existing_versions))
        return self._version(name, version)

    def delete_model_version(self, name, version):
        raise refused(f"cannot delete version {version} of {name}: {_NEVER_DELETED}")

    @translated
    def get_model_version(self, name, version):
        return self._version(name, version)

    @translated
    def get_model_version_download_uri(self, name, version):
        from gitreg.mlflow import download

        reg = self._registry()
        state = self._model(name, reg)
        return download.exported(reg, state, state.version_of(version))

    @translated
    def search_model_versions(self, filter_string=None, max_results=None, order_by=None,
                              page_token=None):
        from mlflow.utils.search_utils import SearchModelVersionUtils

        from gitreg.mlflow import convert, snapshot

        # MLflow's filters and sorts compare version numbers as integers (as its FileStore's
        # entities carry them); the page handed back has them as strings, like every answer
        versions = [convert.model_version(s, v, numeric=True)
                    for s in snapshot.read(self._registry().ctx).values() for v in s.manifests]
        found = SearchModelVersionUtils.sort(
            SearchModelVersionUtils.filter(versions, filter_string),
            order_by or ["last_updated_timestamp DESC", "name ASC", "version_number DESC"])
        page = _page(found, max_results, page_token)
        for mv in page:
            mv._version = str(mv._version)
        return page

    @translated
    def set_model_version_tag(self, name, version, tag):
        reg = self._registry()
        reg.annotate(name, self._model(name, reg).version_of(version), set_tags={tag.key: tag.value})

    @translated
    def delete_model_version_tag(self, name, version, key):
        reg = self._registry()
        reg.annotate(name, self._model(name, reg).version_of(version), unset_tags=[key])

    @translated
    def set_registered_model_alias(self, name, alias, version):
        reg = self._registry()
        reg.alias(name, alias, self._model(name, reg).version_of(version), reason=_REASON)

    @translated
    def delete_registered_model_alias(self, name, alias):
        reg = self._registry()
        self._model(name, reg)
        reg.unalias(name, alias, reason=_REASON)

    @translated
    def get_model_version_by_alias(self, name, alias):
        from gitreg.mlflow import convert

        state = self._model(name)
        for ver, manifest in state.manifests.items():
            if alias in (manifest.get("aliases") or []):
                return convert.model_version(state, ver)
        raise MlflowException(f"Registered model alias {alias} not found.", RESOURCE_DOES_NOT_EXIST)

    def copy_model_version(self, src_mv, dst_name):
        """AbstractStore's: create_registered_model, then create_model_version from
        `models:/SRC/N`, which this store downloads (md5-checked) and registers."""
        return super().copy_model_version(src_mv, dst_name)

    def supports_workspaces(self) -> bool:
        return False


_REASON = "set through MLflow's model registry"


def _page(items: list, max_results: Any, page_token: Any) -> PagedList:
    """MLflow's paging: an offset in the page token (mlflow's own SearchUtils tokens)."""
    from mlflow.utils.search_utils import SearchUtils

    limit = 100 if max_results is None else max_results
    if not isinstance(limit, int) or limit < 1:
        raise bad(f"max_results must be a positive integer, not {max_results!r}")
    start = SearchUtils.parse_start_offset_from_page_token(page_token)
    end = start + limit
    return PagedList(items[start:end], SearchUtils.create_page_token(end) if end < len(items) else None)


def _refuse(what: str) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise refused(f"{what} are not kept in a gitreg registry (it holds models only); "
                      "use another MLflow registry for them")
    method.__name__ = what
    return method


# AbstractStore implements prompts and webhooks on top of model versions and tags; a
# gitreg registry refuses them rather than store prompts as models.
_PROMPTS = ("create_prompt", "search_prompts", "delete_prompt", "set_prompt_tag",
            "delete_prompt_tag", "get_prompt", "create_prompt_version", "get_prompt_version",
            "delete_prompt_version", "get_prompt_version_by_alias", "set_prompt_alias",
            "delete_prompt_alias", "search_prompt_versions", "link_prompts_to_trace",
            "set_prompt_version_tag", "delete_prompt_version_tag",
            "link_prompt_version_to_model", "link_prompt_version_to_run")
_WEBHOOKS = ("create_webhook", "get_webhook", "list_webhooks", "list_webhooks_by_event",
             "update_webhook", "delete_webhook", "test_webhook")
for _name in _PROMPTS:
    setattr(GitregRegistryStore, _name, _refuse("prompts"))
for _name in _WEBHOOKS:
    setattr(GitregRegistryStore, _name, _refuse("webhooks"))
