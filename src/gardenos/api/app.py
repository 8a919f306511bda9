"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gardenos import __version__
from gardenos.agents import routes as agent_routes
from gardenos.agents.service import AIService
from gardenos.api import errors, health, web
from gardenos.api.bounds import RequestBounds
from gardenos.auth import routes as auth_routes
from gardenos.auth.ratelimit import RateLimiter
from gardenos.auth.revocation import CHANNEL as REVOCATION_CHANNEL
from gardenos.auth.revocation import RevocationCache
from gardenos.auth.service import AuthService
from gardenos.auth.tokens import TokenService
from gardenos.crm.activities import routes as activity_routes
from gardenos.crm.audit import routes as audit_routes
from gardenos.crm.clients import routes as client_routes
from gardenos.crm.conversion_and_merge import routes as conversion_and_merge_routes
from gardenos.crm.custom_fields import routes as custom_field_routes
from gardenos.crm.leads import routes as lead_routes
from gardenos.crm.pipeline import routes as pipeline_routes
from gardenos.db.listen import listen
from gardenos.db.pool import Database
from gardenos.db.target import DatabaseTarget
from gardenos.importer import routes as import_routes
from gardenos.importer.runner import ImportRunner
from gardenos.importer.upload import remove_leftovers, upload_dir
from gardenos.mail.mailer import build_mailer
from gardenos.mail.sender import MailSender
from gardenos.realtime import routes as realtime_routes
from gardenos.realtime.bus import CHANNEL as REALTIME_CHANNEL
from gardenos.realtime.bus import Bus, Hub
from gardenos.realtime.changes.feed import DatabaseChangeFeed
from gardenos.realtime.contracts import ChangeFeed, NoChangeFeed
from gardenos.realtime.limits import AgencyCounters
from gardenos.realtime.presence import PresenceStore
from gardenos.realtime.socket import Realtime
from gardenos.rest import routes as rest_routes
from gardenos.storage import render_routes as storage_render_routes
from gardenos.storage import routes as storage_routes
from gardenos.storage import sweeper as storage_sweeper
from gardenos.storage import tus as storage_tus
from gardenos.storage.image_cache import ImageCache
from gardenos.storage.images import Limits
from gardenos.storage.renderer import ImageRenderer
from gardenos.storage.resumable import ResumableUploads
from gardenos.storage.service import Storage
from gardenos.storage.signing import Signer
from gardenos.storage.stores import object_store, transform_cache_dir
from gardenos.tenancy import routes as tenancy_routes


def create_app(target: DatabaseTarget, *, revocation_check: bool = True) -> FastAPI:
    """The API over `target`'s database: requests through the `authenticator` login's pool; the dev
    mail outbox (owner-only) through the owner's URL.

    `revocation_check=False` exists for bench/api.py alone, to measure what the check costs: without it
    a token keeps working after logout, revocation or removal until it expires. No setting reaches it."""
    settings = target.settings
    database = Database(
        target.api_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_s,
        statement_timeouts={
            "anon": settings.statement_timeout_anon_s,
            "authenticated": settings.statement_timeout_authenticated_s,
            "service_role": settings.statement_timeout_service_role_s,
        },
    )
    tokens = TokenService(settings, target.secrets.jwt_secret)

    rest_schema = rest_routes.SchemaCacheHolder(database)
    ai = AIService(database, settings, listen_url=target.api_url)
    revocation = RevocationCache(database, settings.revocation_cache_ttl_s) if revocation_check else None
    imports = ImportRunner()
    # postgres_changes: decoded as the owner (logical decoding needs REPLICATION), checked as each caller.
    change_feed: ChangeFeed = (
        DatabaseChangeFeed(
            database,
            target.owner_url,
            slot_name=settings.realtime_slot_name,
            poll_interval_s=settings.realtime_poll_interval_s,
            batch_size=settings.realtime_batch_size,
            revocation=revocation,
        )
        if settings.realtime_changes
        else NoChangeFeed()
    )
    hub = Hub()
    bus = Bus(database, hub)
    presence = PresenceStore(database, bus, settings.realtime_node_timeout_s)
    realtime = Realtime(
        settings,
        database,
        tokens,
        revocation,
        hub,
        bus,
        presence,
        AgencyCounters(
            database,
            bus.node_id,
            presence.register,
            max_connections=settings.realtime_max_connections_per_agency,
            events_per_s=settings.realtime_max_events_per_s,
        ),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await database.open()
        # Uploads of imports whose process died with them (kill -9, power cut) would stay forever.
        await remove_leftovers(database, upload_dir(settings))
        listener = asyncio.create_task(
            listen(target.api_url, "pgrst", rest_schema.on_notify, on_reconnect=rest_schema.on_reconnect),
            name="rest-schema-listener",
        )
        listeners = [listener]
        if revocation is not None:
            listeners.append(
                asyncio.create_task(
                    listen(
                        target.api_url,
                        REVOCATION_CHANNEL,
                        revocation.on_notify,
                        on_reconnect=revocation.on_reconnect,
                        ready=revocation.listening,
                    ),
                    name="revocation-listener",
                )
            )
        listeners.append(asyncio.create_task(app.state.mail_sender.run(), name="mail-sender"))
        listeners.append(asyncio.create_task(app.state.storage_uploads.run(), name="storage-upload-sweeper"))
        listeners.append(
            asyncio.create_task(
                listen(
                    target.api_url,
                    REALTIME_CHANNEL,
                    bus.on_notify,
                    on_reconnect=bus.on_reconnect,
                    ready=bus.listening,
                ),
                name="realtime-bus",
            )
        )
        listeners.append(
            asyncio.create_task(realtime.presence.run(realtime.counts), name="realtime-presence")
        )
        # What uploads of a killed process left (unfinished writes, bytes no object names).
        listeners.append(
            asyncio.create_task(
                storage_sweeper.run(
                    database,
                    app.state.storage.store,
                    settings.storage_abandoned_upload_s,
                    settings.storage_sweep_interval_s,
                ),
                name="storage-sweeper",
            )
        )
        await ai.start()
        if isinstance(change_feed, DatabaseChangeFeed):
            await change_feed.start()
        try:
            yield
        finally:
            # Websockets first: their channels untrack presence through the pool before it closes.
            for connection in list(realtime.connections):
                connection.cut(1001, "the server is going away")
            if isinstance(change_feed, DatabaseChangeFeed):
                await change_feed.stop()
            await imports.stop()
            await ai.stop()
            for task in listeners:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            app.state.image_renderer.close()
            await database.close()

    app = FastAPI(
        title="GardenOS",
        version=__version__,
        description="Self-hosted CRM platform with a Supabase-compatible API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.tokens = tokens
    app.state.rest_schema = rest_schema
    app.state.revocation = revocation
    app.state.ai = ai
    app.state.imports = imports
    app.state.change_feed = change_feed
    app.state.realtime = realtime
    app.state.limiter = RateLimiter(database, settings.rate_limit_window_s)
    app.state.auth = AuthService(
        database, tokens, build_mailer(settings, target.owner_url), app.state.limiter, settings
    )
    # Mails that committed transactions wrote (approved follow-ups): sent after their commit, once.
    app.state.mail_sender = MailSender(database, app.state.auth.mailer)
    store = object_store(settings)
    image_cache = ImageCache(transform_cache_dir(settings), settings.storage_transform_cache_bytes)
    app.state.storage = Storage(database, store, settings.storage_max_upload_bytes, image_cache)
    app.state.image_renderer = ImageRenderer(
        store,
        image_cache,
        Limits(
            max_source_bytes=settings.storage_transform_max_source_bytes,
            max_pixels=settings.storage_transform_max_pixels,
            max_dimension=settings.storage_transform_max_dimension,
        ),
        settings.storage_transform_concurrency,
        settings.storage_transform_timeout_s,
    )
    app.state.storage_uploads = ResumableUploads(app.state.storage, settings.storage_resumable_expiry_s)
    app.state.storage_signer = Signer(target.secrets.jwt_secret)
    errors.install(app)
    app.add_middleware(RequestBounds, settings=settings)
    app.include_router(health.router)
    app.include_router(auth_routes.router)
    app.include_router(tenancy_routes.router)
    app.include_router(rest_routes.router)
    app.include_router(conversion_and_merge_routes.router)
    app.include_router(pipeline_routes.router)
    app.include_router(lead_routes.router)
    app.include_router(client_routes.router)
    app.include_router(activity_routes.router)
    app.include_router(custom_field_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(import_routes.router)
    app.include_router(agent_routes.router)
    app.include_router(agent_routes.search_router)
    app.include_router(realtime_routes.router)
    app.include_router(storage_routes.router)
    app.include_router(storage_render_routes.router)
    app.include_router(storage_tus.router)
    # Last: its mount at `/` catches what no route above took.
    app.state.web_app = web.install(app, settings, tokens.api_key("anon"))
    return app
