"""The archive/restore command PostgreSQL runs: encryption round trips, refusals, tamper detection."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gardenos.backup import walcrypt
from tests.cluster.conftest import S3_BUCKET

KEY = b"k" * 40


def test_round_trip_encrypted_and_plain(tmp_path: Path) -> None:
    source = tmp_path / "000000010000000000000001"
    source.write_bytes(os.urandom(3 * walcrypt.CHUNK + 7))
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    archived, restored = tmp_path / "archived", tmp_path / "restored"
    assert walcrypt.main(["archive", str(source), str(archived), "--key-file", str(key_file)]) == 0
    assert walcrypt.is_encrypted(archived)
    assert source.read_bytes()[:64] not in archived.read_bytes()
    assert walcrypt.main(["restore", str(archived), str(restored), "--key-file", str(key_file)]) == 0
    assert restored.read_bytes() == source.read_bytes()
    plain = tmp_path / "plain"
    assert walcrypt.main(["archive", str(source), str(plain)]) == 0
    assert plain.read_bytes() == source.read_bytes()


def test_archive_accepts_the_same_file_again_and_refuses_other_content(tmp_path: Path) -> None:
    source, dest = tmp_path / "wal", tmp_path / "archived"
    source.write_bytes(b"a" * 1000)
    walcrypt.archive(source, dest, KEY)
    walcrypt.archive(source, dest, KEY)
    source.write_bytes(b"b" * 1000)
    assert walcrypt.main(["archive", str(source), str(dest)]) != 0


def test_restore_of_a_missing_file_ends_recovery(tmp_path: Path) -> None:
    assert walcrypt.main(["restore", str(tmp_path / "absent"), str(tmp_path / "x")]) == 1


@pytest.mark.parametrize("damage", ["wrong key", "flipped byte", "cut short"])
def test_damage_is_detected(tmp_path: Path, damage: str) -> None:
    source, archived = tmp_path / "wal", tmp_path / "archived"
    source.write_bytes(os.urandom(2 * walcrypt.CHUNK + 5))
    walcrypt.archive(source, archived, KEY)
    data = bytearray(archived.read_bytes())
    key = KEY
    if damage == "wrong key":
        key = b"z" * 40
    elif damage == "flipped byte":
        data[len(data) // 2] ^= 1
    else:
        data = data[: len(walcrypt.MAGIC) + 23 + 4 + walcrypt.CHUNK + 16]
    archived.write_bytes(bytes(data))
    with pytest.raises(walcrypt.DecryptionError):
        walcrypt.restore(archived, tmp_path / "out", key)
    assert not (tmp_path / "out").exists()


def test_archive_and_restore_through_s3_compatible_storage(tmp_path: Path, s3_server: str) -> None:
    store_file = tmp_path / "store.json"
    store_file.write_text(
        json.dumps(
            {
                "bucket": S3_BUCKET,
                "prefix": f"unit/{tmp_path.name}",
                "endpoint": s3_server,
                "region": "us-east-1",
                "access_key_id": "test-key",
                "secret_access_key": "test-secret",
            }
        )
    )
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    source = tmp_path / "000000010000000000000007"
    source.write_bytes(os.urandom(walcrypt.CHUNK + 3))
    common = ["--key-file", str(key_file), "--store", str(store_file)]
    assert walcrypt.main(["archive", str(source), "wal/000000010000000000000007", *common]) == 0
    # The same content again is fine; other content under that name is refused.
    assert walcrypt.main(["archive", str(source), "wal/000000010000000000000007", *common]) == 0
    other = tmp_path / "other"
    other.write_bytes(b"x" * 10)
    assert walcrypt.main(["archive", str(other), "wal/000000010000000000000007", *common]) == 2

    store = walcrypt.S3Store.from_file(store_file)
    assert store.read("wal/000000010000000000000007").startswith(walcrypt.MAGIC)
    restored = tmp_path / "restored"
    assert walcrypt.main(["restore", "wal/000000010000000000000007", str(restored), *common]) == 0
    assert restored.read_bytes() == source.read_bytes()
    # The end of the archive, and storage that cannot be read (recovery must stop, not end).
    assert walcrypt.main(["restore", "wal/000000010000000000000008", str(tmp_path / "x"), *common]) == 1
    unreachable = tmp_path / "unreachable.json"
    unreachable.write_text(
        json.dumps({**json.loads(store_file.read_text()), "endpoint": "http://127.0.0.1:9"})
    )
    failed = walcrypt.main(
        ["restore", "wal/000000010000000000000007", str(tmp_path / "y"), "--store", str(unreachable)]
    )
    assert failed == walcrypt.RESTORE_FAILED
