"""MLflow version numbers for SemVer versions: recorded ones kept, the rest by registration order."""

from __future__ import annotations

from gitreg.core import numbers


def _m(at: str, number=None) -> dict:
    return {"created_at": at, **({"number": number} if number is not None else {})}


def test_unnumbered_versions_count_in_order_of_registration_not_semver():
    manifests = {"2.0.0": _m("2026-01-03T00:00:00Z"), "1.0.0": _m("2026-01-01T00:00:00Z"),
                 "1.5.0": _m("2026-01-02T00:00:00Z")}
    assert numbers.version_numbers(manifests) == {"1.0.0": 1, "1.5.0": 2, "2.0.0": 3}
    assert numbers.next_number(manifests) == 4
    assert numbers.by_number(manifests, 3) == "2.0.0" and numbers.by_number(manifests, 9) is None


def test_recorded_numbers_are_kept_with_their_gaps_and_legacy_ones_fill_below():
    manifests = {"1.0.0": _m("2026-01-01T00:00:00Z", 1), "3.0.0": _m("2026-01-03T00:00:00Z", 5),
                 "0.9.0": _m("2025-12-01T00:00:00Z")}
    assert numbers.version_numbers(manifests) == {"1.0.0": 1, "3.0.0": 5, "0.9.0": 2}
    assert numbers.next_number(manifests) == 6  # a gap (deleted in MLflow) is never reused


def test_a_duplicate_or_malformed_number_is_numbered_like_a_legacy_version():
    manifests = {"1.0.0": _m("2026-01-01T00:00:00Z", 1), "1.1.0": _m("2026-01-02T00:00:00Z", 1),
                 "1.2.0": _m("2026-01-03T00:00:00Z", True), "1.3.0": _m("2026-01-04T00:00:00Z", 0)}
    got = numbers.version_numbers(manifests)
    assert got["1.0.0"] == 1 and sorted(got.values()) == [1, 2, 3, 4]
    assert len(set(got.values())) == 4


def test_a_new_version_never_takes_a_number_already_handed_out():
    manifests: dict = {}
    seen = []
    for i in range(5):
        manifests[f"1.{i}.0"] = _m(f"2026-01-0{i + 1}T00:00:00Z", numbers.next_number(manifests))
        seen.append(numbers.version_numbers(manifests))
    for before, after in zip(seen, seen[1:]):
        assert all(after[v] == n for v, n in before.items())
