"""The web app at `/`: its built files, `index.html` for any other path outside the APIs (the app routes in
the browser: a reload of /leads must load the app, not a 404), and `/app-config.json`, what the app needs to
reach this server (read at run time, so a new key or URL needs no rebuild)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from gardenos.settings import Settings

# Paths the API owns: an unknown one under these is the API's 404, never the app's page.
API_PREFIXES = (
    "/auth/",
    "/rest/",
    "/api/",
    "/ai/",
    "/realtime/",
    "/storage/",
    "/graphql/",
    "/functions/",
    "/health",
    "/ready",
    "/docs",
    "/redoc",
    "/openapi.json",
)
CONFIG_PATH = "/app-config.json"


class SinglePageApp(StaticFiles):
    """Static files whose misses outside the APIs answer with index.html."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A WebSocket to a path no route owns ends here: static files only speak HTTP.
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await super().__call__(scope, receive, send)

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            request_path = "/" + path.lstrip("/")
            # A missing asset (a stale tab asking for an old bundle) stays a 404: HTML in its place would
            # fail as a script with a confusing error.
            if exc.status_code != 404 or request_path.startswith(API_PREFIXES) or path.startswith("assets/"):
                raise
            return await super().get_response("index.html", scope)


def install(app: FastAPI, settings: Settings, anon_key: str) -> bool:
    """Serve the app at `/` (after every API route, which match first); False when it is not built."""

    @app.get(CONFIG_PATH, include_in_schema=False)
    async def app_config() -> dict[str, Any]:
        # The anon key is public by design (every browser holds it); the URL only when set explicitly, as
        # the app otherwise talks to the origin that served it.
        return {"url": settings.api_external_url, "anon_key": anon_key}

    if not (settings.web_path / "index.html").is_file():
        return False
    app.mount("/", SinglePageApp(directory=settings.web_path, html=True), name="web")
    return True
