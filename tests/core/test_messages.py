"""Commit and tag messages: format and parse are exact inverses; refs and time formats."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from gitreg.core.messages import (
    commit_message, parse_commit_message, parse_tag_message, parse_trailers, tag_message,
)
from gitreg.core.refs import format_ref, parse_ref
from gitreg.core.timefmt import rfc3339, rfc3339_utc

COMMITS = [
    ("register", "churn", "1.0.0", None, None, [1], None, None),
    ("promote", "churn", "1.2.0", "staging", "production", [4, 5], "canary ok", None),
    ("approve", "fraud-v2", "0.1.0", "none", "staging", [7], "looks fine",
     {"Gitreg-Approved-By": "Ann <ann@x.io>"}),
    ("rollback", "m", "2.0.0-rc.1", "production", "staging", [], None, {"Gitreg-Extra": "a b"}),
    ("create", "churn", "", None, None, [1], None, None),  # model-level: no version, no trailer
    ("annotate", "churn", "", None, None, [6], "typo", None),
]


@pytest.mark.parametrize("args", COMMITS)
def test_commit_message_round_trip(args):
    action, name, version, source, target, seqs, reason, extra = args
    text = commit_message(action, name, version, source, target, seqs, reason, extra)
    assert parse_commit_message(text) == {
        "action": action, "name": name, "version": version, "source": source, "target": target,
        "seqs": seqs, "reason": reason, "extra": dict(extra or {}),
    }
    again = parse_commit_message(text)
    assert commit_message(again["action"], again["name"], again["version"], again["source"],
                          again["target"], again["seqs"], again["reason"], again["extra"]) == text


TAGS = [
    ("churn 1.0.0: none -> staging (promote)", "promote", "Ann <ann@x.io>", 3, None, None),
    ("churn 1.0.0: staging -> production (approve)", "approve", "Bob", 9, "ok to ship", ["Ann", "Cy"]),
    ("m 2.0.0: production -> none (rollback)", "rollback", "ci", 12, "bad", "Dee <d@x>"),
]


@pytest.mark.parametrize("args", TAGS)
def test_tag_message_round_trip(args):
    summary, action, actor, seq, reason, approved = args
    text = tag_message(summary, action, actor, seq, reason, approved)
    parsed = parse_tag_message(text)
    want = [approved] if isinstance(approved, str) else approved
    assert parsed == {"summary": summary, "action": action, "actor": actor, "seq": seq,
                      "reason": reason, "approved_by": want, "commit": "{commit}"}
    assert tag_message(parsed["summary"], parsed["action"], parsed["actor"], parsed["seq"],
                       parsed["reason"], parsed["approved_by"]) == text


def test_trailers_first_key_wins_and_ignore_prose():
    body = "Gitreg-Seq: 1\nnot a trailer\nGitreg-Seq: 2\nGitreg-Bad Key: x\n"
    assert parse_trailers(body) == {"Gitreg-Seq": "1"}


def test_reason_is_one_lined_and_clipped():
    text = commit_message("promote", "m", "1.0.0", "a", "b", [1], "two\n  lines " + "x" * 3000)
    assert parse_commit_message(text)["reason"] == ("two lines " + "x" * 3000)[:2000]


@pytest.mark.parametrize("text,want", [
    ("churn", ("churn", None, None, None)),
    ("churn@1.2.0", ("churn", "1.2.0", None, None)),
    ("churn#production", ("churn", None, "production", None)),
    ("churn@champion", ("churn", None, None, "champion")),
])
def test_refs_round_trip(text, want):
    assert parse_ref(text) == want
    assert format_ref(*want) == text


def test_rfc3339():
    moment = datetime(2026, 1, 2, 3, 4, 5, 999, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(moment) == "2026-01-02T01:04:05Z"
    assert rfc3339_utc(int(moment.timestamp())) == "2026-01-02T01:04:05Z"
