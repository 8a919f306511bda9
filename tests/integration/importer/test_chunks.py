"""The file is matched and written a chunk at a time; whatever the chunk size, every row's fate is the
one it would have had with the whole file matched at once: the same duplicates within the file, the same
leads and clients matched, the first matching row updating a lead and the later ones skipped."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gardenos.importer import service
from tests.integration.importer.conftest import Tenant, make_tenant, run
from tests.support import SessionDatabase

EMAILS = [f"p{i}@example.com" for i in range(12)]
PHONES = [f"+1 212 555 01{i:02d}" for i in range(12)]
# The same numbers as people type them by hand, as existing leads may hold them.
STORED_PHONES = [f"(212) 555-01{i:02d}" for i in range(12)]


def _existing(conn: psycopg.Connection, tenant: Tenant, rng: random.Random) -> None:
    for i in range(10):
        email = rng.choice([*EMAILS, None]) if i % 3 else rng.choice(EMAILS).upper()
        phone = rng.choice([*STORED_PHONES, None, None])
        conn.execute(
            "INSERT INTO leads (agency_id, first_name, email, phone, notes, tags) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (tenant.id, f"Old{i}", email, phone, rng.choice([None, "old note"]), ["kept"]),
        )
    for i in range(3):
        conn.execute(
            "INSERT INTO clients (agency_id, first_name, email, phone) VALUES (%s, %s, %s, %s)",
            (tenant.id, f"Client{i}", rng.choice([*EMAILS, None]), rng.choice([*STORED_PHONES, None])),
        )


def _file(path: Path, rng: random.Random) -> Path:
    lines = ["first_name,last_name,email,phone,company,notes,tags"]
    for i in range(60):
        email = rng.choice([*EMAILS, "", ""])
        phone = rng.choice([*PHONES, "", ""])
        if not email and not phone:
            email = f"new{i}@example.org"
        lines.append(f"New{i},Row,{email},{phone},Co {i % 4},note {i},t{i % 3}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _state(database: SessionDatabase, tenant: Tenant) -> list[tuple[Any, ...]]:
    with psycopg.connect(database.owner_url) as conn:
        rows = conn.execute(
            "SELECT first_name, last_name, email, phone, company, notes, tags, status, import_id IS NULL "
            "FROM leads WHERE agency_id = %s",
            (tenant.id,),
        ).fetchall()
    return sorted(rows, key=repr)


@pytest.mark.parametrize("policy", ["skip", "update", "merge"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_chunk_size_decides_as_the_whole_file(
    policy: str,
    seed: int,
    database: SessionDatabase,
    api_conn: psycopg.Connection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = _file(tmp_path / "people.csv", random.Random(seed))
    outcomes = []
    for chunk_rows in (10_000, 1, 7):
        tenant = make_tenant(database)
        with psycopg.connect(database.owner_url) as conn:
            _existing(conn, tenant, random.Random(seed))
        monkeypatch.setattr(service, "CHUNK_ROWS", chunk_rows)
        monkeypatch.setattr(service, "PROGRESS_ROWS", 1)
        counts = run(api_conn, tenant, path, on_duplicate=policy).counts
        outcomes.append(((counts.inserted, counts.updated, counts.duplicate), _state(database, tenant)))
    assert outcomes[0][0][0] > 0, "the file has new people"
    if policy != "skip":
        assert outcomes[0][0][1] > 0, "the file updates some leads"
    assert outcomes[1] == outcomes[0]
    assert outcomes[2] == outcomes[0]
