"""Object keys and bucket ids: one spelling per object, everything else refused with a reason."""

from __future__ import annotations

import pytest

from gardenos.storage.errors import InvalidKey
from gardenos.storage.paths import bucket_id, is_upload, object_key, prefix


@pytest.mark.parametrize(
    "key",
    [
        "a.txt",
        "folder/sub/file.pdf",
        "café.txt",
        "with space/and (parens).png",
        "ünïcode/日本.txt",
        "a" * 1024,
    ],
)
def test_keys_that_are_one_spelling_are_kept_as_they_are(key: str) -> None:
    assert object_key(key) == key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty"),
        ("../etc/passwd", "'..'"),
        ("a/../b", "'..'"),
        ("a/./b", "'.'"),
        ("./a", "'.'"),
        ("a/..", "'..'"),
        ("a//b", "empty folder"),
        ("a/", "empty folder"),
        ("/etc/passwd", "relative"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
        ("a\\..\\b", "'\\'"),
        ("cafe\u0301.txt", "NFC"),
        ("a/\uff0e\uff0e/b", "look like"),
        ("a\uff0fb", "look like"),
        ("a\u2024\u2024/b", "look like"),
        ("a" * 1025, "1024"),
    ],
)
def test_other_spellings_are_refused_with_what_to_change(key: str, reason: str) -> None:
    with pytest.raises(InvalidKey) as refused:
        object_key(key)
    assert reason in refused.value.message
    assert refused.value.status_code == 400


def test_prefixes_name_folders() -> None:
    assert prefix("") == ""
    assert prefix("photos") == "photos/"
    assert prefix("photos/2024/") == "photos/2024/"
    with pytest.raises(InvalidKey):
        prefix("photos/../secret")


@pytest.mark.parametrize("value", ["avatars", "a-b_c.d", "A1"])
def test_bucket_ids(value: str) -> None:
    assert bucket_id(value) == value


@pytest.mark.parametrize("value", ["", "..", "a..b", ".hidden", "a/b", "a b", "x" * 64, "é"])
def test_bucket_ids_refused(value: str) -> None:
    with pytest.raises(InvalidKey):
        bucket_id(value)


@pytest.mark.parametrize(
    ("method", "path", "upload"),
    [
        ("POST", "/storage/v1/object/docs/a.json", True),
        ("PUT", "/storage/v1/object/docs/folder/a.json", True),
        ("PUT", "/storage/v1/object/upload/sign/docs/a.json", True),
        ("POST", "/storage/v1/object/upload/sign/docs/a.json", False),
        ("POST", "/storage/v1/object/list/docs", False),
        ("POST", "/storage/v1/object/move", False),
        ("POST", "/storage/v1/object/sign/docs/a.txt", False),
        ("DELETE", "/storage/v1/object/docs/a.txt", False),
        ("POST", "/storage/v1/bucket", False),
        ("POST", "/rest/v1/leads", False),
    ],
)
def test_which_bodies_are_objects(method: str, path: str, upload: bool) -> None:
    assert is_upload(method, path) is upload
