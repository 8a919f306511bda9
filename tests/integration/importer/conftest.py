"""Agencies to import into, and a way to run an import as one of their owners."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gardenos.demo.agency import ensure_agency
from gardenos.importer.service import Importer, ImportOptions, Outcome
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
