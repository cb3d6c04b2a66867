import pytest

from gitreg.core import events as ev
from gitreg.core.policy import evaluate, parse_check, parse_condition, promotion_violations
from gitreg.core.stages import DEFAULT_CONFIG, lifecycle_from_config
from gitreg.errors import UserError

LC = lifecycle_from_config(DEFAULT_CONFIG)


@pytest.mark.parametrize("gate,value,ok", [(">= 0.85", 0.85, True), (">= 0.85", 0.84, False),
                                           ("<= 100", 100, True), ("< 100", 100, False),
                                           ("> 0", 1e-9, True), ("== 1", 1.0, True), ("!= 1", 1, False)])
def test_conditions(gate, value, ok):
    assert (evaluate(parse_condition("m", gate), {"m": value}) is None) is ok


def test_failing_gate_names_metric_value_and_threshold():
    msg = evaluate(parse_condition("auc", ">= 0.85"), {"auc": 0.8})
    assert "auc" in msg and "0.8" in msg and "0.85" in msg


def test_missing_and_non_numeric_metrics_fail_gates():
    assert "missing" in evaluate(parse_condition("auc", ">= 0.85"), {})
    assert "not a number" in evaluate(parse_condition("auc", ">= 0.85"), {"auc": "high"})
    assert "not a number" in evaluate(parse_condition("auc", ">= 0.85"), {"auc": True})


@pytest.mark.parametrize("text", ["accuracy", "accuracy>>1", ">0.85", "accuracy>abc", "", "a > 1 2"])
def test_malformed_checks(text):
    with pytest.raises(UserError):
        parse_check(text)


def test_check_parsing():
    c = parse_check("latency_ms <= 100")
    assert (c.metric, c.op, c.threshold) == ("latency_ms", "<=", 100.0)


def test_default_policy_production_only_from_staging_with_one_approval():
    v = promotion_violations(LC, "none", "production", {}, [], "alice")
    assert any("not allowed" in x for x in v)
    v = promotion_violations(LC, "staging", "production", {}, [], "alice")
    assert len(v) == 1 and "approval" in v[0]
    assert promotion_violations(LC, "staging", "production", {}, ["alice"], "alice")  # self
    assert promotion_violations(LC, "staging", "production", {}, ["bob"], "alice") == []


def _m(version, *history, stage="none"):
    return {"version": version, "stage": stage, "history": [dict(h) for h in history]}


def test_holder_stack_push_on_promote_pop_on_rollback():
    p = "production"
    manifests = [
        _m("1.0.0", {"seq": 1, "action": "promote", "from": "staging", "to": p},
           {"seq": 3, "action": "archive", "from": p, "to": "archived", "replaced_by": "2.0.0"}),
        _m("2.0.0", {"seq": 4, "action": "promote", "from": "staging", "to": p},
           {"seq": 6, "action": "archive", "from": p, "to": "archived", "replaced_by": "3.0.0"}),
        _m("3.0.0", {"seq": 7, "action": "promote", "from": "staging", "to": p}),
    ]
    events = ev.model_events(manifests)
    assert [e.seq for e in events] == [1, 3, 4, 6, 7]
    assert ev.holder_stack(events, p) == ["1.0.0", "2.0.0", "3.0.0"]
    manifests[2]["history"].append({"seq": 8, "action": "rollback", "from": p, "to": "archived"})
    manifests[1]["history"].append({"seq": 9, "action": "rollback", "from": "archived", "to": p})
    assert ev.holder_stack(ev.model_events(manifests), p) == ["1.0.0", "2.0.0"]


def test_stage_holders_orders_by_assignment_seq_not_version():
    manifests = [
        _m("2.0.0", {"seq": 2, "action": "promote", "from": "none", "to": "staging"}, stage="staging"),
        _m("1.0.0", {"seq": 5, "action": "promote", "from": "none", "to": "staging"}, stage="staging"),
    ]
    assert ev.stage_holders(manifests) == {"staging": ["1.0.0", "2.0.0"]}


def test_event_tags_unassign_before_assign():
    e = ev.Event(7, "1.0.0", "promote", {"from": "staging", "to": "production"})
    assert ev.event_tags("churn", e) == ["churn#staging!#7", "churn#production#7"]
    assert ev.event_tags("churn", ev.Event(1, "1.0.0", "register", {})) == ["churn@v1.0.0"]
    assert ev.event_tags("churn", ev.Event(2, "1.0.0", "request", {"to": "staging"})) == []


def test_require_not_deprecated():
    from gitreg.core.policy import require_model_not_deprecated, require_not_deprecated
    from gitreg.errors import PolicyError

    require_not_deprecated("m", "1.0.0", {"stage": "none"})
    require_model_not_deprecated("m", None)
    with pytest.raises(PolicyError, match="m 1.0.0 is deprecated") as info:
        require_not_deprecated("m", "1.0.0", {"deprecated": {"at": "t", "by": "b", "reason": "r"}})
    assert "gitreg undeprecate m 1.0.0" in info.value.hint
    with pytest.raises(PolicyError, match="model m is deprecated"):
        require_model_not_deprecated("m", {"deprecated": {"at": "t", "by": "b", "reason": "r"}})
