"""Every /api/v1, /ai and /auth/v1 request bounded (issue 14, finding 5): NUL and invalid UTF-8 anywhere
in a request are 400 (PostgreSQL text cannot hold NUL: these were 500s), bodies past their size 413
(also when sent chunked, without Content-Length), JSON nested too deeply 400."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from starlette.requests import Request

from gardenos.api import errors
from tests.live import Api, Member, agency_owner
from tests.support import SessionDatabase


@pytest.fixture(scope="module")
def member(api: Api) -> Member:
    return agency_owner(api, "Bounded Api Agency")


def _refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert words in response.json()["message"], response.text


def test_nul_in_search_query_is_400(api: Api, member: Member) -> None:
    with api.http(member.access_token) as http:
        response = http.get("/api/v1/search", params={"q": "garden\x00tools"})
    _refused(response, 400, "NUL")


def test_nul_in_memory_content_is_400(api: Api, member: Member) -> None:
    with api.http(member.access_token) as http:
        response = http.post("/ai/memory", json={"subject_type": "agency", "content": "likes \x00 tea"})
        assert response.status_code == 400, response.text
        assert "NUL" in response.json()["message"]
        kept = http.get("/ai/memory")
    assert all("tea" not in m["content"] for m in kept.json())


def test_nul_in_agency_name_is_400(api: Api, member: Member) -> None:
    with api.http(member.access_token) as http:
        response = http.post("/api/v1/agencies", json={"name": "Nul\x00Agency"})
    _refused(response, 400, "NUL")


def test_nul_in_auth_body_is_400_in_gotrue_shape(api: Api) -> None:
    with api.http() as http:
        response = http.post(
            "/auth/v1/token",
            params={"grant_type": "password"},
            json={"email": "a\x00@b.example", "password": "x"},
        )
    assert response.status_code == 400, response.text
    assert "NUL" in response.json()["msg"]


@pytest.mark.parametrize(
    "target",
    ["/api/v1/search?q=caf%E9", "/api/v1/leads/%00", "/api/v1/le%FFads", "/api/v1/search?q=a&x%00=1"],
)
def test_nul_and_invalid_utf8_in_the_request_target_are_400(api: Api, member: Member, target: str) -> None:
    with api.http(member.access_token) as http:
        response = http.get(target)
    assert response.status_code == 400, response.text


def test_nul_in_a_header_we_read_is_400(api: Api, member: Member) -> None:
    with api.http(member.access_token) as http:
        response = http.get("/api/v1/leads", headers={"Prefer": b"count=exact\xff"})  # type: ignore[dict-item]
    assert response.status_code == 400, response.text


def test_json_nested_5000_deep_is_400(api: Api, member: Member) -> None:
    body = '{"name": "Deep", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    with api.http(member.access_token) as http:
        response = http.post("/api/v1/agencies", content=body, headers={"Content-Type": "application/json"})
    _refused(response, 400, "nested too deeply")


def test_json_body_past_the_limit_is_413(api: Api, member: Member) -> None:
    body = b'{"first_name": "' + b"x" * (2 << 20) + b'"}'
    with api.http(member.access_token) as http:
        response = http.post("/api/v1/leads", content=body, headers={"Content-Type": "application/json"})
    _refused(response, 413, "too large")
    assert "GARDENOS_MAX_BODY_BYTES" in (response.json()["hint"] or "")


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"first_name": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


def test_chunked_json_body_without_length_is_cut_off(api: Api, member: Member) -> None:
    with api.http(member.access_token) as http:
        response = http.post(
            "/api/v1/leads", content=_chunks(4 << 20), headers={"Content-Type": "application/json"}
        )
    _refused(response, 413, "too large")


def _database_error(database: SessionDatabase, statement: str) -> psycopg.Error:
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        try:
            conn.execute(statement)
        except psycopg.Error as exc:
            return exc
    raise AssertionError(f"{statement} did not fail")


def _request(path: str) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": path,
        "headers": [],
        "query_string": b"",
    }
    return Request(scope)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("statement", "sqlstate"),
    [
        # PostgreSQL's own refusals of text it cannot store.
        ("SELECT convert_from('\\xff'::bytea, 'UTF8')", "22021"),
        ("SELECT '\"\\u0000\"'::jsonb", "22P05"),
    ],
)
async def test_untranslatable_text_from_the_database_is_400(
    database: SessionDatabase, statement: str, sqlstate: str
) -> None:
    exc = _database_error(database, statement)
    assert exc.sqlstate == sqlstate
    response = await errors._database_error(_request("/api/v1/leads"), exc)
    assert response.status_code == 400


@pytest.mark.anyio
async def test_nul_refused_by_the_driver_is_400(database: SessionDatabase) -> None:
    # psycopg refuses a NUL in a text parameter before sending it, with no SQLSTATE: the last line of
    # defence behind the request checks.
    with (
        psycopg.connect(database.owner_url, autocommit=True) as conn,
        pytest.raises(psycopg.DataError) as caught,
    ):
        conn.execute("SELECT %s::text", ("a\x00b",))
    assert caught.value.sqlstate is None
    response = await errors._database_error(_request("/api/v1/leads"), caught.value)
    assert response.status_code == 400
    assert b"NUL" in bytes(response.body)
