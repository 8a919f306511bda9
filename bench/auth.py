"""Sign-in latency and token-verify cost.

- Sign-in: sequential `POST /auth/v1/token?grant_type=password` against a real server on loopback;
  baseline in the same run: one argon2id verify with the same parameters (the floor a sign-in pays).
- Token verify: resolving a request's caller (apikey + bearer: two JWT verifications); baseline in the
  same run: the bare HMAC-SHA256 over the same token bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import statistics
import threading
import time

import httpx
import uvicorn
from rich.console import Console
from rich.table import Table
from starlette.requests import Request

from bench.support import percentile, private_database
from gardenos.api.app import create_app
from gardenos.api.server import server_config
from gardenos.auth.passwords import hash_password, hasher, verify_password
from gardenos.auth.principal import resolve_principal
from gardenos.auth.tokens import TokenService
from gardenos.embedded.postgres import free_port

SIGN_INS = 40
VERIFIES = 20_000


def run() -> None:
    console = Console()
    params = hasher()
    stored = hash_password("bench-password-123")
    floor = []
    for _ in range(SIGN_INS):
        started = time.perf_counter()
        verify_password(stored, "bench-password-123")
        floor.append((time.perf_counter() - started) * 1000)

    with private_database(
        mailer_autoconfirm=True,
        rate_limit_token_per_ip=10**6,
        rate_limit_token_per_email=10**6,
        ai_workers=False,
    ) as target:
        port = free_port()
        server = uvicorn.Server(
            server_config(
                create_app(target), target.settings, host="127.0.0.1", port=port, log_level="warning"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        tokens = TokenService(target.settings, target.secrets.jwt_secret)
        anon = tokens.api_key("anon")
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"apikey": anon}) as http:
            http.post(
                "/auth/v1/signup", json={"email": "bench@example.com", "password": "bench-password-123"}
            )
            latencies = []
            for _ in range(SIGN_INS):
                started = time.perf_counter()
                response = http.post(
                    "/auth/v1/token",
                    params={"grant_type": "password"},
                    json={"email": "bench@example.com", "password": "bench-password-123"},
                )
                latencies.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            access = response.json()["access_token"]
        server.should_exit = True
        thread.join()

    scope = {
        "type": "http",
        "headers": [(b"apikey", anon.encode()), (b"authorization", f"Bearer {access}".encode())],
        "query_string": b"",
        "app": type("App", (), {"state": type("State", (), {"tokens": tokens})()})(),
    }
    request = Request(scope)
    started = time.perf_counter()
    for _ in range(VERIFIES):
        resolve_principal(request)
    principal_us = (time.perf_counter() - started) / VERIFIES * 1e6
    started = time.perf_counter()
    for _ in range(VERIFIES):
        tokens._verify_uncached(access)
    uncached_us = (time.perf_counter() - started) / VERIFIES * 1e6
    secret = target.secrets.jwt_secret.encode()
    started = time.perf_counter()
    for _ in range(VERIFIES):
        for token in (anon, access):
            hmac.new(secret, token.encode(), hashlib.sha256).digest()
    hmac_us = (time.perf_counter() - started) / VERIFIES * 1e6

    table = Table(
        title=f"auth (argon2id t={params.time_cost}, m={params.memory_cost} KiB, p={params.parallelism})"
    )
    for column in ("what", "p50", "p95", "mean"):
        table.add_column(column, justify="right" if column != "what" else "left")
    table.add_row(
        "sign-in over HTTP (ms)",
        f"{percentile(latencies, 50):.1f}",
        f"{percentile(latencies, 95):.1f}",
        f"{statistics.mean(latencies):.1f}",
    )
    table.add_row(
        "baseline: argon2id verify alone (ms)",
        f"{percentile(floor, 50):.1f}",
        f"{percentile(floor, 95):.1f}",
        f"{statistics.mean(floor):.1f}",
    )
    table.add_row("caller resolution, apikey + bearer (µs/request)", "", "", f"{principal_us:.1f}")
    table.add_row("first sight of a user token: full JWT verify (µs)", "", "", f"{uncached_us:.1f}")
    table.add_row("baseline: bare HMAC-SHA256 of both tokens (µs)", "", "", f"{hmac_us:.1f}")
    console.print(table)
