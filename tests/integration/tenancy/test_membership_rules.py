"""Who may add, change and remove members, and what a removed member keeps: nothing. The rules hold at every
door (/rest/v1/memberships, /api/v1/agencies, SQL), because the database decides them from its current rows
(migration 0014), never from a token's claims. Everything here runs through the API as its own roles."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import psycopg
import pytest
from psycopg import errors

from gardenos.db.pool import SCOPE, scope
from tests.integration.tenancy.test_agencies import app_meta, sign_in
from tests.live import Api, Member, agency_owner
from tests.support import SessionDatabase

# A token that outlived its membership is refused at the door (auth/revocation.py, 401 within seconds); the
# tests below check that door, and then that the database alone refuses the same token's claims too, as the
# API's own role: the door is a cache in each API process, the rows are the authority.
STALE = 401


@contextlib.contextmanager
def _as_stale_token(database: SessionDatabase, token: str) -> Iterator[psycopg.Connection]:
    """A transaction as `authenticated` with the claims a (stale) access token carries."""
    claims = jwt.decode(token, options={"verify_signature": False})
    with psycopg.connect(database.api_url) as conn, conn.transaction():
        conn.execute(SCOPE, scope("authenticated", claims, 0))
        yield conn


def _refused(conn: psycopg.Connection, statement: str, params: tuple[Any, ...]) -> str:
    """The statement fails for want of privilege (in a savepoint, so the transaction goes on): its message."""
    with pytest.raises(errors.InsufficientPrivilege) as refused, conn.transaction():
        conn.execute(statement, params)
    return str(refused.value)


@dataclass(frozen=True)
class Staff:
    user_id: str
    access_token: str


@dataclass(frozen=True)
class Agency:
    owner: Member
    admin: Staff
    member: Staff


def _join(api: Api, owner: Member, role: str) -> Staff:
    """A new user invited into the owner's agency with `role`, signed in (the token carries the agency)."""
    address, password = api.confirmed_user()
    with api.http(owner.access_token) as http:
        invited = http.post(
            f"/api/v1/agencies/{owner.agency_id}/invites", json={"email": address, "role": role}
        )
    assert invited.status_code == 201, invited.text
    session = sign_in(api, address, password)
    meta = app_meta(session)
    assert (meta["agency_id"], meta["agency_role"]) == (owner.agency_id, role)
    return Staff(session["user"]["id"], session["access_token"])


@pytest.fixture
def agency(api: Api) -> Agency:
    owner = agency_owner(api, f"Rules {uuid.uuid4().hex[:6]}")
    return Agency(owner, _join(api, owner, "admin"), _join(api, owner, "member"))


def _roles(api: Api, agency_id: str) -> dict[str, str]:
    with psycopg.connect(api.owner_url) as conn:
        rows = conn.execute("SELECT user_id::text, role FROM memberships WHERE agency_id = %s", (agency_id,))
        return dict(rows.fetchall())


def _row(agency_id: str, user_id: str) -> str:
    return f"/rest/v1/memberships?agency_id=eq.{agency_id}&user_id=eq.{user_id}"


# --- finding 1: an admin takes over the agency -----------------------------------------------------------


def test_an_admin_cannot_make_itself_owner_nor_touch_the_owners_through_rest(
    api: Api, agency: Agency
) -> None:
    owner, admin = agency.owner, agency.admin
    before = _roles(api, owner.agency_id)
    with api.http(admin.access_token) as http:
        promote_self = http.patch(_row(owner.agency_id, admin.user_id), json={"role": "owner"})
        demote_owner = http.patch(_row(owner.agency_id, owner.user_id), json={"role": "member"})
        remove_owner = http.delete(_row(owner.agency_id, owner.user_id))
        promote_member = http.patch(_row(owner.agency_id, agency.member.user_id), json={"role": "owner"})
    assert promote_self.status_code == 403, promote_self.text
    assert promote_self.json()["message"] == "only owners can make another owner"
    assert demote_owner.status_code == 403, demote_owner.text
    assert demote_owner.json()["message"] == "only owners can change or remove an owner"
    assert remove_owner.status_code == 403, remove_owner.text
    assert promote_member.status_code == 403, promote_member.text
    assert _roles(api, owner.agency_id) == before
    with api.http(owner.access_token) as http:
        assert http.get(f"/api/v1/agencies/{owner.agency_id}").status_code == 200


def test_members_join_by_invitation_only_and_ids_cannot_be_probed(api: Api, agency: Agency) -> None:
    """An owner adding a user by id through /rest/v1 is refused alike for an existing and a made-up id: no
    user is added without an invitation, and the answer does not tell which ids exist."""
    owner = agency.owner
    outsider, _ = api.confirmed_user()
    with psycopg.connect(api.owner_url) as conn:
        row = conn.execute("SELECT id::text FROM auth.users WHERE email = %s", (outsider,)).fetchone()
    assert row is not None
    answers = []
    with api.http(owner.access_token) as http:
        for user_id in (row[0], str(uuid.uuid4())):
            added = http.post(
                "/rest/v1/memberships",
                json={"agency_id": owner.agency_id, "user_id": user_id, "role": "member"},
            )
            assert added.status_code == 403, added.text
            answers.append(added.json())
        invited = http.post(f"/api/v1/agencies/{owner.agency_id}/invites", json={"email": outsider})
    assert answers[0] == answers[1]
    assert invited.status_code == 201, invited.text
    assert _roles(api, owner.agency_id)[row[0]] == "member"


def test_an_admin_cannot_add_an_owner_nor_change_its_own_role(api: Api, agency: Agency) -> None:
    owner, admin = agency.owner, agency.admin
    outsider, _ = api.confirmed_user()
    with psycopg.connect(api.owner_url) as conn:
        row = conn.execute("SELECT id::text FROM auth.users WHERE email = %s", (outsider,)).fetchone()
    assert row is not None
    with api.http(admin.access_token) as http:
        added_owner = http.post(
            "/rest/v1/memberships", json={"agency_id": owner.agency_id, "user_id": row[0], "role": "owner"}
        )
        demote_self = http.patch(_row(owner.agency_id, admin.user_id), json={"role": "member"})
        invite_owner = http.post(
            f"/api/v1/agencies/{owner.agency_id}/invites", json={"email": outsider, "role": "owner"}
        )
    assert added_owner.status_code == 403, added_owner.text
    assert demote_self.status_code == 403, demote_self.text
    assert demote_self.json()["message"] == "admins cannot change their own role; ask an owner"
    assert invite_owner.status_code == 403, invite_owner.text
    assert invite_owner.json()["message"] == "only owners can make another owner"
    assert _roles(api, owner.agency_id)[admin.user_id] == "admin"
    assert row[0] not in _roles(api, owner.agency_id)


def test_admins_manage_members_members_manage_nobody_and_anyone_may_leave(api: Api, agency: Agency) -> None:
    owner, admin, member = agency.owner, agency.admin, agency.member
    with api.http(member.access_token) as http:
        self_promotion = http.patch(_row(owner.agency_id, member.user_id), json={"role": "admin"})
        remove_admin = http.delete(_row(owner.agency_id, admin.user_id))
    assert self_promotion.status_code == 403, self_promotion.text
    assert self_promotion.json()["message"] == (
        "only the agency's owners and admins can add, change or remove members"
    )
    assert remove_admin.status_code == 403, remove_admin.text
    with api.http(admin.access_token) as http:
        promoted = http.patch(
            _row(owner.agency_id, member.user_id),
            json={"role": "admin"},
            headers={"Prefer": "return=representation"},
        )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()[0]["role"] == "admin"
    assert promoted.json()[0]["invited_by"] == owner.user_id, (
        "who invited them is not the caller's to rewrite"
    )
    with api.http(member.access_token) as http:
        assert http.delete(_row(owner.agency_id, member.user_id)).status_code == 204  # leaving
    with api.http(owner.access_token) as http:
        made_owner = http.patch(_row(owner.agency_id, admin.user_id), json={"role": "owner"})
        assert made_owner.status_code == 204, made_owner.text
        # With another owner, an owner may step down.
        assert http.patch(_row(owner.agency_id, owner.user_id), json={"role": "admin"}).status_code == 204
    assert _roles(api, owner.agency_id) == {admin.user_id: "owner", owner.user_id: "admin"}


def test_the_last_owner_stays_at_every_door_but_goes_with_its_agency(api: Api, agency: Agency) -> None:
    owner = agency.owner
    # /rest/v1 as the owner, and with the service_role key: the database refuses, whoever asks.
    with api.http(owner.access_token) as http:
        leave = http.delete(_row(owner.agency_id, owner.user_id))
        step_down = http.patch(_row(owner.agency_id, owner.user_id), json={"role": "admin"})
    assert leave.status_code == 409, leave.text
    assert leave.json()["message"] == "the last owner of an agency cannot be removed or demoted"
    assert step_down.status_code == 409, step_down.text
    service = {"apikey": api.service_key, "Authorization": f"Bearer {api.service_key}"}
    with api.http() as http:
        by_service = http.delete(_row(owner.agency_id, owner.user_id), headers=service)
    assert by_service.status_code == 409, by_service.text
    with api.http(owner.access_token) as http:
        by_api = http.delete(f"/api/v1/agencies/{owner.agency_id}/members/{owner.user_id}")
    assert by_api.status_code == 409, by_api.text
    # SQL as the database owner: the same rule; deleting the agency takes its memberships along.
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="last owner"):
            conn.execute("DELETE FROM memberships WHERE agency_id = %s", (owner.agency_id,))
        conn.execute("DELETE FROM agencies WHERE id = %s", (owner.agency_id,))
    assert _roles(api, owner.agency_id) == {}


def test_a_membership_is_never_moved_to_another_agency(api: Api, agency: Agency) -> None:
    other = agency_owner(api, f"Other {uuid.uuid4().hex[:6]}")
    with api.http(agency.owner.access_token) as http:
        moved = http.patch(
            _row(agency.owner.agency_id, agency.member.user_id), json={"agency_id": other.agency_id}
        )
    assert moved.status_code == 400, moved.text
    assert agency.member.user_id in _roles(api, agency.owner.agency_id)


# --- finding 2: a removed member keeps access ------------------------------------------------------------


def _lead(api: Api, owner: Member) -> str:
    with api.http(owner.access_token) as http:
        created = http.post("/api/v1/leads", json={"first_name": "Kept", "email": "kept@example.com"})
    assert created.status_code == 201, created.text
    lead_id: str = created.json()["id"]
    return lead_id


def test_a_removed_member_loses_the_agency_with_the_token_it_still_holds(
    api: Api, agency: Agency, database: SessionDatabase
) -> None:
    owner, member = agency.owner, agency.member
    lead_id = _lead(api, owner)
    with api.http(member.access_token) as http:
        assert [r["id"] for r in http.get("/rest/v1/leads?select=id").json()] == [lead_id]
    with api.http(owner.access_token) as http:
        assert http.delete(f"/api/v1/agencies/{owner.agency_id}/members/{member.user_id}").status_code == 204
    with api.http(member.access_token) as http:
        rest_read = http.get("/rest/v1/leads?select=id")
        api_read = http.get(f"/api/v1/leads/{lead_id}")
        api_list = http.get("/api/v1/leads")
        rest_write = http.patch(f"/rest/v1/leads?id=eq.{lead_id}", json={"status": "lost"})
        rest_insert = http.post(
            "/rest/v1/leads", json={"agency_id": owner.agency_id, "first_name": "Planted"}
        )
        api_insert = http.post("/api/v1/leads", json={"first_name": "Planted"})
    for answer in (rest_read, api_read, api_list, rest_write, rest_insert, api_insert):
        assert answer.status_code == STALE, answer.text
    with _as_stale_token(database, member.access_token) as conn:
        assert conn.execute("SELECT id FROM leads").fetchall() == []
        assert conn.execute("UPDATE leads SET status = 'lost' WHERE id = %s", (lead_id,)).rowcount == 0
        _refused(conn, "INSERT INTO leads (agency_id, first_name) VALUES (%s, 'Planted')", (owner.agency_id,))
    with psycopg.connect(api.owner_url) as conn:
        leads = conn.execute("SELECT first_name, status FROM leads WHERE agency_id = %s", (owner.agency_id,))
        assert leads.fetchall() == [("Kept", "new")]


def test_a_removed_admin_cannot_re_add_itself_as_owner(
    api: Api, agency: Agency, database: SessionDatabase
) -> None:
    owner, admin = agency.owner, agency.admin
    with api.http(owner.access_token) as http:
        assert http.delete(f"/api/v1/agencies/{owner.agency_id}/members/{admin.user_id}").status_code == 204
    with api.http(admin.access_token) as http:
        back = http.post(
            "/rest/v1/memberships",
            json={"agency_id": owner.agency_id, "user_id": admin.user_id, "role": "owner"},
        )
        invite = http.post(
            f"/api/v1/agencies/{owner.agency_id}/invites", json={"email": "friend@example.com"}
        )
    assert back.status_code == STALE, back.text
    assert invite.status_code == STALE, invite.text
    with _as_stale_token(database, admin.access_token) as conn:
        _refused(
            conn,
            "INSERT INTO memberships (agency_id, user_id, role) VALUES (%s, %s, 'owner')",
            (owner.agency_id, admin.user_id),
        )
    assert admin.user_id not in _roles(api, owner.agency_id)


def test_a_demoted_admin_loses_the_admin_powers_its_token_still_claims(
    api: Api, agency: Agency, database: SessionDatabase
) -> None:
    owner, admin = agency.owner, agency.admin
    with api.http(owner.access_token) as http:
        assert http.patch(_row(owner.agency_id, admin.user_id), json={"role": "member"}).status_code == 204
    definitions: dict[str, Any] = {"leads": {"tier": {"type": "text"}}}
    with api.http(admin.access_token) as http:
        fields = http.put("/api/v1/custom-fields", json=definitions)
        renamed = http.patch(f"/rest/v1/agencies?id=eq.{owner.agency_id}", json={"name": "Taken"})
        removed = http.delete(_row(owner.agency_id, agency.member.user_id))
        price = http.post("/rest/v1/price_list_items", json={"sku": "X1", "name": "Planted", "unit_price": 1})
        subscription = http.post(
            "/rest/v1/agent_subscriptions", json={"event": "lead.created", "agent_type": "lead_analysis"}
        )
    for answer in (fields, renamed, removed, price, subscription):
        assert answer.status_code == STALE, answer.text
    with _as_stale_token(database, admin.access_token) as conn:
        settings = json.dumps({"custom_fields": definitions})
        assert conn.execute("UPDATE agencies SET name = 'Taken', settings = %s", (settings,)).rowcount == 0
        _refused(
            conn,
            "DELETE FROM memberships WHERE agency_id = %s AND user_id = %s",
            (owner.agency_id, agency.member.user_id),
        )
        _refused(conn, "INSERT INTO price_list_items (sku, name, unit_price) VALUES ('X1', 'Planted', 1)", ())
        _refused(
            conn,
            "INSERT INTO agent_subscriptions (event, agent_type) VALUES ('lead.created', 'lead_analysis')",
            (),
        )
    # The owner still may.
    with api.http(owner.access_token) as http:
        assert (
            http.post(
                "/rest/v1/price_list_items", json={"sku": "X1", "name": "Kept", "unit_price": 1}
            ).status_code
            == 201
        )
    with psycopg.connect(api.owner_url) as conn:
        row = conn.execute("SELECT name, settings FROM agencies WHERE id = %s", (owner.agency_id,)).fetchone()
    assert row is not None
    assert row[0] != "Taken"
    assert "custom_fields" not in row[1]
    assert agency.member.user_id in _roles(api, owner.agency_id)


# --- the price of asking the rows -------------------------------------------------------------------------


def test_policies_ask_the_membership_once_per_statement_and_reads_stay_index_scans(
    api: Api, agency: Agency, database: SessionDatabase
) -> None:
    """auth.agency_id() probes memberships; as `(SELECT auth.agency_id())` in a policy it is an InitPlan,
    evaluated once per statement, and the lead is still found through an index."""
    lead_id = _lead(api, agency.owner)
    claims = {
        "role": "authenticated",
        "sub": agency.member.user_id,
        "app_metadata": {"agency_id": agency.owner.agency_id, "agency_role": "member"},
    }
    with psycopg.connect(database.api_url) as conn, conn.transaction():
        conn.execute(SCOPE, scope("authenticated", claims, 0))
        # The session's tables are small: without this the planner may read them whole, which says nothing
        # about whether the policy lets an index serve the read.
        conn.execute("SET LOCAL enable_seqscan = off")
        for query in (
            "SELECT * FROM leads WHERE id = %s",
            "SELECT * FROM leads WHERE id <> %s ORDER BY created_at DESC LIMIT 20",
        ):
            plan = conn.execute(
                f"EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF) {query}", (lead_id,)
            ).fetchone()
            assert plan is not None
            top = plan[0][0]["Plan"]
            text = json.dumps(top)
            assert '"Subplan Name": "InitPlan 1"' in text, text
            assert "InitPlan 2" not in text, "the membership is asked once"
            assert '"Node Type": "Index Scan"' in text, text
            assert '"Seq Scan"' not in text, text
        assert conn.execute("SELECT id::text FROM leads").fetchall() == [(lead_id,)]


def test_two_owners_removed_at_once_cannot_both_be_not_the_last(api: Api, agency: Agency) -> None:
    """Each removal alone leaves an owner; run together, the second waits for the first (the agency's row
    is locked) and then finds itself the last."""
    owner, admin = agency.owner, agency.admin
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE memberships SET role = 'owner' WHERE agency_id = %s AND user_id = %s",
            (owner.agency_id, admin.user_id),
        )
    errors: list[BaseException] = []
    with psycopg.connect(api.owner_url) as first, psycopg.connect(api.owner_url) as second:
        first.execute(
            "DELETE FROM memberships WHERE agency_id = %s AND user_id = %s", (owner.agency_id, owner.user_id)
        )

        def remove_the_other() -> None:
            try:
                second.execute(
                    "DELETE FROM memberships WHERE agency_id = %s AND user_id = %s",
                    (owner.agency_id, admin.user_id),
                )
                second.commit()
            except psycopg.Error as exc:
                errors.append(exc)
                second.rollback()

        waiting = threading.Thread(target=remove_the_other)
        waiting.start()
        with psycopg.connect(api.owner_url, autocommit=True) as watcher:
            # The second removal is waiting on the first one's lock before the first commits.
            for _ in range(200):
                blocked = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM memberships%%'"
                ).fetchone()
                if blocked == (1,):
                    break
                time.sleep(0.05)
        first.commit()
        waiting.join(timeout=30)
    assert len(errors) == 1
    assert isinstance(errors[0], psycopg.errors.IntegrityConstraintViolation), errors
    assert _roles(api, owner.agency_id) == {admin.user_id: "owner", agency.member.user_id: "member"}


def test_deleting_the_account_of_an_agencys_last_owner_is_refused(api: Api, agency: Agency) -> None:
    owner = agency.owner
    service = {"apikey": api.service_key, "Authorization": f"Bearer {api.service_key}"}
    with api.http() as http:
        refused = http.delete(f"/auth/v1/admin/users/{owner.user_id}", headers=service)
        assert refused.status_code == 409, refused.text
        # Another member deleted with their account is only a removal.
        assert (
            http.delete(f"/auth/v1/admin/users/{agency.member.user_id}", headers=service).status_code == 200
        )
    assert _roles(api, owner.agency_id) == {owner.user_id: "owner", agency.admin.user_id: "admin"}


# --- finding 6: the trail of who holds power is written by the database, at every door --------------------


def _trail(api: Api, agency_id: str, table: str) -> list[tuple[str, str, str | None, Any, Any]]:
    with psycopg.connect(api.owner_url) as conn:
        rows = conn.execute(
            """SELECT action, actor_id::text, record_id::text, before, after FROM audit_log
               WHERE agency_id = %s AND table_name = %s ORDER BY id""",
            (agency_id, table),
        )
        return rows.fetchall()


def test_changes_to_members_settings_and_price_lists_are_audited_through_rest(
    api: Api, agency: Agency
) -> None:
    """A role change, an agency's settings and a price list written through /rest/v1 land in the audit
    trail with their actor, as the same changes through /api/v1 do: the triggers write it, not a service."""
    owner, member = agency.owner, agency.member
    with api.http(owner.access_token) as http:
        promoted = http.patch(_row(owner.agency_id, member.user_id), json={"role": "admin"})
        renamed = http.patch(f"/rest/v1/agencies?id=eq.{owner.agency_id}", json={"name": "Renamed Rules"})
        priced = http.post(
            "/rest/v1/price_list_items",
            json={"sku": "AUD-1", "name": "Audited item", "unit_price": 10},
            headers={"Prefer": "return=representation"},
        )
        removed = http.delete(f"/api/v1/agencies/{owner.agency_id}/members/{member.user_id}")
    assert promoted.status_code in (200, 204), promoted.text
    assert renamed.status_code in (200, 204), renamed.text
    assert priced.status_code == 201, priced.text
    assert removed.status_code == 204, removed.text

    memberships = _trail(api, owner.agency_id, "memberships")
    changes = [(action, actor, record) for action, actor, record, _, _ in memberships]
    # The owner's own membership (agency created), the two invitations, the promotion and the removal.
    assert changes[-2:] == [
        ("update", owner.user_id, member.user_id),
        ("delete", owner.user_id, member.user_id),
    ]
    _, _, _, before, after = memberships[-2]
    assert (before["role"], after["role"]) == ("member", "admin")
    assert [(a, r) for a, _, r in changes].count(("insert", member.user_id)) == 1

    agencies = _trail(api, owner.agency_id, "agencies")
    assert [(a, actor) for a, actor, *_ in agencies] == [("insert", None), ("update", owner.user_id)]
    assert agencies[-1][4]["name"] == "Renamed Rules"

    items = _trail(api, owner.agency_id, "price_list_items")
    assert [(a, actor, r) for a, actor, r, _, _ in items] == [
        ("insert", owner.user_id, priced.json()[0]["id"])
    ]
