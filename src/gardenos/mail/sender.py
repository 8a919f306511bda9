"""Mails a business transaction decides to send, written with it and sent after its commit, once.

`enqueue` writes the mail into `gardenos.outgoing_mail` inside the caller's transaction (a commit that
fails takes the mail with it). After the commit, the request that wrote it calls `MailSender.deliver`
with its id; `MailSender.run` sweeps up what no request delivered (its process died first, or the mail
server was unreachable and the mail waits for its next attempt).

Once: a mail is claimed (`sending`, committed) before it is handed to the mail server and marked `sent`
after, so a retry or a second sender finds nothing to send. A failure that says the server did not take
the mail (unreachable, refused) puts it back for a later attempt with backoff. When it cannot be known
whether the server took it (the connection dropped after the message was on its way, or the sender died
between handing it over and recording that) the mail is left `unconfirmed` and never sent again by
itself: a mail that arrives twice is what this table exists to prevent. The row's id is the Message-ID's
left part, the same at every attempt.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import class_row

from gardenos.db.pool import Conn, Database
from gardenos.errors import GardenError
from gardenos.mail.mailer import MailDeliveryError, Mailer, MailKind, OutgoingMail

log = logging.getLogger(__name__)

# The request that wrote a mail sends it at once; a sweep takes it only when that has not happened by then.
SWEEP_AFTER_S = 30.0
SWEEP_EVERY_S = 10.0
# A mail still `sending` this long after its claim lost its sender (a send takes a few mail timeouts).
SENDING_LEASE_S = 600.0
MAX_ATTEMPTS = 8
RETRY_BASE_S = 30.0
RETRY_MAX_S = 3600.0

ENQUEUE = """
INSERT INTO gardenos.outgoing_mail
    (id, agency_id, activity_id, to_address, subject, text_body, html_body, kind, run_after)
VALUES (%(id)s, %(agency_id)s, %(activity_id)s, %(to)s, %(subject)s, %(text)s, %(html)s, %(kind)s,
        now() + make_interval(secs => %(sweep_after_s)s))
"""
# Given ids: those (the request that wrote them, at once). None: what is due, for the sweep.
CLAIM = """
UPDATE gardenos.outgoing_mail m
SET status = 'sending', attempts = m.attempts + 1, claimed_at = now()
FROM (
    SELECT o.id FROM gardenos.outgoing_mail o
    WHERE o.status = 'pending'
      AND CASE WHEN %(ids)s::uuid[] IS NULL THEN o.run_after <= now() ELSE o.id = ANY (%(ids)s::uuid[]) END
    ORDER BY o.run_after
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
) due
WHERE m.id = due.id
RETURNING m.id, m.to_address, m.subject, m.text_body, m.html_body, m.kind, m.attempts
"""
MARK_SENT = """
UPDATE gardenos.outgoing_mail SET status = 'sent', sent_at = now(), last_error = NULL
WHERE id = %s AND status = 'sending'
"""
RETRY_LATER = """
UPDATE gardenos.outgoing_mail
SET status = CASE WHEN attempts >= %(max_attempts)s THEN 'failed' ELSE 'pending' END,
    run_after = now() + make_interval(secs => %(delay_s)s), last_error = %(error)s
WHERE id = %(id)s AND status = 'sending'
RETURNING status
"""
GIVE_UP = """
UPDATE gardenos.outgoing_mail SET status = %(status)s, last_error = %(error)s
WHERE id = %(id)s AND status = 'sending'
"""
ABANDONED = """
UPDATE gardenos.outgoing_mail
SET status = 'unconfirmed',
    last_error = 'its sender stopped between claiming it and recording the outcome: it may have left, '
                 'so it is not sent again by itself'
WHERE status = 'sending' AND claimed_at < now() - make_interval(secs => %s)
RETURNING id, to_address
"""
STATUS = "SELECT status FROM gardenos.outgoing_mail WHERE id = %s"


async def enqueue(
    conn: Conn, mail: OutgoingMail, *, agency_id: uuid.UUID, activity_id: uuid.UUID
) -> uuid.UUID:
    """Write `mail` in the caller's transaction (as the agency: the database checks that the activity is a
    done email of the agency's, to its lead's or client's address); returns its id. Send it with
    `MailSender.deliver` after the commit."""
    mail_id = uuid.uuid4()
    await conn.execute(
        ENQUEUE,
        {
            "id": mail_id,
            "agency_id": agency_id,
            "activity_id": activity_id,
            "to": mail.to,
            "subject": mail.subject,
            "text": mail.text,
            "html": mail.html,
            "kind": mail.kind,
            "sweep_after_s": SWEEP_AFTER_S,
        },
    )
    return mail_id


@dataclass(frozen=True)
class _Claimed:
    id: uuid.UUID
    to_address: str
    subject: str
    text_body: str
    html_body: str
    kind: MailKind
    attempts: int

    def mail(self) -> OutgoingMail:
        return OutgoingMail(
            to=self.to_address,
            subject=self.subject,
            text=self.text_body,
            html=self.html_body,
            kind=self.kind,
            message_key=str(self.id),
        )


def retry_delay_s(attempts: int) -> float:
    return min(RETRY_BASE_S * 2.0 ** max(attempts - 1, 0), RETRY_MAX_S)


class MailSender:
    """Sends the outbox's mails by `mailer`, as service_role (the senders' role: it sees every agency's)."""

    def __init__(self, database: Database, mailer: Mailer) -> None:
        self.database = database
        self.mailer = mailer

    async def deliver(self, ids: Sequence[uuid.UUID] | None = None, *, limit: int = 100) -> int:
        """Send the given pending mails (None: those due); returns how many left. Never raises for a mail
        that could not be sent: its row says why, and the sweep tries again when that can help."""
        try:
            async with (
                self.database.transaction("service_role") as conn,
                conn.cursor(row_factory=class_row(_Claimed)) as cur,
            ):
                await cur.execute(CLAIM, {"ids": None if ids is None else list(ids), "limit": limit})
                claimed = await cur.fetchall()
        except (GardenError, psycopg.Error) as exc:
            log.warning("could not claim mails to send (%s); the sweep tries again", exc)
            return 0
        sent = 0
        for row in claimed:
            sent += await self._send(row)
        return sent

    async def _send(self, row: _Claimed) -> bool:
        try:
            await self.mailer.send(row.mail())
        except MailDeliveryError as exc:
            if exc.maybe_delivered:
                await self._record(GIVE_UP, {"id": row.id, "status": "unconfirmed", "error": exc.message})
                log.error(
                    "%s mail %s to %s: %s; it may have left, not sent again",
                    row.kind,
                    row.id,
                    row.to_address,
                    exc.message,
                )
            else:
                await self._record(
                    RETRY_LATER,
                    {
                        "id": row.id,
                        "max_attempts": MAX_ATTEMPTS,
                        "delay_s": retry_delay_s(row.attempts),
                        "error": exc.message,
                    },
                )
                log.warning(
                    "%s mail %s to %s not sent (attempt %d): %s",
                    row.kind,
                    row.id,
                    row.to_address,
                    row.attempts,
                    exc.message,
                )
            return False
        except GardenError as exc:
            # Refused before anything was sent (an address the mail headers cannot carry): no retry helps.
            await self._record(GIVE_UP, {"id": row.id, "status": "failed", "error": exc.message})
            log.error("%s mail %s to %s failed: %s", row.kind, row.id, row.to_address, exc.message)
            return False
        except Exception as exc:
            # A mailer that broke in a way it does not describe: whether the mail left is unknown.
            await self._record(GIVE_UP, {"id": row.id, "status": "unconfirmed", "error": repr(exc)})
            log.exception(
                "%s mail %s to %s: unexpected failure; not sent again", row.kind, row.id, row.to_address
            )
            return False
        await self._record(MARK_SENT, (row.id,))
        log.info("%s mail %s sent to %s", row.kind, row.id, row.to_address)
        return True

    async def _record(self, statement: str, params: Sequence[Any] | Mapping[str, Any]) -> None:
        try:
            async with self.database.transaction("service_role") as conn:
                await conn.execute(statement, params)
        except (GardenError, psycopg.Error) as exc:
            # The row stays `sending`: after SENDING_LEASE_S it becomes `unconfirmed`, never sent twice.
            log.error("could not record a mail's outcome (%s); it stays as claimed", exc)

    async def sweep(self, *, lease_s: float = SENDING_LEASE_S) -> int:
        """One round: mark mails whose sender vanished `unconfirmed`, send what is due."""
        async with self.database.transaction("service_role") as conn:
            cur = await conn.execute(ABANDONED, (lease_s,))
            for mail_id, to in await cur.fetchall():
                log.error("mail %s to %s: its sender stopped while sending it; not sent again", mail_id, to)
        return await self.deliver()

    async def run(self) -> None:
        """Sweep every SWEEP_EVERY_S until cancelled."""
        while True:
            try:
                await self.sweep()
            except (GardenError, psycopg.Error) as exc:
                log.warning("mail sweep failed (%s); trying again", exc)
            await asyncio.sleep(SWEEP_EVERY_S)

    async def status(self, mail_id: uuid.UUID) -> str | None:
        async with self.database.transaction("service_role") as conn:
            cur = await conn.execute(STATUS, (mail_id,))
            row = await cur.fetchone()
        return None if row is None else str(row[0])
