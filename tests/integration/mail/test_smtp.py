"""SmtpMailer against a real SMTP server (aiosmtpd) on loopback: what arrives, and how failures read."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from gardenos.embedded.postgres import free_port
from gardenos.errors import BadRequest, ConfigurationError
from gardenos.mail.mailer import MailDeliveryError, OutgoingMail, SmtpMailer, SmtpSecurity, build_mailer
from gardenos.mail.templates import compose
from gardenos.settings import Settings

pytestmark = pytest.mark.anyio

LINK = "https://crm.example.com/auth/v1/verify?token=tok-42&type=magiclink"
SENDER = "GardenOS <no-reply@gardenos.test>"


@dataclass(frozen=True)
class Received:
    mail_from: str | None
    rcpt_tos: list[str]
    authenticated: bool | None
    message: EmailMessage


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), session.authenticated, message)
        )
        return "250 Message accepted for delivery"


def check_password(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"mailer",
        b"right-password",
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_server_with_auth() -> Iterator[tuple[Inbox, int]]:
    # AUTH offered over plain loopback (auth_require_tls=False). It is not made mandatory on the server:
    # aiosmtpd warns about AUTH without TLS then; the tests assert the session logged in instead.
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=check_password, auth_require_tls=False
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mailer(
    port: int,
    *,
    security: SmtpSecurity = "none",
    username: str | None = None,
    password: str | None = None,
) -> SmtpMailer:
    return SmtpMailer(
        host="127.0.0.1",
        port=port,
        username=username,
        password=password,
        security=security,
        sender=SENDER,
        timeout=5.0,
    )


def magic_link(to: str = "ann@example.com") -> OutgoingMail:
    return compose("magic_link", to=to, site_name="GardenOS", link=LINK)


async def test_delivers_a_multipart_mail(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    await mailer(port).send(magic_link())

    [received] = inbox.received
    assert received.mail_from == "no-reply@gardenos.test"
    assert received.rcpt_tos == ["ann@example.com"]
    message = received.message
    assert message["Subject"] == "Your Magic Link"
    assert message["To"] == "ann@example.com"
    assert message["From"] == SENDER
    assert message["Message-ID"].endswith("@gardenos.test>")
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert LINK in text.get_content()  # type: ignore[attr-defined]
    assert LINK.replace("&", "&amp;") in html.get_content()  # type: ignore[attr-defined]


async def test_logs_in_when_credentials_are_given(smtp_server_with_auth: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server_with_auth
    await mailer(port, username="mailer", password="right-password").send(magic_link())
    [received] = inbox.received
    assert received.authenticated is True
    assert received.message["Subject"] == "Your Magic Link"


async def test_wrong_password_is_a_clear_delivery_error(smtp_server_with_auth: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server_with_auth
    with pytest.raises(MailDeliveryError) as caught:
        await mailer(port, username="mailer", password="wrong").send(magic_link())
    error = caught.value
    assert error.message.startswith(f"could not deliver mail via 127.0.0.1:{port}: authentication failed")
    assert error.status_code == 502
    assert error.hint is not None
    assert "GARDENOS_SMTP_PASSWORD" in error.hint
    assert inbox.received == []


async def test_unreachable_server_is_a_delivery_error() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(MailDeliveryError) as caught:
        await mailer(port).send(magic_link())
    error = caught.value
    assert error.message.startswith(
        f"could not deliver mail via 127.0.0.1:{port}: the server is not reachable"
    )
    assert error.status_code == 503


async def test_starttls_against_a_server_without_it_names_the_setting(
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    with pytest.raises(MailDeliveryError, match="STARTTLS") as caught:
        await mailer(port, security="starttls").send(magic_link())
    assert caught.value.status_code == 502
    assert caught.value.hint is not None
    assert "GARDENOS_SMTP_SECURITY is 'starttls'" in caught.value.hint
    assert inbox.received == []


async def test_tls_against_a_plain_port_names_the_setting(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    with pytest.raises(MailDeliveryError, match="TLS failed") as caught:
        await mailer(port, security="tls").send(magic_link())
    assert caught.value.hint is not None
    assert "GARDENOS_SMTP_SECURITY is 'tls'" in caught.value.hint
    assert inbox.received == []


async def test_a_header_injecting_address_is_refused_before_sending(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    with pytest.raises(BadRequest, match="cannot send mail to"):
        await mailer(port).send(magic_link("ann@example.com\r\nBcc: victim@example.com"))
    assert inbox.received == []


def test_half_configured_credentials_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="GARDENOS_SMTP_PASSWORD"):
        mailer(25, username="mailer")
    with pytest.raises(ConfigurationError, match="GARDENOS_MAIL_FROM"):
        SmtpMailer("127.0.0.1", 25, None, None, "none", "not an address", 5.0)


def test_build_mailer_picks_smtp_when_a_host_is_set() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        smtp_host="smtp.example.com",
        smtp_port=465,
        smtp_user="mailer",
        smtp_password="s3cret",  # type: ignore[arg-type]
        smtp_security="tls",
        mail_from="Acme CRM <crm@acme.example>",
    )
    built = build_mailer(settings, "postgresql://unused")
    assert isinstance(built, SmtpMailer)
    assert (built.host, built.port, built.username, built.security) == (
        "smtp.example.com",
        465,
        "mailer",
        "tls",
    )
    assert built.sender == "Acme CRM <crm@acme.example>"
    assert "s3cret" not in repr(built)
