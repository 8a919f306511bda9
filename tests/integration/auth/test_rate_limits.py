"""Brute force on /token, and floods of sign-ups and mails, hit 429 with Retry-After within the limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import Api, Mailbox, serve, unique_email
from tests.support import SessionDatabase

LIMIT = 5


@pytest.fixture
def strict_api(
    database: SessionDatabase, mailbox: tuple[Mailbox, int], clear_rate_limits: None
) -> Iterator[Api]:
    yield from serve(
        database,
        mailbox,
        rate_limit_token_per_ip=LIMIT * 4,
        rate_limit_token_per_email=LIMIT,
        rate_limit_email_sent_per_email=2,
    )


def test_password_guessing_for_one_account_is_stopped(strict_api: Api) -> None:
    address, password = strict_api.confirmed_user()
    statuses = []
    with strict_api.http() as http:
        for attempt in range(LIMIT + 1):
            response = http.post(
                "/auth/v1/token",
                params={"grant_type": "password"},
                json={"email": address, "password": f"guess-{attempt}"},
            )
            statuses.append(response.status_code)
        assert statuses == [400] * LIMIT + [429]
        assert int(response.headers["Retry-After"]) > 0
        assert response.json()["error_code"] == "over_request_rate_limit"
        # Even the right password waits out the window: the guesser cannot tell it was right.
        right = http.post(
            "/auth/v1/token", params={"grant_type": "password"}, json={"email": address, "password": password}
        )
        assert right.status_code == 429


def test_guessing_across_accounts_from_one_address_is_stopped(strict_api: Api) -> None:
    statuses = []
    with strict_api.http() as http:
        for _ in range(LIMIT * 4 + 1):
            response = http.post(
                "/auth/v1/token",
                params={"grant_type": "password"},
                json={"email": unique_email("spray"), "password": "Winter2026!"},
            )
            statuses.append(response.status_code)
    assert statuses[-1] == 429
    assert statuses.count(400) == LIMIT * 4


def test_mails_to_one_address_are_limited(strict_api: Api) -> None:
    address, _ = strict_api.confirmed_user()
    with strict_api.http() as http:
        statuses = [http.post("/auth/v1/recover", json={"email": address}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    # Recovery mails leave after the answer: wait for the two, then no third may have come.
    assert strict_api.mailbox.count_to(address, at_least=2) == 2


def test_a_forged_x_forwarded_for_gets_no_fresh_budget(strict_api: Api) -> None:
    """No proxy is trusted by default: a client that writes its own `X-Forwarded-For` is still counted
    under the address it connects from."""
    statuses = []
    with strict_api.http() as http:
        for attempt in range(LIMIT * 4 + 1):
            response = http.post(
                "/auth/v1/token",
                params={"grant_type": "password"},
                json={"email": unique_email("spoof"), "password": "Winter2026!"},
                headers={"X-Forwarded-For": f"203.0.113.{attempt + 1}"},
            )
            statuses.append(response.status_code)
    assert statuses == [400] * (LIMIT * 4) + [429]


@pytest.fixture
def proxied_api(
    database: SessionDatabase, mailbox: tuple[Mailbox, int], clear_rate_limits: None
) -> Iterator[Api]:
    yield from serve(database, mailbox, trusted_proxies=["127.0.0.1"], rate_limit_token_per_ip=LIMIT)


def test_a_trusted_proxy_gives_each_client_its_own_budget(proxied_api: Api) -> None:
    """Behind a configured proxy (here: loopback), the address it forwards is the one counted, and an
    address the client put in front of it is not believed."""

    def sign_in(forwarded_for: str) -> int:
        with proxied_api.http() as http:
            return http.post(
                "/auth/v1/token",
                params={"grant_type": "password"},
                json={"email": unique_email("proxied"), "password": "Winter2026!"},
                headers={"X-Forwarded-For": forwarded_for},
            ).status_code

    # The client forged 198.51.100.n; the proxy appended the address it saw, 203.0.113.9.
    first = [sign_in(f"198.51.100.{n}, 203.0.113.9") for n in range(LIMIT + 1)]
    assert first == [400] * LIMIT + [429]
    assert sign_in("203.0.113.10") == 400, "another client behind the proxy has its own budget"
