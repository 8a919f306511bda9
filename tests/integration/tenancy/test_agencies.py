"""Agencies and members through the API, as an agency owner and its staff would use them."""

from __future__ import annotations

from typing import Any

import httpx
import jwt

from tests.live import Api, unique_email


def sign_in(api: Api, address: str, password: str) -> dict[str, Any]:
    with api.http() as http:
        response = http.post(
            "/auth/v1/token", params={"grant_type": "password"}, json={"email": address, "password": password}
        )
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    return session


def refresh(api: Api, session: dict[str, Any]) -> dict[str, Any]:
    with api.http() as http:
        response = http.post(
            "/auth/v1/token",
            params={"grant_type": "refresh_token"},
            json={"refresh_token": session["refresh_token"]},
        )
    assert response.status_code == 200, response.text
    fresh: dict[str, Any] = response.json()
    return fresh


def app_meta(session: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = jwt.decode(session["access_token"], options={"verify_signature": False})[
        "app_metadata"
    ]
    return meta


def test_create_agency_then_refresh_carries_it(api: Api) -> None:
    address, password = api.confirmed_user()
    session = sign_in(api, address, password)
    assert "agency_id" not in app_meta(session)
    with api.http(session["access_token"]) as http:
        created = http.post("/api/v1/agencies", json={"name": "Zoë's Agency"})
    assert created.status_code == 201, created.text
    agency = created.json()
    assert agency["role"] == "owner"
    assert agency["slug"] == "zoe-s-agency" or agency["slug"].startswith("zoe-s-agency-")
    meta = app_meta(refresh(api, session))
    assert meta["agency_id"] == agency["id"]
    assert meta["agency_role"] == "owner"


def test_invite_join_switch_and_remove(api: Api) -> None:
    owner_email, owner_pw = api.confirmed_user()
    owner = sign_in(api, owner_email, owner_pw)
    with api.http(owner["access_token"]) as http:
        first = http.post("/api/v1/agencies", json={"name": "First"}).json()
        second = http.post("/api/v1/agencies", json={"name": "Second"}).json()
    owner = refresh(api, owner)
    assert app_meta(owner)["agency_id"] == first["id"]

    # Invite a new address: it gets an account and an invite link to set a password.
    newcomer = unique_email("newcomer")
    with api.http(owner["access_token"]) as http:
        invited = http.post(
            f"/api/v1/agencies/{first['id']}/invites", json={"email": newcomer, "role": "member"}
        )
        assert invited.status_code == 201, invited.text
        again = http.post(f"/api/v1/agencies/{first['id']}/invites", json={"email": newcomer})
        assert again.status_code == 409
    mail = api.mailbox.last_to(newcomer)
    assert mail["Subject"] == "You have been invited to First"
    response = httpx.get(api.mailbox.link_to(newcomer), follow_redirects=False)
    assert response.status_code == 303
    assert "access_token=" in response.headers["location"]

    # The owner switches to the second agency: a new token carries it.
    with api.http(owner["access_token"]) as http:
        switched = http.post(f"/api/v1/agencies/{second['id']}/switch")
    assert switched.status_code == 200, switched.text
    assert app_meta(switched.json())["agency_id"] == second["id"]
    assert app_meta(refresh(api, owner))["agency_id"] == second["id"]

    # Members are listed; a removed member loses the agency at the next refresh.
    member_email, member_pw = api.confirmed_user()
    with api.http(owner["access_token"]) as http:
        assert (
            http.post(f"/api/v1/agencies/{first['id']}/invites", json={"email": member_email}).status_code
            == 201
        )
    member = sign_in(api, member_email, member_pw)
    assert app_meta(member)["agency_id"] == first["id"]
    assert app_meta(member)["agency_role"] == "member"
    with api.http(member["access_token"]) as http:
        # A member cannot invite or remove others.
        assert (
            http.post(f"/api/v1/agencies/{first['id']}/invites", json={"email": unique_email()}).status_code
            == 403
        )
        members = http.get(f"/api/v1/agencies/{first['id']}/members").json()
    assert {m["email"] for m in members} == {owner_email, newcomer, member_email}
    member_id = next(m["user_id"] for m in members if m["email"] == member_email)
    owner_id = next(m["user_id"] for m in members if m["email"] == owner_email)
    with api.http(member["access_token"]) as http:
        assert http.delete(f"/api/v1/agencies/{first['id']}/members/{owner_id}").status_code == 403
    with api.http(owner["access_token"]) as http:
        assert http.delete(f"/api/v1/agencies/{first['id']}/members/{member_id}").status_code == 204
        # The last owner stays.
        last = http.delete(f"/api/v1/agencies/{first['id']}/members/{owner_id}")
        assert last.status_code == 409
    assert "agency_id" not in app_meta(refresh(api, member))


def test_bad_agency_input(api: Api) -> None:
    address, password = api.confirmed_user()
    session = sign_in(api, address, password)
    with api.http(session["access_token"]) as http:
        assert http.post("/api/v1/agencies", json={"name": ""}).status_code == 422
        assert http.post("/api/v1/agencies", json={"name": "X", "slug": "Not Valid"}).status_code == 400
        assert http.post("/api/v1/agencies", content=b"[]").status_code == 422
        assert http.get("/api/v1/agencies/not-a-uuid").status_code == 422
    with api.http() as http:
        # The anon key is not a user.
        assert http.post("/api/v1/agencies", json={"name": "Anon"}).status_code == 401
