"""Verified restores: a manifest of row counts written at backup time, `gardenos restore --verify`
and `gardenos backup --verify-latest` (restore into a scratch server, pg_amcheck, counts against the
manifest, remove it, report), and verifications that must fail. One backup for the module, taken
while a writer commits, so the counts must be pinned to a WAL position to match."""

from __future__ import annotations

import io
import json
import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from gardenos.backup import walcrypt
from gardenos.backup.backup import (
    BaseBackup,
    backup_store,
    list_restores,
    restore,
    stop_restored,
    take_backup,
)
from gardenos.backup.manifest import MANIFEST, read_manifest
from gardenos.backup.verify import amcheck
from gardenos.cluster.cluster import Cluster
from gardenos.cluster.processes import PostgresProcess
from gardenos.cluster.runtime import postgres_bin_dir
from tests.cluster.conftest import BACKUP_KEY, gardenos

KEY = BACKUP_KEY.encode()


@pytest.fixture(scope="module")
def backup(cluster: Cluster) -> BaseBackup:
    """A backup taken while a writer commits one row at a time, and the writer stopped after it."""
    cluster.wait_healthy()
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE verify_rows (id bigserial PRIMARY KEY, note text NOT NULL)")
        conn.execute("CREATE INDEX ON verify_rows (note)")
        conn.execute("INSERT INTO verify_rows (note) SELECT 'before ' || g FROM generate_series(1, 500) g")
    stop = threading.Event()

    def write() -> None:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("INSERT INTO verify_rows (note) VALUES ('during')")

    writer = threading.Thread(target=write, name="verify-writer")
    writer.start()
    try:
        taken = take_backup(cluster)
    finally:
        stop.set()
        writer.join()
    return taken


def _manifest_file(cluster: Cluster, backup: BaseBackup) -> Path:
    return Path(backup_store(cluster).location(backup.label)) / f"{MANIFEST}.enc"


def _no_scratch_server_left(cluster: Cluster) -> None:
    assert not [r for r in list_restores(cluster) if r.id.startswith("verify-")]
    assert not [p for p in cluster.layout.restores_dir.glob("verify-*") if p.is_dir()]


def test_the_manifest_counts_every_table_at_a_replay_position(cluster: Cluster, backup: BaseBackup) -> None:
    assert _manifest_file(cluster, backup).read_bytes().startswith(walcrypt.MAGIC), "encrypted as the tars"
    manifest = read_manifest(backup_store(cluster), backup.label, KEY)
    assert manifest.lsn is not None
    assert manifest.counts is not None
    assert manifest.counted_on == backup.source
    assert {"gardenos", "postgres"} <= manifest.counts.keys()
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        now = conn.execute("SELECT count(*) FROM verify_rows").fetchone()
    assert now is not None
    assert 500 <= manifest.counts["gardenos"]["public.verify_rows"] <= now[0]


def test_verify_latest_restores_checks_compares_and_removes_the_scratch_server(
    cluster: Cluster, backup: BaseBackup
) -> None:
    result = gardenos(cluster, "backup", "--verify-latest")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"verification of backup {backup.label}, restored to lsn " in result.stdout
    lines = result.stdout.splitlines()
    for check in ("restore", "pg_amcheck", "row counts"):
        assert any(line.split()[:2] == ["ok", check.split()[0]] for line in lines), result.stdout
    assert "match the manifest" in result.stdout
    assert "every check passed" in result.stdout
    _no_scratch_server_left(cluster)

    listed = gardenos(cluster, "backup", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    [entry] = [b for b in found["backups"] if b["label"] == backup.label]
    assert entry["verification"]["ok"] is True
    assert [c["status"] for c in entry["verification"]["checks"]] == ["ok", "ok", "ok"]
    assert found["last_verification"]["backup"] == backup.label
    assert "last verification: backup " + backup.label in gardenos(cluster, "backup", "list").stdout


def test_verify_to_a_later_time_reports_counts_without_comparing(
    cluster: Cluster, backup: BaseBackup
) -> None:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        target = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
    result = gardenos(
        cluster, "restore", "--verify", "--backup", backup.label, "--to", target.isoformat(), "--json"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["pg_amcheck"]["ok"] is True
    assert checks["row counts"]["status"] == "skipped"
    assert "not compared" in checks["row counts"]["detail"]
    _no_scratch_server_left(cluster)


def test_a_manifest_that_disagrees_with_the_restore_fails_the_verification(
    cluster: Cluster, backup: BaseBackup
) -> None:
    file = _manifest_file(cluster, backup)
    original = file.read_bytes()
    plain = io.BytesIO()
    walcrypt.decrypt_stream(io.BytesIO(original), plain, KEY)
    raw = json.loads(plain.getvalue())
    counted = raw["counts"]["gardenos"]["public.verify_rows"]
    raw["counts"]["gardenos"]["public.verify_rows"] = counted + 1
    tampered = io.BytesIO()
    walcrypt.encrypt_stream(io.BytesIO(json.dumps(raw).encode()), tampered, KEY)
    file.write_bytes(tampered.getvalue())
    try:
        result = gardenos(cluster, "restore", "--verify", "--backup", backup.label)
    finally:
        file.write_bytes(original)
    assert result.returncode == 1, result.stdout
    assert f"public.verify_rows: {counted + 1} rows in the manifest, {counted} rows restored" in result.stdout
    assert "verification FAILED" in result.stdout
    assert any(line.split()[:3] == ["FAILED", "row", "counts"] for line in result.stdout.splitlines())
    _no_scratch_server_left(cluster)
    listed = json.loads(gardenos(cluster, "backup", "list", "--json").stdout)
    [entry] = [b for b in listed["backups"] if b["label"] == backup.label]
    assert entry["verification"]["ok"] is False


def test_bad_input_is_refused_before_anything_starts(
    cluster: Cluster, backup: BaseBackup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = gardenos(cluster, "restore", "--verify", "--backup", "20010101T000000000000Z")
    assert unknown.returncode == 1
    assert "there is no backup '20010101T000000000000Z'; `gardenos backup list` shows them" in unknown.stderr

    file = _manifest_file(cluster, backup)
    original = file.read_bytes()
    file.write_bytes(original[:-10] + b"0123456789")
    try:
        damaged = gardenos(cluster, "restore", "--verify", "--backup", backup.label)
    finally:
        file.write_bytes(original)
    assert damaged.returncode == 1
    assert f"the manifest of backup {backup.label} is damaged" in damaged.stderr
    assert "take a new backup with `gardenos backup`" in damaged.stderr
    _no_scratch_server_left(cluster)

    monkeypatch.setenv("GARDENOS_BACKUP_DIR", str(tmp_path / "no-backups"))
    none = gardenos(cluster, "backup", "--verify-latest")
    assert none.returncode == 1
    assert "there is no base backup yet: take one with `gardenos backup`" in none.stderr


def test_pg_amcheck_finds_a_damaged_relation(cluster: Cluster, backup: BaseBackup) -> None:
    """A page of a restored table overwritten on disk (the server stopped, so none of it is cached)."""
    restored = restore(cluster, None, backup_label=backup.label)
    server = PostgresProcess(
        "damaged",
        cluster.layout.run_as,
        restored.folder,
        postgres_bin_dir(cluster.layout),
        restored.port,
        cluster.spec.superuser_password,
    )
    try:
        with psycopg.connect(restored.url, autocommit=True) as conn:
            path = conn.execute("SELECT pg_relation_filepath('verify_rows')").fetchone()[0]  # type: ignore[index]
        assert stop_restored(cluster, restored.folder)
        relation = restored.folder / "data" / path
        with relation.open("r+b") as f:
            f.seek(2000)
            f.write(b"\xff" * 512)
        server.start()
        server.wait_ready(60)
        check = amcheck(cluster, restored.port, ["gardenos"])
        assert check.ok is False
        assert "verify_rows" in check.detail or "invalid page" in check.detail, check.detail
    finally:
        server.stop()
        stop_restored(cluster, restored.folder)
        shutil.rmtree(restored.folder, ignore_errors=True)


def test_a_backup_whose_files_were_changed_fails_at_the_restore(cluster: Cluster, backup: BaseBackup) -> None:
    tar = Path(backup_store(cluster).location(backup.label)) / "base.tar.gz.enc"
    original = tar.read_bytes()
    changed = bytearray(original)
    changed[len(changed) // 2] ^= 0xFF
    tar.write_bytes(bytes(changed))
    try:
        result = gardenos(cluster, "restore", "--verify", "--backup", backup.label, "--json")
    finally:
        tar.write_bytes(original)
    assert result.returncode == 1
    outcome = json.loads(result.stdout)
    assert [(c["name"], c["status"]) for c in outcome["checks"]] == [
        ("restore", "FAILED"),
        ("pg_amcheck", "skipped"),
        ("row counts", "skipped"),
    ]
    assert "the file was changed" in outcome["checks"][0]["detail"]
    _no_scratch_server_left(cluster)
