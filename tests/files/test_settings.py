"""Git's config is read once per change (gitreg.git.settings, issue 16), and a long-lived
Registry (the MLflow store, the Python API) sees an edit of it at its next change."""

from __future__ import annotations

from typing import Any

import pytest

from gitreg import Registry
from gitreg.git import settings, treeobj
from gitreg.git.repo import Git
from tests.conftest import git


def _config_reads(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    seen: list[list[str]] = []
    real = Git.run

    def run(self: Git, args: Any, *a: Any, **k: Any) -> Any:
        if list(args)[:1] == ["config"]:
            seen.append(list(args))
        return real(self, args, *a, **k)

    monkeypatch.setattr(Git, "run", run)
    return seen


def test_one_change_reads_the_config_once(repo, make_artifact, monkeypatch):
    reg = Registry(repo)
    reg.register("churn", [make_artifact()], version="1.0.0")
    seen = _config_reads(monkeypatch)
    reg.promote("churn", "1.0.0", "staging", reason="r")
    assert seen == [["config", "-z", "--list"]]


def test_an_edit_of_the_config_is_seen_at_the_next_change(repo, make_artifact, monkeypatch):
    reg = Registry(repo)
    reg.register("churn", [make_artifact()], version="1.0.0")
    by_git: list[Any] = []
    real = treeobj.git_write_trees
    monkeypatch.setattr(treeobj, "git_write_trees", lambda *a: by_git.append(a) or real(*a))
    reg.promote("churn", "1.0.0", "staging", reason="r")
    assert not by_git  # written here
    git(repo, "config", "core.looseCompression", "9")
    reg.promote("churn", "1.0.0", "archived", reason="r")
    assert by_git  # the same Registry, the new config: git writes the trees
    assert git(repo, "status", "--porcelain") == ""


def test_outside_a_change_every_call_reads_afresh(repo):
    g = Git(repo)
    assert settings.values(g) is not None and "core.looseCompression".lower() not in settings.values(g)
    git(repo, "config", "core.looseCompression", "9")
    assert settings.matching(g, r"^core\.loosecompression$") == {"core.loosecompression": "9"}
    with settings.once(g):
        first = settings.values(g)
        git(repo, "config", "core.looseCompression", "1")
        assert settings.values(g) == first  # kept for the change
    assert settings.matching(g, r"^core\.loosecompression$") == {"core.loosecompression": "1"}
