"""The demo agency `gardenos up` creates on first start: an agency, its owner, and its data."""

from __future__ import annotations

import json
import os
import re
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from gardenos.auth.passwords import hash_password
from gardenos.errors import BadRequest

DEMO_SLUG = "demo"
DEMO_OWNER_EMAIL = "owner@demo-agency.example"

FIND_AGENCY = "SELECT id FROM public.agencies WHERE slug = %s"
CREATE_AGENCY = "INSERT INTO public.agencies (name, slug) VALUES (%s, %s) RETURNING id"
FIND_USER = "SELECT id FROM auth.users WHERE lower(email) = lower(%s) AND NOT is_anonymous"
CREATE_USER = """
INSERT INTO auth.users (email, encrypted_password, email_confirmed_at, raw_app_meta_data, raw_user_meta_data)
VALUES (%s, %s, now(), %s, %s)
RETURNING id
"""
ADD_MEMBER = """
INSERT INTO public.memberships (agency_id, user_id, role) VALUES (%s, %s, %s)
ON CONFLICT (agency_id, user_id) DO NOTHING
"""
COUNT_LEADS = "SELECT count(*) FROM public.leads WHERE agency_id = %s"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str


@dataclass(frozen=True)
class Agency:
    id: uuid.UUID
    owner_id: uuid.UUID
    created: bool


SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def validate_slug(slug: str) -> str:
    if not SLUG.match(slug):
        raise BadRequest(
            f"{slug!r} is not a valid agency slug: use 1–63 lower-case letters, digits and dashes, "
            "starting with a letter or digit (for example `acme-media`)"
        )
    return slug


def ensure_agency(
    conn: psycopg.Connection, *, name: str, slug: str, owner_email: str, password: str
) -> Agency:
    """The agency with `slug` and an owner, created if missing (inside the caller's transaction)."""
    row = conn.execute(FIND_AGENCY, (slug,)).fetchone()
    created = row is None
    agency_id: uuid.UUID = row[0] if row else _scalar(conn.execute(CREATE_AGENCY, (name, slug)).fetchone())
    user = conn.execute(FIND_USER, (owner_email,)).fetchone()
    if user is None:
        app_meta = {
            "provider": "email",
            "providers": ["email"],
            "agency_id": str(agency_id),
            "agency_role": "owner",
        }
        user = conn.execute(
            CREATE_USER,
            (
                owner_email,
                hash_password(password),
                json.dumps(app_meta),
                json.dumps({"full_name": "Demo Owner"}),
            ),
        ).fetchone()
    owner_id: uuid.UUID = _scalar(user)
    conn.execute(ADD_MEMBER, (agency_id, owner_id, "owner"))
    return Agency(agency_id, owner_id, created)


def lead_count(conn: psycopg.Connection, agency_id: uuid.UUID) -> int:
    return int(_scalar(conn.execute(COUNT_LEADS, (agency_id,)).fetchone()))


def demo_login(data_dir: Path) -> DemoLogin:
    """The demo owner's credentials: generated once, kept in `<data_dir>/demo-login.json` (0600)."""
    path = data_dir / "demo-login.json"
    if path.exists():
        raw = json.loads(path.read_text())
        return DemoLogin(raw["email"], raw["password"])
    login = DemoLogin(DEMO_OWNER_EMAIL, secrets.token_urlsafe(12))
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"email": login.email, "password": login.password}, f)
    return login


def _scalar(row: tuple[Any, ...] | None) -> Any:
    if row is None:
        raise RuntimeError("the query returned no row")
    return row[0]
