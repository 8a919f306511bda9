"""Direct (unpooled) connections for the CLI, migrations and bulk loads."""

from __future__ import annotations

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
