"""Who is calling: the `apikey` header (the anon or service_role key, as Supabase clients send it) plus an
optional `Authorization: Bearer` user token. Every `/rest`, `/api`, `/ai`, `/storage`, `/realtime` and
`/auth` request goes through here.

`PrincipalDep` also checks that a user token still stands (its session, its user, the membership it
claims: auth/revocation.py); `/auth/v1` takes `CallerDep`, which does not (see `get_caller`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from gardenos.auth.revocation import RevocationCache
from gardenos.auth.tokens import InvalidToken, TokenService, VerifiedClaims
from gardenos.db.pool import ApiRole
from gardenos.errors import Forbidden, Unauthorized


class NoActiveAgency(Forbidden):
    """A signed-in user whose token carries no agency, at a door that acts in one."""

    error_code = "no_active_agency"


NO_AGENCY = "no active agency: create one with POST /api/v1/agencies or ask to be invited"


@dataclass(frozen=True)
class Principal:
    claims: VerifiedClaims
    token: str

    @property
    def role(self) -> ApiRole:
        role = self.claims.role
        assert role in ("anon", "authenticated", "service_role")
        return role  # type: ignore[return-value]

    @property
    def raw_claims(self) -> dict[str, Any]:
        return self.claims.raw

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.claims.user_id

    @property
    def session_id(self) -> uuid.UUID | None:
        return self.claims.session_id

    @property
    def agency_id(self) -> uuid.UUID | None:
        return self.claims.agency_id

    @property
    def is_service_role(self) -> bool:
        return self.role == "service_role"

    def require_user(self) -> uuid.UUID:
        if self.role != "authenticated" or self.user_id is None:
            raise Unauthorized(
                "this needs a signed-in user: send the user's access token as `Authorization: Bearer …`",
                error_code="no_authorization",
            )
        return self.user_id

    def require_agency(self) -> uuid.UUID:
        """The caller's active agency: a signed-in user (401 otherwise) whose token carries one (403)."""
        self.require_user()
        if self.agency_id is None:
            raise NoActiveAgency(NO_AGENCY)
        return self.agency_id

    def require_service_role(self) -> None:
        if not self.is_service_role:
            raise Forbidden("User not allowed: this needs the service_role key", error_code="not_admin")


def tokens_of(request: HTTPConnection) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


# Dependencies are `async def`: a plain `def` dependency runs in a thread pool, a hop per request for
# work that never waits.
async def get_tokens(request: Request) -> TokenService:
    return tokens_of(request)


async def get_principal(request: Request) -> Principal:
    """The caller of a door that acts for the token's user in its agency (/rest, /api, /ai): refused
    (401) once the session ended or the claimed membership no longer holds."""
    principal = resolve_principal(request)
    revocation: RevocationCache | None = request.app.state.revocation
    if revocation is not None:
        await revocation.check(principal.claims)
    return principal


async def get_caller(request: Request) -> Principal:
    """The caller as its token says, for `/auth/v1`: a client whose token went stale must still reach
    refresh and sign-out there (clients may send that token with every auth request). `/user` checks
    the session itself, with GoTrue's answers; `/logout` with an ended session has nothing left to end."""
    return resolve_principal(request)


def resolve_principal(request: HTTPConnection) -> Principal:
    """From a request or a websocket's upgrade request."""
    tokens = tokens_of(request)
    apikey = request.headers.get("apikey") or request.query_params.get("apikey")
    authorization = request.headers.get("authorization", "")
    bearer = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise InvalidToken("the Authorization header must be `Bearer <token>`")
        bearer = value.strip()
    if apikey is None and bearer is None:
        raise Unauthorized(
            "No API key found in request",
            hint="send the project's anon key as the `apikey` header (`gardenos keys` prints it)",
        )
    if apikey is not None:
        key_claims = tokens.verify(apikey)
        if key_claims.role not in ("anon", "service_role") or key_claims.user_id is not None:
            raise InvalidToken("the apikey header must hold the anon or service_role key, not a user token")
    token = bearer or apikey
    assert token is not None
    principal = Principal(tokens.verify(token), token)
    # For error rendering, which answers a refused statement 401 for anon and 403 for others.
    request.state.role = principal.role
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
CallerDep = Annotated[Principal, Depends(get_caller)]
TokensDep = Annotated[TokenService, Depends(get_tokens)]
