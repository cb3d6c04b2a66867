"""The alias name rule, alias replay and alias tags: pure tables, no repository."""

from __future__ import annotations

import pytest

from gitreg.core import events as ev
from gitreg.core.aliases import alias_holders, check_alias, looks_like_version
from gitreg.core.stages import DEFAULT_CONFIG, lifecycle_from_config
from gitreg.errors import PolicyError, UserError

STAGES = ("staging", "production", "archived")


@pytest.mark.parametrize("text,version_like", [
    ("1.2.3", True), ("3", True), ("v1", True), ("V1.2", True), ("v", False), ("vip", False),
    ("champion", False), ("challenger-2", False), ("", False),
])
def test_what_reads_as_a_version(text, version_like):
    assert looks_like_version(text) is version_like


@pytest.mark.parametrize("value,want", [("champion", "champion"), ("Champion", "champion"),
                                        ("ab_c-1", "ab_c-1"), ("vip", "vip")])
def test_good_aliases_are_lower_cased(value, want):
    assert check_alias(value, STAGES, "archived") == want


@pytest.mark.parametrize("value,words", [
    ("1.2.3", "version"), ("v1", "version"), ("3", "version"), ("latest", "reserved"),
    ("Deprecated", "reserved"), ("none", "reserved"), ("Production", "stage"),
    ("a b", "alias name"), ("", "alias name"), ("-x", "alias name"),
])
def test_bad_aliases_name_the_reason(value, words):
    with pytest.raises(UserError) as exc:
        check_alias(value, STAGES, "archived")
    assert words in exc.value.message and exc.value.hint


def test_archive_stage_is_refused_even_if_not_listed():
    with pytest.raises(UserError):
        check_alias("attic", ("staging",), "attic")


def test_allowed_list_is_policy():
    lc = lifecycle_from_config({**DEFAULT_CONFIG, "aliases": {"allowed": ["champion"]}})
    assert lc.alias("CHAMPION") == "champion"
    with pytest.raises(PolicyError):
        lc.alias("challenger")
    with pytest.raises(UserError):
        lifecycle_from_config({**DEFAULT_CONFIG, "aliases": {"allowed": ["champion"],
                                                             "policies": {"shadow": {}}}})


def _e(seq, version, action, alias, **more):
    return ev.Event(seq, version, action, {"seq": seq, "action": action, "alias": alias, **more})


def test_replay_and_tags_of_a_move_and_a_delete():
    events = [ev.Event(1, "1.0.0", ev.REGISTER, {"seq": 1, "action": ev.REGISTER}),
              ev.Event(2, "2.0.0", ev.REGISTER, {"seq": 2, "action": ev.REGISTER}),
              _e(3, "1.0.0", ev.ALIAS, "champion"),
              _e(4, "1.0.0", ev.UNALIAS, "champion", replaced_by="2.0.0"),
              _e(5, "2.0.0", ev.ALIAS, "champion", replaced="1.0.0"),
              _e(6, "1.0.0", ev.ALIAS, "challenger")]
    assert alias_holders(events) == {"champion": "2.0.0", "challenger": "1.0.0"}
    tags = ev.model_tags("m", events)
    assert [(t.tag, t.version, t.kind) for t in tags[2:]] == [
        ("m#champion#3", "1.0.0", "assign"), ("m#champion!#4", "1.0.0", "unassign"),
        ("m#champion#5", "2.0.0", "assign"), ("m#challenger#6", "1.0.0", "assign")]
    assert ev.superseded_reassertions(tags) == set()
    deleted = events + [_e(7, "2.0.0", ev.UNALIAS, "champion")]
    assert alias_holders(deleted) == {"challenger": "1.0.0"}
    assert ev.event_tags("m", deleted[-1]) == ["m#champion!#7"]
