"""One registry change written as one commit and its tags, all or nothing, and its undoing."""

from __future__ import annotations

import errno
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from gitreg import yamlio
from gitreg.errors import UserError
from gitreg.git import GitCommandError, Ref

if TYPE_CHECKING:
    from gitreg.store.store import Store


@dataclass
class PlannedTag:
    name: str
    target: str | None  # commit sha; None = the change's own commit
    message: str


class Change:
    """One registry change: files written, optional DVC step, one commit, then its tags.

    All or nothing: if anything fails before the last tag is written, the branch, index,
    work tree and tags are put back as they were.
    """

    def __init__(self, store: Store, model: str, actor: str | None = None):
        self.store = store
        self.git = store.git
        self.model = model
        # who the change's history entries record: the commit's author and the tags' tagger
        self.actor = actor
        self.files: dict[str, str] = {}
        self.new_dirs: list[Path] = []
        self.new_parents: list[Path] = []  # deepest first
        self.extra_paths: list[str] = []
        self.tags: list[PlannedTag] = []
        # tags the change deletes after its commit (an undeprecation deletes GTO's `!` tag)
        self.drop_tags: list[str] = []
        # the model's tags, read once per change (by the caller when it needed them first)
        self.model_tags: list[Ref] | None = None
        # what is recorded once the change is done (cache files: best effort, never undone)
        self.after_commit: list[Callable[[], None]] = []

    def _model_tags(self) -> list[Ref]:
        if self.model_tags is None:
            self.model_tags = self.store.tags(self.model)
        return self.model_tags

    def write(self, rel: str, text: str) -> None:
        self.files[rel] = text

    def track_dir(self, path: Path) -> None:
        """A directory this change creates; so are its missing parents (a new model's
        models/NAME), removed again with it when the change is undone."""
        self.new_dirs.append(path)
        parent = path.parent
        while parent != self.store.root and not parent.exists():
            self.new_parents.append(parent)
            parent = parent.parent

    def run(self, message: str, prepare: Callable[[], None] | None = None, sign: bool = False,
            now: Callable[[], float] = time.time) -> tuple[str, list[str]]:
        root = self.store.root
        broken = self.store.broken_files(self.model)
        if broken:
            raise UserError(f"cannot change {self.model}: {broken[0]}",
                            "fix or restore that file first (`gitreg validate` lists every problem)")
        if sign and self.git.config_get("gpg.format") == "ssh" and not self.git.config_get("user.signingkey"):
            raise UserError("--sign with gpg.format ssh needs user.signingkey; nothing was changed", SIGN_HINT)
        # each model the change writes into gets its summary rewritten in the same commit
        from gitreg.store import summary

        touched = summary.touched_models([*self.files, *self.extra_paths,
                                          *(str(d.relative_to(root)) for d in self.new_dirs)])
        derived = [summary.summary_path(m) for m in touched if summary.summary_path(m) not in self.files]
        journal = self._journal(message, sign, derived)
        # what the files were, to put back even where git cannot (a read-only or full disk)
        originals = {rel: _read_or_none(root / rel) for rel in [*self.files, *self.extra_paths, *derived]}
        try:
            self.store.write_journal(journal)
        except OSError as exc:
            raise _os_error(exc) from None
        made_tags: list[str] = []
        try:
            if prepare:
                prepare()
            for rel, text in self.files.items():
                yamlio.write_atomic(root / rel, text)
            made: list[str] = []

            def derive(describe: Any) -> list[str]:
                made.extend(summary.deriver(self.store, touched)(describe))
                return made

            staged = self.git.add([*self.files, *self.extra_paths], new_dirs=journal["new_dirs"],
                                  derive=derive if touched else None)
            paths = sorted(set(self.files) | set(self.extra_paths) | set(journal["new_dirs"]) | set(made))
            commit = self.git.commit(message, paths, sign=sign, actor=self.actor, staged=staged)
            journal["commit"] = commit
            self.store.write_journal(journal)
            when = self._first_tag_time(now)
            for i, tag in enumerate(self.tags):
                self.git.create_tag(tag.name, tag.target or commit,
                                    tag.message.replace("{commit}", commit), when + i, sign=sign,
                                    actor=self.actor)
                made_tags.append(tag.name)
            for name in self.drop_tags:
                self.git.delete_tag(name)
            self.store.clear_journal()
            for record in self.after_commit:
                record()
            return commit, made_tags
        except BaseException as exc:
            undo_change(self.store, journal)
            _put_back(root, originals)
            self.store.clear_journal()
            translated = _translate_failure(exc, sign)
            if translated is not None:
                raise translated from None
            raise

    def _journal(self, message: str, sign: bool, derived: list[str]) -> dict[str, Any]:
        root = self.store.root
        planned = [t.name for t in self.tags]
        # A journal under .git records what this change touches before anything is touched:
        # a crash (SIGKILL, power cut) leaves it behind, and `doctor --fix` then finishes the
        # change (if it was committed) or undoes it (if not) from it.
        return {
            "pid": os.getpid(), "model": self.model, "message": message, "old_head": self.git.head(),
            "describe": message.split("\n")[0].removeprefix("gitreg: "), "sign": sign,
            "actor": self.actor,
            "files": {rel: (root / rel).exists() for rel in [*self.files, *derived]},
            "extra_paths": {p: (root / p).exists() for p in self.extra_paths},
            "new_dirs": [str(d.relative_to(root)) for d in self.new_dirs],
            "new_parents": [str(d.relative_to(root)) for d in self.new_parents],
            "tags": [{"name": t.name, "target": t.target, "message": t.message} for t in self.tags],
            "preexisting_tags": self._preexisting(planned),
            "commit": None,
            # name -> tag object, so an undone change can put a deleted tag back exactly
            "drop_tags": {n: self._tag_object(n) for n in self.drop_tags},
        }

    def _preexisting(self, planned: list[str]) -> list[str]:
        if not planned:
            return []
        if all(n.startswith((f"{self.model}@", f"{self.model}#")) for n in planned):
            # the model's own tags: the list read once serves the tag times too
            have = {r.name for r in self._model_tags()}
            return sorted(n for n in planned if n in have)
        return sorted(r.name for r in self.git.refs([f"refs/tags/{n}" for n in planned]))

    def _tag_object(self, name: str) -> str | None:
        proc = self.git.run(["rev-parse", "--verify", "-q", f"refs/tags/{name}"], check=False)
        return proc.stdout.strip() or None

    def _first_tag_time(self, now: Callable[[], float]) -> int:
        # GTO orders events by tagger time at one-second resolution: give each of this
        # model's tags its own second, later than every earlier tag of the model, so the
        # order GTO sees is the order of seq.
        last = max((r.tagger_time or 0 for r in self._model_tags()), default=0)
        return max(int(now()), last + 1)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _put_back(root: Path, originals: Mapping[str, bytes | None]) -> None:
    """After undo_change: restore any file git could not (best effort, never raises)."""
    for rel, data in originals.items():
        path = root / rel
        try:
            if data is None:
                if path.is_file():
                    path.unlink()
            elif _read_or_none(path) != data:
                yamlio.write_atomic(path, data.decode("utf-8"))
        except (OSError, UnicodeDecodeError):
            pass


def _os_error(exc: OSError) -> UserError:
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return UserError(f"{exc.strerror}{where}; nothing was changed", "free some disk space and retry")
    return UserError(f"cannot write: {exc.strerror}{where}; nothing was changed",
                     "check that the repository (and its .git directory) is writable")


_SIGN_FAILURES = ("gpg failed to sign", "cannot run gpg", "no secret key", "signing failed",
                  "secret key not available", "user.signingkey", "ssh-keygen", "no signing key",
                  "couldn't load public key", "error: load key")
_WRITE_FAILURES = ("read-only file system", "permission denied", "insufficient permission",
                   "no space left on device", "disk quota exceeded", "unable to create")


def _translate_failure(exc: BaseException, sign: bool) -> UserError | None:
    """A change that failed and was undone: say why in one line when it is the environment."""
    if isinstance(exc, OSError):
        return _os_error(exc)
    if not isinstance(exc, GitCommandError):
        return None
    low = exc.stderr.lower()
    last = (exc.stderr.strip().splitlines() or [str(exc)])[-1].strip()
    if sign and exc.args_ and exc.args_[0] in ("commit", "commit-tree", "tag") \
            and any(s in low for s in _SIGN_FAILURES):
        return UserError(f"git could not sign ({last}); nothing was changed", SIGN_HINT)
    if any(s in low for s in _WRITE_FAILURES):
        return UserError(f"git could not write: {last}; nothing was changed",
                         "check that the repository's .git directory is writable and the disk has room")
    return None


SIGN_HINT = ("set up signing: `git config user.signingkey KEY` (and `git config gpg.format ssh` "
             "for an SSH key), or leave out --sign")


def undo_change(store: Store, journal: Mapping[str, Any]) -> None:
    """Put the branch, index, work tree and tags back as they were before a change."""
    git = store.git
    root = store.root
    old_head = journal.get("old_head")
    keep = set(journal.get("preexisting_tags", []))
    planned = [t["name"] for t in journal.get("tags", [])]
    if planned:
        # every planned tag that exists now and did not before is ours (even one whose
        # `git tag` finished just before the failure)
        for ref in git.refs([f"refs/tags/{n}" for n in planned]):
            if ref.name not in keep:
                git.delete_tag(ref.name)
    for name, obj in (journal.get("drop_tags") or {}).items():
        if obj:  # a tag the change deleted: the same tag object back
            git.run(["update-ref", f"refs/tags/{name}", obj], check=False)
    if old_head and git.head() != old_head:
        git.reset_soft(old_head)
    files: Mapping[str, bool] = journal.get("files", {})
    extra: Mapping[str, bool] = journal.get("extra_paths", {})
    restore = [rel for rel, was in files.items() if was] + [p for p, was in extra.items() if was]
    if old_head:
        git.restore(old_head, restore)
    for rel, was in files.items():
        if was:
            continue
        git.run(["rm", "-q", "--cached", "--ignore-unmatch", "--", rel], check=False)
        try:
            (root / rel).unlink()
        except FileNotFoundError:
            pass
    for p, was in extra.items():
        if not was:
            git.run(["rm", "-q", "-r", "--cached", "--ignore-unmatch", "--", p], check=False)
            target = root / p
            if target.is_file():
                target.unlink()
    for d in journal.get("new_dirs", []):
        git.run(["rm", "-q", "-r", "--cached", "--ignore-unmatch", "--", d], check=False)
        shutil.rmtree(root / d, ignore_errors=True)
    from gitreg import dvcadd

    dvcadd.remove_leftovers(root)  # a copy into the DVC cache cut short
    for d in journal.get("new_parents", []):
        try:
            (root / d).rmdir()  # only if empty: nothing but what the change made was in it
        except OSError:
            pass


def is_git_error(exc: BaseException) -> bool:
    return isinstance(exc, GitCommandError)

