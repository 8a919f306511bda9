"""Base backups of the cluster, the list of them, and point-in-time restores.

- A base backup is `pg_basebackup` from a streaming replica (the leader when there is none), as
  compressed tar files with the WAL it needs, encrypted when GARDENOS_BACKUP_ENCRYPTION_KEY is set.
- Every node archives its WAL continuously (`archive_command`, see `walcrypt.py`) into `wal/`.
- Both go to the backup folder, or to S3-compatible storage when GARDENOS_BACKUP_S3_BUCKET is set
  (see `storage.py`).
- A restore unpacks the newest base backup finished before the target time into a new data folder,
  replays the archived WAL up to that time (`recovery_target_time`) or to its end (`latest`), and
  starts the result as a standalone PostgreSQL: the seed for a new cluster.

pgBackRest and WAL-G do not support PostgreSQL 18 here, hence this small layer over PostgreSQL's own
tools.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from gardenos.backup import prefetch, walcrypt
from gardenos.backup.archiving import archive_now
from gardenos.backup.manifest import count_on_standby, write_manifest
from gardenos.backup.storage import META, BackupStore, open_store, store_config
from gardenos.backup.window import Window, compute_window, lsn_segment, usable
from gardenos.cluster.cluster import Cluster
from gardenos.cluster.config import restore_command
from gardenos.cluster.layout import HOST, REPLICATION_USER
from gardenos.cluster.processes import ClusterError, PostgresProcess
from gardenos.cluster.runtime import postgres_bin_dir
from gardenos.embedded.postgres import free_port
from gardenos.errors import BadRequest, NotFound

TARS = ("base.tar.gz", "pg_wal.tar.gz")
# In a restore's folder: its port, target and base backup, for `gardenos restore list`.
RESTORE_META = "restore.json"


@dataclass(frozen=True)
class BaseBackup:
    label: str
    source: str
    started_at: datetime
    finished_at: datetime
    encrypted: bool
    size_bytes: int
    # Where it is: a folder, or an s3:// URL.
    location: str
    # When pg_basebackup returned: the backup is consistent from then on (the earliest time it can
    # be restored to). Older backups lack it: their finish time stands in.
    consistent_at: datetime | None = None
    # The segment index (window.segment_index) the backup's own WAL ends in (None: older backups).
    wal_end: int | None = None

    @property
    def restorable_from(self) -> datetime:
        return self.consistent_at or self.finished_at

    def to_dict(self) -> dict[str, object]:
        raw = asdict(self)
        raw.update(
            started_at=self.started_at.isoformat(),
            finished_at=self.finished_at.isoformat(),
            consistent_at=self.restorable_from.isoformat(),
        )
        return raw

    @classmethod
    def from_meta(cls, raw: dict[str, Any], store: BackupStore) -> BaseBackup:
        return cls(
            label=raw["label"],
            source=raw["source"],
            started_at=datetime.fromisoformat(raw["started_at"]),
            finished_at=datetime.fromisoformat(raw["finished_at"]),
            encrypted=bool(raw["encrypted"]),
            size_bytes=int(raw["size_bytes"]),
            location=store.location(raw["label"]),
            consistent_at=datetime.fromisoformat(raw["consistent_at"]) if raw.get("consistent_at") else None,
            wal_end=raw.get("wal_end"),
        )


@dataclass(frozen=True)
class Restored:
    """A restored server, running."""

    folder: Path
    port: int
    url: str
    backup: str
    target: str
    log_file: Path


def take_backup(cluster: Cluster) -> BaseBackup:
    """A base backup from a streaming replica (or the leader when none streams)."""
    layout = cluster.layout
    layout.prepare_backup_dir()
    store = backup_store(cluster)
    state = cluster.state()
    source = next(iter(state.replicas), None) or state.leader
    if source is None:
        raise ClusterError("no node is running: start the cluster with `gardenos cluster up`")
    started = datetime.now(UTC)
    label = started.strftime("%Y%m%dT%H%M%S%fZ")
    staging = layout.owned_dir(layout.base_backups / f".{label}.partial")
    node = cluster.spec.node(source.name)
    env = {**os.environ, "PGPASSWORD": cluster.spec.replication_password}
    argv = [
        str(postgres_bin_dir(layout) / "pg_basebackup"),
        f"--dbname=host={HOST} port={node.pg_port} user={REPLICATION_USER}",
        f"--pgdata={staging}",
        "--format=tar",
        "--gzip",
        "--wal-method=stream",
        "--checkpoint=fast",
        f"--label=gardenos {label}",
        "--no-password",
        # Prints the WAL start and end points (the end tells which archived WAL the backup needs).
        "--verbose",
    ]
    result = subprocess.run(
        [*layout.run_as.prefix, *argv], check=False, capture_output=True, text=True, env=env, cwd="/"
    )
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise ClusterError(f"pg_basebackup from {source.name} failed: {result.stderr.strip()}")
    consistent = datetime.now(UTC)
    end = re.search(r"write-ahead log end point: ([0-9A-F]+/[0-9A-F]+)", result.stderr)
    wal_end = lsn_segment(end.group(1)) if end else None
    key = backup_key(cluster)
    try:
        counted = count_on_standby(
            lambda db: cluster.node_url(source.name, dbname=db),
            source.name,
            label,
            end.group(1) if end else None,
        )
        write_manifest(counted, staging, key)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for name in TARS:
        if key is not None:
            plain = staging / name
            with plain.open("rb") as fin, (staging / f"{name}.enc").open("wb") as fout:
                walcrypt.encrypt_stream(fin, fout, key)
            plain.unlink()
    finished = datetime.now(UTC)
    size = sum(f.stat().st_size for f in staging.iterdir())
    backup = BaseBackup(
        label,
        source.name,
        started,
        finished,
        key is not None,
        size,
        store.location(label),
        consistent,
        wal_end,
    )
    meta = backup.to_dict()
    meta.pop("location")
    (staging / META).write_text(json.dumps(meta, indent=2))
    try:
        store.save(label, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return backup


def backup_store(cluster: Cluster) -> BackupStore:
    layout = cluster.layout
    return open_store(cluster.settings, base=layout.base_backups, wal=layout.wal_archive)


def list_backups(cluster: Cluster) -> list[BaseBackup]:
    store = backup_store(cluster)
    return sorted((BaseBackup.from_meta(raw, store) for raw in store.metadata()), key=lambda b: b.finished_at)


def parse_target(text: str) -> datetime | None:
    """`latest`, or a time (ISO 8601; without an offset it is UTC, the cluster's time zone)."""
    if text.strip().lower() == "latest":
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise BadRequest(
            f"--to {text!r} is not a time: write it as '2026-11-22 10:15:00' (UTC), "
            "'2026-11-22T10:15:00+01:00', or 'latest'"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def restore_window(cluster: Cluster) -> Window:
    """What can be restored now. On a running cluster the leader's WAL is archived up to now first
    (a bounded wait), so "a minute ago" is in the window; on a stopped one the archive is read."""
    backups = [(b.restorable_from, b.wal_end) for b in list_backups(cluster)]
    live: datetime | None = None
    leader = cluster.state().leader if cluster.is_running() else None
    if leader is not None:
        live = archive_now(cluster.node_url(leader.name, dbname="postgres"), timeout=60).marked_at
    bin_dir = postgres_bin_dir(cluster.layout)
    cache = cluster.layout.server_root / "window-cache.json"
    return compute_window(backup_store(cluster), bin_dir, backup_key(cluster), backups, live, cache)


def restore(
    cluster: Cluster,
    target: datetime | None,
    *,
    timeout: float = 300,
    backup_label: str | None = None,
    target_lsn: str | None = None,
    restore_id: str | None = None,
) -> Restored:
    """Restore into a new data folder and start it on a free port; returns where it runs.

    `backup_label`: restore that base backup rather than the newest one before `target`;
    `target_lsn`: stop just before the first WAL record at or past it (a point a manifest was counted
    at, see verify.py) rather than at a time; `restore_id`: the folder's name under `restores/`."""
    backups = list_backups(cluster)
    if not backups:
        raise NotFound("there is no base backup yet: take one with `gardenos backup`")
    first: int | None = None
    if target is not None:
        window = restore_window(cluster)
        first = window.first_segment
        if not window.contains(target):
            raise BadRequest(
                f"--to {target.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f} (UTC) is outside what can be restored: "
                f"{window.describe()}; choose a time within it (`gardenos backup list` shows it per timeline)"
            )
    candidates = [
        b for b in backups if usable(b.wal_end, first) and (target is None or b.restorable_from <= target)
    ]
    backup = candidates[-1] if candidates else backups[-1]
    if backup_label is not None:
        backup = chosen_backup(backups, backup_label, target)
    layout = cluster.layout
    key = backup_key(cluster)
    if backup.encrypted and key is None:
        raise BadRequest(f"backup {backup.label} is encrypted: set GARDENOS_BACKUP_ENCRYPTION_KEY")
    stamp = restore_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = layout.owned_dir(layout.restores_dir / stamp)
    pgdata = folder / "data"
    pgdata.mkdir(mode=0o700)
    store = backup_store(cluster)
    files = store.fetch(backup.label, folder / "fetched")
    _unpack(files, "base.tar.gz", pgdata, key)
    _unpack(files, "pg_wal.tar.gz", pgdata / "pg_wal", key)
    if files.is_relative_to(folder):
        shutil.rmtree(files)
    for leftover in ("standby.signal", "postmaster.pid", "postmaster.opts"):
        (pgdata / leftover).unlink(missing_ok=True)
    # The restore command's key and storage, next to the data folder (the cluster's may change).
    key_file = folder / "backup.key" if key else None
    if key_file is not None and key is not None:
        layout.write_private(key_file, key.decode())
    config = store_config(cluster.settings)
    store_file = folder / "backup-store.json" if config else None
    if store_file is not None and config is not None:
        layout.write_private(store_file, config)
    fallback = restore_command(
        cluster.python, layout.script_dir / "walcrypt.py", layout.wal_archive, key_file, store_file
    )
    # Recovery takes WAL fetched ahead of it (see prefetch.py) and falls back to the archive.
    ahead, histories = layout.owned_dir(folder / "wal-ahead"), layout.owned_dir(folder / "wal-history")
    names = store.wal_names()
    for name in names:
        if name.endswith(".history"):
            store.fetch_wal(name, histories / name, key)
            layout.run_as.chown(histories / name)
    command = prefetch.command(fallback, ahead, histories)
    port = free_port()
    settings = [
        "include_if_exists 'postgresql.base.conf'",
        f"listen_addresses = '{HOST}'",
        f"port = {port}",
        "wal_level = replica",
        "hot_standby = on",
        "max_connections = 200",
        "max_wal_senders = 10",
        "max_replication_slots = 10",
        "max_worker_processes = 8",
        "max_prepared_transactions = 0",
        "max_locks_per_transaction = 64",
        "shared_preload_libraries = 'pg_stat_statements'",
        "archive_mode = off",
        "restore_command = '" + command.replace("'", "''") + "'",
        "recovery_target_timeline = 'latest'",
        "recovery_target_action = 'promote'",
    ]
    if target is not None:
        settings.append(f"recovery_target_time = '{target.isoformat()}'")
    elif target_lsn is not None:
        # Exclusive: the records replayed are exactly those that start before the LSN, which is
        # what a standby had replayed when it reported the LSN as its replay position.
        settings += [f"recovery_target_lsn = '{target_lsn}'", "recovery_target_inclusive = off"]
    (pgdata / "postgresql.conf").write_text("# Written by `gardenos restore`.\n" + "\n".join(settings) + "\n")
    (pgdata / "postgresql.auto.conf").write_text("")
    (pgdata / "recovery.signal").write_text("")
    _chown_tree(cluster, folder)
    target_text = target.isoformat() if target else f"lsn {target_lsn}" if target_lsn else "latest"
    (folder / RESTORE_META).write_text(
        json.dumps({"port": port, "target": target_text, "backup": backup.label})
    )
    server = _server(cluster, folder, port)
    # No guess without the backup's last segment: recovery asks for the archive's first segments.
    fetcher = prefetch.Prefetcher(
        store,
        key,
        prefetch.plan(names, backup.wal_end) if backup.wal_end is not None else [],
        ahead,
        layout.run_as,
    ).start()
    try:
        server.start()
        _wait_promoted(server, timeout)
    finally:
        fetcher.stop()
        shutil.rmtree(ahead, ignore_errors=True)
    return Restored(folder, port, server.url(), backup.label, target_text, server.log_file)


def chosen_backup(backups: list[BaseBackup], label: str | None, target: datetime | None = None) -> BaseBackup:
    """Backup `label` (the newest when None), restorable at `target`; an error saying what to do
    when there is none."""
    if not backups:
        raise NotFound("there is no base backup yet: take one with `gardenos backup`")
    found = backups[-1] if label is None else next((b for b in backups if b.label == label), None)
    if found is None:
        raise NotFound(
            f"there is no backup {label!r}; `gardenos backup list` shows them "
            f"(the newest is {backups[-1].label})"
        )
    if target is not None and target < found.restorable_from:
        raise BadRequest(
            f"backup {found.label} is restorable only from {found.restorable_from:%Y-%m-%d %H:%M:%S.%f} "
            "(UTC), after the time asked for: choose an older backup or a later time"
        )
    return found


@dataclass(frozen=True)
class RestoreInfo:
    """A restore's folder under `<cluster dir>/restores/`: its server may run or not."""

    id: str
    folder: Path
    port: int | None
    target: str | None
    backup: str | None
    pid: int | None
    log_file: Path

    @property
    def running(self) -> bool:
        return self.pid is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "folder": str(self.folder),
            "port": self.port,
            "target": self.target,
            "backup": self.backup,
            "running": self.running,
            "pid": self.pid,
            "log": str(self.log_file),
        }


def list_restores(cluster: Cluster) -> list[RestoreInfo]:
    """Every restore's folder, oldest first, and whether its server runs."""
    folder = cluster.layout.restores_dir
    if not folder.exists():
        return []
    found = []
    for path in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            meta = json.loads((path / RESTORE_META).read_text())
        except (FileNotFoundError, ValueError):
            meta = {}
        server = _server(cluster, path, int(meta.get("port") or 0))
        found.append(
            RestoreInfo(
                path.name,
                path,
                meta.get("port"),
                meta.get("target"),
                meta.get("backup"),
                server.pid(),
                server.log_file,
            )
        )
    return found


def stop_restore(cluster: Cluster, restore_id: str) -> bool:
    """Stop a restore's server by its id (its folder's name); returns whether it was running."""
    known = {r.id: r for r in list_restores(cluster)}
    if restore_id not in known:
        raise NotFound(
            f"no restore {restore_id!r}; `gardenos restore list` shows them"
            + (f" ({', '.join(known)})" if known else " (there are none)")
        )
    return stop_restored(cluster, known[restore_id].folder)


def _server(cluster: Cluster, folder: Path, port: int) -> PostgresProcess:
    return PostgresProcess(
        f"restore-{folder.name}",
        cluster.layout.run_as,
        folder,
        postgres_bin_dir(cluster.layout),
        port,
        cluster.spec.superuser_password,
    )


def stop_restored(cluster: Cluster, folder: Path) -> bool:
    """Stop a server `restore` started (its folder stays: it is the new cluster's seed)."""
    server = PostgresProcess(
        folder.name, cluster.layout.run_as, folder, postgres_bin_dir(cluster.layout), 0, ""
    )
    return server.stop()


def backup_key(cluster: Cluster) -> bytes | None:
    secret = cluster.settings.backup_encryption_key
    return secret.get_secret_value().encode() if secret is not None else None


def _unpack(files: Path, name: str, into: Path, key: bytes | None) -> None:
    encrypted = files / f"{name}.enc"
    if encrypted.exists():
        if key is None:
            raise BadRequest("the backup is encrypted: set GARDENOS_BACKUP_ENCRYPTION_KEY")
        plain = into.parent / f".{name}.tmp"
        with encrypted.open("rb") as fin, plain.open("wb") as fout:
            walcrypt.decrypt_stream(fin, fout, key)
    else:
        plain = files / name
    into.mkdir(mode=0o700, exist_ok=True)
    try:
        with tarfile.open(plain, "r:gz") as tar:
            tar.extractall(into, filter="data")
    finally:
        if encrypted.exists():
            plain.unlink(missing_ok=True)


def _chown_tree(cluster: Cluster, folder: Path) -> None:
    run_as = cluster.layout.run_as
    if run_as.is_current_user:
        return
    for root, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            os.chown(Path(root) / name, run_as.uid, run_as.gid, follow_symlinks=False)
    os.chown(folder, run_as.uid, run_as.gid)


def _wait_promoted(server: PostgresProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.pid() is None:
            fatal = [line for line in server.log_tail(200).splitlines() if "FATAL" in line or "PANIC" in line]
            reason = fatal[-1].split("FATAL:", 1)[-1].strip() if fatal else "see its log"
            raise ClusterError(f"the restored PostgreSQL stopped: {reason}; its log: {server.log_file}")
        try:
            with psycopg.connect(server.url("postgres"), connect_timeout=2) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and not row[0]:
                    return
        except psycopg.OperationalError:
            pass
        time.sleep(0.25)
    raise ClusterError(f"the restored PostgreSQL was not ready within {timeout:.0f} s; see {server.log_file}")
