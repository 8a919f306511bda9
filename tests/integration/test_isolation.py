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
from fastapi.routing import iter_route_contexts
from starlette.routing import compile_path

from gardenos.api.app import create_app
from gardenos.db.target import DatabaseTarget
from gardenos.storage.resumable import upload_token
from tests.live import Api, agency_owner, unique_email
from tests.support import SessionDatabase


@dataclass(frozen=True)
class Tenant:
    agency_id: str
    user_id: str
    email: str
    password: str
    access_token: str
    refresh_token: str
    lead_id: str
    client_id: str
    activity_id: str
    upload_token: str


def _tenant(api: Api, name: str) -> Tenant:
    owner = agency_owner(api, name)
    with api.http(owner.access_token) as http:
        http.post(
            f"/api/v1/agencies/{owner.agency_id}/invites",
            json={"email": unique_email("staff"), "role": "admin"},
        )
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        leads = conn.execute(
            """
            INSERT INTO leads (agency_id, first_name, email, company)
            SELECT %s, 'Lead ' || g, 'lead' || g || '@' || %s, 'Co'
            FROM generate_series(1, 3) g
            RETURNING id::text
            """,
            (owner.agency_id, f"{name.lower()}.example"),
        ).fetchall()
        client = conn.execute(
            "INSERT INTO clients (agency_id, company) VALUES (%s, 'Client Co') RETURNING id::text",
            (owner.agency_id,),
        ).fetchone()
        activity = conn.execute(
            """INSERT INTO activities (agency_id, lead_id, kind, subject, status, due_at)
               VALUES (%s, %s, 'task', 'Call back', 'planned', now() + interval '1 day')
               RETURNING id::text""",
            (owner.agency_id, leads[0][0]),
        ).fetchone()
        # Metadata only: its bytes' key names no file, so a download of it answers 404.
        conn.execute(
            "INSERT INTO storage.buckets (agency_id, id, name) VALUES (%s, 'docs', 'docs')",
            (owner.agency_id,),
        )
        conn.execute(
            "INSERT INTO storage.objects (agency_id, bucket_id, name, version) "
            "VALUES (%s, 'docs', 'x.txt', %s)",
            (owner.agency_id, f"{owner.agency_id}/{'0' * 32}"),
        )
        upload = conn.execute(
            "INSERT INTO storage.uploads (agency_id, bucket_id, name, upload_length, mime_type, "
            "cache_control, version, expires_at) VALUES (%s, 'docs', 'big.txt', 10, 'text/plain', "
            "'no-cache', %s, now() + interval '1 day') RETURNING id",
            (owner.agency_id, f"{owner.agency_id}/{'1' * 32}"),
        ).fetchone()
    assert upload is not None
    assert client is not None
    assert activity is not None
    return Tenant(
        owner.agency_id,
        owner.user_id,
        owner.email,
        owner.password,
        owner.access_token,
        owner.refresh_token,
        leads[0][0],
        client[0],
        activity[0],
        upload_token("docs", "big.txt", upload[0]),
    )


# (method, path, JSON body). {b_agency}, {b_user}, {b_email}, {b_lead}, {b_client}, {b_activity} and
# {b_upload} are agency B's; everything is sent with A's user token. Auth endpoints that act on "the
# caller" must act on A only.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/health", None),
    ("GET", "/ready", None),
    # The web app's config: the URL and the anon key, which every page it serves holds anyway.
    ("GET", "/app-config.json", None),
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
    ("POST", "/api/v1/leads/{b_lead}/convert", {"lifetime_value": 1}),
    ("GET", "/api/v1/leads/{b_lead}/duplicates?threshold=0.1", None),
    ("POST", "/api/v1/leads/{b_lead}/merge", {"duplicate_ids": ["00000000-0000-7000-8000-000000000001"]}),
    ("GET", "/api/v1/duplicates", None),
    ("POST", "/api/v1/leads", {"first_name": "Mine", "owner_id": "{b_user}"}),
    ("GET", "/api/v1/leads?owner_id={b_user}&q=Lead", None),
    ("GET", "/api/v1/leads/{b_lead}", None),
    ("PATCH", "/api/v1/leads/{b_lead}", {"status": "lost"}),
    ("DELETE", "/api/v1/leads/{b_lead}", None),
    ("POST", "/api/v1/leads/{b_lead}/tags", {"tag": "taken"}),
    ("DELETE", "/api/v1/leads/{b_lead}/tags/{tag}", None),
    ("GET", "/api/v1/leads/{b_lead}/timeline", None),
    ("GET", "/api/v1/leads/{b_lead}/attachments", None),
    ("POST", "/api/v1/leads/{b_lead}/attachments?filename=x.txt", {"a": 1}),
    ("GET", "/api/v1/pipeline", None),
    ("POST", "/api/v1/clients", {"first_name": "Mine", "owner_id": "{b_user}"}),
    ("GET", "/api/v1/clients?owner_id={b_user}&q=Client", None),
    ("GET", "/api/v1/clients/{b_client}", None),
    ("PATCH", "/api/v1/clients/{b_client}", {"status": "churned"}),
    ("DELETE", "/api/v1/clients/{b_client}", None),
    ("GET", "/api/v1/clients/{b_client}/timeline", None),
    ("GET", "/api/v1/clients/{b_client}/attachments", None),
    ("POST", "/api/v1/clients/{b_client}/attachments?filename=x.txt", {"a": 1}),
    ("POST", "/api/v1/activities", {"kind": "note", "lead_id": "{b_lead}", "client_id": "{b_client}"}),
    ("GET", "/api/v1/activities?lead_id={b_lead}", None),
    ("GET", "/api/v1/activities/{b_activity}", None),
    ("PATCH", "/api/v1/activities/{b_activity}", {"subject": "Taken"}),
    ("DELETE", "/api/v1/activities/{b_activity}", None),
    ("POST", "/api/v1/activities/{b_activity}/complete", None),
    ("GET", "/api/v1/activities/{b_activity}/attachments", None),
    ("POST", "/api/v1/activities/{b_activity}/attachments?filename=x.txt", {"a": 1}),
    ("GET", "/api/v1/custom-fields", None),
    ("PUT", "/api/v1/custom-fields", {"leads": {"x": {"type": "text"}}}),
    ("GET", "/api/v1/audit?record_id={b_lead}", None),
    # Imports: B's are unreachable by id (tests/integration/importer covers them with real imports).
    ("POST", "/api/v1/imports", None),
    ("GET", "/api/v1/imports/00000000-0000-7000-8000-000000000001", None),
    ("GET", "/api/v1/imports/00000000-0000-7000-8000-000000000001/errors", None),
    ("GET", "/api/v1/imports/00000000-0000-7000-8000-000000000001/warnings", None),
    ("GET", "/api/v1/imports/00000000-0000-7000-8000-000000000001/possible-duplicates", None),
    ("POST", "/api/v1/imports/00000000-0000-7000-8000-000000000001/revert", None),
    ("POST", "/api/v1/imports/00000000-0000-7000-8000-000000000001/reports", None),
    # /ai and search: B's records by id through every agent endpoint; ids of things B does not have are
    # B's activity id (never a task's, an agent's or a draft's of A's).
    ("GET", "/ai/status", None),
    ("GET", "/ai/agents/{b_activity}/metrics", None),
    ("GET", "/ai/debug/queues", None),
    ("POST", "/ai/agents/echo/scale", {"size": 2}),
    ("POST", "/ai/leads/{b_lead}/analyze", None),
    ("GET", "/ai/leads/{b_lead}/analyses", None),
    ("POST", "/ai/leads/{b_lead}/follow-up", {"context": "pricing"}),
    ("POST", "/ai/clients/{b_client}/follow-up", None),
    ("POST", "/ai/leads/{b_lead}/support", {"question": "What did we agree?"}),
    ("POST", "/ai/clients/{b_client}/support", {"question": "What did we agree?"}),
    ("POST", "/ai/tasks", {"agent_type": "lead_analysis", "payload": {"lead_id": "{b_lead}"}}),
    ("GET", "/ai/tasks?agent_type=lead_analysis", None),
    ("GET", "/ai/tasks/{b_activity}", None),
    ("POST", "/ai/tasks/{b_activity}/cancel", None),
    ("POST", "/ai/tasks/{b_activity}/requeue", None),
    ("POST", "/ai/follow-ups/{b_activity}/approve", None),
    ("GET", "/ai/memory?subject_type=lead&subject_id={b_lead}", None),
    ("POST", "/ai/memory", {"subject_type": "lead", "subject_id": "{b_lead}", "content": "planted"}),
    (
        "POST",
        "/realtime/v1/api/broadcast",
        {"messages": [{"topic": "{b_agency}", "event": "e", "payload": {}}]},
    ),
    ("POST", "/realtime/v1/api/broadcast/{b_agency}/events/e", {"planted": True}),
    ("GET", "/api/v1/search?q=Lead", None),
    # Last: it ends A's own session.
    # /rest/v1: A's token aimed at B's rows, by id and by agency, through every verb.
    ("GET", "/rest/v1/agencies?id=eq.{b_agency}", None),
    ("GET", "/rest/v1/memberships?agency_id=eq.{b_agency}", None),
    ("GET", "/rest/v1/leads?agency_id=eq.{b_agency}&select=*,activities(*),clients(*)", None),
    ("POST", "/rest/v1/leads", {"agency_id": "{b_agency}", "first_name": "Planted"}),
    ("PATCH", "/rest/v1/leads?agency_id=eq.{b_agency}", {"status": "lost"}),
    ("DELETE", "/rest/v1/leads?agency_id=eq.{b_agency}", None),
    ("PATCH", "/rest/v1/agencies?id=eq.{b_agency}", {"name": "Taken"}),
    ("DELETE", "/rest/v1/memberships?agency_id=eq.{b_agency}", None),
    ("GET", "/rest/v1/rpc/pipeline_summary", None),
    ("POST", "/rest/v1/rpc/search_leads", {"query": "Lead"}),
    ("POST", "/auth/v1/logout", None),
    # Storage: both agencies have a bucket `docs` holding `x.txt` (see _tenant); A's calls reach A's.
    ("GET", "/storage/v1/bucket", None),
    ("GET", "/storage/v1/bucket/docs", None),
    ("POST", "/storage/v1/bucket", {"id": "docs", "name": "docs"}),
    ("PUT", "/storage/v1/bucket/docs", {"file_size_limit": 10}),
    ("POST", "/storage/v1/object/list/docs", {"prefix": ""}),
    (
        "POST",
        "/storage/v1/object/move",
        {"bucketId": "docs", "sourceKey": "x.txt", "destinationKey": "y.txt"},
    ),
    (
        "POST",
        "/storage/v1/object/copy",
        {"bucketId": "docs", "sourceKey": "y.txt", "destinationKey": "x.txt"},
    ),
    ("POST", "/storage/v1/object/sign/docs", {"paths": ["x.txt"], "expiresIn": 60}),
    ("POST", "/storage/v1/object/sign/docs/x.txt", {"expiresIn": 60}),
    ("GET", "/storage/v1/object/sign/docs/x.txt?token=forged", None),
    ("POST", "/storage/v1/object/upload/sign/docs/x.txt", {}),
    ("PUT", "/storage/v1/object/upload/sign/docs/x.txt?token=forged", {"a": 1}),
    ("GET", "/storage/v1/object/info/docs/x.txt", None),
    ("GET", "/storage/v1/object/info/public/docs/x.txt", None),
    ("GET", "/storage/v1/object/info/authenticated/docs/x.txt", None),
    ("GET", "/storage/v1/object/public/docs/x.txt", None),
    ("GET", "/storage/v1/object/authenticated/docs/x.txt", None),
    ("GET", "/storage/v1/object/docs/x.txt", None),
    ("GET", "/storage/v1/render/image/authenticated/docs/x.txt?width=10", None),
    ("GET", "/storage/v1/render/image/public/docs/x.txt?width=10", None),
    ("GET", "/storage/v1/render/image/sign/docs/x.txt?token=forged", None),
    ("POST", "/storage/v1/object/docs/x.txt", {"a": 1}),
    ("PUT", "/storage/v1/object/docs/x.txt", {"a": 1}),
    ("DELETE", "/storage/v1/object/docs", {"prefixes": ["x.txt", "y.txt"]}),
    ("DELETE", "/storage/v1/object/docs/x.txt", None),
    ("POST", "/storage/v1/bucket/docs/empty", {}),
    ("DELETE", "/storage/v1/bucket/docs", None),
    # Resumable uploads (TUS): {b_upload} is B's upload in progress (test_resumable.py sends the TUS
    # headers these lack, with the same 404 for B's upload).
    ("OPTIONS", "/storage/v1/upload/resumable", None),
    ("OPTIONS", "/storage/v1/upload/resumable/", None),
    ("OPTIONS", "/storage/v1/upload/resumable/{b_upload}", None),
    ("POST", "/storage/v1/upload/resumable", None),
    ("POST", "/storage/v1/upload/resumable/", None),
    ("HEAD", "/storage/v1/upload/resumable/{b_upload}", None),
    ("PATCH", "/storage/v1/upload/resumable/{b_upload}", {"a": 1}),
    ("DELETE", "/storage/v1/upload/resumable/{b_upload}", None),
]


def _fill(text: str, b: Tenant) -> str:
    return (
        text.replace("{b_agency}", b.agency_id)
        .replace("{b_user}", b.user_id)
        .replace("{b_email}", b.email)
        .replace("{b_lead}", b.lead_id)
        .replace("{b_client}", b.client_id)
        .replace("{b_activity}", b.activity_id)
        .replace("{b_upload}", b.upload_token)
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
                "clients": "SELECT id, status, updated_at FROM clients WHERE agency_id = %s ORDER BY 1",
                "activities": "SELECT id, status, updated_at FROM activities WHERE agency_id = %s ORDER BY 1",
                "audit": "SELECT id FROM audit_log WHERE agency_id = %s ORDER BY id",
                "owner": """SELECT u.id, u.email, u.encrypted_password, u.raw_app_meta_data, u.banned_until,
                                   u.deleted_at FROM auth.users u JOIN memberships m ON m.user_id = u.id
                            WHERE m.agency_id = %s ORDER BY u.id""",
                "buckets": "SELECT * FROM storage.buckets WHERE agency_id = %s ORDER BY id",
                "objects": "SELECT * FROM storage.objects WHERE agency_id = %s ORDER BY id",
                "uploads": "SELECT * FROM storage.uploads WHERE agency_id = %s ORDER BY id",
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
    """Every route of the app is called above by at least one entry (matched as the router matches)."""
    app = create_app(DatabaseTarget(database.settings))
    missing = []
    # Routes of included routers are only reachable through iter_route_contexts (FastAPI ≥ 0.160).
    routes = list(iter_route_contexts(app.routes))
    assert len(routes) > 50, "the app's routes were not all found: this test would check nothing"
    for route in routes:
        methods = route.methods or set()
        path = route.path
        if path.startswith(("/docs", "/redoc", "/openapi")):
            continue
        regex, _, _ = compile_path(path)
        for method in methods - {"HEAD"}:
            if not any(m == method and regex.match(p.split("?")[0]) for m, p, _ in ENDPOINTS):
                missing.append(f"{method} {path}")
    assert missing == [], f"add these endpoints to ENDPOINTS: {missing}"
