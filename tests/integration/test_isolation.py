"""Two agencies, populated; every endpoint, called with agency A's token, never returns, changes or deletes
agency B's rows.

New endpoints are added to ENDPOINTS; `test_every_route_is_listed` fails until they are.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from gardenos.api.app import create_app
from gardenos.db.target import DatabaseTarget
from tests.live import Api, unique_email
from tests.support import SessionDatabase


@dataclass(frozen=True)
class Tenant:
    agency_id: str
    user_id: str
    email: str
    password: str
    access_token: str
    refresh_token: str


def _tenant(api: Api, name: str) -> Tenant:
    email, password = api.confirmed_user()
    with api.http() as http:
        session = http.post(
            "/auth/v1/token", params={"grant_type": "password"}, json={"email": email, "password": password}
        ).json()
    with api.http(session["access_token"]) as http:
        agency = http.post("/api/v1/agencies", json={"name": name}).json()
        http.post(
            f"/api/v1/agencies/{agency['id']}/invites", json={"email": unique_email("staff"), "role": "admin"}
        )
    with api.http() as http:
        session = http.post(
            "/auth/v1/token",
            params={"grant_type": "refresh_token"},
            json={"refresh_token": session["refresh_token"]},
        ).json()
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO leads (agency_id, first_name, email, company)
            SELECT %s, 'Lead ' || g, 'lead' || g || '@' || %s, 'Co'
            FROM generate_series(1, 3) g
            """,
            (agency["id"], f"{name.lower()}.example"),
        )
    return Tenant(
        agency["id"],
        session["user"]["id"],
        email,
        password,
        session["access_token"],
        session["refresh_token"],
    )


# (method, path, JSON body). {b_agency}, {b_user} and {b_email} are agency B's; everything is sent with
# A's user token. Auth endpoints that act on "the caller" must act on A only.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/health", None),
    ("GET", "/ready", None),
    ("GET", "/auth/v1/health", None),
    ("GET", "/auth/v1/settings", None),
    ("GET", "/auth/v1/.well-known/jwks.json", None),
    ("POST", "/auth/v1/signup", {"email": "{b_email}", "password": "hijack-password"}),
    ("POST", "/auth/v1/token?grant_type=password", {"email": "{b_email}", "password": "wrong-password"}),
    ("GET", "/auth/v1/user", None),
    ("PUT", "/auth/v1/user", {"data": {"x": 1}, "app_metadata": {"agency_id": "{b_agency}"}}),
    ("POST", "/auth/v1/recover", {"email": "{b_email}"}),
    ("POST", "/auth/v1/otp", {"email": "{b_email}", "create_user": False}),
    ("POST", "/auth/v1/magiclink", {"email": "{b_email}"}),
    ("POST", "/auth/v1/verify", {"type": "email", "email": "{b_email}", "token": "000000"}),
    ("GET", "/auth/v1/verify?type=magiclink&token=guess", None),
    ("POST", "/auth/v1/invite", {"email": "{b_email}"}),
    ("GET", "/auth/v1/admin/users", None),
    ("POST", "/auth/v1/admin/users", {"email": "{b_email}", "password": "hijack-password"}),
    ("GET", "/auth/v1/admin/users/{b_user}", None),
    ("PUT", "/auth/v1/admin/users/{b_user}", {"password": "hijack-password"}),
    ("DELETE", "/auth/v1/admin/users/{b_user}", None),
    ("POST", "/auth/v1/admin/generate_link", {"type": "magiclink", "email": "{b_email}"}),
    ("POST", "/api/v1/agencies", {"name": "Mine"}),
    ("GET", "/api/v1/agencies", None),
    ("GET", "/api/v1/agencies/{b_agency}", None),
    ("GET", "/api/v1/agencies/{b_agency}/members", None),
    ("POST", "/api/v1/agencies/{b_agency}/invites", {"email": "spy@example.com", "role": "owner"}),
    ("DELETE", "/api/v1/agencies/{b_agency}/members/{b_user}", None),
    ("POST", "/api/v1/agencies/{b_agency}/switch", None),
    # Last: it ends A's own session.
    ("POST", "/auth/v1/logout", None),
]


def _fill(text: str, b: Tenant) -> str:
    return (
        text.replace("{b_agency}", b.agency_id).replace("{b_user}", b.user_id).replace("{b_email}", b.email)
    )


def _snapshot(owner_url: str, b: Tenant) -> dict[str, Any]:
    """Everything of B's that A must not change."""
    with psycopg.connect(owner_url) as conn:
        return {
            name: conn.execute(query, (b.agency_id,)).fetchall()
            for name, query in {
                "agency": "SELECT id, name, slug, settings FROM agencies WHERE id = %s",
                "members": "SELECT user_id, role FROM memberships WHERE agency_id = %s ORDER BY user_id",
                "leads": "SELECT id, first_name, email, status FROM leads WHERE agency_id = %s ORDER BY id",
                "owner": """SELECT u.id, u.email, u.encrypted_password, u.raw_app_meta_data, u.banned_until,
                                   u.deleted_at FROM auth.users u JOIN memberships m ON m.user_id = u.id
                            WHERE m.agency_id = %s ORDER BY u.id""",
                "sessions": """SELECT s.id FROM auth.sessions s JOIN memberships m ON m.user_id = s.user_id
                               WHERE m.agency_id = %s ORDER BY s.id""",
            }.items()
        }


@pytest.fixture(scope="module")
def tenants(api: Api) -> tuple[Tenant, Tenant]:
    return _tenant(api, f"Alpha{uuid.uuid4().hex[:6]}"), _tenant(api, f"Bravo{uuid.uuid4().hex[:6]}")


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_agency_a_never_sees_or_touches_agency_b(
    api: Api, tenants: tuple[Tenant, Tenant], method: str, path: str, body: dict[str, Any] | None
) -> None:
    a, b = tenants
    before = _snapshot(api.owner_url, b)
    payload = json.loads(_fill(json.dumps(body), b)) if body is not None else None
    with api.http(a.access_token) as http:
        response = http.request(method, _fill(path, b), json=payload)
    assert response.status_code < 500, response.text
    text = response.text + response.headers.get("location", "")
    for secret in (b.agency_id, b.user_id):
        assert secret not in text, f"{method} {path} answered with agency B's data: {text[:300]}"
    assert _snapshot(api.owner_url, b) == before, f"{method} {path} changed agency B's rows"


def test_a_still_works_and_b_is_untouched_overall(api: Api, tenants: tuple[Tenant, Tenant]) -> None:
    _, b = tenants
    with api.http() as http:
        response = http.post(
            "/auth/v1/token",
            params={"grant_type": "password"},
            json={"email": b.email, "password": b.password},
        )
    assert response.status_code == 200
    assert response.json()["user"]["app_metadata"]["agency_id"] == b.agency_id


def test_every_route_is_listed(database: SessionDatabase) -> None:
    app = create_app(DatabaseTarget(database.settings))
    listed = {
        (m, p.split("?")[0].replace("{b_agency}", "{agency_id}").replace("{b_user}", "{user_id}"))
        for m, p, _ in ENDPOINTS
    }
    missing = []
    for route in app.routes:
        methods = getattr(route, "methods", None) or set()
        path = getattr(route, "path", "")
        if path.startswith(("/docs", "/redoc", "/openapi")):
            continue
        for method in methods - {"HEAD"}:
            if (method, path) not in listed:
                missing.append(f"{method} {path}")
    assert missing == [], f"add these endpoints to ENDPOINTS: {missing}"
