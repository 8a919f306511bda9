"""Creating agencies, inviting and removing members, switching the active agency.

Runs as service_role (invites reach `auth.users`, which tenants cannot) with the caller's claims, so that
the database's membership rules (migration 0014's `gardenos.membership_rules` trigger) decide who may
add, change or remove whom, exactly as for `/rest/v1/memberships`; their refusals reach the caller as
403 and 409 with the database's words. This module only tells a caller who is not a member of an agency
that it does not exist, so agency ids cannot be probed.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from typing import Any, Literal

from psycopg.rows import DictRow

from gardenos.auth.principal import Principal
from gardenos.auth.service import (
    AuthService,
    ClientInfo,
    active_membership,
    find_or_invite,
    normalise_email,
)
from gardenos.db.pool import Conn
from gardenos.db.rows import fetch_all, fetch_one
from gardenos.errors import BadRequest, Conflict, NotFound
from gardenos.mail.templates import compose

AgencyRole = Literal["owner", "admin", "member"]

INSERT_AGENCY = (
    "INSERT INTO public.agencies (name, slug) VALUES (%s, %s) RETURNING id, name, slug, created_at"
)
SLUG_TAKEN = "SELECT 1 FROM public.agencies WHERE slug = %s"
ADD_MEMBER = """
INSERT INTO public.memberships (agency_id, user_id, role, invited_by) VALUES (%s, %s, %s, %s)
ON CONFLICT (agency_id, user_id) DO NOTHING
RETURNING role
"""
MY_AGENCIES = """
SELECT a.id, a.name, a.slug, a.created_at, m.role FROM public.memberships m
JOIN public.agencies a ON a.id = m.agency_id
WHERE m.user_id = %s ORDER BY m.created_at, a.id
"""
MY_ROLE = """
SELECT a.id, a.name, a.slug, a.created_at, m.role FROM public.memberships m
JOIN public.agencies a ON a.id = m.agency_id WHERE m.agency_id = %s AND m.user_id = %s
"""
MEMBERS = """
SELECT m.user_id, u.email, m.role, m.created_at FROM public.memberships m
JOIN auth.users u ON u.id = m.user_id WHERE m.agency_id = %s ORDER BY m.created_at, m.user_id
"""
REMOVE_MEMBER = "DELETE FROM public.memberships WHERE agency_id = %s AND user_id = %s RETURNING role"
SET_ACTIVE = """
UPDATE auth.users SET raw_app_meta_data = raw_app_meta_data || jsonb_build_object('agency_id', %s::text)
WHERE id = %s
"""


def agency_json(row: DictRow, active: uuid.UUID | None = None) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "slug": row["slug"],
        "role": row["role"],
        "active": row["id"] == active,
        "created_at": row["created_at"].isoformat(),
    }


class TenancyService:
    def __init__(self, auth: AuthService) -> None:
        self.auth = auth
        self.database = auth.database

    async def create_agency(self, principal: Principal, name: str, slug: str | None) -> dict[str, Any]:
        user_id = principal.require_user()
        name = " ".join(name.split())
        if not 1 <= len(name) <= 200:
            raise BadRequest("an agency name needs 1 to 200 characters")
        async with self.database.transaction("service_role") as conn:
            await self.auth.current_user(conn, principal)
            if slug is not None:
                if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", slug):
                    raise BadRequest(f"{slug!r} is not a valid slug: lower-case letters, digits and dashes")
                if await fetch_one(conn, SLUG_TAKEN, (slug,)):
                    raise Conflict(f"the slug {slug!r} is taken; choose another")
            else:
                slug = await _free_slug(conn, name)
            agency = await fetch_one(conn, INSERT_AGENCY, (name, slug))
            assert agency is not None
            await conn.execute(ADD_MEMBER, (agency["id"], user_id, "owner", None))
            active = await active_membership(conn, user_id)
            return agency_json({**agency, "role": "owner"}, active[0] if active else None)

    async def list_agencies(self, principal: Principal) -> list[dict[str, Any]]:
        user_id = principal.require_user()
        async with self.database.transaction("service_role") as conn:
            rows = await fetch_all(conn, MY_AGENCIES, (user_id,))
        return [agency_json(row, principal.agency_id) for row in rows]

    async def _membership(self, conn: Conn, agency_id: uuid.UUID, user_id: uuid.UUID) -> DictRow:
        row = await fetch_one(conn, MY_ROLE, (agency_id, user_id))
        if row is None:
            raise NotFound("agency not found (or you are not a member of it)")
        return row

    async def get_agency(self, principal: Principal, agency_id: uuid.UUID) -> dict[str, Any]:
        user_id = principal.require_user()
        async with self.database.transaction("service_role") as conn:
            return agency_json(await self._membership(conn, agency_id, user_id), principal.agency_id)

    async def members(self, principal: Principal, agency_id: uuid.UUID) -> list[dict[str, Any]]:
        user_id = principal.require_user()
        async with self.database.transaction("service_role") as conn:
            await self._membership(conn, agency_id, user_id)
            rows = await fetch_all(conn, MEMBERS, (agency_id,))
        return [
            {
                "user_id": str(r["user_id"]),
                "email": r["email"],
                "role": r["role"],
                "created_at": r["created_at"].isoformat(),
            }
            for r in rows
        ]

    async def invite(
        self, principal: Principal, agency_id: uuid.UUID, email: str, role: AgencyRole, client: ClientInfo
    ) -> dict[str, Any]:
        """Owners and admins invite by email: a new address gets an account and an invite link to set
        a password; an existing account is added and told by mail."""
        inviter = principal.require_user()
        email = normalise_email(email)
        async with self.database.transaction("service_role", principal.raw_claims) as conn:
            agency = await self._membership(conn, agency_id, inviter)
            user = await find_or_invite(conn, email)
            # The membership rules refuse an inviter who is not an owner or admin (now), or an admin
            # making an owner: the account made for the address above goes with the rolled-back transaction.
            added = await fetch_one(conn, ADD_MEMBER, (agency_id, user["id"], role, inviter))
            if added is None:
                raise Conflict(f"{email} is already a member of this agency")
            if user["email_confirmed_at"] is None:
                await self.auth.mail_token(
                    conn, user, "invite", email, None, client, agency_name=agency["name"]
                )
            else:
                mail = compose(
                    "invite",
                    to=email,
                    site_name="GardenOS",
                    link=self.auth.settings.site_url,
                    agency_name=agency["name"],
                )
                await self.auth.mailer.send(mail)
            return {"user_id": str(user["id"]), "email": email, "role": role}

    async def remove_member(self, principal: Principal, agency_id: uuid.UUID, member_id: uuid.UUID) -> None:
        """Owners and admins remove members (admins cannot remove owners); anyone may leave; the last
        owner stays. The database's membership rules decide (403, 409)."""
        caller = principal.require_user()
        async with self.database.transaction("service_role", principal.raw_claims) as conn:
            await self._membership(conn, agency_id, caller)
            if await fetch_one(conn, REMOVE_MEMBER, (agency_id, member_id)) is None:
                raise NotFound("that user is not a member of this agency")

    async def switch(self, principal: Principal, agency_id: uuid.UUID) -> dict[str, Any]:
        """Make `agency_id` the active agency; returns a new access token for the same session."""
        user_id = principal.require_user()
        async with self.database.transaction("service_role") as conn:
            user = await self.auth.current_user(conn, principal)
            await self._membership(conn, agency_id, user_id)
            await conn.execute(SET_ACTIVE, (str(agency_id), user_id))
            result = (
                await self.auth.access_token_now(conn, user_id, principal.session_id)
                if principal.session_id
                else None
            )
            if result is None:
                raise BadRequest("switching agencies needs a session token from /auth/v1/token")
            assert user is not None
            return result


async def _free_slug(conn: Conn, name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:48] or "agency"
    slug = base
    while await fetch_one(conn, SLUG_TAKEN, (slug,)):
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug
