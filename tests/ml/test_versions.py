"""One order of model versions for every step that lists or compares them."""

from __future__ import annotations

from ml.versions import version_key


def test_versions_sort_by_number_then_unnumbered_names_after():
    assert sorted(["10", "9", "1", "draft", "2"], key=version_key) == ["1", "2", "9", "10", "draft"]
    assert max(["9", "10"], key=version_key) == "10"
    assert version_key("3") < version_key("12")
