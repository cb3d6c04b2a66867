"""What every use case works on: the registry's root, git, store, clock, actor and environment."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from gitreg.core.stages import Lifecycle
from gitreg.errors import UserError
from gitreg.git import Git, find_repo
from gitreg.store import CONFIG_FILE, Store

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Context:
    """One opened registry. Use cases (gitreg/ops/*) take it as their first argument.

    It holds no state between calls except `cache`, a per-object scratch dict for answers a
    use case may read more than once in one call (GitHub reviews during one `ci check`).
    """

    def __init__(self, root: Path, *, env: Mapping[str, str] | None = None, clock: Clock = utc_now,
                 actor: str | None = None, git: Git | None = None, store: Store | None = None,
                 common_dir: Path | None = None):
        self.root = root
        self.env = env
        self.clock = clock
        self._actor = actor
        self.git = git or Git(root, env)
        self.store = store or Store(root, self.git, common_dir)
        self.cache: dict[str, Any] = {}

    @classmethod
    def open(cls, path: str | Path = ".", *, env: Mapping[str, str] | None = None, clock: Clock = utc_now,
             actor: str | None = None) -> Context:
        """The registry at or above `path`; a one-line UserError when there is none."""
        start = Path(path)
        if not start.exists():
            raise UserError(f"{start}: no such directory", "give the path of a gitreg registry")
        found = find_repo(start, env)
        if found is None:
            raise UserError(f"{start} is not a git repository, so not a gitreg registry",
                            "run `gitreg init` to make one")
        root, common_dir = found
        if not (root / CONFIG_FILE).exists():
            # a GTO repository (its tags name stages and versions): adopted, not started afresh
            gto = any("#" in r.name or "@" in r.name for r in Git(root, env).refs())
            raise UserError(f"{root} is not a gitreg registry (no {CONFIG_FILE})",
                            "it has gto tags: `gitreg init --adopt` makes it a registry from them"
                            if gto else "run `gitreg init` there to make it one")
        return cls(root, env=env, clock=clock, actor=actor, common_dir=common_dir)

    def actor(self) -> str:
        """Who acts: the explicit actor, else git's identity (GIT_AUTHOR_EMAIL or user.email)."""
        if self._actor:
            return self._actor
        _, email = self.git.identity()
        if not email:
            raise UserError("git has no identity here, so gitreg cannot record who acts",
                            "run `git config user.email you@example.com` and "
                            "`git config user.name 'Your Name'` (or set GIT_AUTHOR_EMAIL)")
        return email

    def lifecycle(self) -> Lifecycle:
        return self.store.lifecycle()


def epoch(clock: Clock) -> Callable[[], float]:
    """The clock as seconds since the epoch: commit and tag dates follow the injected clock."""
    return lambda: clock().timestamp()
