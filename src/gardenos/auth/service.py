"""GoTrue's behaviour: sign-up, sign-in, refresh-token rotation, sign-out, one-time tokens, user updates.

Every database step runs as `service_role` (auth tables are the server's own; end users never touch
them directly), in one transaction per call, so a failure (a mail that cannot be sent) leaves nothing
half-done. Errors carry GoTrue's `error_code`s so the official clients raise the same exceptions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from psycopg.rows import DictRow

from gardenos.auth import repository as repo
from gardenos.auth.passwords import hash_password, verify_password
from gardenos.auth.principal import Principal
from gardenos.auth.ratelimit import RateLimiter, client_key
from gardenos.auth.tokens import TokenService, user_claims, with_agency
from gardenos.crm.normalize import InvalidEmail, normalize_email
from gardenos.db.pool import Database
from gardenos.db.rows import fetch_one
from gardenos.errors import BadRequest, GardenError
from gardenos.mail.mailer import AuthMailKind, Mailer, OutgoingMail
from gardenos.mail.templates import compose
from gardenos.settings import Settings

log = logging.getLogger(__name__)

# Verified against when the email is unknown, so that a wrong email costs as much time as a wrong password.
_DUMMY_HASH = hash_password("gardenos-timing-equaliser")

# Which stored token types a `type` given to /verify may consume.
VERIFY_TYPES: dict[str, list[str]] = {
    "signup": ["signup"],
    "invite": ["invite"],
    "magiclink": ["magiclink", "signup"],
    "email": ["magiclink", "signup", "invite"],
    "recovery": ["recovery"],
    "email_change": ["email_change"],
}
MAIL_KIND: dict[str, AuthMailKind] = {
    "signup": "confirmation",
    "invite": "invite",
    "magiclink": "magic_link",
    "recovery": "recovery",
    "email_change": "email_change",
}

LogoutScope = Literal["global", "local", "others"]


class AuthApiError(GardenError):
    """An error in GoTrue's terms: HTTP status plus `error_code`."""

    def __init__(self, message: str, status_code: int, error_code: str) -> None:
        super().__init__(message, status_code=status_code, code=f"GARDEN{status_code}", error_code=error_code)


def invalid_credentials() -> AuthApiError:
    return AuthApiError("Invalid login credentials", 400, "invalid_credentials")


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True)
class Verified:
    session: dict[str, Any]
    token_type: str
    redirect_to: str | None


class AuthService:
    def __init__(
        self,
        database: Database,
        tokens: TokenService,
        mailer: Mailer,
        limiter: RateLimiter,
        settings: Settings,
    ) -> None:
        self.database = database
        self.tokens = tokens
        self.mailer = mailer
        self.limiter = limiter
        self.settings = settings

    # -- tokens and sessions ------------------------------------------------------------------------

    async def app_metadata(self, conn: repo.Conn, user: DictRow) -> dict[str, Any]:
        """`app_metadata` as tokens carry it: the stored one with the agency resolved from memberships,
        so a removed member loses the agency at the next refresh and a new one gains it."""
        stored = user["raw_app_meta_data"]
        active = await repo.active_membership(conn, user["id"], _uuid(stored.get("agency_id")))
        meta = with_agency(stored, *(active or (None, None)))
        meta.setdefault("provider", "email")
        meta.setdefault("providers", ["email"])
        return meta

    async def access_token_now(
        self, conn: repo.Conn, user_id: uuid.UUID, session_id: uuid.UUID
    ) -> dict[str, Any] | None:
        """A new access token for the user's session with the claims as they are now (after the active
        agency changed), as /auth/v1/token answers but without a new refresh token; None when the user
        or the session is gone."""
        user = await repo.user_by_id(conn, user_id)
        session = await repo.session(conn, session_id, user_id)
        if user is None or session is None:
            return None
        result = await self.session_json(conn, user, session, refresh_token="")
        del result["refresh_token"]
        return result

    async def session_json(
        self, conn: repo.Conn, user: DictRow, session: DictRow, refresh_token: str
    ) -> dict[str, Any]:
        app_meta = await self.app_metadata(conn, user)
        claims = user_claims(
            user["id"],
            app_meta,
            role=user["role"],
            email=user["email"] or "",
            phone=user["phone"] or "",
            user_metadata=user["raw_user_meta_data"],
            aal="aal1",
            amr=[{"method": session["amr"], "timestamp": int(session["created_at"].timestamp())}],
            session_id=str(session["id"]),
            is_anonymous=user["is_anonymous"],
        )
        access_token, expires_at = self.tokens.access_token(claims)
        return {
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": self.settings.jwt_expiry_s,
            "expires_at": expires_at,
            "refresh_token": refresh_token,
            "user": repo.user_json(user, app_meta),
        }

    async def _start_session(
        self, conn: repo.Conn, user: DictRow, method: str, client: ClientInfo
    ) -> dict[str, Any]:
        _check_not_banned(user)
        session = await repo.create_session(
            conn, user["id"], method=method, user_agent=client.user_agent, ip=client.ip
        )
        refresh_token = await repo.new_refresh_token(conn, user["id"], session["id"], None)
        fresh = await repo.user_by_id(conn, user["id"])
        assert fresh is not None
        return await self.session_json(conn, fresh, session, refresh_token)

    # -- sign-up and sign-in ------------------------------------------------------------------------

    async def signup(
        self, email: str, password: str, data: dict[str, Any], redirect_to: str | None, client: ClientInfo
    ) -> tuple[dict[str, Any], OutgoingMail | None]:
        """The answer, and the mail to send after it. Signing up an address that has an account answers
        as a new sign-up does (a new-looking user, the same limits counted) and mails the address a
        sign-in link instead of a confirmation: only its owner learns that the account exists. With
        autoconfirm on, a new address gets a session at once, which an existing one cannot be given, so
        there the answer is GoTrue's `user_already_exists`: autoconfirm makes accounts enumerable."""
        if self.settings.disable_signup:
            raise AuthApiError("Signups not allowed for this instance", 422, "signup_disabled")
        email = normalise_email(email)
        self.check_password(password)
        await self.limiter.hit(
            "signup-ip", client_key(client.ip), self.settings.rate_limit_signup_per_ip, "sign-ups"
        )
        password_hash = await asyncio.to_thread(hash_password, password)
        autoconfirm = self.settings.mailer_autoconfirm
        async with self.database.transaction("service_role") as conn:
            existing = await repo.user_by_email(conn, email)
            if existing is not None and autoconfirm:
                raise AuthApiError("User already registered", 422, "user_already_exists")
            if existing is not None and existing["email_confirmed_at"] is not None:
                await self._limit_mail(email, client)
                _token, mail = await self.token_mail(conn, existing, "magiclink", email, redirect_to)
                imitation = await fetch_one(conn, repo.IMITATE_NEW_USER, (email, json.dumps(data)))
                assert imitation is not None
                return repo.user_json(imitation, await self.app_metadata(conn, imitation)), mail
            if existing is not None:
                # An unconfirmed account is signed up again: new password, new confirmation mail.
                await conn.execute(
                    repo.SIGN_UP_AGAIN,
                    (password_hash, json.dumps(data), existing["id"]),
                )
                user = existing
            else:
                user = await repo.insert_user(
                    conn,
                    email=email,
                    password_hash=password_hash,
                    confirmed=autoconfirm,
                    user_meta=data,
                    app_meta={},
                )
            if autoconfirm:
                return await self._start_session(conn, user, "password", client), None
            await self._limit_mail(email, client)
            _token, mail = await self.token_mail(conn, user, "signup", email, redirect_to)
            fresh = await repo.user_by_id(conn, user["id"])
            assert fresh is not None
            return repo.user_json(fresh, await self.app_metadata(conn, fresh)), mail

    async def password_grant(self, email: str, password: str, client: ClientInfo) -> dict[str, Any]:
        email = normalise_email(email)
        s = self.settings
        await self.limiter.hit(
            "token-ip", client_key(client.ip), s.rate_limit_token_per_ip, "sign-in attempts"
        )
        await self.limiter.hit(
            "token-email", email, s.rate_limit_token_per_email, "sign-in attempts for this email"
        )
        async with self.database.transaction("service_role") as conn:
            user = await repo.user_by_email(conn, email)
            stored = user["encrypted_password"] if user and user["deleted_at"] is None else None
            ok = await asyncio.to_thread(verify_password, stored or _DUMMY_HASH, password)
            if user is None or stored is None or not ok:
                raise invalid_credentials()
            if user["email_confirmed_at"] is None:
                raise AuthApiError("Email not confirmed", 400, "email_not_confirmed")
            return await self._start_session(conn, user, "password", client)

    async def refresh_grant(self, refresh_token: str) -> dict[str, Any]:
        """Rotate: the presented token is revoked and a child issued. A revoked token is accepted again
        only as the parent of the session's active token or within the reuse interval (a client that
        retried); any other reuse means the token leaked, and the whole session is revoked."""
        reused = False
        async with self.database.transaction("service_role") as conn:
            token = await fetch_one(conn, repo.LOCK_REFRESH_TOKEN, (refresh_token,))
            if token is None:
                raise AuthApiError(
                    "Invalid Refresh Token: Refresh Token Not Found", 400, "refresh_token_not_found"
                )
            session = await fetch_one(conn, repo.LOCK_SESSION, (token["session_id"],))
            user = await repo.user_by_id(conn, token["user_id"])
            if session is None or user is None or user["deleted_at"] is not None:
                raise AuthApiError("Invalid Refresh Token: Session Expired", 400, "session_expired")
            _check_not_banned(user)
            new_token: str | None = None
            if token["revoked"]:
                active = await fetch_one(conn, repo.ACTIVE_CHILD, (token["session_id"],))
                if active is not None:
                    age = (token["now"] - token["updated_at"]).total_seconds()
                    is_parent = await self._is_parent_of(conn, token["token"], active["token"])
                    if is_parent or age <= self.settings.refresh_token_reuse_interval_s:
                        new_token = active["token"]
                if new_token is None:
                    # Reuse of a token that was rotated away: it leaked. The whole family goes, and that
                    # must commit, so the error is raised after the transaction.
                    await conn.execute(repo.DELETE_SESSION, (token["session_id"],))
                    reused = True
            else:
                await conn.execute(repo.REVOKE_TOKEN, (token["id"],))
                new_token = await repo.new_refresh_token(
                    conn, user["id"], token["session_id"], token["token"]
                )
            if new_token is not None:
                await conn.execute(repo.TOUCH_SESSION, (token["session_id"],))
                full_session = await repo.session(conn, token["session_id"], user["id"])
                assert full_session is not None
                return await self.session_json(conn, user, full_session, new_token)
        assert reused
        raise _AlreadyUsed()

    async def _is_parent_of(self, conn: repo.Conn, parent: str, child: str) -> bool:
        row = await fetch_one(conn, repo.TOKEN_PARENT, (child,))
        return row is not None and row["parent"] == parent

    async def logout(self, principal: Principal, scope: LogoutScope) -> None:
        user_id = principal.require_user()
        session_id = principal.session_id
        async with self.database.transaction("service_role") as conn:
            if scope == "global" or session_id is None:
                await conn.execute(repo.DELETE_USER_SESSIONS, (user_id,))
            elif scope == "local":
                await conn.execute(repo.DELETE_SESSION, (session_id,))
            else:
                await conn.execute(repo.DELETE_OTHER_SESSIONS, (user_id, session_id))

    # -- the signed-in user -------------------------------------------------------------------------

    async def current_user(self, conn: repo.Conn, principal: Principal) -> DictRow:
        user_id = principal.require_user()
        user = await repo.user_by_id(conn, user_id)
        if user is None or user["deleted_at"] is not None:
            raise AuthApiError("User from sub claim in JWT does not exist", 403, "user_not_found")
        if (
            principal.session_id is not None
            and await repo.session(conn, principal.session_id, user_id) is None
        ):
            raise AuthApiError(
                "Session from session_id claim in JWT does not exist", 403, "session_not_found"
            )
        return user

    async def get_user(self, principal: Principal) -> dict[str, Any]:
        async with self.database.transaction("service_role") as conn:
            user = await self.current_user(conn, principal)
            return repo.user_json(user, await self.app_metadata(conn, user))

    async def update_user(
        self,
        principal: Principal,
        *,
        email: str | None,
        password: str | None,
        data: dict[str, Any] | None,
        redirect_to: str | None,
        client: ClientInfo,
    ) -> dict[str, Any]:
        """`PUT /user`: user_metadata, password and email. `app_metadata` (the agency) is not the
        user's to change: whatever a client sends for it is ignored, as GoTrue does."""
        if password is not None:
            self.check_password(password)
        password_hash = await asyncio.to_thread(hash_password, password) if password is not None else None
        async with self.database.transaction("service_role") as conn:
            user = await self.current_user(conn, principal)
            if data is not None:
                merged = {**user["raw_user_meta_data"], **data}
                merged = {k: v for k, v in merged.items() if v is not None}
                await conn.execute(
                    repo.SET_USER_META,
                    (json.dumps(merged), user["id"]),
                )
            if password is not None and password_hash is not None:
                if user["encrypted_password"] and await asyncio.to_thread(
                    verify_password, user["encrypted_password"], password
                ):
                    raise AuthApiError(
                        "New password should be different from the old password.", 422, "same_password"
                    )
                await conn.execute(repo.SET_PASSWORD, (password_hash, user["id"]))
            if email is not None and normalise_email(email) != (user["email"] or "").lower():
                new_email = normalise_email(email)
                if await repo.user_by_email(conn, new_email) is not None:
                    raise AuthApiError(
                        "A user with this email address has already been registered", 422, "email_exists"
                    )
                await conn.execute(
                    repo.REQUEST_EMAIL_CHANGE,
                    (new_email, user["id"]),
                )
                await self.mail_token(conn, user, "email_change", new_email, redirect_to, client)
            fresh = await repo.user_by_id(conn, user["id"])
            assert fresh is not None
            return repo.user_json(fresh, await self.app_metadata(conn, fresh))

    # -- one-time tokens: recovery, OTP / magic link, verification ----------------------------------

    async def recover(self, email: str, redirect_to: str | None, client: ClientInfo) -> OutgoingMail | None:
        """The recovery mail to send when the account exists. The caller sends it after answering, so
        that the answer, and how long it takes, is the same whether the account exists or not."""
        email = normalise_email(email)
        await self._limit_mail(email, client)
        async with self.database.transaction("service_role") as conn:
            user = await repo.user_by_email(conn, email)
            if user is None or user["deleted_at"] is not None:
                return None
            await conn.execute(repo.RECOVERY_SENT, (user["id"],))
            _token, mail = await self.token_mail(conn, user, "recovery", email, redirect_to)
            return mail

    async def send_later(self, mail: OutgoingMail) -> None:
        """Send a mail whose request was already answered: a failure can only be logged."""
        try:
            await self.mailer.send(mail)
        except GardenError as exc:
            log.error("could not send the %s mail to %s: %s", mail.kind, mail.to, exc.message)

    async def send_otp(
        self,
        email: str,
        *,
        create_user: bool,
        data: dict[str, Any],
        redirect_to: str | None,
        client: ClientInfo,
    ) -> OutgoingMail | None:
        """`/otp` and `/magiclink`: the mail to send after answering, a magic link with a 6-digit code, or
        a confirmation for a new address. An unknown address that may not be signed up (`create_user:
        false`, sign-ups disabled) gets no mail, and the same answer, sent as fast: the caller sends the
        mail after answering, as for recovery."""
        email = normalise_email(email)
        await self._limit_mail(email, client)
        async with self.database.transaction("service_role") as conn:
            user = await repo.user_by_email(conn, email)
            if user is None:
                if not create_user or self.settings.disable_signup:
                    return None
                user = await repo.insert_user(
                    conn, email=email, password_hash=None, confirmed=False, user_meta=data, app_meta={}
                )
            token_type = "magiclink" if user["email_confirmed_at"] is not None else "signup"
            _token, mail = await self.token_mail(conn, user, token_type, email, redirect_to)
            return mail

    async def verify(
        self,
        verify_type: str,
        *,
        link_token: str | None,
        email: str | None,
        code: str | None,
        client: ClientInfo,
    ) -> Verified:
        types = VERIFY_TYPES.get(verify_type)
        if types is None:
            raise BadRequest(f"unknown verification type {verify_type!r}; use one of {sorted(VERIFY_TYPES)}")
        await self.limiter.hit(
            "verify-ip", client_key(client.ip), self.settings.rate_limit_verify_per_ip, "verifications"
        )
        async with self.database.transaction("service_role") as conn:
            if link_token:
                taken = await repo.take_by_link(conn, link_token)
                if taken is not None and taken.token_type not in types:
                    taken = None
            elif email and code:
                await self.limiter.hit(
                    "verify-email",
                    email,
                    self.settings.rate_limit_token_per_email,
                    "code attempts for this email",
                )
                taken = await repo.take_by_code(conn, normalise_email(email), code, types)
            else:
                raise BadRequest("send either token_hash, or email and token")
            if taken is None:
                raise AuthApiError("Token has expired or is invalid", 403, "otp_expired")
            user = await repo.user_by_id(conn, taken.user_id, lock=True)
            if user is None or user["deleted_at"] is not None:
                raise AuthApiError("Token has expired or is invalid", 403, "otp_expired")
            if taken.token_type == "email_change":
                await conn.execute(
                    repo.APPLY_EMAIL_CHANGE,
                    (taken.relates_to, user["id"]),
                )
            elif user["email_confirmed_at"] is None:
                await conn.execute(repo.CONFIRM_EMAIL, (user["id"],))
            fresh = await repo.user_by_id(conn, user["id"])
            assert fresh is not None
            method = {"signup": "otp", "magiclink": "otp"}.get(taken.token_type, taken.token_type)
            session = await self._start_session(conn, fresh, method, client)
            return Verified(session, taken.token_type, taken.redirect_to)

    # -- helpers --------------------------------------------------------------------------------------

    async def _limit_mail(self, email: str, client: ClientInfo) -> None:
        s = self.settings
        await self.limiter.hit(
            "mail-ip", client_key(client.ip), s.rate_limit_email_sent_per_ip, "emails requested"
        )
        await self.limiter.hit(
            "mail-email", email, s.rate_limit_email_sent_per_email, "emails to this address"
        )

    async def mail_token(
        self,
        conn: repo.Conn,
        user: DictRow,
        token_type: str,
        to: str,
        redirect_to: str | None,
        client: ClientInfo,
        *,
        limited: bool = False,
        agency_name: str | None = None,
    ) -> repo.OneTimeToken:
        """Store a one-time token and mail its link and code (inside the caller's transaction: if the
        mail cannot be sent, the token is not kept)."""
        if not limited:
            await self._limit_mail(to, client)
        token, mail = await self.token_mail(conn, user, token_type, to, redirect_to, agency_name=agency_name)
        await self.mailer.send(mail)
        return token

    async def token_mail(
        self,
        conn: repo.Conn,
        user: DictRow,
        token_type: str,
        to: str,
        redirect_to: str | None,
        *,
        agency_name: str | None = None,
    ) -> tuple[repo.OneTimeToken, OutgoingMail]:
        """Store a one-time token; the mail that carries its link and code."""
        redirect = self.safe_redirect(redirect_to)
        token = await repo.store_one_time_token(
            conn,
            user_id=user["id"],
            token_type=token_type,
            email=to,
            redirect_to=redirect,
            ttl_s=self.settings.otp_expiry_s,
        )
        mail = compose(
            MAIL_KIND[token_type],
            to=to,
            site_name="GardenOS",
            link=self.action_link(token.link_token, token_type, redirect),
            code=token.code,
            email=user["email"] or to,
            agency_name=agency_name,
            new_email=to if token_type == "email_change" else None,
        )
        return token, mail

    def action_link(self, link_token: str, token_type: str, redirect_to: str | None) -> str:
        query = {
            "token": link_token,
            "type": token_type,
            "redirect_to": redirect_to or self.settings.site_url,
        }
        return f"{self.settings.external_url.rstrip('/')}/auth/v1/verify?{urlencode(query)}"

    def safe_redirect(self, redirect_to: str | None) -> str | None:
        """Only the site URL and the configured extra URLs may be redirected to (no open redirect)."""
        if not redirect_to:
            return None
        allowed = [self.settings.site_url, *self.settings.additional_redirect_urls]
        target = urlsplit(redirect_to)
        for entry in allowed:
            base = urlsplit(entry)
            if (target.scheme, target.netloc) == (base.scheme, base.netloc) and target.path.startswith(
                base.path.rstrip("/")
            ):
                return redirect_to
        return None

    def check_password(self, password: str) -> None:
        if len(password) < self.settings.password_min_length:
            raise WeakPassword(self.settings.password_min_length)


class _AlreadyUsed(AuthApiError):
    def __init__(self) -> None:
        super().__init__("Invalid Refresh Token: Already Used", 400, "refresh_token_already_used")


class WeakPassword(AuthApiError):
    def __init__(self, min_length: int) -> None:
        super().__init__(f"Password should be at least {min_length} characters.", 422, "weak_password")
        self.extra = {"weak_password": {"reasons": ["length"]}}


def _check_not_banned(user: DictRow) -> None:
    banned_until: datetime | None = user["banned_until"]
    if banned_until is not None and banned_until > datetime.now(UTC):
        raise AuthApiError("User is banned", 400, "user_banned")


async def find_or_invite(conn: repo.Conn, email: str) -> DictRow:
    """The account for `email` (normalised), created as invited (no password, not confirmed) when there
    is none: how an agency adds a member by address."""
    return await repo.find_or_invite(conn, email)


async def active_membership(conn: repo.Conn, user_id: uuid.UUID) -> tuple[uuid.UUID, str] | None:
    """The agency and role a new token of the user carries: the active membership, else the first."""
    return await repo.active_membership(conn, user_id, None)


def normalise_email(email: str) -> str:
    """The one email rule (crm/normalize.py, which leads, clients and imports follow too), with GoTrue's
    error code."""
    try:
        return normalize_email(email)
    except InvalidEmail as exc:
        raise AuthApiError(
            f"Unable to validate email address: invalid format ({exc})", 400, "email_address_invalid"
        ) from exc


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
