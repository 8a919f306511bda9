"""Architecture rules that matter, checked by reading the source rather than by memory."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).parents[2] / "src" / "gardenos"

# Connections are opened in db/ only, and by the code that owns a server itself: the embedded launcher,
# the cluster launcher (readiness, the failover writer) and backup/restore (the servers it starts).
CONNECTION_OWNERS = ("db/", "embedded/", "cluster/", "backup/")
OPENS_CONNECTION = re.compile(r"\bpsycopg\.(connect|AsyncConnection\.connect)\(|ConnectionPool\(")
RAISES_HTTP_EXCEPTION = re.compile(r"raise\s+[\w.]*HTTPException\b")


def _sources() -> list[tuple[str, str]]:
    return [(str(p.relative_to(SRC)), p.read_text()) for p in sorted(SRC.rglob("*.py"))]


def test_only_db_opens_connections() -> None:
    offenders = [
        name
        for name, text in _sources()
        if OPENS_CONNECTION.search(text) and not name.startswith(CONNECTION_OWNERS)
    ]
    assert offenders == [], f"open connections through gardenos.db instead: {offenders}"


def test_services_never_raise_http_exceptions() -> None:
    offenders = [
        name for name, text in _sources() if RAISES_HTTP_EXCEPTION.search(text) and "routes" not in name
    ]
    assert offenders == [], f"raise a GardenError subclass instead of HTTPException: {offenders}"


def test_uvicorn_is_configured_in_one_place() -> None:
    """uvicorn believes `X-Forwarded-For` from loopback unless told otherwise: every server of ours is
    configured by `api.server.server_config`, which believes only GARDENOS_TRUSTED_PROXIES."""
    offenders = [name for name, text in _sources() if "uvicorn.Config(" in text and name != "api/server.py"]
    assert offenders == [], f"build uvicorn's configuration with api.server.server_config: {offenders}"


def test_rows_are_fetched_by_one_helper() -> None:
    """`fetch_one` / `fetch_all` live in db/rows.py; three copies had drifted (one prepared lists'
    statements, which folds their optional filters into one generic plan)."""
    defines = re.compile(r"^(async )?def (fetch_one|fetch_all)\(", re.MULTILINE)
    offenders = [name for name, text in _sources() if defines.search(text) and name != "db/rows.py"]
    assert offenders == [], f"import fetch_one / fetch_all from gardenos.db.rows: {offenders}"
