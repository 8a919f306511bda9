"""The one error hierarchy: every failure a caller can act on is a `GardenError` with a status and a code."""

from __future__ import annotations

from typing import Any


class GardenError(Exception):
    """An error with a message a person can act on, an HTTP status and a stable machine-readable code."""

    status_code: int = 500
    code: str = "GARDEN000"
    # The GoTrue-style code that /auth/v1 answers carry (`invalid_credentials`, `bad_jwt`, …).
    error_code: str | None = None
    # When set, the response says `Retry-After` (rate limits, a database that is coming back).
    retry_after_s: int | None = None
    # More fields for the /auth/v1 error body (GoTrue's `weak_password: {reasons}`).
    extra: dict[str, Any] | None = None
    # The `error` of the /storage/v1 error body (Supabase Storage's names: `not_found`, `Duplicate`, …).
    storage_error: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        details: str | None = None,
        hint: str | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
        self.details = details
        self.hint = hint
        if error_code is not None:
            self.error_code = error_code

    def to_dict(self) -> dict[str, Any]:
        # PostgREST's error shape, so Supabase clients parse every GardenOS error the same way.
        return {"code": self.code, "message": self.message, "details": self.details, "hint": self.hint}


class BadRequest(GardenError):
    status_code = 400
    code = "GARDEN400"
    error_code = "validation_failed"


class Unauthorized(GardenError):
    status_code = 401
    code = "GARDEN401"
    error_code = "no_authorization"


class NotFound(GardenError):
    status_code = 404
    code = "GARDEN404"
    error_code = "not_found"


class Conflict(GardenError):
    status_code = 409
    code = "GARDEN409"
    error_code = "conflict"


class Forbidden(GardenError):
    status_code = 403
    code = "GARDEN403"
    error_code = "not_admin"


class DatabaseUnavailable(GardenError):
    """The database cannot be reached or cannot take writes right now; the caller may retry."""

    status_code = 503
    code = "GARDEN503"
    error_code = "unexpected_failure"
    retry_after_s = 2


class ConfigurationError(GardenError):
    """The machine or the settings do not allow what was asked (a CLI-side error)."""

    status_code = 500
    code = "GARDEN_CONFIG"
