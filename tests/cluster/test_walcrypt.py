"""The archive/restore command PostgreSQL runs: encryption round trips, refusals, tamper detection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gardenos.backup import walcrypt

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
