"""Where base backups and the WAL archive are kept: the backup folder, or S3-compatible storage when
GARDENOS_BACKUP_S3_BUCKET is set.

    <backup folder>/base/<label>/   or   s3://<bucket>/<prefix>/base/<label>/
        base.tar.gz[.enc], pg_wal.tar.gz[.enc], manifest.json[.enc] (row counts, see verify.py),
        backup.json (written last: a backup without it is unfinished and not listed), and later
        verification.json (its last verified restore)
    <backup folder>/wal/<segment>   or   s3://<bucket>/<prefix>/wal/<segment>

The WAL side is written by PostgreSQL's archive_command (`walcrypt.py`, with the store described in a
0600 JSON file of the service user's); this module does the base backups' side.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from gardenos.backup import walcrypt
from gardenos.backup.walcrypt import S3Store
from gardenos.settings import Settings

META = "backup.json"


def store_config(settings: Settings) -> str | None:
    """The store file's content (JSON) when S3-compatible storage is configured, else None."""
    if not settings.backup_s3_bucket:
        return None
    secret = settings.backup_s3_secret_access_key
    return json.dumps(
        {
            "bucket": settings.backup_s3_bucket,
            "prefix": settings.backup_s3_prefix.strip("/"),
            "endpoint": settings.backup_s3_endpoint,
            "region": settings.backup_s3_region,
            "access_key_id": settings.backup_s3_access_key_id,
            "secret_access_key": secret.get_secret_value() if secret is not None else None,
        },
        indent=2,
    )


class BackupStore(ABC):
    """Base backups (folders of files) by label, and where the WAL archive is."""

    @property
    @abstractmethod
    def wal_location(self) -> str:
        """Where the WAL archive is, for people to read."""

    @abstractmethod
    def location(self, label: str) -> str:
        """Where a base backup is, for people to read."""

    @abstractmethod
    def save(self, label: str, staging: Path) -> None:
        """Store the files of a finished base backup (`backup.json` last); `staging` is consumed."""

    @abstractmethod
    def metadata(self) -> list[dict[str, Any]]:
        """The `backup.json` of every finished base backup."""

    @abstractmethod
    def fetch(self, label: str, into: Path) -> Path:
        """A local folder with the base backup's files (`into` is used when they must be fetched)."""

    @abstractmethod
    def read_file(self, label: str, name: str) -> bytes | None:
        """One file of a base backup as stored (None when it has no such file), without fetching
        the rest: its manifest or verification record."""

    @abstractmethod
    def write_file(self, label: str, name: str, data: bytes) -> None:
        """Add or replace one small file of a finished base backup (its last verification)."""

    @abstractmethod
    def wal_names(self) -> list[str]:
        """The names of the archived WAL files (segments, `.partial` ones, history files)."""

    @abstractmethod
    def fetch_wal(self, name: str, dest: Path, key: bytes | None) -> None:
        """An archived WAL file, decrypted, at `dest`."""

    @abstractmethod
    def labels(self) -> set[str]:
        """Every base backup's label, finished or not (an unfinished one lacks `backup.json`)."""

    @abstractmethod
    def delete_backup(self, label: str) -> None:
        """Remove a base backup: `backup.json` first, so that a removal cut short leaves an unfinished
        backup (not listed, removed by the next prune), never a listed one that lacks files."""

    @abstractmethod
    def delete_wal(self, names: list[str]) -> None:
        """Remove archived WAL files by name."""


class FolderStore(BackupStore):
    def __init__(self, base: Path, wal: Path) -> None:
        self.base = base
        self.wal = wal

    @property
    def wal_location(self) -> str:
        return str(self.wal)

    def location(self, label: str) -> str:
        return str(self.base / label)

    def save(self, label: str, staging: Path) -> None:
        # The metadata is written inside the staging folder, and the rename makes it appear whole.
        staging.replace(self.base / label)

    def metadata(self) -> list[dict[str, Any]]:
        if not self.base.exists():
            return []
        return [
            json.loads((folder / META).read_text())
            for folder in self.base.iterdir()
            if (folder / META).is_file()
        ]

    def fetch(self, label: str, into: Path) -> Path:
        del into
        return self.base / label

    def read_file(self, label: str, name: str) -> bytes | None:
        try:
            return (self.base / label / name).read_bytes()
        except FileNotFoundError:
            return None

    def write_file(self, label: str, name: str, data: bytes) -> None:
        # Whole or not at all: a reader never sees half a record.
        tmp = self.base / label / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(self.base / label / name)

    def wal_names(self) -> list[str]:
        if not self.wal.exists():
            return []
        return [p.name for p in self.wal.iterdir() if not p.name.startswith(".")]

    def fetch_wal(self, name: str, dest: Path, key: bytes | None) -> None:
        walcrypt.restore(self.wal / name, dest, key)

    def labels(self) -> set[str]:
        if not self.base.exists():
            return set()
        # Dot-folders are a backup being taken (`.<label>.partial`), not a stored one.
        return {p.name for p in self.base.iterdir() if p.is_dir() and not p.name.startswith(".")}

    def delete_backup(self, label: str) -> None:
        folder = self.base / label
        (folder / META).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)

    def delete_wal(self, names: list[str]) -> None:
        for name in names:
            (self.wal / name).unlink(missing_ok=True)


class S3BackupStore(BackupStore):
    def __init__(self, store: S3Store) -> None:
        self.store = store

    @property
    def wal_location(self) -> str:
        return self.store.url("wal/")

    def location(self, label: str) -> str:
        return self.store.url(f"base/{label}/")

    def save(self, label: str, staging: Path) -> None:
        files = sorted(f for f in staging.iterdir() if f.is_file() and f.name != META)
        for file in [*files, staging / META]:
            self.store.upload(file, f"base/{label}/{file.name}")
        shutil.rmtree(staging, ignore_errors=True)

    def metadata(self) -> list[dict[str, Any]]:
        return [
            json.loads(self.store.read(name))
            for name in self.store.names("base/")
            if name.endswith(f"/{META}")
        ]

    def fetch(self, label: str, into: Path) -> Path:
        into.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name in self.store.names(f"base/{label}/"):
            self.store.download(name, into / name.rsplit("/", 1)[-1])
        return into

    def read_file(self, label: str, name: str) -> bytes | None:
        key = f"base/{label}/{name}"
        return self.store.read(key) if self.store.exists(key) else None

    def write_file(self, label: str, name: str, data: bytes) -> None:
        with tempfile.TemporaryDirectory(prefix="gardenos-store-") as scratch:
            file = Path(scratch) / name
            file.write_bytes(data)
            self.store.upload(file, f"base/{label}/{name}")

    def wal_names(self) -> list[str]:
        return [name.rsplit("/", 1)[-1] for name in self.store.names("wal/")]

    def fetch_wal(self, name: str, dest: Path, key: bytes | None) -> None:
        if not walcrypt.restore_from_store(self.store, f"wal/{name}", dest, key):
            raise FileNotFoundError(f"{self.store.url(f'wal/{name}')} is not in the archive")

    def labels(self) -> set[str]:
        return {name.split("/")[1] for name in self.store.names("base/") if name.count("/") >= 2}

    def delete_backup(self, label: str) -> None:
        self.store.delete([f"base/{label}/{META}"])
        self.store.delete([name for name in self.store.names(f"base/{label}/") if not name.endswith(META)])

    def delete_wal(self, names: list[str]) -> None:
        self.store.delete([f"wal/{name}" for name in names])


def open_store(settings: Settings, *, base: Path, wal: Path) -> BackupStore:
    text = store_config(settings)
    if text is None:
        return FolderStore(base, wal)
    return S3BackupStore(S3Store(json.loads(text)))
