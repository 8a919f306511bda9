"""Row-level security, tested as the API's own login (`authenticator`) through the scoped transaction.

The owner and superusers bypass RLS, so data is set up as the owner and every assertion runs as the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import errors

from gardenos.db.pool import Database
from tests.support import SessionDatabase

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Tenant:
    agency_id: uuid.UUID
    user_id: uuid.UUID
    lead_ids: list[uuid.UUID]

    @property
    def claims(self) -> dict[str, Any]:
        return {
            "sub": str(self.user_id),
            "role": "authenticated",
            "aud": "authenticated",
            "app_metadata": {"agency_id": str(self.agency_id), "agency_role": "owner"},
        }


def _make_tenant(conn: psycopg.Connection, slug: str) -> Tenant:
    agency_id = conn.execute(
        "INSERT INTO agencies (name, slug) VALUES (%s, %s) RETURNING id", (slug.title(), slug)
    ).fetchone()[0]  # type: ignore[index]
    user_id = conn.execute(
        "INSERT INTO auth.users (email) VALUES (%s) RETURNING id", (f"owner@{slug}.example",)
    ).fetchone()[0]  # type: ignore[index]
    conn.execute(
        "INSERT INTO memberships (agency_id, user_id, role) VALUES (%s, %s, 'owner')", (agency_id, user_id)
    )
    lead_ids = [
        row[0]
        for row in conn.execute(
            """
            INSERT INTO leads (agency_id, first_name, email, company, source)
            SELECT %s, 'Lead ' || g, 'lead' || g || '@' || %s || '.example', 'Co ' || g, 'website'
            FROM generate_series(1, 5) g
            RETURNING id
            """,
            (agency_id, slug),
        ).fetchall()
    ]
    client_id = conn.execute(
        "INSERT INTO clients (agency_id, lead_id, first_name) VALUES (%s, %s, 'Client') RETURNING id",
        (agency_id, lead_ids[0]),
    ).fetchone()[0]  # type: ignore[index]
    conn.execute(
        "INSERT INTO activities (agency_id, lead_id, kind, subject) VALUES (%s, %s, 'note', 'hello')",
        (agency_id, lead_ids[1]),
    )
    conn.execute(
        "INSERT INTO activities (agency_id, client_id, kind, subject) VALUES (%s, %s, 'call', 'hi')",
        (agency_id, client_id),
    )
    return Tenant(agency_id, user_id, lead_ids)


@pytest.fixture
def tenants(owner: psycopg.Connection) -> Iterator[tuple[Tenant, Tenant]]:
    suffix = uuid.uuid4().hex[:8]
    a, b = _make_tenant(owner, f"a-{suffix}"), _make_tenant(owner, f"b-{suffix}")
    yield a, b
    owner.execute("DELETE FROM agencies WHERE id IN (%s, %s)", (a.agency_id, b.agency_id))
    owner.execute("DELETE FROM auth.users WHERE id IN (%s, %s)", (a.user_id, b.user_id))


@pytest.fixture
async def api_db(database: SessionDatabase) -> Any:
    db = Database(database.api_url, min_size=1, max_size=1)
    await db.open()
    yield db
    await db.close()


async def _scalar(conn: Any, query: str, params: tuple[Any, ...] = ()) -> Any:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    return row[0]


async def test_api_login_is_not_privileged(api_db: Database) -> None:
    async with api_db.transaction("anon") as conn:
        row = await (
            await conn.execute(
                "SELECT session_user, current_user, rolbypassrls, rolsuper "
                "FROM pg_roles WHERE rolname = session_user"
            )
        ).fetchone()
    assert row == ("authenticator", "anon", False, False)


async def test_tenant_sees_only_its_own_rows(api_db: Database, tenants: tuple[Tenant, Tenant]) -> None:
    a, b = tenants
    async with api_db.transaction("authenticated", a.claims) as conn:
        for table in ("leads", "clients", "activities", "agencies", "memberships"):
            theirs = await _scalar(
                conn, f"SELECT count(*) FROM {table} WHERE {_agency_col(table)} = %s", (b.agency_id,)
            )
            assert theirs == 0, f"{table}: agency A sees agency B's rows"
        mine = await _scalar(conn, "SELECT count(*) FROM leads")
        assert mine == len(a.lead_ids)
        assert await _scalar(conn, "SELECT auth.agency_id()") == a.agency_id
        assert await _scalar(conn, "SELECT auth.uid()") == a.user_id


def _agency_col(table: str) -> str:
    return "id" if table == "agencies" else "agency_id"


async def test_updates_and_deletes_of_another_agency_touch_nothing(
    api_db: Database, tenants: tuple[Tenant, Tenant], owner: psycopg.Connection
) -> None:
    a, b = tenants
    async with api_db.transaction("authenticated", a.claims) as conn:
        cur = await conn.execute("UPDATE leads SET status = 'lost' WHERE agency_id = %s", (b.agency_id,))
        assert cur.rowcount == 0
        cur = await conn.execute("UPDATE leads SET status = 'lost' WHERE id = ANY(%s)", (b.lead_ids,))
        assert cur.rowcount == 0
        cur = await conn.execute("DELETE FROM activities WHERE agency_id = %s", (b.agency_id,))
        assert cur.rowcount == 0
        cur = await conn.execute("DELETE FROM leads WHERE id = ANY(%s)", (b.lead_ids,))
        assert cur.rowcount == 0
        cur = await conn.execute("DELETE FROM clients WHERE agency_id = %s", (b.agency_id,))
        assert cur.rowcount == 0
    statuses = owner.execute(
        "SELECT DISTINCT status FROM leads WHERE agency_id = %s", (b.agency_id,)
    ).fetchall()
    assert statuses == [("new",)]
    assert owner.execute("SELECT count(*) FROM leads WHERE agency_id = %s", (b.agency_id,)).fetchone() == (5,)


async def test_inserting_into_another_agency_is_refused(
    api_db: Database, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        async with api_db.transaction("authenticated", a.claims) as conn:
            await conn.execute(
                "INSERT INTO leads (agency_id, first_name) VALUES (%s, 'Mallory')", (b.agency_id,)
            )


async def test_moving_a_row_to_another_agency_is_refused(
    api_db: Database, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    with pytest.raises(errors.InsufficientPrivilege):
        async with api_db.transaction("authenticated", a.claims) as conn:
            await conn.execute("UPDATE leads SET agency_id = %s WHERE id = %s", (b.agency_id, a.lead_ids[0]))


async def test_linking_to_another_agencys_lead_is_refused(
    api_db: Database, tenants: tuple[Tenant, Tenant]
) -> None:
    """Foreign keys are checked without RLS: the composite (agency_id, id) keys stop cross-agency links."""
    a, b = tenants
    with pytest.raises(errors.ForeignKeyViolation):
        async with api_db.transaction("authenticated", a.claims) as conn:
            await conn.execute("INSERT INTO activities (lead_id, kind) VALUES (%s, 'note')", (b.lead_ids[0],))


async def test_inserts_default_to_the_callers_agency(
    api_db: Database, tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = tenants
    async with api_db.transaction("authenticated", a.claims) as conn:
        agency = await _scalar(conn, "INSERT INTO leads (first_name) VALUES ('Ada') RETURNING agency_id")
    assert agency == a.agency_id


async def test_anon_sees_nothing(api_db: Database, tenants: tuple[Tenant, Tenant]) -> None:
    async with api_db.transaction("anon") as conn:
        for table in ("leads", "clients", "activities", "agencies", "memberships"):
            assert await _scalar(conn, f"SELECT count(*) FROM {table}") == 0, table
    with pytest.raises(errors.InsufficientPrivilege):
        async with api_db.transaction("anon") as conn:
            await conn.execute(
                "INSERT INTO leads (agency_id, first_name) VALUES (%s, 'Eve')", (tenants[0].agency_id,)
            )


async def test_authenticated_without_agency_sees_nothing(
    api_db: Database, tenants: tuple[Tenant, Tenant]
) -> None:
    claims = {"sub": str(uuid.uuid4()), "role": "authenticated", "app_metadata": {}}
    async with api_db.transaction("authenticated", claims) as conn:
        assert await _scalar(conn, "SELECT count(*) FROM leads") == 0


async def test_claims_do_not_leak_to_the_next_transaction(
    api_db: Database, tenants: tuple[Tenant, Tenant]
) -> None:
    a, _ = tenants
    async with api_db.transaction("authenticated", a.claims) as conn:
        assert await _scalar(conn, "SELECT count(*) FROM leads") > 0
    # The pool has a single connection here, so the next transaction reuses it.
    async with api_db.transaction("anon") as conn:
        assert await _scalar(conn, "SELECT current_setting('request.jwt.claims', true)") == "{}"
        assert await _scalar(conn, "SELECT count(*) FROM leads") == 0
    async with api_db.pool.connection() as conn:
        assert await _scalar(conn, "SELECT current_user") == "authenticator"
        assert await _scalar(conn, "SELECT coalesce(current_setting('request.jwt.claims', true), '')") == ""


async def test_unknown_role_is_refused(api_db: Database) -> None:
    with pytest.raises(ValueError, match="not an API role"):
        async with api_db.transaction("postgres"):  # type: ignore[arg-type]
            pass
