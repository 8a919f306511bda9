"""Direct (unpooled) connections for the CLI, migrations and bulk loads."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from gardenos.errors import DatabaseUnavailable


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A connection, or a DatabaseUnavailable that says where it tried and why it failed."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        params = conninfo_to_dict(url)
        where = f"{params.get('user', '?')}@{params.get('host', 'localhost')}:{params.get('port', 5432)}"
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL as {where}/{params.get('dbname', '')}: {str(exc).strip()}",
            hint="is the database running, and are GARDENOS_DATABASE_URL's host, port and password right?",
        ) from exc


async def connect_dedicated(url: str) -> psycopg.AsyncConnection[Any]:
    """A connection outside the pool, in autocommit, for a task that keeps it (a logical decoding reader:
    its session-level advisory lock lives as long as the connection). OperationalError when unreachable:
    such tasks reconnect in a loop."""
    return await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=10)
