"""Imports, AI requests and searches are counted per user and per client address: past the limit, 429
with `Retry-After` and a message that says what was counted."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.live import Api, Mailbox, Member, agency_owner, serve
from tests.support import SessionDatabase

PER_USER = 3
PER_IP = 5


@pytest.fixture(scope="module")
def costly_api(database: SessionDatabase, mailbox: tuple[Mailbox, int]) -> Iterator[Api]:
    limits = {
        f"rate_limit_{cost}_per_{who}": n
        for cost in ("import", "ai", "search")
        for who, n in (("user", PER_USER), ("ip", PER_IP))
    }
    yield from serve(database, mailbox, ai_embedder="hashing", **limits)


def _upload(http: httpx.Client) -> httpx.Response:
    return http.post("/api/v1/imports", files={"file": ("one.csv", b"email\none@example.com\n", "text/csv")})


def _task(http: httpx.Client) -> httpx.Response:
    return http.post("/ai/tasks", json={"agent_type": "echo", "payload": {"n": 1}})


def _search(http: httpx.Client) -> httpx.Response:
    return http.get("/api/v1/search", params={"q": "gardening"})


def _lead_search(http: httpx.Client) -> httpx.Response:
    return http.get("/api/v1/leads", params={"q": "gardening"})


@pytest.mark.parametrize(
    ("call", "ok", "what"),
    [
        (_upload, 202, "imports"),
        (_task, 202, "AI requests"),
        (_search, 200, "searches"),
        (_lead_search, 200, "searches"),
    ],
)
def test_costly_routes_are_limited_per_user_then_per_address(
    costly_api: Api,
    clear_rate_limits: None,
    call: Callable[[httpx.Client], httpx.Response],
    ok: int,
    what: str,
) -> None:
    first, second = agency_owner(costly_api, "Costly A"), agency_owner(costly_api, "Costly B")

    def statuses(member: Member, n: int) -> list[httpx.Response]:
        with costly_api.http(member.access_token) as http:
            return [call(http) for _ in range(n)]

    answers = statuses(first, PER_USER + 1)
    assert [r.status_code for r in answers] == [ok] * PER_USER + [429], answers[-1].text
    refused = answers[-1]
    assert int(refused.headers["Retry-After"]) > 0
    assert f"too many {what} by this user" in refused.json()["message"]
    # Another user from the same address has their own budget, until the address's runs out.
    answers = statuses(second, PER_IP - PER_USER)
    assert [r.status_code for r in answers] == [ok] * (PER_IP - PER_USER - 1) + [429]
    assert f"too many {what} from this address" in answers[-1].json()["message"]


def test_a_plain_list_is_not_a_search(costly_api: Api, clear_rate_limits: None) -> None:
    member = agency_owner(costly_api, "Lister")
    with costly_api.http(member.access_token) as http:
        assert {http.get("/api/v1/leads").status_code for _ in range(PER_USER + 2)} == {200}
