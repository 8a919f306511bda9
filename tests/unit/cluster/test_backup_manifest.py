"""A backup's manifest: written and read back (encrypted or not), refused with a message that says
what to do when missing or damaged, and compared with a restore's counts (no processes here)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gardenos.backup.manifest import MANIFEST, Manifest, ManifestError, read_manifest, write_manifest
from gardenos.backup.storage import FolderStore
from gardenos.backup.verify import compare_counts

KEY = b"unit-tests-backup-key-0123456789abcdef"
LABEL = "20261203T101010000000Z"
COUNTS = {"gardenos": {"public.leads": 12, "auth.users": 3}, "postgres": {}}


def _manifest(counts: dict[str, dict[str, int]] | None = COUNTS) -> Manifest:
    return Manifest(LABEL, "0/3000050", "0/3000100", "node2", datetime.now(UTC), counts)


def _store(tmp_path: Path, manifest: Manifest, key: bytes | None) -> FolderStore:
    folder = tmp_path / "base" / LABEL
    folder.mkdir(parents=True)
    write_manifest(manifest, folder, key)
    return FolderStore(tmp_path / "base", tmp_path / "wal")


@pytest.mark.parametrize("key", [None, KEY])
def test_a_manifest_reads_back_as_written(tmp_path: Path, key: bytes | None) -> None:
    written = _manifest()
    store = _store(tmp_path, written, key)
    names = {p.name for p in (tmp_path / "base" / LABEL).iterdir()}
    assert names == ({f"{MANIFEST}.enc"} if key else {MANIFEST}), "no plain copy beside an encrypted one"
    assert read_manifest(store, LABEL, key) == written
    assert written.target_lsn == "0/3000100"
    assert _manifest(None).target_lsn == "0/3000100"
    without = Manifest(LABEL, "0/3000050", None, None, None, None, why_not="from the leader")
    assert without.target_lsn == "0/3000050", "no counts: the restore stops at the backup's end"


def test_a_missing_or_damaged_manifest_says_what_to_do(tmp_path: Path) -> None:
    store = _store(tmp_path, _manifest(), KEY)
    with pytest.raises(ManifestError, match="encrypted: set GARDENOS_BACKUP_ENCRYPTION_KEY"):
        read_manifest(store, LABEL, None)
    with pytest.raises(ManifestError, match=r"is damaged .*take a new backup with `gardenos backup`"):
        read_manifest(store, LABEL, b"another key, another key, another key")
    file = tmp_path / "base" / LABEL / f"{MANIFEST}.enc"
    file.write_bytes(file.read_bytes()[:-1])
    with pytest.raises(ManifestError, match="is damaged"):
        read_manifest(store, LABEL, KEY)
    file.unlink()
    (tmp_path / "base" / LABEL / MANIFEST).write_text('{"version": 1, "counts": []}')
    with pytest.raises(ManifestError, match="is damaged"):
        read_manifest(store, LABEL, KEY)
    (tmp_path / "base" / LABEL / MANIFEST).unlink()
    with pytest.raises(ManifestError, match=r"has no manifest .*take a new backup"):
        read_manifest(store, LABEL, KEY)


def test_counts_are_compared_table_by_table() -> None:
    same = compare_counts(_manifest(), {db: dict(t) for db, t in COUNTS.items()})
    assert same.ok is True
    assert "2 tables in 2 databases match the manifest" in same.detail

    differ = compare_counts(
        _manifest(), {"gardenos": {"public.leads": 11, "public.extra": 1}, "postgres": {}, "other": {}}
    )
    assert differ.ok is False
    assert differ.detail == (
        "gardenos auth.users: 3 rows in the manifest, no table restored; "
        "gardenos public.extra: no table in the manifest, 1 row restored; "
        "gardenos public.leads: 12 rows in the manifest, 11 rows restored; "
        "database other: not in the manifest"
    )

    later = compare_counts(None, COUNTS)
    assert later.ok is None
    assert "not compared" in later.detail
    uncounted = compare_counts(_manifest(None), COUNTS)
    assert uncounted.ok is None
