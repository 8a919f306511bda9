"""The development mail outbox (`gardenos.mail_outbox`): stored by the API, read by `gardenos mail`.

Mail volume is a few per sign-in, so each call opens its own connection as the database owner (the
outbox holds other users' sign-in links: the API's roles have no access to it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import class_row

from gardenos.db.connect import connect
from gardenos.errors import ConfigurationError, DatabaseUnavailable

STORE = """
INSERT INTO gardenos.mail_outbox (to_address, subject, text_body, html_body, kind)
VALUES (%s, %s, %s, %s, %s)
RETURNING id
"""

_COLUMNS = "id, to_address, subject, text_body, html_body, kind, created_at"
LIST_ALL = f"SELECT {_COLUMNS} FROM gardenos.mail_outbox ORDER BY created_at DESC, id DESC LIMIT %s"
LIST_TO = f"""
SELECT {_COLUMNS} FROM gardenos.mail_outbox
WHERE to_address = %s
ORDER BY created_at DESC, id DESC
LIMIT %s
"""
GET = f"SELECT {_COLUMNS} FROM gardenos.mail_outbox WHERE id = %s"


@dataclass(frozen=True)
class StoredMail:
    id: uuid.UUID
    to_address: str
    subject: str
    text_body: str
    html_body: str
    kind: str  # one of mail.mailer.MailKind (db/ stands below mail/ and does not import it)
    created_at: datetime


async def store_mail(url: str, *, to: str, subject: str, text: str, html: str, kind: str) -> uuid.UUID:
    """Store one mail; returns its id."""
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=10) as conn:
            cur = await conn.execute(STORE, (to, subject, text, html, kind))
            row = await cur.fetchone()
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {_where(url)}: {str(exc).strip()}",
            hint="is the database running?",
        ) from exc
    except errors.UndefinedTable as exc:
        raise _not_migrated() from exc
    assert row is not None
    return uuid.UUID(str(row[0]))


def list_mail(url: str, limit: int = 20, to: str | None = None) -> list[StoredMail]:
    """The newest `limit` mails, optionally only those to one address."""
    with connect(url, autocommit=True) as conn, conn.cursor(row_factory=class_row(StoredMail)) as cur:
        try:
            if to is None:
                cur.execute(LIST_ALL, (limit,))
            else:
                cur.execute(LIST_TO, (to, limit))
        except errors.UndefinedTable as exc:
            raise _not_migrated() from exc
        return cur.fetchall()


def get_mail(url: str, id: uuid.UUID) -> StoredMail | None:
    with connect(url, autocommit=True) as conn, conn.cursor(row_factory=class_row(StoredMail)) as cur:
        try:
            cur.execute(GET, (id,))
        except errors.UndefinedTable as exc:
            raise _not_migrated() from exc
        return cur.fetchone()


def _where(url: str) -> str:
    params = conninfo_to_dict(url)
    return f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"


def _not_migrated() -> ConfigurationError:
    return ConfigurationError(
        "the database has no mail outbox yet: its migrations are behind this GardenOS",
        hint="run `gardenos db migrate`",
    )
