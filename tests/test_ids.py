import hashlib

import pytest

from codeanatomy.ids import file_id_for, stable_id


def test_stable_id_is_namespaced_sha256_of_joined_parts():
    expected = hashlib.sha256(b"node\x1fpkg/mod.py\x1f12\x1f40").hexdigest()[:24]
    assert stable_id("node", "pkg/mod.py", 12, 40) == f"node:{expected}"


def test_namespace_and_part_boundaries_change_the_id():
    assert stable_id("a", "x") != stable_id("b", "x")
    assert stable_id("n", "ab", "c") != stable_id("n", "a", "bc")


def test_file_id_depends_on_relative_path_only():
    assert file_id_for("pkg/mod.py") == stable_id("file", "pkg/mod.py")
    assert file_id_for("pkg/mod.py") != file_id_for("pkg/other.py")


@pytest.mark.parametrize("bad", [None, 1.5, True, b"x"])
def test_parts_must_be_text_or_integers(bad):
    with pytest.raises(TypeError):
        stable_id("n", bad)
