"""The one place exceptions become HTTP responses, all in one shape: {code, message, details, hint}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gardenos.errors import DatabaseUnavailable, GardenError

log = logging.getLogger(__name__)


def _render(
    status: int, code: str, message: str, details: str | None = None, hint: str | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"code": code, "message": message, "details": details, "hint": hint}
    )


async def _garden_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GardenError)
    if exc.status_code >= 500:
        log.error("request failed: %s (%s)", exc.message, exc.details)
    response = _render(exc.status_code, exc.code, exc.message, exc.details, exc.hint)
    if isinstance(exc, DatabaseUnavailable):
        response.headers["Retry-After"] = "2"
    return response


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg")))
    return _render(422, "GARDEN422", "the request is not valid: " + "; ".join(problems))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = _render(exc.status_code, f"GARDEN{exc.status_code}", str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return _render(500, "GARDEN500", "internal error; the server log has the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(GardenError, _garden_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
