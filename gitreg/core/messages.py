"""Commit and tag messages gitreg writes, with their Gitreg-* trailers, and their parsers."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from gitreg.core import events as ev
from gitreg.core.names import NONE_STAGE

REASON_LIMIT = 2000


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def tag_summary(name: str, t: ev.EventTag) -> str:
    """The first line of a stage tag's message."""
    e = t.event
    if e.action in (ev.ALIAS, ev.UNALIAS):
        verb = "gets" if e.action == ev.ALIAS else "loses"
        return f"{name} {e.version}: {verb} alias {e.data.get('alias')} ({e.action})"
    if t.kind == ev.REASSERT:
        return f"{name} {t.version}: still holds {e.source} after {e.version} left it ({e.action})"
    if t.tag.endswith("!") or t.tag.endswith("@deprecated"):
        return f"{name} {e.version}: deprecated" if e.version else f"{name}: deprecated"
    if e.target is None:  # a deprecation's unassignment
        return f"{name} {e.version}: {e.source} -> {NONE_STAGE} ({e.action})"
    return f"{name} {e.version}: {e.source or NONE_STAGE} -> {e.target} ({e.action})"


def commit_message(action: str, name: str, version: str, source: str | None, target: str | None,
                   seqs: Sequence[int], reason: str | None, extra: Mapping[str, str] | None = None) -> str:
    # a model-level change (create, a model's annotate) has no version: "" leaves it out
    subject = f"gitreg: {action} {name}" + (f" {version}" if version else "")
    if source is not None and target is not None:
        subject += f" {source} -> {target}"
    body = ""
    if reason:
        body = " ".join(reason.split())[:REASON_LIMIT] + "\n\n"
    trailers = [f"Gitreg-Action: {action}", f"Gitreg-Model: {name}"]
    trailers += [f"Gitreg-Version: {version}"] if version else []
    trailers += [f"Gitreg-Seq: {s}" for s in seqs]
    for key, value in (extra or {}).items():
        trailers.append(f"{key}: {' '.join(str(value).split())}")
    return f"{subject}\n\n{body}" + "\n".join(trailers) + "\n"


def tag_message(summary: str, action: str, actor: str, seq: int, reason: str | None = None,
                approved_by: Sequence[str] | str | None = None) -> str:
    """A stage tag's message; `{commit}` is left for the caller to fill or drop."""
    lines = [summary, "", f"Gitreg-Action: {action}", "Gitreg-Commit: {commit}",
             f"Gitreg-Actor: {actor}", f"Gitreg-Seq: {seq}"]
    if reason:
        lines.append(f"Gitreg-Reason: {' '.join(reason.split())[:REASON_LIMIT]}")
    if approved_by:
        who = approved_by if isinstance(approved_by, str) else ", ".join(approved_by)
        lines.append(f"Gitreg-Approved-By: {who}")
    return "\n".join(lines) + "\n"


def parse_trailers(body: str) -> dict[str, str]:
    """The `Gitreg-Key: value` lines of a message (the first of each key wins)."""
    fields: dict[str, str] = {}
    for line in body.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.startswith("Gitreg-") and " " not in key:
            fields.setdefault(key, value.strip())
    return fields


def _all_trailers(text: str, key: str) -> list[str]:
    prefix = f"{key}: "
    return [line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)]


def parse_commit_message(text: str) -> dict[str, Any]:
    """The inverse of commit_message: its arguments back (reason and extra values one-lined)."""
    subject, _, rest = text.partition("\n\n")
    fields = parse_trailers(rest)
    head = subject[len("gitreg: "):].split(" ")
    source = target = None
    if len(head) >= 6 and head[4] == "->":
        source, target = head[3], " ".join(head[5:])
    paragraphs = rest.split("\n\n")
    reason = paragraphs[0] if len(paragraphs) > 1 else None
    known = {"Gitreg-Action", "Gitreg-Model", "Gitreg-Version", "Gitreg-Seq"}
    trailers = paragraphs[-1].splitlines()
    extra = {k: v for k, _, v in (line.partition(": ") for line in trailers) if k not in known}
    return {
        "action": fields.get("Gitreg-Action"), "name": fields.get("Gitreg-Model"),
        # "": a model-level change (create, a model's annotate) has no Gitreg-Version
        "version": fields.get("Gitreg-Version", ""), "source": source, "target": target,
        "seqs": [int(s) for s in _all_trailers(rest, "Gitreg-Seq")], "reason": reason,
        "extra": extra,
    }


def parse_tag_message(text: str) -> dict[str, Any]:
    """The inverse of tag_message: its arguments back (approved_by as a list)."""
    summary = text.split("\n", 1)[0]
    fields = parse_trailers(text)
    approved = fields.get("Gitreg-Approved-By")
    return {
        "summary": summary, "action": fields.get("Gitreg-Action"),
        "actor": fields.get("Gitreg-Actor"), "seq": int(fields["Gitreg-Seq"]),
        "reason": fields.get("Gitreg-Reason"),
        "approved_by": approved.split(", ") if approved else None,
        "commit": fields.get("Gitreg-Commit"),
    }
