"""An approved follow-up leaves once, whatever fails around it: approval writes the mail to the outbox in
its own transaction, and the mail is sent after the commit, claimed before it is handed over. Counted at a
real SMTP server on loopback."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import jwt
import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from gardenos.agents.service import approve_follow_up
from gardenos.db.pool import Database
from gardenos.embedded.postgres import free_port
from gardenos.mail.mailer import SmtpMailer
from gardenos.mail.sender import MailSender
from tests.live import Api, Mailbox, Member, agency_owner
from tests.support import SessionDatabase

SENDER = "GardenOS <no-reply@gardenos.test>"


@pytest.fixture(scope="module")
def member(api: Api) -> Member:
    return agency_owner(api, f"Mail{uuid.uuid4().hex[:6]}")


def draft_to(api: Api, member: Member) -> tuple[str, str]:
    """A lead with its own address and a drafted follow-up email to it: (address, activity id)."""
    address = f"lead-{uuid.uuid4().hex[:10]}@example.com"
    with api.http(member.access_token) as http:
        lead = http.post("/api/v1/leads", json={"first_name": "Ada", "email": address})
        assert lead.status_code == 201, lead.text
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        row = conn.execute(
            """INSERT INTO public.activities (agency_id, lead_id, kind, subject, body, status)
               VALUES (%s, %s, 'email', 'Your garden', 'Shall we plant in May?', 'draft') RETURNING id""",
            (member.agency_id, lead.json()["id"]),
        ).fetchone()
    assert row is not None
    return address, str(row[0])


@dataclass
class CommitFailure:
    """Makes the commit of a transaction that updates an armed activity fail (a deferred constraint
    trigger raises at COMMIT), as a lost connection or a failover at that moment would."""

    conn: psycopg.Connection
    table: str

    def arm(self, activity_id: str) -> None:
        self.conn.execute(f"INSERT INTO public.{self.table} VALUES (%s)", (activity_id,))

    def disarm(self) -> None:
        self.conn.execute(f"DELETE FROM public.{self.table}")


@pytest.fixture
def failing_commit(api: Api) -> Iterator[CommitFailure]:
    name = f"fail_commit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE public.{name} (activity_id uuid PRIMARY KEY)")
        conn.execute(
            f"""CREATE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
                BEGIN
                    IF EXISTS (SELECT FROM public.{name} f WHERE f.activity_id = NEW.id) THEN
                        RAISE EXCEPTION 'the commit fails here (test)';
                    END IF;
                    RETURN NULL;
                END $$"""
        )
        conn.execute(
            f"""CREATE CONSTRAINT TRIGGER {name} AFTER UPDATE ON public.activities
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.{name}()"""
        )
        try:
            yield CommitFailure(conn, name)
        finally:
            conn.execute(f"DROP TRIGGER {name} ON public.activities")
            conn.execute(f"DROP FUNCTION public.{name}()")
            conn.execute(f"DROP TABLE public.{name}")


def test_a_failed_commit_sends_nothing_and_the_retry_sends_once(
    api: Api, member: Member, failing_commit: CommitFailure
) -> None:
    address, activity_id = draft_to(api, member)
    failing_commit.arm(activity_id)
    with api.http(member.access_token) as http:
        failed = http.post(f"/ai/follow-ups/{activity_id}/approve")
        assert failed.status_code >= 400, failed.text
        # Nothing was recorded, so nothing may have left.
        assert http.get(f"/api/v1/activities/{activity_id}").json()["status"] == "draft"
        assert api.mailbox.count_to(address, wait_s=0) == 0

        failing_commit.disarm()
        sent = http.post(f"/ai/follow-ups/{activity_id}/approve")
        assert sent.status_code == 200, sent.text
        assert sent.json()["status"] == "done"
        assert api.mailbox.count_to(address, at_least=1) == 1
        # A retry of an approval that went through sends nothing more.
        again = http.post(f"/ai/follow-ups/{activity_id}/approve")
        assert again.status_code == 409, again.text
    assert api.mailbox.count_to(address, at_least=2, wait_s=1) == 1
    assert api.mailbox.last_to(address)["Subject"] == "Your garden"


# --- the sender on its own: crashes, unreachable servers, two senders at once ----------------------------


@dataclass
class KillingInbox:
    """An SMTP server that takes the message, then kills the process that sent it before answering: the
    sender dies between handing the mail over and recording that it did."""

    messages: list[EmailMessage] = field(default_factory=list)
    victim: subprocess.Popen[bytes] | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        assert self.victim is not None
        os.kill(self.victim.pid, signal.SIGKILL)
        self.victim.wait()
        return "250 OK"


@contextmanager
def smtp(handler: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def smtp_mailer(port: int) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", port, None, None, "none", SENDER, timeout=5.0)


@pytest.fixture
async def db(database: SessionDatabase) -> AsyncIterator[Database]:
    pool = Database(database.api_url, min_size=1, max_size=4, timeout=10.0)
    await pool.open()
    yield pool
    await pool.close()


@pytest.fixture
async def approved(api: Api, member: Member, db: Database) -> tuple[str, uuid.UUID]:
    """A follow-up approved by the member in one committed transaction, not sent: (address, mail id)."""
    address, activity_id = draft_to(api, member)
    claims = jwt.decode(member.access_token, options={"verify_signature": False})
    async with db.transaction("authenticated", claims) as conn:
        _activity, mail_id = await approve_follow_up(
            conn, uuid.UUID(activity_id), subject=None, body=None, approved_by=uuid.UUID(member.user_id)
        )
    return address, mail_id


def outgoing(owner_url: str, mail_id: uuid.UUID) -> tuple[str, int, str | None]:
    with psycopg.connect(owner_url) as conn:
        row = conn.execute(
            "SELECT status, attempts, last_error FROM gardenos.outgoing_mail WHERE id = %s", (mail_id,)
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


SEND_ONCE = """
import asyncio, sys, uuid
from gardenos.db.pool import Database
from gardenos.mail.mailer import SmtpMailer
from gardenos.mail.sender import MailSender

async def main(url, port, mail_id):
    db = Database(url, min_size=1, max_size=2, timeout=10.0)
    await db.open()
    mailer = SmtpMailer("127.0.0.1", int(port), None, None, "none", "GardenOS <no-reply@gardenos.test>")
    await MailSender(db, mailer).deliver([uuid.UUID(mail_id)])

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.anyio
async def test_a_sender_killed_between_sending_and_recording_never_sends_again(
    api: Api, database: SessionDatabase, db: Database, approved: tuple[str, uuid.UUID]
) -> None:
    address, mail_id = approved
    killer, inbox = KillingInbox(), Mailbox()
    with smtp(killer) as kill_port, smtp(inbox) as port:
        args = [sys.executable, "-c", SEND_ONCE, database.api_url, str(kill_port), str(mail_id)]
        killer.victim = await asyncio.to_thread(subprocess.Popen, args)
        assert await asyncio.to_thread(killer.victim.wait, 60) == -signal.SIGKILL
        assert len(killer.messages) == 1
        assert killer.messages[0]["Message-ID"] == f"<{mail_id}@gardenos.test>"
        assert outgoing(database.owner_url, mail_id)[0] == "sending"

        # Retries: the request's, and the sweep's once the dead sender's claim has run out.
        sender = MailSender(db, smtp_mailer(port))
        assert await sender.deliver([mail_id]) == 0
        with psycopg.connect(database.owner_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE gardenos.outgoing_mail SET claimed_at = now() - interval '1 hour' WHERE id = %s",
                (mail_id,),
            )
        await sender.sweep()
        assert await sender.deliver([mail_id]) == 0
    status, attempts, error = outgoing(database.owner_url, mail_id)
    assert (status, attempts) == ("unconfirmed", 1)
    assert error is not None
    assert "may have left" in error
    assert inbox.count_to(address, wait_s=0) == 0
    assert api.mailbox.count_to(address, wait_s=0) == 0


@pytest.mark.anyio
async def test_an_unreachable_server_is_retried_and_two_senders_send_once(
    api: Api, database: SessionDatabase, db: Database, approved: tuple[str, uuid.UUID]
) -> None:
    address, mail_id = approved
    # Nothing listens there: the server never saw the mail, so it waits for another attempt.
    assert await MailSender(db, smtp_mailer(free_port())).deliver([mail_id]) == 0
    status, attempts, error = outgoing(database.owner_url, mail_id)
    assert (status, attempts) == ("pending", 1)
    assert error is not None
    assert "not reachable" in error

    inbox = Mailbox()
    with smtp(inbox) as port:
        one, two = MailSender(db, smtp_mailer(port)), MailSender(db, smtp_mailer(port))
        sent = await asyncio.gather(one.deliver([mail_id]), two.deliver([mail_id]), one.deliver([mail_id]))
        assert sorted(sent) == [0, 0, 1]
        assert await two.sweep() >= 0
    assert outgoing(database.owner_url, mail_id)[:2] == ("sent", 2)
    assert inbox.count_to(address, wait_s=0) == 1
    assert inbox.last_to(address)["Message-ID"] == f"<{mail_id}@gardenos.test>"
    assert api.mailbox.count_to(address, wait_s=0) == 0
