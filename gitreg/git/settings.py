"""Git's config as one change sees it: read once, not once per question (issue 16).

A change asks git's config several things (core.ignoreCase for the clean check, what
changes how the index and loose objects are written); each `git config` process costs
2 ms or more in a big repository. Inside `once(git)` (a change under the registry lock)
the whole config is read by one `git config -z --list` and kept until the change ends,
so a long-lived process (the MLflow store, the Python API) sees any later edit of the
config at its next change. Outside it, every call reads the config afresh.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from gitreg.git.repo import Git

_KEPT = "_config_kept"


@contextmanager
def once(git: Git) -> Iterator[None]:
    setattr(git, _KEPT, {})
    try:
        yield
    finally:
        setattr(git, _KEPT, None)


def values(git: Git) -> dict[str, str] | None:
    """{key: value} of every setting (keys as git prints them: section and name in lower
    case; the last value of a key wins), or None when git cannot read its config."""
    kept = getattr(git, _KEPT, None)
    if kept:
        return kept["all"]  # type: ignore[no-any-return]
    proc = git.run(["config", "-z", "--list"], check=False)
    found: dict[str, str] | None = None
    if proc.returncode == 0:
        found = {}
        for item in proc.stdout.split("\x00"):
            key, _, value = item.partition("\n")
            if key:
                found[key] = value
    if kept is not None:
        kept["all"] = found
    return found


def matching(git: Git, pattern: str) -> dict[str, str] | None:
    """The settings whose key matches `pattern` (a regular expression, searched in the
    lower-cased key), or None when git cannot read its config."""
    found = values(git)
    if found is None:
        return None
    rx = re.compile(pattern)
    return {k: v for k, v in found.items() if rx.search(k.lower())}
