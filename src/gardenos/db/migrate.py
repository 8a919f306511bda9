"""Numbered SQL migrations, applied in order, each in its own transaction, recorded in a table.

Files are `NNNN_name.sql` in `gardenos/db/migrations/`. An applied migration whose file has changed
since is an error: migrations are history, a change goes into a new file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.resources import files

import psycopg
from psycopg import sql

from gardenos.db.connect import connect
from gardenos.errors import GardenError

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

# A fixed key for pg_advisory_lock, so two processes starting at once migrate one after the other.
_LOCK_KEY = 0x6761_7264_656E  # "garden"

BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS gardenos;
CREATE TABLE IF NOT EXISTS gardenos.schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""

APPLIED = "SELECT version, name, checksum, applied_at FROM gardenos.schema_migrations ORDER BY version"
RECORD = "INSERT INTO gardenos.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)"


class MigrationError(GardenError):
    status_code = 500
    code = "GARDEN_MIGRATION"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str = field(repr=False)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


@dataclass(frozen=True)
class MigrationStatus:
    migration: Migration
    applied_at: datetime | None


@cache
def available() -> tuple[Migration, ...]:
    found = []
    for entry in files("gardenos.db.migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number: {versions}")
    return tuple(found)


def latest_version() -> int:
    return available()[-1].version


def _applied(conn: psycopg.Connection) -> dict[int, tuple[str, datetime]]:
    rows = conn.execute(APPLIED).fetchall()
    return {version: (checksum, applied_at) for version, _name, checksum, applied_at in rows}


def _check_history(applied: dict[int, tuple[str, datetime]]) -> None:
    known = {m.version: m for m in available()}
    for version, (checksum, _at) in applied.items():
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version:04d}, which this GardenOS does not know: "
                "it was migrated by a newer version; upgrade GardenOS"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {migration.label} changed after it was applied; "
                "restore the file and put the change in a new migration"
            )


def migrate(owner_url: str) -> list[Migration]:
    """Apply every pending migration as the database owner. Returns those applied now."""
    applied_now: list[Migration] = []
    with connect(owner_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(BOOTSTRAP)
            applied = _applied(conn)
            _check_history(applied)
            for migration in available():
                if migration.version in applied:
                    continue
                with conn.transaction():
                    conn.execute("SET LOCAL search_path = public, extensions")
                    try:
                        conn.execute(migration.sql)
                    except psycopg.Error as exc:
                        raise MigrationError(f"migration {migration.label} failed: {exc}") from exc
                    conn.execute(RECORD, (migration.version, migration.name, migration.checksum))
                applied_now.append(migration)
            if applied_now:
                # PostgREST's convention: API processes reload their schema cache.
                conn.execute("NOTIFY pgrst, 'reload schema'")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def status(owner_url: str) -> list[MigrationStatus]:
    with connect(owner_url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('gardenos.schema_migrations') IS NOT NULL").fetchone()
        applied = _applied(conn) if exists and exists[0] else {}
    return [MigrationStatus(m, applied[m.version][1] if m.version in applied else None) for m in available()]


def set_login_password(owner_url: str, role: str, password: str) -> None:
    """Give a login role (the API's `authenticator`) its password; passwords never live in migrations."""
    with connect(owner_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
