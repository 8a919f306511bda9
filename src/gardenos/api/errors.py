"""The one place exceptions become HTTP responses.

Two shapes, chosen by the API family the request hit, so each family's official client parses them:
- `/auth/v1` answers as GoTrue: `{"code": <status>, "error_code": …, "msg": …}`, or, for clients that
  send `X-Supabase-Api-Version: 2024-01-01` (supabase-py and -js do), `{"code": <error_code>, "message": …}`;
- `/storage/v1` as Supabase Storage: `{"statusCode": "<status>", "error": …, "message": …}`, but its
  resumable uploads (TUS) as Supabase's tus server: the message as plain text, with `Tus-Resumable`;
- everything else as PostgREST: `{"code", "message", "details", "hint"}`.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from gardenos.errors import DatabaseUnavailable, GardenError

log = logging.getLogger(__name__)

AUTH_PREFIX = "/auth/v1"
STORAGE_PREFIX = "/storage/v1"
TUS_PREFIX = "/storage/v1/upload/resumable"
# Supabase Storage's `error` for errors that do not name one.
STORAGE_ERRORS = {
    400: "InvalidRequest",
    401: "InvalidJWT",
    403: "Unauthorized",
    404: "not_found",
    409: "Duplicate",
    413: "Payload too large",
    415: "invalid_mime_type",
    422: "InvalidRequest",
    429: "SlowDown",
}
API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024 = "2024-01-01"
# GoTrue's error codes for errors that do not name one.
DEFAULT_ERROR_CODES = {
    400: "validation_failed",
    401: "no_authorization",
    403: "not_admin",
    404: "not_found",
    405: "validation_failed",
    409: "conflict",
    422: "validation_failed",
    429: "over_request_rate_limit",
}


def render(request: Request, exc: GardenError) -> Response:
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else {}
    if request.url.path.startswith(TUS_PREFIX):
        message = exc.message if not exc.hint else f"{exc.message} ({exc.hint})"
        headers.update({"Tus-Resumable": "1.0.0", "Tus-Version": "1.0.0"})
        return PlainTextResponse(message, status_code=exc.status_code, headers=headers)
    if request.url.path.startswith(STORAGE_PREFIX):
        message = exc.message if not exc.hint else f"{exc.message} ({exc.hint})"
        error = exc.storage_error or STORAGE_ERRORS.get(exc.status_code, "InternalError")
        body = {"statusCode": str(exc.status_code), "error": error, "message": message}
        return JSONResponse(status_code=exc.status_code, content=body, headers=headers)
    if not request.url.path.startswith(AUTH_PREFIX):
        return JSONResponse(status_code=exc.status_code, content=exc.to_dict(), headers=headers)
    error_code = exc.error_code or DEFAULT_ERROR_CODES.get(exc.status_code, "unexpected_failure")
    message = exc.message if not exc.hint else f"{exc.message} ({exc.hint})"
    content: dict[str, Any]
    if request.headers.get(API_VERSION_HEADER, "") >= API_VERSION_2024:
        content = {"code": error_code, "message": message}
        headers[API_VERSION_HEADER] = API_VERSION_2024
    else:
        content = {"code": exc.status_code, "error_code": error_code, "msg": message}
    content.update(exc.extra or {})
    return JSONResponse(status_code=exc.status_code, content=content, headers=headers)


async def _garden_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GardenError)
    if exc.status_code >= 500:
        log.error("request failed: %s (%s)", exc.message, exc.details)
    return render(request, exc)


# SQLSTATE classes and codes as PostgREST maps them to HTTP statuses (its errors.rst).
# 25006 (read-only transaction) is a 503 here, unlike PostgREST's 405: GardenOS never runs a request
# read-only, so it means the server became a standby (a failover) and the write belongs on the new leader.
# 23000 is GardenOS's own: its triggers raise it for a change the current rows forbid (removing or
# demoting the last owner of an agency), a conflict the caller resolves by changing those rows first.
# 22021 (character_not_in_repertoire: NUL, invalid UTF-8) and 22P05 (untranslatable_character: `\u0000`
# in jsonb) are text PostgreSQL cannot store: the request's fault (api/bounds.py refuses most of it first).
# 57014 (a statement cancelled by statement_timeout) is a 504 rather than PostgREST's 500: the server is
# healthy, the request asked for more work than a statement may do.
_SQLSTATE_STATUS = {
    "23000": 409,
    "23503": 409,
    "23505": 409,
    "42P01": 404,
    "42883": 404,
    "25006": 503,
    "P0001": 400,
    "22021": 400,
    "22P05": 400,
    "57014": 504,
}
_CLASS_STATUS = {
    "08": 503,
    "53": 503,
    "57": 503,
    "22": 400,
    "23": 400,
    "42": 400,
    "28": 403,
    "0L": 403,
    "0P": 403,
}


async def _database_error(request: Request, exc: Exception) -> Response:
    """A statement the database refused: its SQLSTATE decides the status, its own words the message."""
    assert isinstance(exc, psycopg.Error)
    state = exc.sqlstate or ""
    diag = exc.diag
    if not state and isinstance(exc, psycopg.DataError):
        # Refused by psycopg before it was sent (a NUL in a text parameter): no SQLSTATE, still bad input.
        status = 400
    elif state == "42501":
        # As PostgREST: an anonymous caller may sign in and retry (401); a signed-in one may not (403).
        status = 401 if getattr(request.state, "role", "anon") == "anon" else 403
    else:
        status = _SQLSTATE_STATUS.get(state) or _CLASS_STATUS.get(state[:2], 500)
    if status == 503:
        log.warning("database unavailable %s: %s", state, exc)
        return render(
            request,
            DatabaseUnavailable(
                "the database cannot serve this request right now (restarting, failing over or out of "
                "resources); nothing was saved, try again shortly",
                code=state or "GARDEN503",
            ),
        )
    if status == 504:
        log.warning("statement cancelled %s: %s", state, exc)
        return render(
            request,
            GardenError(
                "the request took longer than a statement may run and was cancelled; nothing was saved",
                status_code=504,
                code=state,
                details=diag.message_primary or str(exc),
                hint="narrow it (filters, a smaller limit, a simpler pattern), or raise the role's "
                "GARDENOS_STATEMENT_TIMEOUT_*_S",
            ),
        )
    if status >= 500:
        log.error("database error %s: %s", state, exc)
        return render(
            request, GardenError("the database could not complete the request", code=state or "GARDEN500")
        )
    error = GardenError(
        diag.message_primary or str(exc),
        status_code=status,
        code=state,
        details=diag.message_detail,
        hint=diag.message_hint,
    )
    if state in ("40001", "40P01"):
        error.retry_after_s = 1
    return render(request, error)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg")))
    status = 400 if request.url.path.startswith(AUTH_PREFIX) else 422
    error = GardenError(
        "the request is not valid: " + "; ".join(problems), status_code=status, code=f"GARDEN{status}"
    )
    return render(request, error)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    response = render(
        request, GardenError(str(exc.detail), status_code=exc.status_code, code=f"GARDEN{exc.status_code}")
    )
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up while sending its body: nothing was done, and nobody reads this answer."""
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return render(request, GardenError("internal error; the server log has the details", code="GARDEN500"))


def install(app: FastAPI) -> None:
    app.add_exception_handler(GardenError, _garden_error)
    app.add_exception_handler(psycopg.Error, _database_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)
