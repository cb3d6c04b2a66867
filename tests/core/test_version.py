import pytest
from hypothesis import given, strategies as st

from gitreg.core.version import Version, bump_kind, next_version, parse_version
from gitreg.errors import UserError


@pytest.mark.parametrize("text", ["0.1.0", "1.0.0", "2.10.3", "1.0.0-rc.1", "1.0.0-alpha",
                                  "1.0.0+build.5", "1.0.0-0.3.7", "1.0.0-x.7.z.92", "10.20.30"])
def test_valid_versions_round_trip(text):
    assert str(parse_version(text)) == text


@pytest.mark.parametrize("text", ["1", "1.0", "01.0.0", "1.01.0", "v1.0.0x", "v1.0.0", "1.0.0-",
                                  "1.0.0-01", "", " 1.0.0", "1.0.0 ", "1.0.0\n", "1.0.0/..",
                                  "-1.0.0", "1.0.0+", "a.b.c", "1." * 60 + "0"])
def test_invalid_versions_are_refused(text):
    with pytest.raises(UserError):
        parse_version(text)


def test_v_prefix_hint_says_drop_the_v():
    with pytest.raises(UserError) as exc:
        parse_version("v1.2.3")
    assert "1.2.3" in exc.value.hint


@pytest.mark.parametrize("lower,higher", [
    ("1.0.0-alpha", "1.0.0-alpha.1"), ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
    ("1.0.0-alpha.beta", "1.0.0-beta"), ("1.0.0-beta", "1.0.0-beta.2"),
    ("1.0.0-beta.2", "1.0.0-beta.11"), ("1.0.0-beta.11", "1.0.0-rc.1"),
    ("1.0.0-rc.1", "1.0.0"), ("1.0.0", "1.0.1"), ("1.9.0", "1.10.0"), ("1.10.0", "2.0.0"),
])
def test_semver_precedence(lower, higher):
    assert parse_version(lower) < parse_version(higher)


@pytest.mark.parametrize("start,part,expected", [
    ("1.2.3", "major", "2.0.0"), ("1.2.3", "minor", "1.3.0"), ("1.2.3", "patch", "1.2.4"),
    ("1.2.0-rc.1", "patch", "1.2.0"), ("0.1.0", "minor", "0.2.0"),
])
def test_bump(start, part, expected):
    assert str(parse_version(start).bump(part)) == expected


def test_next_version_first_is_0_1_0_and_bumps_from_highest():
    assert str(next_version([], None)) == "0.1.0"
    versions = [parse_version(v) for v in ["0.1.0", "1.4.0", "1.10.0", "1.9.9"]]
    assert str(next_version(versions, "patch")) == "1.10.1"
    assert str(next_version(versions, "major")) == "2.0.0"


@pytest.mark.parametrize("a,b,kind", [("1.0.0", "2.0.0", "major"), ("1.0.0", "1.1.0", "minor"),
                                      ("1.0.0", "1.0.1", "patch"), ("1.0.0-rc.1", "1.0.0", "pre")])
def test_bump_kind(a, b, kind):
    assert bump_kind(parse_version(a), parse_version(b)) == kind


nums = st.integers(min_value=0, max_value=10**6)


@given(nums, nums, nums, st.lists(st.from_regex(r"[1-9][0-9]{0,3}|[a-z][a-z0-9-]{0,5}", fullmatch=True),
                                  max_size=3))
def test_format_parse_round_trip(major, minor, patch, pre):
    v = Version(major, minor, patch, tuple(pre))
    assert parse_version(str(v)) == v
