"""An access token stops working at every door within seconds of its session ending (logout, refresh-token
reuse, a ban) or of the membership it claims ending or changing (removal, demotion), not when it expires.

The API here caches each session's state for an hour, so only the database's NOTIFY (or the LISTEN
connection's reconnect) can end access in time: every test below goes through that path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.live import Api, Mailbox, Member, agency_owner, serve
from tests.support import SessionDatabase

CHANNEL = "gardenos_revocation"
# One cheap read per door that acts for the token's user in its agency.
DOORS = ("/rest/v1/leads?select=id&limit=1", "/api/v1/leads?limit=1", "/ai/tasks?limit=1")
DEADLINE_S = 5.0
LISTENERS = "SELECT count(*) FROM pg_stat_activity WHERE query = %s"


@pytest.fixture(scope="module")
def revoking(database: SessionDatabase, mailbox: tuple[Mailbox, int]) -> Iterator[Api]:
    """An API whose cached session states never expire in a test's time: only notifications evict."""
    listen = f'LISTEN "{CHANNEL}"'
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        before = _scalar(conn, LISTENERS, (listen,))
        for api in serve(database, mailbox, revocation_cache_ttl_s=3600.0):
            # The new server's LISTEN connection is up before any test relies on its notifications.
            deadline = time.monotonic() + 30
            while _scalar(conn, LISTENERS, (listen,)) <= before and time.monotonic() < deadline:
                time.sleep(0.05)
            yield api


def _scalar(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...]) -> int:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def sign_in(api: Api, email: str, password: str) -> dict[str, Any]:
    with api.http() as http:
        response = http.post(
            "/auth/v1/token", params={"grant_type": "password"}, json={"email": email, "password": password}
        )
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    return session


def refresh(api: Api, refresh_token: str) -> httpx.Response:
    with api.http() as http:
        return http.post(
            "/auth/v1/token", params={"grant_type": "refresh_token"}, json={"refresh_token": refresh_token}
        )


def assert_works(api: Api, token: str) -> None:
    with api.http(token) as http:
        for door in DOORS:
            response = http.get(door)
            assert response.status_code == 200, (door, response.text)


def assert_refused(api: Api, token: str, words: str) -> None:
    """Every door refuses `token` with 401, within a few seconds; the message says why (`words`)."""
    with api.http(token) as http:
        for door in DOORS:
            deadline = time.monotonic() + DEADLINE_S
            response = http.get(door)
            while response.status_code != 401 and time.monotonic() < deadline:
                time.sleep(0.05)
                response = http.get(door)
            assert response.status_code == 401, (door, response.status_code, response.text)
            body = response.json()
            assert body["code"] == "PGRST301", (door, body)
            assert words in body["message"], (door, body)


def member_of(api: Api, owner: Member, role: str) -> dict[str, Any]:
    """A new user invited into `owner`'s agency with `role`, signed in: the token claims agency and role."""
    email, password = api.confirmed_user()
    with api.http(owner.access_token) as http:
        invited = http.post(
            f"/api/v1/agencies/{owner.agency_id}/invites", json={"email": email, "role": role}
        )
    assert invited.status_code == 201, invited.text
    session = sign_in(api, email, password)
    assert session["user"]["app_metadata"]["agency_id"] == owner.agency_id
    assert session["user"]["app_metadata"]["agency_role"] == role
    return session


@pytest.mark.parametrize("scope", ["local", "global"])
def test_logout_ends_the_token_at_every_door(revoking: Api, scope: str) -> None:
    owner = agency_owner(revoking, "Logout Agency")
    assert_works(revoking, owner.access_token)
    with revoking.http(owner.access_token) as http:
        assert http.post("/auth/v1/logout", params={"scope": scope}).status_code == 204
    assert_refused(revoking, owner.access_token, "session")


def test_logout_of_the_others_ends_their_tokens_only(revoking: Api) -> None:
    owner = agency_owner(revoking, "Others Agency")
    other = sign_in(revoking, owner.email, owner.password)
    assert_works(revoking, other["access_token"])
    assert_works(revoking, owner.access_token)
    with revoking.http(owner.access_token) as http:
        assert http.post("/auth/v1/logout", params={"scope": "others"}).status_code == 204
    assert_refused(revoking, other["access_token"], "session")
    assert_works(revoking, owner.access_token)


def test_refresh_token_reuse_ends_the_access_token(revoking: Api) -> None:
    owner = agency_owner(revoking, "Reuse Agency")
    first = owner.refresh_token
    second = refresh(revoking, first).json()
    assert refresh(revoking, second["refresh_token"]).status_code == 200
    assert_works(revoking, second["access_token"])
    # The rotated-away first token comes back: it leaked, and the whole session goes.
    assert refresh(revoking, first).json()["error_code"] == "refresh_token_already_used"
    assert_refused(revoking, second["access_token"], "session")
    assert_refused(revoking, owner.access_token, "session")


def test_a_ban_ends_the_token(revoking: Api) -> None:
    owner = agency_owner(revoking, "Banned Agency")
    assert_works(revoking, owner.access_token)
    revoking.admin().auth.admin.update_user_by_id(owner.user_id, {"ban_duration": "24h"})
    assert_refused(revoking, owner.access_token, "banned")


def test_a_removed_member_is_refused(revoking: Api) -> None:
    owner = agency_owner(revoking, "Removal Agency")
    member = member_of(revoking, owner, "member")
    assert_works(revoking, member["access_token"])
    with revoking.http(owner.access_token) as http:
        removed = http.delete(f"/api/v1/agencies/{owner.agency_id}/members/{member['user']['id']}")
    assert removed.status_code == 204, removed.text
    assert_refused(revoking, member["access_token"], "no longer a member")
    # A refreshed token no longer claims the agency, and works where no agency is needed.
    fresh = refresh(revoking, member["refresh_token"]).json()
    assert "agency_id" not in fresh["user"]["app_metadata"]
    with revoking.http(fresh["access_token"]) as http:
        assert http.get("/rest/v1/leads?select=id").json() == []
    assert_works(revoking, owner.access_token)


def test_a_demoted_admin_is_refused_until_it_refreshes(revoking: Api) -> None:
    owner = agency_owner(revoking, "Demotion Agency")
    admin = member_of(revoking, owner, "admin")
    assert_works(revoking, admin["access_token"])
    with revoking.http(owner.access_token) as http:
        demoted = http.patch(
            "/rest/v1/memberships",
            params={"agency_id": f"eq.{owner.agency_id}", "user_id": f"eq.{admin['user']['id']}"},
            json={"role": "member"},
            headers={"Prefer": "return=representation"},
        )
    assert demoted.status_code == 200, demoted.text
    assert [row["role"] for row in demoted.json()] == ["member"]
    assert_refused(revoking, admin["access_token"], "role")
    fresh = refresh(revoking, admin["refresh_token"]).json()
    assert fresh["user"]["app_metadata"]["agency_role"] == "member"
    assert_works(revoking, fresh["access_token"])


def test_a_notification_evicts_the_cached_state(revoking: Api) -> None:
    """A change the triggers did not announce stays unseen (the cache answers); the NOTIFY evicts it."""
    owner = agency_owner(revoking, "Notify Agency")
    assert_works(revoking, owner.access_token)
    with psycopg.connect(revoking.owner_url, autocommit=True) as conn:
        with conn.transaction():
            # Replica mode skips ordinary triggers: the session goes without a notification.
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("DELETE FROM auth.sessions WHERE user_id = %s", (owner.user_id,))
        assert_works(revoking, owner.access_token)
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, owner.user_id))
    assert_refused(revoking, owner.access_token, "session")


def test_a_lost_listen_connection_drops_the_whole_cache(revoking: Api) -> None:
    """Notifications sent while the LISTEN connection is away are lost: on reconnecting it forgets all."""
    owner = agency_owner(revoking, "Reconnect Agency")
    assert_works(revoking, owner.access_token)
    with psycopg.connect(revoking.owner_url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("DELETE FROM auth.sessions WHERE user_id = %s", (owner.user_id,))
        assert_works(revoking, owner.access_token)
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
            (f'LISTEN "{CHANNEL}"',),
        )
    assert_refused(revoking, owner.access_token, "session")
