"""The same import id in two agencies (an id is unique within its agency since migration 0017): an import
running in one agency neither blocks the other's nor shields it from the reaper, and says nothing about it."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import psycopg

from gardenos.errors import GardenError
from gardenos.importer import sql
from gardenos.importer.service import Importer, ImportOptions
from tests.integration.importer.conftest import Tenant, make_tenant
from tests.support import SessionDatabase


def _status(owner: psycopg.Connection, tenant: Tenant, import_id: uuid.UUID) -> str:
    row = owner.execute(
        "SELECT status FROM imports WHERE agency_id = %s AND id = %s", (tenant.id, import_id)
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_an_import_runs_beside_another_agencys_import_of_the_same_id(
    database: SessionDatabase, tmp_path: Path
) -> None:
    a, b = make_tenant(database), make_tenant(database)
    import_id = uuid.uuid4()
    with psycopg.connect(database.owner_url, autocommit=True) as owner:
        for tenant in (a, b):
            owner.execute(
                "INSERT INTO imports (agency_id, id, filename, created_by) VALUES (%s, %s, 'twin.csv', %s)",
                (tenant.id, import_id, tenant.owner_id),
            )
        # A's import runs and holds its run lock, waiting for A's other import (its agency lock, held here).
        csv = tmp_path / "twin.csv"
        csv.write_text("first_name,email\nTwin,twin@example.com\n")
        other_import = psycopg.connect(database.owner_url, autocommit=True)
        other_import.execute("SELECT pg_advisory_lock(%s, hashtext(%s::text))", (sql.AGENCY_LOCK, str(a.id)))
        outcomes: dict[str, object] = {}

        def run_a() -> None:
            with psycopg.connect(database.api_url) as conn:
                try:
                    outcomes["a"] = Importer(conn, a.claims).run(
                        import_id, csv, ImportOptions(), max_bytes=1 << 20
                    )
                except GardenError as exc:
                    outcomes["a"] = exc

        running = threading.Thread(target=run_a, name="import-a")
        running.start()
        try:
            for _ in range(600):
                if _status(owner, a, import_id) == "running":
                    break
                time.sleep(0.05)
            assert _status(owner, a, import_id) == "running", outcomes

            # B's import of the same id runs (not "being run by another process").
            with psycopg.connect(database.api_url) as conn:
                outcome = Importer(conn, b.claims).run(import_id, csv, ImportOptions(), max_bytes=1 << 20)
            assert (outcome.status, outcome.counts.inserted) == ("succeeded", 1)

            # The reaper (as service_role, every agency) sees that A's import still runs.
            with psycopg.connect(database.api_url) as conn:
                conn.execute("SET ROLE service_role")
                reaped = conn.execute(sql.REAP, {"error": sql.INTERRUPTED}).fetchall()
                conn.rollback()
            assert import_id not in [row[0] for row in reaped]
        finally:
            other_import.close()  # A's import goes on
            running.join(timeout=120)
        assert (_status(owner, a, import_id), _status(owner, b, import_id)) == ("succeeded", "succeeded")
