"""Finishing (it was committed) or undoing (it was not) a change a crash interrupted."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Mapping

from gitreg.errors import ConflictError
from gitreg.store.change import Change, undo_change

if TYPE_CHECKING:
    from gitreg.store.store import Store


def recover(store: Store) -> str | None:
    """Finish (it was committed) or undo (it was not) an interrupted change; None if none."""
    journal = store.read_journal()
    if journal is None:
        return None
    what = store.interrupted_change()
    if journal.get("corrupt"):
        store.clear_journal()
        return f"removed an unreadable change journal ({store.journal_path})"
    head = store.git.head()
    old_head = journal.get("old_head")
    commit = journal.get("commit") or (head if head and head != old_head
                                       and _is_our_commit(store, head, journal) else None)
    if commit and head and store.git.run(["merge-base", "--is-ancestor", commit, head],
                                        check=False).returncode == 0:
        have = {r.name for r in store.git.refs([f"refs/tags/{t['name']}" for t in journal.get("tags", [])])} \
            if journal.get("tags") else set()
        todo = [t for t in journal.get("tags", []) if t["name"] not in have]
        when = Change(store, str(journal.get("model", "")))._first_tag_time(time.time)
        for i, tag in enumerate(todo):
            store.git.create_tag(tag["name"], tag.get("target") or commit,
                                tag["message"].replace("{commit}", commit), when + i,
                                sign=bool(journal.get("sign")), actor=journal.get("actor"))
        for name in journal.get("drop_tags") or {}:
            store.git.delete_tag(name)
        store.clear_journal()
        made = f"; created tag(s) {', '.join(t['name'] for t in todo)}" if todo else ""
        return f"finished the interrupted change: {what} (it was committed{made})"
    if head != old_head:
        raise ConflictError(
            f"cannot recover the interrupted change ({what}): the branch moved since",
            f"inspect `git status` and `git log`, then delete {store.journal_path}")
    undo_change(store, journal)
    store.clear_journal()
    return f"undid the interrupted change: {what} (it was not committed; the files are as before)"


def _is_our_commit(store: Store, sha: str, journal: Mapping[str, Any]) -> bool:
    proc = store.git.run(["log", "-1", "--format=%P%x00%B", sha], check=False)
    parents, _, body = proc.stdout.partition("\x00")
    return (parents.split() == ([journal["old_head"]] if journal.get("old_head") else [])
            and body.strip() == str(journal.get("message", "")).strip())

