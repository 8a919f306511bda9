"""SQL for users, sessions, refresh tokens and one-time tokens. Functions receive a connection."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from gardenos.db.rows import fetch_one

Conn = AsyncConnection[Any]

USER_COLUMNS = """
    u.id, u.aud, u.role, u.email, u.encrypted_password, u.email_confirmed_at, u.phone, u.phone_confirmed_at,
    u.confirmation_sent_at, u.recovery_sent_at, u.email_change, u.email_change_sent_at, u.invited_at,
    u.raw_app_meta_data, u.raw_user_meta_data, u.is_anonymous, u.banned_until, u.last_sign_in_at,
    u.created_at, u.updated_at, u.deleted_at
"""
USER_BY_ID = f"SELECT {USER_COLUMNS} FROM auth.users u WHERE u.id = %s"
USER_BY_EMAIL = f"""
SELECT {USER_COLUMNS} FROM auth.users u WHERE lower(u.email) = lower(%s) AND NOT u.is_anonymous
"""
LOCK_USER = f"SELECT {USER_COLUMNS} FROM auth.users u WHERE u.id = %s FOR UPDATE"
INSERT_USER = f"""
INSERT INTO auth.users AS u (email, encrypted_password, email_confirmed_at, raw_app_meta_data,
    raw_user_meta_data, invited_at, confirmation_sent_at, role)
VALUES (%(email)s, %(password)s, CASE WHEN %(confirmed)s THEN now() END, %(app_meta)s, %(user_meta)s,
    CASE WHEN %(invited)s THEN now() END, CASE WHEN NOT %(confirmed)s THEN now() END, %(role)s)
RETURNING {USER_COLUMNS}
"""
# What signing up answers for an address that already has an account: the row a new sign-up would have
# made (GoTrue's `sanitizeUser`, but with the identity a new user has, which GoTrue leaves out).
IMITATE_NEW_USER = """
SELECT uuidv7() AS id, 'authenticated' AS aud, 'authenticated' AS role, %s AS email,
    NULL::timestamptz AS email_confirmed_at, NULL::text AS phone, NULL::timestamptz AS phone_confirmed_at,
    now() AS confirmation_sent_at, NULL::timestamptz AS recovery_sent_at, NULL::text AS email_change,
    NULL::timestamptz AS email_change_sent_at, NULL::timestamptz AS invited_at,
    '{}'::jsonb AS raw_app_meta_data, %s::jsonb AS raw_user_meta_data, false AS is_anonymous,
    NULL::timestamptz AS banned_until, NULL::timestamptz AS last_sign_in_at, now() AS created_at,
    now() AS updated_at, NULL::timestamptz AS deleted_at
"""
LIST_USERS = f"""
SELECT {USER_COLUMNS}, count(*) OVER () AS total FROM auth.users u
ORDER BY u.created_at, u.id LIMIT %s OFFSET %s
"""

# The agency a token carries: the one the user chose, if still a member, else the oldest membership.
ACTIVE_MEMBERSHIP = """
SELECT m.agency_id, m.role FROM public.memberships m
WHERE m.user_id = %(user_id)s
ORDER BY (m.agency_id = %(preferred)s) DESC NULLS LAST, m.created_at, m.agency_id
LIMIT 1
"""

INSERT_SESSION = """
INSERT INTO auth.sessions (user_id, user_agent, ip, aal, amr) VALUES (%s, %s, %s, 'aal1', %s)
RETURNING id, amr, created_at
"""
SESSION = "SELECT id, amr, created_at FROM auth.sessions WHERE id = %s AND user_id = %s"
INSERT_REFRESH_TOKEN = """
INSERT INTO auth.refresh_tokens (token, user_id, session_id, parent) VALUES (%s, %s, %s, %s)
"""
LOCK_REFRESH_TOKEN = """
SELECT t.id, t.token, t.user_id, t.session_id, t.parent, t.revoked, t.updated_at, now() AS now
FROM auth.refresh_tokens t WHERE t.token = %s FOR UPDATE
"""
LOCK_SESSION = "SELECT id, not_after FROM auth.sessions WHERE id = %s FOR UPDATE"
# The session's newest token: the only one a client should still hold.
ACTIVE_CHILD = """
SELECT token FROM auth.refresh_tokens WHERE session_id = %s AND NOT revoked ORDER BY id DESC LIMIT 1
"""
REVOKE_TOKEN = "UPDATE auth.refresh_tokens SET revoked = true WHERE id = %s"
TOUCH_SESSION = "UPDATE auth.sessions SET refreshed_at = now() WHERE id = %s"
DELETE_SESSION = "DELETE FROM auth.sessions WHERE id = %s"
DELETE_USER_SESSIONS = "DELETE FROM auth.sessions WHERE user_id = %s"
DELETE_OTHER_SESSIONS = "DELETE FROM auth.sessions WHERE user_id = %s AND id <> %s"
SIGNED_IN = "UPDATE auth.users SET last_sign_in_at = now() WHERE id = %s"

UPSERT_ONE_TIME_TOKEN = """
INSERT INTO auth.one_time_tokens (user_id, token_type, link_hash, code_hash, relates_to, redirect_to,
    expires_at)
VALUES (%(user_id)s, %(type)s, %(link_hash)s, %(code_hash)s, %(relates_to)s, %(redirect_to)s,
    now() + make_interval(secs => %(ttl)s))
ON CONFLICT (user_id, token_type) DO UPDATE SET link_hash = excluded.link_hash,
    code_hash = excluded.code_hash, relates_to = excluded.relates_to, redirect_to = excluded.redirect_to,
    expires_at = excluded.expires_at, created_at = now()
"""
TAKE_BY_LINK = """
DELETE FROM auth.one_time_tokens WHERE link_hash = %s AND expires_at > now()
RETURNING user_id, token_type, relates_to, redirect_to
"""
TAKE_BY_CODE = """
DELETE FROM auth.one_time_tokens
WHERE lower(relates_to) = lower(%s) AND code_hash = %s AND token_type = ANY(%s) AND expires_at > now()
RETURNING user_id, token_type, relates_to, redirect_to
"""

# Single-purpose updates of auth.users and friends.
SET_PASSWORD = "UPDATE auth.users SET encrypted_password = %s WHERE id = %s"
SET_USER_META = "UPDATE auth.users SET raw_user_meta_data = %s WHERE id = %s"
SET_APP_META = "UPDATE auth.users SET raw_app_meta_data = %s WHERE id = %s"
SIGN_UP_AGAIN = """
UPDATE auth.users SET encrypted_password = %s, raw_user_meta_data = %s, confirmation_sent_at = now()
WHERE id = %s
"""
REQUEST_EMAIL_CHANGE = "UPDATE auth.users SET email_change = %s, email_change_sent_at = now() WHERE id = %s"
APPLY_EMAIL_CHANGE = (
    "UPDATE auth.users SET email = %s, email_change = NULL, email_confirmed_at = now() WHERE id = %s"
)
CONFIRM_EMAIL = "UPDATE auth.users SET email_confirmed_at = coalesce(email_confirmed_at, now()) WHERE id = %s"
RECOVERY_SENT = "UPDATE auth.users SET recovery_sent_at = now() WHERE id = %s"
SET_EMAIL = "UPDATE auth.users SET email = %s WHERE id = %s"
SET_ROLE = "UPDATE auth.users SET role = %s WHERE id = %s"
SET_BANNED_UNTIL = "UPDATE auth.users SET banned_until = %s WHERE id = %s"
SOFT_DELETE_USER = "UPDATE auth.users SET deleted_at = now(), encrypted_password = NULL WHERE id = %s"
DELETE_USER = "DELETE FROM auth.users WHERE id = %s"
COUNT_USERS = "SELECT count(*) AS n FROM auth.users"
TOKEN_PARENT = "SELECT parent FROM auth.refresh_tokens WHERE token = %s"


@dataclass(frozen=True)
class OneTimeToken:
    link_token: str
    code: str


@dataclass(frozen=True)
class TakenToken:
    user_id: uuid.UUID
    token_type: str
    relates_to: str
    redirect_to: str | None


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def code_digest(email: str, code: str) -> str:
    return digest(f"{email.strip().lower()}:{code.strip()}")


async def user_by_email(conn: Conn, email: str) -> DictRow | None:
    return await fetch_one(conn, USER_BY_EMAIL, (email,))


async def user_by_id(conn: Conn, user_id: uuid.UUID, *, lock: bool = False) -> DictRow | None:
    return await fetch_one(conn, LOCK_USER if lock else USER_BY_ID, (user_id,))


async def insert_user(
    conn: Conn,
    *,
    email: str,
    password_hash: str | None,
    confirmed: bool,
    user_meta: dict[str, Any],
    app_meta: dict[str, Any],
    invited: bool = False,
    role: str = "authenticated",
) -> DictRow:
    row = await fetch_one(
        conn,
        INSERT_USER,
        {
            "email": email,
            "password": password_hash,
            "confirmed": confirmed,
            "app_meta": json.dumps(app_meta),
            "user_meta": json.dumps(user_meta),
            "invited": invited,
            "role": role,
        },
    )
    assert row is not None
    return row


async def find_or_invite(conn: Conn, email: str) -> DictRow:
    """The account for `email`, created as invited (no password, not confirmed) when there is none."""
    user = await user_by_email(conn, email)
    if user is None:
        user = await insert_user(
            conn, email=email, password_hash=None, confirmed=False, user_meta={}, app_meta={}, invited=True
        )
    return user


async def active_membership(
    conn: Conn, user_id: uuid.UUID, preferred: uuid.UUID | None
) -> tuple[uuid.UUID, str] | None:
    row = await fetch_one(conn, ACTIVE_MEMBERSHIP, {"user_id": user_id, "preferred": preferred})
    return (row["agency_id"], row["role"]) if row else None


async def create_session(
    conn: Conn, user_id: uuid.UUID, *, method: str, user_agent: str | None, ip: str | None
) -> DictRow:
    row = await fetch_one(conn, INSERT_SESSION, (user_id, user_agent, ip, method))
    assert row is not None
    await conn.execute(SIGNED_IN, (user_id,))
    return row


async def session(conn: Conn, session_id: uuid.UUID, user_id: uuid.UUID) -> DictRow | None:
    return await fetch_one(conn, SESSION, (session_id, user_id))


async def new_refresh_token(conn: Conn, user_id: uuid.UUID, session_id: uuid.UUID, parent: str | None) -> str:
    # 12 random bytes as GoTrue; opaque, never a JWT, so it can never pass as an access token.
    token = secrets.token_urlsafe(16)
    await conn.execute(INSERT_REFRESH_TOKEN, (token, user_id, session_id, parent))
    return token


async def store_one_time_token(
    conn: Conn, *, user_id: uuid.UUID, token_type: str, email: str, redirect_to: str | None, ttl_s: int
) -> OneTimeToken:
    link_token = secrets.token_urlsafe(32)
    code = f"{secrets.randbelow(1_000_000):06d}"
    await conn.execute(
        UPSERT_ONE_TIME_TOKEN,
        {
            "user_id": user_id,
            "type": token_type,
            "link_hash": digest(link_token),
            "code_hash": code_digest(email, code),
            "relates_to": email,
            "redirect_to": redirect_to,
            "ttl": ttl_s,
        },
    )
    return OneTimeToken(link_token, code)


async def take_by_link(conn: Conn, link_token: str) -> TakenToken | None:
    row = await fetch_one(conn, TAKE_BY_LINK, (digest(link_token),))
    return TakenToken(**row) if row else None


async def take_by_code(conn: Conn, email: str, code: str, types: list[str]) -> TakenToken | None:
    row = await fetch_one(conn, TAKE_BY_CODE, (email, code_digest(email, code), types))
    return TakenToken(**row) if row else None


def user_json(row: DictRow, app_metadata: dict[str, Any]) -> dict[str, Any]:
    """A user as GoTrue returns it."""
    confirmed_at: datetime | None = row["email_confirmed_at"] or row["phone_confirmed_at"]
    user_id = str(row["id"])
    identities = []
    if row["email"]:
        identities.append(
            {
                "id": user_id,
                "identity_id": user_id,
                "user_id": user_id,
                "identity_data": {
                    "sub": user_id,
                    "email": row["email"],
                    "email_verified": bool(confirmed_at),
                },
                "provider": "email",
                "created_at": _iso(row["created_at"]),
                "last_sign_in_at": _iso(row["last_sign_in_at"]),
                "updated_at": _iso(row["updated_at"]),
            }
        )
    return {
        "id": user_id,
        "aud": row["aud"],
        "role": row["role"],
        "email": row["email"],
        "phone": row["phone"] or "",
        "email_confirmed_at": _iso(row["email_confirmed_at"]),
        "phone_confirmed_at": _iso(row["phone_confirmed_at"]),
        "confirmed_at": _iso(confirmed_at),
        "confirmation_sent_at": _iso(row["confirmation_sent_at"]),
        "recovery_sent_at": _iso(row["recovery_sent_at"]),
        "new_email": row["email_change"],
        "email_change_sent_at": _iso(row["email_change_sent_at"]),
        "invited_at": _iso(row["invited_at"]),
        "last_sign_in_at": _iso(row["last_sign_in_at"]),
        "app_metadata": app_metadata,
        "user_metadata": row["raw_user_meta_data"],
        "identities": identities,
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "banned_until": _iso(row["banned_until"]),
        "deleted_at": _iso(row["deleted_at"]),
        "is_anonymous": row["is_anonymous"],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
