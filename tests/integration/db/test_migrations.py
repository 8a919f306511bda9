"""Migrations apply to an empty database, a second run is a no-op, and the result matches schema.sql."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from gardenos.db import migrate as migrations
from gardenos.embedded.postgres import wheel_bin_dir
from tests.support import SessionDatabase

SNAPSHOT = Path(__file__).parents[3] / "src" / "gardenos" / "db" / "schema.sql"


@pytest.fixture
def empty_database(database: SessionDatabase, owner: psycopg.Connection) -> Iterator[str]:
    name = "migration_check"
    owner.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    owner.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database.pg.url(dbname=name)
    finally:
        owner.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def dump_schema(url: str) -> str:
    """pg_dump's schema, without the lines that differ from one dump to the next."""
    out = subprocess.run(
        [str(wheel_bin_dir() / "pg_dump"), "--schema-only", "--no-owner", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # `\restrict KEY` / `\unrestrict KEY` carry a random key per dump (PostgreSQL 18 security fix).
    out = re.sub(r"^\\(un)?restrict .*$", "", out, flags=re.MULTILINE)
    out = re.sub(r"^-- Dumped (from|by) .*$", "", out, flags=re.MULTILINE)
    return re.sub(r"\n{3,}", "\n\n", out).strip() + "\n"


def test_all_migrations_apply_to_an_empty_database(empty_database: str) -> None:
    applied = migrations.migrate(empty_database)
    assert [m.version for m in applied] == [m.version for m in migrations.available()]
    states = migrations.status(empty_database)
    assert all(s.applied_at is not None for s in states)


def test_second_run_is_a_no_op(empty_database: str) -> None:
    migrations.migrate(empty_database)
    before = dump_schema(empty_database)
    assert migrations.migrate(empty_database) == []
    assert dump_schema(empty_database) == before


def test_result_matches_schema_snapshot(empty_database: str) -> None:
    migrations.migrate(empty_database)
    dumped = dump_schema(empty_database)
    if os.environ.get("GARDENOS_UPDATE_SCHEMA") == "1":
        SNAPSHOT.write_text(dumped)
    if not SNAPSHOT.exists():
        pytest.fail(f"{SNAPSHOT} is missing: create it with `make schema`")
    assert dumped == SNAPSHOT.read_text(), (
        "the migrated schema differs from schema.sql: "
        "if the change is intended, run `make schema` and commit it"
    )


def test_a_changed_applied_migration_is_refused(empty_database: str) -> None:
    migrations.migrate(empty_database)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("UPDATE gardenos.schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
        migrations.migrate(empty_database)


def test_every_tenant_table_has_row_level_security(
    database: SessionDatabase, owner: psycopg.Connection
) -> None:
    rows = owner.execute(
        """
        SELECT c.oid::regclass::text, c.relrowsecurity,
               (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'agency_id' AND NOT a.attisdropped
        WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 'storage', 'auth')
        """
    ).fetchall()
    assert len(rows) >= 10
    missing = [table for table, rls, policies in rows if not rls or policies == 0]
    assert missing == [], f"tenant tables without RLS or without a policy: {missing}"
