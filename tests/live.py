"""A real GardenOS API on loopback (uvicorn in a thread) over the session database, with mail going to a
real SMTP server (aiosmtpd) on loopback, and the official `supabase` client pointed at it."""

from __future__ import annotations

import contextlib
import email
import email.policy
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from supabase import Client, ClientOptions, create_client

from gardenos.api.app import create_app
from gardenos.api.server import server_config
from gardenos.auth.tokens import TokenService
from gardenos.db.target import DatabaseTarget
from gardenos.embedded.postgres import free_port
from gardenos.settings import Settings
from tests.support import SessionDatabase

SITE_URL = "http://app.gardenos.test"
# Tests make many requests from one address: each server they start allows far more than the defaults.
RATE_LIMITS = [
    name
    for name in Settings.model_fields
    if name.startswith("rate_limit_") and name.endswith(("_per_ip", "_per_user", "_per_email"))
]
LINK = re.compile(r"https?://\S+/auth/v1/verify\?\S+")
CODE = re.compile(r"\b(\d{6})\b")


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps every message, to be read as a user reads their inbox."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def last_to(self, address: str, wait_s: float = 10.0) -> EmailMessage:
        """The newest mail to `address`, waiting for it a little: some mails are sent after the answer."""
        deadline = time.monotonic() + wait_s
        while True:
            with self.lock:
                for message in reversed(self.messages):
                    if address.lower() in str(message["To"]).lower():
                        return message
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail to {address}")
            time.sleep(0.05)

    def count_to(self, address: str, at_least: int = 0, wait_s: float = 10.0) -> int:
        """Mails to `address`; with `at_least`, waiting a little for that many (some are sent after the
        answer), then counting what came."""
        deadline = time.monotonic() + wait_s
        while True:
            with self.lock:
                count = sum(address.lower() in str(m["To"]).lower() for m in self.messages)
            if count >= at_least or time.monotonic() > deadline:
                return count
            time.sleep(0.05)

    def link_to(self, address: str) -> str:
        body = self.last_to(address).get_body(preferencelist=("plain",))
        assert body is not None
        match = LINK.search(body.get_content())
        assert match, "the mail has no verification link"
        return match.group(0)

    def code_to(self, address: str) -> str:
        body = self.last_to(address).get_body(preferencelist=("plain",))
        assert body is not None
        match = CODE.search(body.get_content())
        assert match, "the mail has no 6-digit code"
        return match.group(1)


@dataclass(frozen=True)
class Api:
    url: str
    anon_key: str
    service_key: str
    mailbox: Mailbox
    owner_url: str
    # One HTTP client for every supabase client the tests make, closed with the server.
    transport: httpx.Client

    def _options(self) -> ClientOptions:
        return ClientOptions(auto_refresh_token=False, persist_session=False, httpx_client=self.transport)

    def client(self) -> Client:
        return create_client(self.url, self.anon_key, options=self._options())

    def admin(self) -> Client:
        return create_client(self.url, self.service_key, options=self._options())

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"apikey": self.anon_key}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def confirmed_user(self, password: str = "correct-horse-battery") -> tuple[str, str]:
        """A new, confirmed user (created through the admin API); returns (email, password)."""
        address = unique_email()
        self.admin().auth.admin.create_user({"email": address, "password": password, "email_confirm": True})
        return address, password


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


class ServerThread:
    def __init__(self, target: DatabaseTarget, port: int) -> None:
        self.port = port
        app = create_app(target)
        config = server_config(app, target.settings, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return f"http://127.0.0.1:{self.port}"
            time.sleep(0.05)
        raise RuntimeError("the API did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def serve(database: SessionDatabase, mailbox: tuple[Mailbox, int], **overrides: Any) -> Iterator[Api]:
    box, smtp_port = mailbox
    port = free_port()
    settings = database.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "smtp_security": "none",
            # The front end lives elsewhere; the emailed verification links point at this API.
            "site_url": SITE_URL,
            "api_external_url": f"http://127.0.0.1:{port}",
            "refresh_token_reuse_interval_s": 0,
            **dict.fromkeys(RATE_LIMITS, 100_000),
            "rate_limit_token_per_email": 1_000,
            "rate_limit_email_sent_per_email": 1_000,
            **overrides,
        }
    )
    target = DatabaseTarget(settings)
    tokens = TokenService(settings, target.secrets.jwt_secret)
    with ServerThread(target, port) as url, httpx.Client(timeout=30) as transport:
        yield Api(
            url, tokens.api_key("anon"), tokens.api_key("service_role"), box, target.owner_url, transport
        )


@dataclass(frozen=True)
class Member:
    """A signed-in user who owns an agency (the token carries it)."""

    email: str
    password: str
    user_id: str
    agency_id: str
    access_token: str
    refresh_token: str


def agency_owner(api: Api, agency_name: str) -> Member:
    """A new confirmed user, signed in, owning a new agency, with a token that carries it."""
    email, password = api.confirmed_user()
    with api.http() as http:
        session = http.post(
            "/auth/v1/token", params={"grant_type": "password"}, json={"email": email, "password": password}
        ).json()
    with api.http(session["access_token"]) as http:
        agency = http.post("/api/v1/agencies", json={"name": agency_name}).json()
    with api.http() as http:
        session = http.post(
            "/auth/v1/token",
            params={"grant_type": "refresh_token"},
            json={"refresh_token": session["refresh_token"]},
        ).json()
    assert session["user"]["app_metadata"]["agency_id"] == agency["id"]
    return Member(
        email,
        password,
        session["user"]["id"],
        agency["id"],
        session["access_token"],
        session["refresh_token"],
    )


class GardenosUp:
    """`gardenos up` in a subprocess, as a user runs it (a server that can be signalled or killed), with
    its output in a file (a pipe could fill and block it)."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.out = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gardenos", "up", *args],
            env=env,
            stdout=self.out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait_ready(self, attempts: int = 600) -> httpx.Response:
        """Poll /ready (a first start may load demo data or create a cluster), at most ~2 minutes."""
        for _ in range(attempts):
            assert self.proc.poll() is None, f"gardenos up exited early:\n{self.output()}"
            # Connection refused until the server listens: keep polling.
            with contextlib.suppress(httpx.TransportError):
                response = httpx.get(f"{self.url}/ready", timeout=2)
                if response.status_code == 200:
                    return response
            time.sleep(0.2)
        self.kill()
        raise AssertionError(f"gardenos up never became ready:\n{self.output()}")

    def wait_output(self, text: str, attempts: int = 600) -> None:
        """Until `text` appears in the output, at most ~2 minutes; fails if the process ends first."""
        for _ in range(attempts):
            if text in self.output():
                return
            assert self.proc.poll() is None, f"gardenos up exited before printing {text!r}:\n{self.output()}"
            time.sleep(0.2)
        raise AssertionError(f"gardenos up never printed {text!r}:\n{self.output()}")

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"gardenos up did not stop within 90 s of Ctrl-C:\n{self.output()}") from exc
        finally:
            self.out.close()

    def output(self) -> str:
        if not self.out.closed:
            self.out.flush()
        return self.log.read_text()

    def kill(self) -> None:
        """SIGKILL the `gardenos up` process alone, as the OOM killer or `kill -9` would."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


class UpProcess(GardenosUp):
    """`gardenos up` over the session database, ready when constructed."""

    def __init__(self, database: SessionDatabase, log: Path, **env: str) -> None:
        port = free_port()
        tokens = TokenService(database.settings, database.target.secrets.jwt_secret)
        self.anon_key = tokens.api_key("anon")
        super().__init__(
            ["--no-demo"],
            database.env()
            | {
                "GARDENOS_DATABASE_URL": database.owner_url,
                "GARDENOS_PORT": str(port),
                "GARDENOS_AI_EMBEDDER": "hashing",
                # The session's other servers count sign-ins from loopback too.
                **{f"GARDENOS_{name.upper()}": "100000" for name in RATE_LIMITS},
                **env,
            },
            port,
            log,
        )
        self.wait_ready()

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"apikey": self.anon_key} | ({"Authorization": f"Bearer {token}"} if token else {})
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def sign_in(self, email: str, password: str) -> str:
        with self.http() as http:
            response = http.post(
                "/auth/v1/token",
                params={"grant_type": "password"},
                json={"email": email, "password": password},
            )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token
