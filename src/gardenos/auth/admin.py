"""GoTrue's admin API (service_role only): users and generated links."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.rows import DictRow

from gardenos.auth import repository as repo
from gardenos.auth.passwords import hash_password
from gardenos.auth.service import AuthApiError, AuthService, ClientInfo, normalise_email
from gardenos.db.rows import fetch_all, fetch_one
from gardenos.errors import BadRequest

LINK_TYPES = {
    "signup": "signup",
    "invite": "invite",
    "magiclink": "magiclink",
    "recovery": "recovery",
    "email_change_current": "email_change",
    "email_change_new": "email_change",
}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


def user_not_found() -> AuthApiError:
    return AuthApiError("User not found", 404, "user_not_found")


class AdminService:
    def __init__(self, auth: AuthService) -> None:
        self.auth = auth
        self.database = auth.database

    async def _json(self, conn: repo.Conn, user: DictRow) -> dict[str, Any]:
        return repo.user_json(user, await self.auth.app_metadata(conn, user))

    async def list_users(self, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        async with self.database.transaction("service_role") as conn:
            rows = await fetch_all(conn, repo.LIST_USERS, (per_page, (page - 1) * per_page))
            users = [await self._json(conn, row) for row in rows]
            if rows:
                return users, int(rows[0]["total"])
            total = await fetch_one(conn, repo.COUNT_USERS)
            return users, int(total["n"]) if total else 0

    async def get_user(self, user_id: uuid.UUID) -> dict[str, Any]:
        async with self.database.transaction("service_role") as conn:
            user = await repo.user_by_id(conn, user_id)
            if user is None:
                raise user_not_found()
            return await self._json(conn, user)

    async def create_user(self, body: dict[str, Any]) -> dict[str, Any]:
        email = body.get("email")
        if not email:
            raise BadRequest("an email is needed to create a user (phone sign-in is not enabled)")
        email = normalise_email(str(email))
        password = body.get("password")
        if password is not None:
            self.auth.check_password(str(password))
        password_hash = await asyncio.to_thread(hash_password, str(password)) if password else None
        async with self.database.transaction("service_role") as conn:
            if await repo.user_by_email(conn, email) is not None:
                raise AuthApiError(
                    "A user with this email address has already been registered", 422, "email_exists"
                )
            user = await repo.insert_user(
                conn,
                email=email,
                password_hash=password_hash,
                confirmed=bool(body.get("email_confirm")),
                user_meta=_object(body.get("user_metadata"), "user_metadata"),
                app_meta=_object(body.get("app_metadata"), "app_metadata"),
                role=str(body.get("role") or "authenticated"),
            )
            if body.get("ban_duration"):
                await _ban(conn, user["id"], str(body["ban_duration"]))
                user = await repo.user_by_id(conn, user["id"]) or user
            return await self._json(conn, user)

    async def update_user(self, user_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
        password = body.get("password")
        if password is not None:
            self.auth.check_password(str(password))
        password_hash = await asyncio.to_thread(hash_password, str(password)) if password else None
        async with self.database.transaction("service_role") as conn:
            user = await repo.user_by_id(conn, user_id, lock=True)
            if user is None:
                raise user_not_found()
            if body.get("email"):
                await conn.execute(
                    repo.SET_EMAIL,
                    (normalise_email(str(body["email"])), user_id),
                )
            if password_hash:
                await conn.execute(repo.SET_PASSWORD, (password_hash, user_id))
            if body.get("email_confirm"):
                await conn.execute(
                    repo.CONFIRM_EMAIL,
                    (user_id,),
                )
            for field, column, update in (
                ("user_metadata", "raw_user_meta_data", repo.SET_USER_META),
                ("app_metadata", "raw_app_meta_data", repo.SET_APP_META),
            ):
                if body.get(field) is not None:
                    merged = {**user[column], **_object(body[field], field)}
                    merged = {k: v for k, v in merged.items() if v is not None}
                    await conn.execute(update, (json.dumps(merged), user_id))
            if body.get("role"):
                await conn.execute(repo.SET_ROLE, (str(body["role"]), user_id))
            if body.get("ban_duration"):
                await _ban(conn, user_id, str(body["ban_duration"]))
            fresh = await repo.user_by_id(conn, user_id)
            assert fresh is not None
            return await self._json(conn, fresh)

    async def delete_user(self, user_id: uuid.UUID, soft: bool) -> None:
        async with self.database.transaction("service_role") as conn:
            if soft:
                cur = await conn.execute(
                    repo.SOFT_DELETE_USER,
                    (user_id,),
                )
                await conn.execute(repo.DELETE_USER_SESSIONS, (user_id,))
            else:
                cur = await conn.execute(repo.DELETE_USER, (user_id,))
            if cur.rowcount == 0:
                raise user_not_found()

    async def invite(self, email: str, redirect_to: str | None, client: ClientInfo) -> dict[str, Any]:
        """`POST /invite`: create the user (or find an unconfirmed one) and mail an invite link."""
        email = normalise_email(email)
        async with self.database.transaction("service_role") as conn:
            user = await repo.find_or_invite(conn, email)
            if user["email_confirmed_at"] is not None:
                raise AuthApiError(
                    "A user with this email address has already been registered", 422, "email_exists"
                )
            await self.auth.mail_token(conn, user, "invite", email, redirect_to, client)
            return await self._json(conn, user)

    async def generate_link(self, body: dict[str, Any]) -> dict[str, Any]:
        link_type = str(body.get("type") or "")
        token_type = LINK_TYPES.get(link_type)
        if token_type is None:
            raise BadRequest(f"unknown link type {link_type!r}; use one of {sorted(LINK_TYPES)}")
        email = normalise_email(str(body.get("email") or ""))
        redirect = self.auth.safe_redirect(
            body.get("redirect_to") or (body.get("options") or {}).get("redirect_to")
        )
        data = _object(body.get("data") or {}, "data")
        async with self.database.transaction("service_role") as conn:
            user = await repo.user_by_email(conn, email)
            if user is None:
                if link_type not in ("signup", "invite"):
                    raise user_not_found()
                password = body.get("password")
                if link_type == "signup":
                    if not password:
                        raise BadRequest("a signup link needs a password")
                    self.auth.check_password(str(password))
                password_hash = await asyncio.to_thread(hash_password, str(password)) if password else None
                user = await repo.insert_user(
                    conn,
                    email=email,
                    password_hash=password_hash,
                    confirmed=False,
                    user_meta=data,
                    app_meta={},
                    invited=link_type == "invite",
                )
            elif link_type in ("signup", "invite") and user["email_confirmed_at"] is not None:
                raise AuthApiError(
                    "A user with this email address has already been registered", 422, "email_exists"
                )
            target = email
            if token_type == "email_change":
                new_email = normalise_email(str(body.get("new_email") or ""))
                await conn.execute(
                    repo.REQUEST_EMAIL_CHANGE,
                    (new_email, user["id"]),
                )
                target = new_email
            token = await repo.store_one_time_token(
                conn,
                user_id=user["id"],
                token_type=token_type,
                email=target,
                redirect_to=redirect,
                ttl_s=self.auth.settings.otp_expiry_s,
            )
            fresh = await repo.user_by_id(conn, user["id"])
            assert fresh is not None
            user_json = await self._json(conn, fresh)
        return {
            **user_json,
            "action_link": self.auth.action_link(token.link_token, token_type, redirect),
            "email_otp": token.code,
            "hashed_token": token.link_token,
            "redirect_to": redirect or self.auth.settings.site_url,
            "verification_type": link_type,
        }


async def _ban(conn: repo.Conn, user_id: uuid.UUID, duration: str) -> None:
    if duration == "none":
        until = None
    else:
        match = _DURATION.match(duration)
        if not match:
            raise BadRequest(f"ban_duration {duration!r} is not a duration such as '24h', '30m' or 'none'")
        amount, unit = float(match[1]), match[2]
        seconds = amount * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
        until = datetime.now(UTC) + timedelta(seconds=seconds)
    await conn.execute(repo.SET_BANNED_UNTIL, (until, user_id))
    if until is not None:
        await conn.execute(repo.DELETE_USER_SESSIONS, (user_id,))


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{name} must be a JSON object")
    return value
