"""Verified restores: restore a base backup into a scratch server, check it, remove it, report.

The checks: the restore itself (the backup and the archived WAL replay to the target), `pg_amcheck`
over every database (heap pages and their TOAST, and B-tree indexes: structure, parent links,
uniqueness, and every heap tuple found in them), and, when the restore stops where the backup's
manifest counted its rows (see manifest.py), the rows of every table against the manifest. A restore
to a later time (`--to`) has no manifest to compare with: its counts are reported, not compared.

The outcome is kept in the backup's `verification.json` (in the backup store, beside its other
files), where `gardenos backup list` and metrics read it.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import tarfile
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from gardenos.backup import walcrypt
from gardenos.backup.archiving import archive_now
from gardenos.backup.backup import (
    BaseBackup,
    backup_key,
    backup_store,
    chosen_backup,
    list_backups,
    restore,
    stop_restored,
)
from gardenos.backup.manifest import Counts, Manifest, count_databases, read_manifest
from gardenos.cluster.cluster import Cluster
from gardenos.cluster.layout import HOST, SUPERUSER
from gardenos.cluster.processes import ClusterError
from gardenos.cluster.runtime import postgres_bin_dir

VERIFICATION = "verification.json"
# How much of pg_amcheck's report goes into the check's detail: a damaged relation repeats one
# finding for every page and tuple it spoils, the first lines name it.
DETAIL_LINES = 20
AMCHECK_TIMEOUT_S = 3600
# What `pg_amcheck --all` checks.
CHECKED = "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1"
# A base backup's files that do not decrypt or unpack: the backup is damaged.
DAMAGED = (walcrypt.DecryptionError, tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


@dataclass(frozen=True)
class Check:
    name: str
    # None: not run (an earlier check failed, or there is nothing to compare with).
    ok: bool | None
    detail: str

    @property
    def status(self) -> str:
        return "ok" if self.ok else "skipped" if self.ok is None else "FAILED"

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class Verification:
    backup: str
    target: str
    verified_at: datetime
    checks: tuple[Check, ...]
    # Where the scratch server's log was kept (only when a check failed).
    log_file: str | None = None

    @property
    def ok(self) -> bool:
        """Every check that ran passed (one that could not run counts as failed, see `_checks`)."""
        return all(c.ok is not False for c in self.checks)

    def to_dict(self) -> dict[str, object]:
        return {
            "backup": self.backup,
            "target": self.target,
            "verified_at": self.verified_at.isoformat(),
            "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
            "log": self.log_file,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> Verification:
        checks = raw.get("checks")
        return cls(
            backup=str(raw["backup"]),
            target=str(raw["target"]),
            verified_at=datetime.fromisoformat(str(raw["verified_at"])),
            checks=tuple(
                Check(str(c["name"]), c.get("ok"), str(c.get("detail", "")))
                for c in (checks if isinstance(checks, list) else [])
            ),
            log_file=str(raw["log"]) if raw.get("log") else None,
        )


def verify(
    cluster: Cluster, label: str | None = None, target: datetime | None = None, *, latest: bool = False
) -> Verification:
    """Restore backup `label` (the newest when None) to where its manifest counted its rows, or to
    `target` (a time) or the archive's end (`latest`), compared with nothing; check the result,
    remove it, record and return the outcome. Bad input (no such backup, a damaged manifest, a time
    out of reach) raises before anything starts; a check that fails is in the outcome."""
    at_manifest = target is None and not latest
    backup = chosen_backup(list_backups(cluster), label) if label is not None or at_manifest else None
    label = backup.label if backup is not None else None
    manifest: Manifest | None = None
    if at_manifest:
        assert backup is not None
        manifest = read_manifest(backup_store(cluster), backup.label, backup_key(cluster))
        _archive_past_backups(cluster)
    restore_id = f"verify-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
    folder = cluster.layout.restores_dir / restore_id
    started = time.monotonic()
    verified = backup.label if backup is not None else None
    target_text = target.isoformat() if target else f"lsn {manifest.target_lsn}" if manifest else "latest"
    checks: list[Check] = []
    log_kept: str | None = None
    try:
        try:
            restored = restore(
                cluster,
                target,
                backup_label=label,
                target_lsn=manifest.target_lsn if manifest else None,
                restore_id=restore_id,
            )
        except ClusterError as exc:
            # The backup or the archive did not replay: the verification's answer, not bad input.
            checks.append(Check("restore", False, exc.message))
        except DAMAGED as exc:
            checks.append(Check("restore", False, f"the backup's files do not decrypt or unpack: {exc}"))
        else:
            verified, target_text = restored.backup, restored.target
            took = time.monotonic() - started
            checks.append(
                Check("restore", True, f"backup {restored.backup} to {restored.target} in {took:.1f} s")
            )
            checks += _checks(cluster, restored.port, manifest)
        if not checks[0].ok:
            checks += [
                Check(name, None, "not run: the restore failed") for name in ("pg_amcheck", "row counts")
            ]
    finally:
        failed = not checks or any(c.ok is False for c in checks)
        if folder.exists():
            stop_restored(cluster, folder)
            if failed:
                log_kept = _keep_log(folder)
            shutil.rmtree(folder, ignore_errors=True)
    outcome = Verification(verified or "?", target_text, datetime.now(UTC), tuple(checks), log_kept)
    if verified is not None:
        record(cluster, outcome)
    return outcome


def _checks(cluster: Cluster, port: int, manifest: Manifest | None) -> list[Check]:
    password = cluster.spec.superuser_password

    def url(dbname: str) -> str:
        return make_conninfo("", host=HOST, port=port, user=SUPERUSER, password=password, dbname=dbname)

    try:
        # Counted first: pg_amcheck installs its extension into every database it checks.
        counts = count_databases(url)
        with psycopg.connect(url("postgres"), autocommit=True, connect_timeout=5) as conn:
            databases = [name for (name,) in conn.execute(CHECKED).fetchall()]
    except psycopg.Error as exc:
        return [
            Check("pg_amcheck", None, "not run: the restored server could not be read"),
            Check("row counts", False, f"the restored server could not be read: {exc}"),
        ]
    return [amcheck(cluster, port, databases), compare_counts(manifest, counts)]


def amcheck(cluster: Cluster, port: int, databases: list[str]) -> Check:
    """pg_amcheck over every database of the server on `port` (the server's own binary)."""
    argv = [
        str(postgres_bin_dir(cluster.layout) / "pg_amcheck"),
        "--all",
        "--install-missing",
        "--heapallindexed",
        "--parent-check",
        "--checkunique",
        f"--host={HOST}",
        f"--port={port}",
        f"--username={SUPERUSER}",
        "--no-password",
    ]
    env = {**os.environ, "PGPASSWORD": cluster.spec.superuser_password, "PGCONNECT_TIMEOUT": "10"}
    what = "heap pages and TOAST; B-tree structure, parent links, uniqueness, every heap tuple indexed"
    try:
        result = subprocess.run(
            argv, check=False, capture_output=True, text=True, env=env, timeout=AMCHECK_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return Check("pg_amcheck", False, f"did not finish within {AMCHECK_TIMEOUT_S} s")
    except FileNotFoundError:
        return Check("pg_amcheck", False, f"{argv[0]} is missing: reinstall GardenOS (`make install`)")
    if result.returncode == 0:
        return Check("pg_amcheck", True, f"{', '.join(databases)}: {what}")
    lines = (result.stdout + result.stderr).strip().splitlines()
    shown = "\n".join(lines[:DETAIL_LINES])
    more = f"\n… and {len(lines) - DETAIL_LINES} more lines" if len(lines) > DETAIL_LINES else ""
    return Check("pg_amcheck", False, f"exit status {result.returncode}:\n{shown}{more}")


def compare_counts(manifest: Manifest | None, restored: Counts) -> Check:
    tables = sum(len(t) for t in restored.values())
    if manifest is None:
        return Check(
            "row counts",
            None,
            f"not compared: the manifest counts the backup's own point, not a later time; restored "
            f"{tables} tables: {_summary(restored)}",
        )
    if manifest.counts is None:
        return Check("row counts", None, f"not compared: the backup has no counts ({manifest.why_not})")
    differences = []
    for db in sorted(manifest.counts.keys() | restored.keys()):
        want, got = manifest.counts.get(db), restored.get(db)
        if want is None or got is None:
            differences.append(f"database {db}: {'not in the manifest' if want is None else 'not restored'}")
            continue
        for table in sorted(want.keys() | got.keys()):
            expected, found = want.get(table), got.get(table)
            if expected != found:
                differences.append(
                    f"{db} {table}: {_rows(expected)} in the manifest, {_rows(found)} restored"
                )
    if differences:
        return Check("row counts", False, "; ".join(differences))
    return Check(
        "row counts",
        True,
        f"{tables} tables in {len(restored)} databases match the manifest (counted on "
        f"{manifest.counted_on} at {manifest.lsn})",
    )


def _rows(count: int | None) -> str:
    return "no table" if count is None else f"{count} row{'' if count == 1 else 's'}"


def _summary(counts: Counts) -> str:
    return "; ".join(f"{db} {sum(t.values())} rows" for db, t in sorted(counts.items()))


def record(cluster: Cluster, outcome: Verification) -> None:
    """Keep the outcome beside the backup it verified (the newest verification of each backup)."""
    data = json.dumps(outcome.to_dict(), indent=2).encode()
    backup_store(cluster).write_file(outcome.backup, VERIFICATION, data)


def verifications(cluster: Cluster, backups: list[BaseBackup] | None = None) -> dict[str, Verification]:
    """The last verification of each backup that has one, by label."""
    store = backup_store(cluster)
    found = {}
    for backup in backups if backups is not None else list_backups(cluster):
        data = store.read_file(backup.label, VERIFICATION)
        if data is None:
            continue
        try:
            found[backup.label] = Verification.from_dict(json.loads(data))
        except (ValueError, KeyError, TypeError):
            continue  # an unreadable record is no verification
    return found


def newest(found: dict[str, Verification]) -> Verification | None:
    return max(found.values(), key=lambda v: v.verified_at, default=None)


def last_verification(cluster: Cluster) -> Verification | None:
    """The newest verification of any backup (what metrics report)."""
    return newest(verifications(cluster))


def _archive_past_backups(cluster: Cluster) -> None:
    """Recovery to an LSN stops only at a record past it: on a running cluster, archive the WAL up
    to now, so the records after the manifest's position are in the archive (a stopped cluster
    archived its WAL when it stopped)."""
    if not cluster.layout.exists() or not cluster.is_running():
        return
    leader = cluster.state().leader
    if leader is not None:
        archive_now(cluster.node_url(leader.name, dbname="postgres"), timeout=60)


def _keep_log(folder: Path) -> str | None:
    """The failed scratch server's log, kept beside the restores (its folder is removed)."""
    log = folder / "postgres.log"
    if not log.exists():
        return None
    kept = folder.parent / f"{folder.name}.log"
    shutil.copyfile(log, kept)
    return str(kept)
