"""Typed dependencies, as `Annotated` aliases so route signatures stay short."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Request

from gardenos.auth.principal import PrincipalDep
from gardenos.auth.ratelimit import Limit, RateLimiter, client_key
from gardenos.db.pool import Database
from gardenos.settings import Settings


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def client_ip(request: Request) -> str | None:
    """The client's address: the peer's, or, from a `GARDENOS_TRUSTED_PROXIES` proxy, the one it
    forwarded (uvicorn resolves it as `api.server.server_config` tells it; nothing else reads
    `X-Forwarded-For`)."""
    return request.client.host if request.client else None


def limiter_of(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


Cost = Literal["import", "ai", "search"]
_COST_NAMES: dict[Cost, str] = {"import": "imports", "ai": "AI requests", "search": "searches"}


def cost_limits(cost: Cost, settings: Settings, ip: str | None, user_id: str | None) -> list[Limit]:
    per_user, per_ip = {
        "import": (settings.rate_limit_import_per_user, settings.rate_limit_import_per_ip),
        "ai": (settings.rate_limit_ai_per_user, settings.rate_limit_ai_per_ip),
        "search": (settings.rate_limit_search_per_user, settings.rate_limit_search_per_ip),
    }[cost]
    name = _COST_NAMES[cost]
    limits = [Limit(f"{cost}-ip", client_key(ip), per_ip, f"{name} from this address")]
    if user_id is not None:
        limits.append(Limit(f"{cost}-user", user_id, per_user, f"{name} by this user"))
    return limits


def rate_limited(cost: Cost, *, when_query: str | None = None) -> Any:
    """A route dependency that counts the request against its cost's limits, per client address and per
    signed-in user, before the route reads its body; with `when_query`, only requests that give that
    query parameter count (`?q=` makes a list a search). The service_role key is the operator's own
    back end: not limited."""

    async def count(request: Request, principal: PrincipalDep) -> None:
        if principal.is_service_role or (when_query and not request.query_params.get(when_query)):
            return
        user_id = str(principal.user_id) if principal.user_id is not None else None
        settings: Settings = request.app.state.settings
        await limiter_of(request).check(*cost_limits(cost, settings, client_ip(request), user_id))

    return Depends(count)
