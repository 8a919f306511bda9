"""Sending mail: the `Mailer` protocol, SMTP for real delivery, and the development outbox.

The auth API composes an `OutgoingMail` (see `gardenos.mail.templates`) and hands it to whichever
mailer `build_mailer` chose. Every failure to hand a mail over is a `MailDeliveryError` that says
where it tried and what to check, never a raw SMTP or socket exception.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Literal, Protocol

import aiosmtplib

from gardenos.db import outbox
from gardenos.errors import BadRequest, ConfigurationError, DatabaseUnavailable, GardenError
from gardenos.settings import Settings

log = logging.getLogger(__name__)

# Mails about an account, rendered from templates (mail/templates.py)...
AuthMailKind = Literal["confirmation", "magic_link", "otp", "recovery", "email_change", "invite"]
# ...and every kind the outbox records: also the follow-ups people approve (agents/).
MailKind = Literal[AuthMailKind, "follow_up"]
SmtpSecurity = Literal["starttls", "tls", "none"]


class MailDeliveryError(GardenError):
    """A mail could not be handed over: 503 when the mail server or outbox is unreachable, 502 when
    the server refused it."""

    status_code = 502
    code = "GARDEN_MAIL"
    # True when the server may have taken the mail all the same (the connection dropped, or no answer
    # came, after the message was on its way): sending it again could deliver it twice.
    maybe_delivered = False


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    text: str
    html: str
    kind: MailKind
    # The left part of the Message-ID, when a mail must keep one identity across attempts (the outbox's
    # row id); otherwise a fresh Message-ID per message.
    message_key: str | None = None


class Mailer(Protocol):
    async def send(self, mail: OutgoingMail) -> None:
        """Hand the mail over for delivery, or raise `MailDeliveryError`."""
        ...


def build_message(mail: OutgoingMail, *, sender: str) -> EmailMessage:
    """A multipart/alternative message (plain text first, HTML preferred by clients that show it)."""
    message = EmailMessage()
    try:
        message["From"] = sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
    except ValueError as exc:
        # The email package refuses line breaks in headers: a crafted address never injects headers.
        raise BadRequest(f"cannot send mail to {mail.to!r}: {exc}") from exc
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = _domain(sender)
    message["Message-ID"] = (
        f"<{mail.message_key}@{domain}>" if mail.message_key else make_msgid(domain=domain)
    )
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def _domain(address: str) -> str:
    # make_msgid's default domain is the machine's FQDN, found by a DNS lookup that can take seconds.
    _name, addr = parseaddr(address)
    return addr.rpartition("@")[2] or "gardenos.local"


class SmtpMailer:
    """Delivers through an SMTP server, one connection per mail (mail volume is a few per sign-in)."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        security: SmtpSecurity,
        sender: str,
        timeout: float = 10.0,
    ) -> None:
        if "@" not in parseaddr(sender)[1]:
            raise ConfigurationError(
                f"the sender {sender!r} (GARDENOS_MAIL_FROM) is not a mail address",
                hint='set GARDENOS_MAIL_FROM, e.g. "GardenOS <no-reply@example.com>"',
            )
        if username is not None and password is None:
            raise ConfigurationError(
                "GARDENOS_SMTP_USER is set but GARDENOS_SMTP_PASSWORD is not",
                hint="set both to log in to the mail server, or neither to send without logging in",
            )
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.security = security
        self.sender = sender
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"SmtpMailer({self.host}:{self.port}, security={self.security}, user={self.username})"

    async def send(self, mail: OutgoingMail) -> None:
        message = build_message(mail, sender=self.sender)
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self._password,
                use_tls=self.security == "tls",
                # None would mean "STARTTLS if offered": "starttls" requires it, "none" never uses it.
                start_tls=self.security == "starttls",
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            error = self._delivery_error(mail, exc)
            # A read timeout or a dropped connection can come after the server took the message (it
            # answers only once the whole message arrived); refusals and failures to connect cannot.
            error.maybe_delivered = isinstance(
                exc, aiosmtplib.SMTPReadTimeoutError | aiosmtplib.SMTPServerDisconnected
            )
            raise error from exc

    def _delivery_error(self, mail: OutgoingMail, exc: BaseException) -> MailDeliveryError:
        where = f"could not deliver mail via {self.host}:{self.port}"
        # aiosmtplib wraps socket and TLS errors; their own message is the one that says what happened.
        cause = exc.__cause__ or exc
        security_hint = (
            f"GARDENOS_SMTP_SECURITY is {self.security!r}: use the mode this port speaks "
            "(usually starttls on 587, tls on 465, none only for a relay on the same machine)"
        )
        match exc:
            case aiosmtplib.SMTPAuthenticationError():
                return MailDeliveryError(
                    f"{where}: authentication failed ({exc.code} {exc.message})",
                    hint="check GARDENOS_SMTP_USER and GARDENOS_SMTP_PASSWORD",
                )
            case aiosmtplib.SMTPRecipientsRefused():
                refused = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
                return MailDeliveryError(f"{where}: the server refused the recipient {mail.to}: {refused}")
            case aiosmtplib.SMTPSenderRefused():
                return MailDeliveryError(
                    f"{where}: the server refused the sender {exc.sender}: {exc.code} {exc.message}",
                    hint="set GARDENOS_MAIL_FROM to an address this server may send from",
                )
            case aiosmtplib.SMTPResponseException():
                return MailDeliveryError(f"{where}: the server answered {exc.code} {exc.message}")
            case _ if isinstance(cause, ssl.SSLError):
                return MailDeliveryError(
                    f"{where}: TLS failed ({_reason(cause)})", status_code=503, hint=security_hint
                )
            case aiosmtplib.SMTPTimeoutError():
                return MailDeliveryError(
                    f"{where}: no answer within {self.timeout:g} s",
                    status_code=503,
                    hint="check GARDENOS_SMTP_HOST and GARDENOS_SMTP_PORT, or raise GARDENOS_MAIL_TIMEOUT_S",
                )
            case aiosmtplib.SMTPConnectError() | OSError():
                return MailDeliveryError(
                    f"{where}: the server is not reachable ({_reason(cause)})",
                    status_code=503,
                    hint="check GARDENOS_SMTP_HOST and GARDENOS_SMTP_PORT, and that the server runs",
                )
            case _:
                # Reached, but it does not speak what we asked for (no STARTTLS, no AUTH, …).
                return MailDeliveryError(f"{where}: {_reason(exc)}", hint=security_hint)


def _reason(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


class OutboxMailer:
    """The development mailer: stores each mail in `gardenos.mail_outbox` for `gardenos mail list`.

    Connects as the database owner, once per mail: the outbox holds other users' sign-in links, so the
    API's roles have no access to it.
    """

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url

    def __repr__(self) -> str:
        return "OutboxMailer()"

    async def send(self, mail: OutgoingMail) -> None:
        try:
            mail_id = await outbox.store_mail(
                self._database_url,
                to=mail.to,
                subject=mail.subject,
                text=mail.text,
                html=mail.html,
                kind=mail.kind,
            )
        except DatabaseUnavailable as exc:
            raise MailDeliveryError(
                f"could not store mail in the outbox: {exc.message}", status_code=503, hint=exc.hint
            ) from exc
        log.info("%s mail to %s stored in the outbox: gardenos mail show %s", mail.kind, mail.to, mail_id)


def build_mailer(settings: Settings, database_url: str) -> Mailer:
    """SMTP when `GARDENOS_SMTP_HOST` is set, else the outbox in the database at `database_url` (the
    owner's URL)."""
    if settings.smtp_host:
        return SmtpMailer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            security=settings.smtp_security,
            sender=settings.mail_from,
            timeout=settings.mail_timeout_s,
        )
    return OutboxMailer(database_url)
