"""The one error hierarchy: every failure a caller can act on is a `GardenError` with a status and a code."""

from __future__ import annotations

from typing import Any


class GardenError(Exception):
    """An error with a message a person can act on, an HTTP status and a stable machine-readable code."""

    status_code: int = 500
    code: str = "GARDEN000"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        details: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
        self.details = details
        self.hint = hint

    def to_dict(self) -> dict[str, Any]:
        # PostgREST's error shape, so Supabase clients parse every GardenOS error the same way.
        return {"code": self.code, "message": self.message, "details": self.details, "hint": self.hint}


class BadRequest(GardenError):
    status_code = 400
    code = "GARDEN400"


class NotFound(GardenError):
    status_code = 404
    code = "GARDEN404"


class Conflict(GardenError):
    status_code = 409
    code = "GARDEN409"


class Forbidden(GardenError):
    status_code = 403
    code = "GARDEN403"


class DatabaseUnavailable(GardenError):
    """The database cannot be reached or cannot take writes right now; the caller may retry."""

    status_code = 503
    code = "GARDEN503"


class ConfigurationError(GardenError):
    """The machine or the settings do not allow what was asked (a CLI-side error)."""

    status_code = 500
    code = "GARDEN_CONFIG"
