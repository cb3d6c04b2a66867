import pytest
from hypothesis import given, strategies as st

from gitreg.core.names import check_name, check_stage
from gitreg.core.tags import (
    ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN, Tag, format_tag, parse_tag,
)
from gitreg.errors import UserError


@pytest.mark.parametrize("text,tag", [
    ("churn@v1.0.0", Tag(REGISTER, "churn", version="1.0.0")),
    ("churn@v1.0.0-rc.1", Tag(REGISTER, "churn", version="1.0.0-rc.1")),
    ("Churn_Model-2@v0.1.0!", Tag(DEREGISTER, "Churn_Model-2", version="0.1.0")),
    ("churn#production#7", Tag(ASSIGN, "churn", stage="production", seq=7)),
    ("churn#staging!#12", Tag(UNASSIGN, "churn", stage="staging", seq=12)),
    ("churn@deprecated#3", Tag(DEPRECATE, "churn", seq=3)),
])
def test_parse_and_format_are_inverses(text, tag):
    assert parse_tag(text) == tag
    assert format_tag(tag) == text


@pytest.mark.parametrize("text", ["v1.0.0", "churn@1.0.0", "churn@v1.0", "churn#prod", "churn#prod#0",
                                  "churn#prod#x", "-churn@v1.0.0", "churn-@v1.0.0", "a/b@v1.0.0",
                                  "churn@v1.0.0!!", "churn#st age#1", "release-2024", ""])
def test_foreign_tags_are_not_parsed(text):
    assert parse_tag(text) is None


names = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_-]{0,20}[A-Za-z0-9])?", fullmatch=True)


@given(names, names, st.integers(min_value=1, max_value=10**9), st.booleans())
def test_stage_tag_round_trip(name, stage, seq, unassign):
    tag = Tag(UNASSIGN if unassign else ASSIGN, name, stage=stage, seq=seq)
    assert parse_tag(format_tag(tag)) == tag


@pytest.mark.parametrize("bad", ["../x", "a b", "a@b", "a#b", "", "x" * 101, "-lead", "trail-",
                                 "a/b", "a\\b", "a\nb", "a\x00b", "a;rm -rf", "ÄŒ", "a.b", "a!"])
def test_bad_names_are_refused(bad):
    with pytest.raises(UserError):
        check_name(bad)


def test_name_limits():
    assert check_name("a" * 100) == "a" * 100
    assert check_name("A_b-9") == "A_b-9"


def test_stages_fold_case_and_refuse_none():
    assert check_stage("Production") == "production"
    with pytest.raises(UserError):
        check_stage("none")
    assert check_stage("none", allow_none=True) == "none"
