"""Revocation at every door: a user token works only while its session stands, its user is neither banned
nor deleted, and the agency membership it claims still holds with the role it claims.

A signed token is valid for up to an hour; these facts can change at any moment (logout, refresh-token
reuse, a ban, a member removed or demoted). Asking the database on every request would cost a round trip
each, so each API process remembers the answer per (session, user, claimed agency) for a few seconds,
and forgets a user's answers the moment the database announces a change to them on `CHANNEL`
(migration 0015's triggers, heard through a dedicated LISTEN connection, `db/listen.py`). A cache hit
costs a dict lookup; a miss costs one small query by primary keys. A lost notification is bounded by
the time-to-live, and a reconnected LISTEN connection, which may have missed some, forgets everything.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from gardenos.auth.tokens import InvalidToken, VerifiedClaims
from gardenos.db.pool import Database

CHANNEL = "gardenos_revocation"
MAX_ENTRIES = 10_000

# By primary keys: the user, the session (when the token names one) and the membership (when it claims
# an agency). No row: the user is gone.
STATE = """
SELECT u.deleted_at IS NOT NULL,
       coalesce(u.banned_until > now(), false),
       %(session)s::uuid IS NULL OR EXISTS (
           SELECT FROM auth.sessions s
           WHERE s.id = %(session)s AND s.user_id = u.id AND (s.not_after IS NULL OR s.not_after > now())),
       (SELECT m.role FROM public.memberships m WHERE m.agency_id = %(agency)s AND m.user_id = u.id)
FROM auth.users u WHERE u.id = %(user)s
"""

# (session_id, sub, claimed agency_id) as the token's claims spell them: building no UUID on a hit.
Key = tuple[Any, str, Any]


@dataclass(frozen=True, slots=True)
class _State:
    deadline: float  # time.monotonic() after which the answer is asked again
    # Why the token no longer stands whatever it claims (a key of ENDED); None: it stands. A code, not an
    # exception: raising one stored instance again and again would grow its traceback each time.
    ended: str | None
    role: str | None  # the user's current role in the claimed agency; None: not a member


def _key(claims: VerifiedClaims) -> Key | None:
    """The cache key of a user token; None for API keys, which have no session."""
    user = claims.raw.get("sub")
    if claims.role != "authenticated" or not isinstance(user, str):
        return None
    meta = claims.raw.get("app_metadata")
    agency = meta.get("agency_id") if isinstance(meta, dict) else None
    return (claims.raw.get("session_id"), user, agency)


class RevocationCache:
    """Per-process answers for `check`, evicted by `on_notify` and dropped by `on_reconnect`."""

    def __init__(self, database: Database, ttl_s: float, *, max_entries: int = MAX_ENTRIES) -> None:
        self.database = database
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        # Set by the LISTEN loop once it listens: before that no answer is kept, since no eviction
        # would reach it.
        self.listening = asyncio.Event()
        self._entries: dict[Key, _State] = {}
        # One query per key at a time: the requests that miss together share it (with the epoch it
        # started in: a request that comes after an eviction does not join a query from before it).
        self._pending: dict[Key, tuple[int, asyncio.Task[_State]]] = {}
        # Moves on every eviction: an answer read before an eviction is not kept after it (it may
        # predate the change that was announced).
        self._epoch = 0

    def answered(self, claims: VerifiedClaims) -> bool:
        """Whether `check(claims)` would answer from the cache, without waiting on the database (a
        caller checking many tokens awaits those at once and the others together)."""
        key = _key(claims)
        if key is None:
            return True
        state = self._entries.get(key)
        return state is not None and state.deadline >= time.monotonic()

    async def check(self, claims: VerifiedClaims) -> None:
        """Raise InvalidToken (401) unless the token still stands. API keys have no session: skipped."""
        key = _key(claims)
        if key is None:
            return
        state = self._entries.get(key)
        if state is None or state.deadline < time.monotonic():
            state = await self._fetch(key, claims)
        if state.ended is not None:
            message, hint = ENDED[state.ended]
            raise InvalidToken(message, hint=hint, error_code=state.ended)
        agency = key[2]
        if agency is not None:
            meta = claims.raw["app_metadata"]
            _check_membership(state.role, str(agency), meta.get("agency_role"))

    async def on_notify(self, payload: str) -> None:
        """A user's sessions, ban or memberships changed (`*`: anything may have)."""
        self._epoch += 1
        if payload == "*":
            self._entries.clear()
            return
        for key in [key for key in self._entries if key[1] == payload]:
            del self._entries[key]

    async def on_reconnect(self) -> None:
        self._epoch += 1
        self._entries.clear()

    async def _fetch(self, key: Key, claims: VerifiedClaims) -> _State:
        pending = self._pending.get(key)
        if pending is not None and pending[0] == self._epoch:
            task = pending[1]
        else:
            task = asyncio.get_running_loop().create_task(self._load(key, claims), name="revocation-check")
            self._pending[key] = (self._epoch, task)
            task.add_done_callback(lambda done: self._settled(key, done))
        # Shielded: a request that goes away does not cancel the answer the others wait for.
        return await asyncio.shield(task)

    def _settled(self, key: Key, task: asyncio.Task[_State]) -> None:
        pending = self._pending.get(key)
        if pending is not None and pending[1] is task:
            del self._pending[key]
        if not task.cancelled():
            task.exception()  # retrieved here, in case every waiter went away

    async def _load(self, key: Key, claims: VerifiedClaims) -> _State:
        epoch = self._epoch
        params = {"user": claims.user_id, "session": claims.session_id, "agency": claims.agency_id}
        (row,) = await self.database.read("service_role", None, [(STATE, params)])
        state = _State(time.monotonic() + self.ttl_s, _ended(row), row[3] if row else None)
        if self.ttl_s > 0 and epoch == self._epoch and self.listening.is_set():
            entries = self._entries
            entries.pop(key, None)
            if len(entries) >= self.max_entries:
                # Dicts keep insertion order: drop the oldest entry.
                del entries[next(iter(entries))]
            entries[key] = state
        return state


# GoTrue's words for a user or session that no longer stands (as its `/user` answers them), by error code.
ENDED = {
    "user_not_found": (
        "User from sub claim in JWT does not exist",
        "the account was deleted; sign up, or sign in with another account",
    ),
    "user_banned": ("User is banned", "an administrator banned this account"),
    "session_not_found": (
        "Session from session_id claim in JWT does not exist",
        "the session was signed out or revoked; sign in again",
    ),
}


def _ended(row: tuple[Any, ...] | None) -> str | None:
    if row is None or row[0]:
        return "user_not_found"
    if row[1]:
        return "user_banned"
    if not row[2]:
        return "session_not_found"
    return None


# Higher ranks hold every power of the lower ones.
_RANK = {"member": 0, "admin": 1, "owner": 2}


def _check_membership(role: str | None, agency: str, claimed: Any) -> None:
    """The membership the token claims must still hold, with at least the role it claims: a removed or
    demoted member is refused (401: refreshing the session gives a token with the current memberships). A
    promoted one is not: the database grants by the current role anyway, so the stale claim undersells."""
    if role is None:
        raise InvalidToken(
            f"this token claims agency {agency}, but you are no longer a member of it",
            hint="refresh the session (POST /auth/v1/token?grant_type=refresh_token) for a token with your "
            "current agencies",
        )
    if _RANK.get(role, -1) < _RANK.get(str(claimed), 0):
        raise InvalidToken(
            f"this token claims the role {claimed!r} in agency {agency}, but your role there is now {role!r}",
            hint="refresh the session (POST /auth/v1/token?grant_type=refresh_token) for a token with your "
            "current role",
        )
