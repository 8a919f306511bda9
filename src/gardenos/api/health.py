"""Liveness (`/health`: the process answers) and readiness (`/ready`: it can serve real requests)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gardenos import __version__
from gardenos.api.deps import DatabaseDep
from gardenos.db.migrate import latest_version
from gardenos.errors import DatabaseUnavailable, GardenError

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/ready", responses={503: {"description": "not ready: the body says why"}})
async def ready(database: DatabaseDep) -> JSONResponse:
    expected = latest_version()
    checks: dict[str, Any] = {"database": "unreachable", "writable": False, "migration": None}
    try:
        version, writable = await database.readiness()
    except DatabaseUnavailable as exc:
        return _not_ready(checks, f"the database is not reachable: {exc.details or exc.message}")
    except GardenError as exc:
        return _not_ready(checks, exc.message)
    checks.update(database="ok", writable=writable, migration=version)
    if not writable:
        return _not_ready(checks, "the database is read-only (a standby, or in recovery)")
    if version != expected:
        return _not_ready(checks, f"migrations are not current: at {version}, expected {expected}")
    return JSONResponse({"status": "ready", **checks})


def _not_ready(checks: dict[str, Any], reason: str) -> JSONResponse:
    return JSONResponse(
        status_code=503,
        content={"status": "not_ready", "reason": reason, **checks},
        headers={"Retry-After": "2"},
    )
