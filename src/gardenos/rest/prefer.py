"""The `Prefer` header (RFC 7240) as PostgREST reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gardenos.rest.build import RestError

Return = Literal["minimal", "representation", "headers-only"]
Count = Literal["exact", "planned", "estimated"]
Resolution = Literal["merge-duplicates", "ignore-duplicates"]

_ALLOWED: dict[str, tuple[str, ...]] = {
    "return": ("minimal", "representation", "headers-only"),
    "count": ("exact", "planned", "estimated"),
    "resolution": ("merge-duplicates", "ignore-duplicates"),
    "missing": ("default", "null"),
    "tx": ("commit", "rollback"),
    "handling": ("lenient", "strict"),
}


@dataclass(frozen=True)
class Prefer:
    return_: Return | None = None
    count: Count | None = None
    resolution: Resolution | None = None
    missing_default: bool = False
    rollback: bool = False
    strict: bool = False
    applied: tuple[str, ...] = ()


def parse_prefer(headers: list[str]) -> Prefer:
    """Unknown preferences are ignored (lenient, as RFC 7240 asks) unless `handling=strict` is sent."""
    values: dict[str, str] = {}
    unknown: list[str] = []
    for header in headers:
        for part in header.split(","):
            key, _, value = part.strip().partition("=")
            key, value = key.strip().lower(), value.strip().strip('"').lower()
            if not key:
                continue
            if key in _ALLOWED and value in _ALLOWED[key]:
                values[key] = value
            else:
                unknown.append(part.strip())
    strict = values.get("handling") == "strict"
    if strict and unknown:
        raise RestError(
            "PGRST122", 400, f"Invalid preferences given with handling=strict: {', '.join(unknown)}"
        )
    return Prefer(
        return_=values.get("return"),  # type: ignore[arg-type]
        count=values.get("count"),  # type: ignore[arg-type]
        resolution=values.get("resolution"),  # type: ignore[arg-type]
        missing_default=values.get("missing") == "default",
        rollback=values.get("tx") == "rollback",
        strict=strict,
        applied=tuple(f"{k}={v}" for k, v in values.items() if k != "handling"),
    )
