"""Replaying a model's events: the tags it calls for (re-assertions included) and the rollback stack."""

from __future__ import annotations

import pytest

from gitreg.core import events as ev

P, S, A, N = "production", "staging", "archived", "none"


def E(seq: int, version: str, action: str, src: str | None = None, dst: str | None = None,
      replaced_by: str | None = None) -> ev.Event:
    data: dict = {"seq": seq, "action": action}
    if src is not None:
        data["from"] = src
    if dst is not None:
        data["to"] = dst
    if replaced_by:
        data["replaced_by"] = replaced_by
    return ev.Event(seq, version, action, data)


def REG(seq: int, version: str) -> ev.Event:
    return E(seq, version, ev.REGISTER)


def tags(events: list[ev.Event]) -> list[tuple[str, str, int, str]]:
    return [(t.tag, t.version, t.seq, t.kind) for t in ev.model_tags("m", events)]


BASE = [REG(1, "0.1.0"), REG(2, "0.2.0")]
BOTH_STAGING = BASE + [E(3, "0.1.0", "promote", N, S), E(4, "0.2.0", "promote", N, S)]


@pytest.mark.parametrize("events,expected", [
    # the repro: the newer holder leaves, the older one is re-asserted (not the leaver)
    (BOTH_STAGING + [E(5, "0.2.0", "promote", S, N)],
     [("m#staging!#5", "0.2.0", 5, "unassign"), ("m#staging#5", "0.1.0", 5, "reassert")]),
    # the older holder leaves: the one gitreg shows is re-asserted all the same, since the
    # unassignment would otherwise be the newest staging tag
    (BOTH_STAGING + [E(5, "0.1.0", "promote", S, A)],
     [("m#staging!#5", "0.1.0", 5, "unassign"), ("m#staging#5", "0.2.0", 5, "reassert"),
      ("m#archived#5", "0.1.0", 5, "assign")]),
    # the last holder leaves: nothing to re-assert (DVC then resolves the departed version)
    (BOTH_STAGING + [E(5, "0.2.0", "promote", S, N), E(6, "0.1.0", "promote", S, N)],
     [("m#staging!#5", "0.2.0", 5, "unassign"), ("m#staging#5", "0.1.0", 5, "reassert"),
      ("m#staging!#6", "0.1.0", 6, "unassign")]),
    # a version that left and came back is the most recently assigned again
    (BOTH_STAGING + [E(5, "0.1.0", "promote", S, N), E(6, "0.1.0", "promote", N, S),
                     E(7, "0.2.0", "promote", S, N)],
     [("m#staging!#5", "0.1.0", 5, "unassign"), ("m#staging#5", "0.2.0", 5, "reassert"),
      ("m#staging#6", "0.1.0", 6, "assign"),
      ("m#staging!#7", "0.2.0", 7, "unassign"), ("m#staging#7", "0.1.0", 7, "reassert")]),
    # exclusive production: the archive empties production before the promotion fills it
    (BASE + [E(3, "0.1.0", "promote", S, P), E(4, "0.1.0", "archive", P, A, replaced_by="0.2.0"),
             E(5, "0.2.0", "promote", S, P)],
     [("m#staging!#3", "0.1.0", 3, "unassign"), ("m#production#3", "0.1.0", 3, "assign"),
      ("m#production!#4", "0.1.0", 4, "unassign"), ("m#archived#4", "0.1.0", 4, "assign"),
      ("m#staging!#5", "0.2.0", 5, "unassign"), ("m#production#5", "0.2.0", 5, "assign")]),
    # a rollback takes 0.1.0 out of archived, where 0.2.0 just arrived: 0.2.0 is re-asserted
    (BASE + [E(3, "0.1.0", "promote", S, P), E(4, "0.1.0", "archive", P, A, replaced_by="0.2.0"),
             E(5, "0.2.0", "promote", S, P), E(6, "0.2.0", "rollback", P, A, replaced_by="0.1.0"),
             E(7, "0.1.0", "rollback", A, P)],
     [("m#staging!#3", "0.1.0", 3, "unassign"), ("m#production#3", "0.1.0", 3, "assign"),
      ("m#production!#4", "0.1.0", 4, "unassign"), ("m#archived#4", "0.1.0", 4, "assign"),
      ("m#staging!#5", "0.2.0", 5, "unassign"), ("m#production#5", "0.2.0", 5, "assign"),
      ("m#production!#6", "0.2.0", 6, "unassign"), ("m#archived#6", "0.2.0", 6, "assign"),
      ("m#archived!#7", "0.1.0", 7, "unassign"), ("m#archived#7", "0.2.0", 7, "reassert"),
      ("m#production#7", "0.1.0", 7, "assign")]),
    # requests, approvals and rejections write no tags; none -> none writes nothing
    (BASE + [E(3, "0.1.0", ev.REQUEST, N, S), E(4, "0.1.0", ev.APPROVE, N, S)], []),
], ids=["newer-leaves", "older-leaves", "last-leaves", "re-enter", "exclusive", "rollback", "no-moves"])
def test_model_tags(events, expected):
    got = tags(events)
    assert got[:2] == [("m@v0.1.0", "0.1.0", 1, "register"), ("m@v0.2.0", "0.2.0", 2, "register")]
    if events[:4] == BOTH_STAGING:
        expected = [("m#staging#3", "0.1.0", 3, "assign"), ("m#staging#4", "0.2.0", 4, "assign")] + expected
    assert got[2:] == expected


def test_model_tags_own_tags_match_event_tags():
    """Apart from re-assertions, an event's tags are the per-event ones history shows."""
    events = BOTH_STAGING + [E(5, "0.2.0", "promote", S, A), E(6, "0.1.0", "promote", S, P)]
    own = [t.tag for t in ev.model_tags("m", events) if t.kind != ev.REASSERT]
    assert own == [tag for e in events for tag in ev.event_tags("m", e)]


def test_newest_tag_of_each_stage_names_its_holder():
    """The invariant DVC relies on: for a non-empty stage the last tag written for it assigns the
    version gitreg shows there (stage_holders' first); replayed over a long mixed history."""
    events = list(BASE) + [REG(3, "0.3.0")]
    moves = [("0.1.0", N, S), ("0.2.0", N, S), ("0.3.0", N, S), ("0.3.0", S, A), ("0.1.0", S, A),
             ("0.1.0", A, S), ("0.2.0", S, N), ("0.2.0", N, A), ("0.1.0", S, P), ("0.3.0", A, S)]
    stage_of = {"0.1.0": N, "0.2.0": N, "0.3.0": N}
    for i, (v, src, dst) in enumerate(moves, start=4):
        assert stage_of[v] == src
        stage_of[v] = dst
        events.append(E(i, v, "promote", src, dst))
        manifests = [{"version": ver, "stage": stage_of[ver],
                      "history": [dict(e.data) for e in events if e.version == ver]} for ver in stage_of]
        holders = ev.stage_holders(manifests)
        last: dict[str, ev.EventTag] = {}
        for t in ev.model_tags("m", events):
            if t.kind != ev.REGISTER:
                last[t.tag.split("#")[1].rstrip("!")] = t
        for stage, versions in holders.items():
            assert last[stage].kind in ("assign", ev.REASSERT) and last[stage].version == versions[0], (i, stage)


def test_superseded_reassertions():
    events = BOTH_STAGING + [E(5, "0.2.0", "promote", S, N), E(6, "0.2.0", "promote", N, A),
                             E(7, "0.1.0", "promote", S, A)]
    # 5 re-asserts 0.1.0 in staging, which 7 empties
    assert ev.superseded_reassertions(ev.model_tags("m", events)) == {"m#staging#5"}
    # 8 re-asserts 0.1.0 in archived: the latest event there, until 9 enters archived
    events += [E(8, "0.2.0", "promote", A, S)]
    assert ev.superseded_reassertions(ev.model_tags("m", events)) == {"m#staging#5"}
    events += [E(9, "0.2.0", "promote", S, A)]
    assert ev.superseded_reassertions(ev.model_tags("m", events)) == {"m#staging#5", "m#archived#8"}


def _promote_twice() -> list[ev.Event]:
    """0.1.0 then 0.2.0 to production: the exclusive promotion archives 0.1.0."""
    return [E(1, "0.1.0", "promote", S, P), E(2, "0.1.0", "archive", P, A, replaced_by="0.2.0"),
            E(3, "0.2.0", "promote", S, P)]


def _rollback(seq: int, current: str, target: str) -> list[ev.Event]:
    """What api.rollback writes: the holder leaves (replaced_by the target), the target lands."""
    return [E(seq, current, "rollback", P, A, replaced_by=target), E(seq + 1, target, "rollback", A, P)]


@pytest.mark.parametrize("events,stack", [
    (_promote_twice(), ["0.1.0", "0.2.0"]),
    # rollback pops down to 0.1.0
    (_promote_twice() + _rollback(4, "0.2.0", "0.1.0"), ["0.1.0"]),
    # rollback, then rollback --to 0.2.0 pushes 0.2.0 over 0.1.0, which stays below
    (_promote_twice() + _rollback(4, "0.2.0", "0.1.0") + _rollback(6, "0.1.0", "0.2.0"),
     ["0.1.0", "0.2.0"]),
    # ... so a third rollback restores 0.1.0 again
    (_promote_twice() + _rollback(4, "0.2.0", "0.1.0") + _rollback(6, "0.1.0", "0.2.0")
     + _rollback(8, "0.2.0", "0.1.0"), ["0.1.0"]),
    # three holders, rollback twice
    (_promote_twice() + [E(4, "0.2.0", "archive", P, A, replaced_by="0.3.0"), E(5, "0.3.0", "promote", S, P)]
     + _rollback(6, "0.3.0", "0.2.0") + _rollback(8, "0.2.0", "0.1.0"), ["0.1.0"]),
    # rollback --to a version deep in the stack pops everything above it
    (_promote_twice() + [E(4, "0.2.0", "archive", P, A, replaced_by="0.3.0"), E(5, "0.3.0", "promote", S, P)]
     + _rollback(6, "0.3.0", "0.1.0"), ["0.1.0"]),
    # a manual archive (no replacement) pops the holder: the one below is the rollback target
    (_promote_twice() + [E(4, "0.2.0", "archive", P, A)], ["0.1.0"]),
    # rolling back into an empty production (after a manual archive) pops down to the target
    (_promote_twice() + [E(4, "0.2.0", "archive", P, A), E(5, "0.1.0", "rollback", A, P)], ["0.1.0"]),
], ids=["promote-twice", "rollback", "rollback-to-pushes", "rollback-after-push", "rollback-twice",
        "rollback-to-deep", "manual-archive", "rollback-into-empty"])
def test_holder_stack(events, stack):
    assert ev.holder_stack(events, P) == stack


def test_holder_stack_non_exclusive_stage_drops_the_leaver():
    events = [E(1, "0.1.0", "promote", N, S), E(2, "0.2.0", "promote", N, S), E(3, "0.1.0", "promote", S, N)]
    assert ev.holder_stack(events, S) == ["0.2.0"]


def ADOPTED(seq: int, version: str, action: str, tag: str, src: str | None = None,
            dst: str | None = None) -> ev.Event:
    e = E(seq, version, action, src, dst)
    return ev.Event(seq, version, action, {**e.data, "adopted_from": tag})


@pytest.mark.parametrize("event,expected", [
    # an adopted assignment expects gto's tag; the stage it left is gitreg's own to tag
    (ADOPTED(5, "0.1.0", "promote", "m#production#9", S, P),
     [("m#staging!#5", "0.1.0", 5, "unassign"), ("m#staging#5", "0.2.0", 5, "reassert"),
      ("m#production#9", "0.1.0", 5, "assign")]),
    # an adopted unassignment is gto's tag alone (plus the re-assertion of who stays)
    (ADOPTED(5, "0.1.0", "archive", "m#staging!#9", S, N),
     [("m#staging!#9", "0.1.0", 5, "unassign"), ("m#staging#5", "0.2.0", 5, "reassert")]),
    # gto assigned a stage the version holds: nothing but gto's tag
    (ADOPTED(5, "0.1.0", "promote", "m#staging#9", S, S), [("m#staging#9", "0.1.0", 5, "assign")]),
    # a deregistration: gto's tag, after gitreg's unassignment of the stage it held
    (ADOPTED(5, "0.2.0", "deprecate", "m@v0.2.0!", S),
     [("m#staging!#5", "0.2.0", 5, "unassign"), ("m#staging#5", "0.1.0", 5, "reassert"),
      ("m@v0.2.0!", "0.2.0", 5, "adopted")]),
    (ADOPTED(5, "0.2.0", "alias", "m#champion#9"), [("m#champion#9", "0.2.0", 5, "adopted")]),
    (ADOPTED(5, ev.MODEL_LEVEL, "deprecate", "m@deprecated"), [("m@deprecated", "", 5, "adopted")]),
])
def test_an_adopted_event_expects_exactly_the_tag_gto_wrote(event, expected):
    assert tags(BOTH_STAGING + [event])[-len(expected):] == expected


@pytest.mark.parametrize("events,expected", [
    # a version leaves its stage (the other holder re-asserted), then GTO's deregistration
    (BOTH_STAGING + [E(5, "0.2.0", ev.DEPRECATE, S)],
     [("m#staging!#5", "0.2.0", 5, "unassign"), ("m#staging#5", "0.1.0", 5, "reassert"),
      ("m@v0.2.0!", "0.2.0", 5, "deregister")]),
    # in no stage: the deregistration alone; undeprecating drops it from what history calls for
    (BASE + [E(3, "0.1.0", ev.DEPRECATE), E(4, "0.1.0", ev.UNDEPRECATE)], []),
    # deprecated again: the tag is called for again, by the new event
    (BASE + [E(3, "0.1.0", ev.DEPRECATE), E(4, "0.1.0", ev.UNDEPRECATE), E(5, "0.1.0", ev.DEPRECATE)],
     [("m@v0.1.0!", "0.1.0", 5, "deregister")]),
    # the whole model (model.yaml's entries have no version): GTO's `NAME@deprecated`
    (BASE + [E(3, ev.MODEL_LEVEL, ev.DEPRECATE)], [("m@deprecated", "", 3, "deprecate")]),
    (BASE + [E(3, ev.MODEL_LEVEL, ev.DEPRECATE), E(4, ev.MODEL_LEVEL, ev.UNDEPRECATE)], []),
])
def test_model_tags_of_deprecations(events, expected):
    moves = {e.seq for e in events if e.action in ev.MOVES}
    assert [t for t in tags(events) if t[3] != "register" and t[2] not in moves] == expected


def test_a_deprecated_holder_leaves_the_rollback_stack_and_latest_state():
    events = BASE + [E(3, "0.1.0", "promote", N, P), E(4, "0.1.0", "archive", P, A, replaced_by="0.2.0"),
                     E(5, "0.2.0", "promote", N, P), E(6, "0.2.0", ev.DEPRECATE, P)]
    assert ev.holder_stack(events, P) == ["0.1.0"]  # rollback restores the one before
    assert ev.is_deprecated({"history": [{"seq": 1, "action": "deprecate"}]})
    assert not ev.is_deprecated({"history": [{"seq": 1, "action": "deprecate"},
                                             {"seq": 2, "action": "undeprecate"}]})
