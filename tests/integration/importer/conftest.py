"""Agencies to import into, and a way to run an import as one of their owners."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gardenos.demo.agency import ensure_agency
from gardenos.importer.service import Importer, ImportOptions, Outcome
from gardenos.importer.sql import IMPORT_LOCK
from tests.support import SessionDatabase


@dataclass(frozen=True)
class Tenant:
    id: uuid.UUID
    slug: str
    owner_id: uuid.UUID

    @property
    def claims(self) -> dict[str, Any]:
        return {
            "sub": str(self.owner_id),
            "role": "authenticated",
            "app_metadata": {"agency_id": str(self.id), "agency_role": "owner"},
        }


def make_tenant(database: SessionDatabase) -> Tenant:
    slug = f"imp-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database.owner_url) as conn, conn.transaction():
        agency = ensure_agency(
            conn, name=slug, slug=slug, owner_email=f"owner@{slug}.example", password="import-tests-pw"
        )
    return Tenant(agency.id, slug, agency.owner_id)


@pytest.fixture
def tenant(database: SessionDatabase) -> Tenant:
    return make_tenant(database)


@pytest.fixture
def api_conn(database: SessionDatabase) -> Iterator[psycopg.Connection]:
    """A connection as the API's login role (`authenticator`), as the API's background task uses."""
    with psycopg.connect(database.api_url) as conn:
        yield conn


def run(
    conn: psycopg.Connection, tenant: Tenant, path: Path, errors_dir: Path | None = None, **options: Any
) -> Outcome:
    return Importer(conn, tenant.claims, errors_dir=errors_dir).import_file(
        path, filename=path.name, options=ImportOptions(**options), max_bytes=1 << 30
    )


def leads_of(database: SessionDatabase, tenant: Tenant) -> list[tuple[Any, ...]]:
    with psycopg.connect(database.owner_url) as conn:
        return conn.execute(
            "SELECT first_name, last_name, email, phone, company, custom_fields, import_id FROM leads "
            "WHERE agency_id = %s ORDER BY first_name, last_name",
            (tenant.id,),
        ).fetchall()


def write_people_csv(path: Path, rows: int) -> Path:
    """`rows` valid, distinct people (name, email, phone)."""
    with path.open("w") as f:
        f.write("first_name,last_name,email,phone\n")
        f.writelines(
            f"Person,N{i},p{i}@example.com,+1 212 {200 + i // 10000} {i % 10000:04d}\n" for i in range(rows)
        )
    return path


# How long to wait for an import to get to a point (a loaded machine is slow to start a process).
WAIT_S = 120
# The import's backend, waiting for the test's lock on leads in the statement that writes its rows.
WAITING_TO_WRITE = """
SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.relation = 'public.leads'::regclass AND NOT l.granted AND a.query LIKE '%%INSERT INTO public.leads%%'
"""
# The import's lock, held by whoever runs it: a killed process's backend holds it until it notices that its
# client is gone (at the end of its statement), and rolls the import back.
RUN_BY_SOMEONE = f"""
SELECT count(*) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = {IMPORT_LOCK}
    AND l.objid = ANY (ARRAY(SELECT hashtext(i.agency_id::text || '/' || i.id::text)::oid
                             FROM public.imports i WHERE i.id = %s::uuid))
    AND l.objsubid = 2 AND l.granted
"""


class LeadsLocked:
    """A SHARE lock on `leads`, held by the test (as the owner) until released: reads go on, and every
    write waits. An import started meanwhile reads and stages its rows, then waits in its INSERT, for as
    long as the test wants, so a small file is caught in the middle however fast the machine is."""

    def __init__(self, database: SessionDatabase) -> None:
        self.conn = psycopg.connect(database.owner_url)
        self.conn.execute("LOCK TABLE public.leads IN SHARE MODE")
        # Watched from a connection of its own: pg_stat_activity is read once per transaction.
        self.watch = psycopg.connect(database.owner_url, autocommit=True)

    def wait_for_writer(self) -> None:
        wait_until(
            lambda: self._count(WAITING_TO_WRITE) > 0,
            lambda: f"the import never began to write; waiting for locks: {self._waiting()}",
        )

    def release(self) -> None:
        self.conn.rollback()

    def wait_until_let_go(self, import_id: object) -> None:
        """Until nobody holds the import (after `release`, a killed process's backend ends its INSERT,
        finds its client gone, and rolls back)."""
        wait_until(
            lambda: self._count(RUN_BY_SOMEONE, str(import_id)) == 0,
            "the killed process's backend still holds the import",
        )

    def close(self) -> None:
        self.conn.close()
        self.watch.close()

    def _count(self, query: str, *params: object) -> int:
        row = self.watch.execute(query, params).fetchone()
        assert row is not None
        return int(row[0])

    def _waiting(self) -> list[tuple[Any, ...]]:
        return self.watch.execute(
            "SELECT l.relation::regclass, l.mode, a.state, left(a.query, 300) FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted"
        ).fetchall()


@pytest.fixture
def leads_locked(database: SessionDatabase) -> Iterator[LeadsLocked]:
    held = LeadsLocked(database)
    try:
        yield held
    finally:
        held.close()


def wait_until(condition: Callable[[], bool], failure: str | Callable[[], str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(failure() if callable(failure) else failure)
        time.sleep(0.1)
