"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gardenos import __version__
from gardenos.api import errors, health
from gardenos.db.pool import Database
from gardenos.settings import Settings


def create_app(api_url: str, settings: Settings) -> FastAPI:
    """The API over the database at `api_url` (a libpq URL for the `authenticator` login)."""
    database = Database(
        api_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_s,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await database.open()
        try:
            yield
        finally:
            await database.close()

    app = FastAPI(
        title="GardenOS",
        version=__version__,
        description="Self-hosted CRM platform with a Supabase-compatible API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    errors.install(app)
    app.include_router(health.router)
    return app
