"""The development outbox: OutboxMailer stores mails, `gardenos mail list/show` reads them back."""

from __future__ import annotations

import subprocess
import sys
import uuid

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from gardenos.db import outbox
from gardenos.embedded.postgres import free_port
from gardenos.mail.mailer import MailDeliveryError, OutboxMailer, build_mailer
from gardenos.mail.templates import compose
from gardenos.settings import Settings
from tests.support import SessionDatabase

pytestmark = pytest.mark.anyio


def address() -> str:
    # The session database is shared: every test writes to addresses of its own.
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def link(token: str) -> str:
    return f"https://crm.example.com/auth/v1/verify?token={token}&type=magiclink"


def gardenos(database: SessionDatabase, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in database.env().items() if not k.startswith(("GARDENOS_SMTP", "GARDENOS_MAIL"))}
    return subprocess.run(
        [sys.executable, "-m", "gardenos", *args],
        env={**base, "COLUMNS": "250", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_stores_and_lists_mails_newest_first(database: SessionDatabase) -> None:
    mailer = OutboxMailer(database.owner_url)
    ann, bob = address(), address()
    await mailer.send(compose("magic_link", to=ann, site_name="GardenOS", link=link("first")))
    await mailer.send(compose("confirmation", to=bob, site_name="GardenOS", link=link("bob")))
    await mailer.send(compose("otp", to=ann, site_name="GardenOS", link=link("second"), code="123456"))

    to_ann = outbox.list_mail(database.owner_url, limit=10, to=ann)
    assert [(m.kind, m.to_address) for m in to_ann] == [("otp", ann), ("magic_link", ann)]
    assert link("second") in to_ann[0].text_body
    assert "123456" in to_ann[0].html_body
    assert to_ann[0].subject == "Your login code"
    assert to_ann[0].created_at.tzinfo is not None

    newest = outbox.list_mail(database.owner_url, limit=2)
    assert [m.to_address for m in newest] == [ann, bob]

    stored = outbox.get_mail(database.owner_url, to_ann[1].id)
    assert stored == to_ann[1]
    assert outbox.get_mail(database.owner_url, uuid.uuid4()) is None


def test_the_api_roles_cannot_read_the_outbox(database: SessionDatabase) -> None:
    with psycopg.connect(database.api_url, autocommit=True) as conn:
        for role in ("anon", "authenticated", "service_role"):
            conn.execute(f"SET ROLE {role}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT count(*) FROM gardenos.mail_outbox")
            conn.execute("RESET ROLE")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM gardenos.mail_outbox")


async def test_an_unreachable_outbox_is_a_delivery_error(database: SessionDatabase) -> None:
    url = make_conninfo(database.owner_url, port=free_port())  # nothing listens there
    mail = compose("recovery", to=address(), site_name="GardenOS", link=link("r"))
    with pytest.raises(MailDeliveryError, match="could not store mail in the outbox") as caught:
        await OutboxMailer(url).send(mail)
    assert caught.value.status_code == 503


def test_build_mailer_picks_the_outbox_without_smtp(database: SessionDatabase) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert isinstance(build_mailer(settings, database.owner_url), OutboxMailer)


async def test_cli_lists_and_shows_mail(database: SessionDatabase) -> None:
    to = address()
    await OutboxMailer(database.owner_url).send(
        compose("invite", to=to, site_name="GardenOS", link=link("inv-7"), agency_name="Acme [Bloom]")
    )

    listed = gardenos(database, "mail", "list", "--to", to)
    assert listed.returncode == 0, listed.stderr
    assert to in listed.stdout
    assert "invite" in listed.stdout
    assert "You have been invited to Acme [Bloom]" in listed.stdout
    assert link("inv-7") in listed.stdout

    [stored] = outbox.list_mail(database.owner_url, to=to)
    shown = gardenos(database, "mail", "show", str(stored.id))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.endswith(stored.text_body)
    assert f"To:      {to}" in shown.stdout

    everything = gardenos(database, "mail", "list", "--limit", "50")
    assert everything.returncode == 0, everything.stderr
    assert to in everything.stdout


def test_cli_show_unknown_or_malformed_id_is_a_clear_error(database: SessionDatabase) -> None:
    missing = uuid.uuid4()
    result = gardenos(database, "mail", "show", str(missing))
    assert result.returncode == 1
    assert f"no mail with id {missing} in the outbox" in result.stderr
    assert "Traceback" not in result.stderr

    result = gardenos(database, "mail", "show", "not-an-id")
    assert result.returncode == 1
    assert "is not a mail id" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_list_says_the_outbox_is_unused_with_smtp(database: SessionDatabase) -> None:
    result = gardenos(database, "mail", "list", "--to", address(), GARDENOS_SMTP_HOST="smtp.example.com")
    assert result.returncode == 0, result.stderr
    assert "only used without SMTP" in result.stderr
    assert "no mail to" in result.stdout
