"""WAL fetched ahead of a restore's recovery: what is fetched, in which order, and the restore_command
that takes it (a real shell, a real encrypted folder archive; no server)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from gardenos.backup import prefetch, walcrypt
from gardenos.backup.storage import FolderStore
from gardenos.cluster.config import restore_command
from gardenos.embedded.service_user import RunAs

KEY = b"k" * 40
ME = RunAs(name="me", uid=os.getuid(), gid=os.getgid(), prefix=())


def test_the_plan_follows_the_newest_timeline_of_each_segment_from_the_backup_on() -> None:
    names = [
        "000000010000000000000002",
        "000000010000000000000003",
        "000000010000000000000004",
        "000000010000000000000004.partial",
        "00000002.history",
        "000000020000000000000004",
        "000000020000000000000005",
        "000000020000000000000003.00000028.backup",
        "000000030000000000000005.partial",
    ]
    assert prefetch.plan(names, 3) == [
        "000000010000000000000003",
        "000000020000000000000004",
        "000000020000000000000005",
    ]


def _archive(tmp_path: Path, names: list[str]) -> FolderStore:
    wal = tmp_path / "wal"
    wal.mkdir()
    for number, name in enumerate(names):
        plain = tmp_path / "plain"
        plain.write_bytes(bytes([number]) * 1000)
        walcrypt.archive(plain, wal / name, KEY)
    return FolderStore(tmp_path / "base", wal)


def _restore_command(command: str, name: str, pgdata: Path) -> int:
    """What PostgreSQL does: %f and %p replaced, run by the shell in the data folder."""
    line = command.replace("%f", name).replace("%p", "pg_wal/RECOVERYXLOG")
    return subprocess.run(["/bin/sh", "-c", line], cwd=pgdata, check=False).returncode


def test_recovery_takes_fetched_segments_and_falls_back_to_the_archive(tmp_path: Path) -> None:
    names = [f"0000000100000000000000{n:02X}" for n in range(2, 12)]
    store = _archive(tmp_path, names)
    ahead, histories, pgdata = tmp_path / "ahead", tmp_path / "histories", tmp_path / "data"
    for folder in (ahead, histories, pgdata / "pg_wal"):
        folder.mkdir(parents=True)
    fallback = walcrypt_command(tmp_path / "wal")
    command = prefetch.command(fallback, ahead, histories)
    fetcher = prefetch.Prefetcher(store, KEY, names, ahead, ME).start()
    try:
        for number, name in enumerate(names):
            # Recovery here asks only once the segment was fetched, so that each one is taken from the
            # folder (a segment asked for before that comes from the archive: the fallback, below).
            deadline = time.monotonic() + 10
            while not (ahead / name).exists():
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert _restore_command(command, name, pgdata) == 0
            assert (pgdata / "pg_wal" / "RECOVERYXLOG").read_bytes() == bytes([number]) * 1000
            assert not (ahead / name).exists(), "taken, not copied"
            # Never more than AHEAD waiting (plus one being moved into place).
            assert len([p for p in ahead.iterdir() if not p.name.startswith(".")]) <= prefetch.AHEAD
        # Asked again after it was taken, and a file the archive does not have.
        assert _restore_command(command, names[-1], pgdata) == 0
        assert _restore_command(command, "00000002.history", pgdata) == 1
    finally:
        fetcher.stop()
    assert fetcher.error is None
    assert fetcher.fetched >= len(names) - prefetch.AHEAD


def test_a_segment_recovery_went_past_is_removed(tmp_path: Path) -> None:
    names = [f"0000000100000000000000{n:02X}" for n in range(2, 8)]
    store = _archive(tmp_path, names)
    ahead = tmp_path / "ahead"
    ahead.mkdir()
    fetcher = prefetch.Prefetcher(store, KEY, names, ahead, ME).start()
    try:
        deadline = time.monotonic() + 10
        while not (ahead / names[2]).exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # Recovery took the third segment (from elsewhere it had the first two): they go.
        (ahead / names[2]).unlink()
        while (ahead / names[0]).exists() or (ahead / names[1]).exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        fetcher.stop()


def walcrypt_command(wal: Path) -> str:
    key_file = wal.parent / "key"
    key_file.write_bytes(KEY)
    return restore_command(Path(sys.executable), Path(walcrypt.__file__), wal, key_file)
