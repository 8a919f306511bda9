"""Every /rest/v1 request bounded (issue 14, finding 5): body sizes, JSON depth, query nesting, NUL and
invalid UTF-8, statement time and rows per answer, each answered with a 4xx (or a 504 for a statement
that ran out of time) that says what to change, never a 500 or an answer without end."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.live import Api, Mailbox, Member, agency_owner, serve
from tests.support import SessionDatabase

MAX_ROWS = 2


@pytest.fixture(scope="module")
def owner(api: Api) -> Member:
    member = agency_owner(api, "Bounded Rest Agency")
    with api.http(member.access_token) as http:
        created = http.post("/rest/v1/leads", json=[{"first_name": n} for n in ("Ann", "Bob", "Cy")])
    assert created.status_code == 201, created.text
    return member


@pytest.fixture(scope="module")
def bounded(database: SessionDatabase, mailbox: tuple[Mailbox, int]) -> Iterator[Api]:
    """A second API over the same database with a tiny max-rows cap and statement timeout for members."""
    yield from serve(
        database,
        mailbox,
        rest_max_rows=MAX_ROWS,
        statement_timeout_authenticated_s=0.2,
        max_csv_body_bytes=1024,
    )


@pytest.fixture(scope="module")
def counters(database: SessionDatabase) -> Iterator[None]:
    """Set-returning RPCs: of scalars and of rows."""
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION public.bounds_numbers(n integer) RETURNS SETOF integer "
            "LANGUAGE sql STABLE AS $$ SELECT generate_series(1, n) $$"
        )
        conn.execute(
            "CREATE FUNCTION public.bounds_pairs(n integer) RETURNS TABLE(i integer, sq integer) "
            "LANGUAGE sql STABLE AS $$ SELECT g, g * g FROM generate_series(1, n) AS g $$"
        )
        conn.execute("GRANT EXECUTE ON FUNCTION public.bounds_numbers(integer) TO authenticated")
        conn.execute("GRANT EXECUTE ON FUNCTION public.bounds_pairs(integer) TO authenticated")
        conn.execute("NOTIFY pgrst, 'reload schema'")
    yield
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        conn.execute("DROP FUNCTION public.bounds_numbers(integer)")
        conn.execute("DROP FUNCTION public.bounds_pairs(integer)")
        conn.execute("NOTIFY pgrst, 'reload schema'")


@pytest.fixture(scope="module")
def sleeper(database: SessionDatabase) -> Iterator[str]:
    """An RPC that takes as long as it is told to."""
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION public.bounds_sleep(seconds double precision) RETURNS integer "
            "LANGUAGE sql AS $$ SELECT 1 FROM pg_sleep(seconds) $$"
        )
        conn.execute("GRANT EXECUTE ON FUNCTION public.bounds_sleep(double precision) TO authenticated")
        conn.execute("NOTIFY pgrst, 'reload schema'")
    yield "bounds_sleep"
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        conn.execute("DROP FUNCTION public.bounds_sleep(double precision)")
        conn.execute("NOTIFY pgrst, 'reload schema'")


def _refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert words in response.json()["message"], response.text


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body sent chunked, without Content-Length: the server learns its size only by reading it."""
    yield b'{"p_rows": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


def test_json_body_nested_5000_deep_is_400(api: Api, owner: Member) -> None:
    body = '[{"first_name": "Deep", "custom_fields": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}]"
    with api.http(owner.access_token) as http:
        response = http.post("/rest/v1/leads", content=body, headers={"Content-Type": "application/json"})
    _refused(response, 400, "nested too deeply")


def test_select_json_path_5000_deep_is_400(api: Api, owner: Member) -> None:
    with api.http(owner.access_token) as http:
        response = http.get("/rest/v1/leads", params={"select": "custom_fields" + "->a" * 5000})
    assert response.status_code == 400, response.text
    assert "at most" in response.json()["details"]


def test_fts_with_3000_parentheses_is_400(api: Api, owner: Member) -> None:
    query = "fts." + "(" * 3000 + "cat" + ")" * 3000
    with api.http(owner.access_token) as http:
        response = http.get("/rest/v1/leads", params={"select": "id", "search_vector": query})
    assert response.status_code == 400, response.text
    assert "nested too deeply" in response.json()["details"]


def test_rpc_argument_of_5_mb_is_413(api: Api, owner: Member) -> None:
    body = b'{"seconds": "' + b"9" * (5 << 20) + b'"}'
    with api.http(owner.access_token) as http:
        response = http.post(
            "/rest/v1/rpc/anything", content=body, headers={"Content-Type": "application/json"}
        )
    _refused(response, 413, "too large")


def test_chunked_body_without_length_is_cut_off_at_the_limit(api: Api, owner: Member) -> None:
    with api.http(owner.access_token) as http:
        response = http.post(
            "/rest/v1/rpc/anything", content=_chunks(5 << 20), headers={"Content-Type": "application/json"}
        )
    _refused(response, 413, "too large")


def test_csv_body_over_its_limit_is_413(bounded: Api) -> None:
    member = agency_owner(bounded, "Bounded Csv Agency")
    with bounded.http(member.access_token) as http:
        small = http.post(
            "/rest/v1/leads", content=b"first_name\nSmall\n", headers={"Content-Type": "text/csv"}
        )
        assert small.status_code == 201, small.text
        big = b"first_name\n" + b"Big\n" * 1000
        response = http.post("/rest/v1/leads", content=big, headers={"Content-Type": "text/csv"})
    _refused(response, 413, "too large")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"first_name": "A\\u0000B"}'),
        ("application/json", b'{"first_name": "A\xffB"}'),
        ("application/json", b'{"first_name": "A\\ud800B"}'),
        ("text/csv", b"first_name\nA\x00B\n"),
        ("text/csv", b"first_name\nA\xffB\n"),
    ],
    ids=["json NUL escape", "json invalid UTF-8", "json lone surrogate", "csv NUL", "csv invalid UTF-8"],
)
def test_nul_and_invalid_text_in_bodies_are_400(
    api: Api, owner: Member, content_type: str, body: bytes
) -> None:
    with api.http(owner.access_token) as http:
        response = http.post("/rest/v1/leads", content=body, headers={"Content-Type": content_type})
        assert response.status_code == 400, response.text
        left = http.get("/rest/v1/leads", params={"select": "id", "first_name": "like.A*B"})
    assert left.json() == []


def test_escaped_backslash_before_u0000_is_text_not_nul(api: Api, owner: Member) -> None:
    with api.http(owner.access_token) as http:
        response = http.post(
            "/rest/v1/leads?select=first_name",
            content=b'{"first_name": "C:\\\\u0000"}',
            headers={"Content-Type": "application/json", "Prefer": "return=representation"},
        )
    assert response.status_code == 201, response.text
    assert response.json() == [{"first_name": "C:\\u0000"}]


@pytest.mark.parametrize(
    "query",
    ["select=id&first_name=eq.A%00B", "select=id&first_name=eq.A%FFB", "select=id&or=(first_name.eq.%00)"],
)
def test_nul_and_invalid_utf8_in_query_strings_are_400(api: Api, owner: Member, query: str) -> None:
    with api.http(owner.access_token) as http:
        response = http.get(f"/rest/v1/leads?{query}")
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("path", ["/rest/v1/le%00ads", "/rest/v1/le%FFads", "/rest/v1/rpc/x%00"])
def test_nul_and_invalid_utf8_in_paths_are_400(api: Api, owner: Member, path: str) -> None:
    with api.http(owner.access_token) as http:
        response = http.get(path)
    assert response.status_code == 400, response.text


def test_statement_past_its_timeout_is_504(bounded: Api, sleeper: str) -> None:
    member = agency_owner(bounded, "Bounded Timeout Agency")
    with bounded.http(member.access_token) as http:
        quick = http.post(f"/rest/v1/rpc/{sleeper}", json={"seconds": 0})
        assert quick.status_code == 200, quick.text
        response = http.post(f"/rest/v1/rpc/{sleeper}", json={"seconds": 30})
        assert response.status_code == 504, response.text
        assert response.json()["code"] == "57014"
        assert "statement_timeout" in response.json()["hint"].lower()
        # The connection went back to the pool clean: the next request on it works.
        again = http.post(f"/rest/v1/rpc/{sleeper}", json={"seconds": 0})
    assert again.status_code == 200, again.text


def test_read_without_limit_returns_at_most_max_rows(bounded: Api) -> None:
    member = agency_owner(bounded, "Bounded Rows Agency")
    with bounded.http(member.access_token) as http:
        http.post("/rest/v1/leads", json=[{"first_name": n} for n in ("Ann", "Bob", "Cy")])
        page = http.get("/rest/v1/leads", params={"select": "first_name", "order": "first_name"})
        assert page.status_code == 200, page.text
        assert [r["first_name"] for r in page.json()] == ["Ann", "Bob"]
        assert page.headers["content-range"] == f"0-{MAX_ROWS - 1}/*"

        counted = http.get(
            "/rest/v1/leads",
            params={"select": "first_name", "order": "first_name"},
            headers={"Prefer": "count=exact"},
        )
        assert counted.status_code == 206, counted.text
        assert counted.headers["content-range"] == f"0-{MAX_ROWS - 1}/3"

        # The client pages on from where the range ended.
        rest = http.get(
            "/rest/v1/leads", params={"select": "first_name", "order": "first_name"}, headers={"Range": "2-"}
        )
        assert [r["first_name"] for r in rest.json()] == ["Cy"]
        assert rest.headers["content-range"] == "2-2/*"

        asked = http.get(
            "/rest/v1/leads", params={"select": "first_name", "order": "first_name", "limit": "50"}
        )
        assert len(asked.json()) == MAX_ROWS
        one = http.get("/rest/v1/leads", params={"select": "first_name", "order": "first_name", "limit": "1"})
        assert [r["first_name"] for r in one.json()] == ["Ann"]

        csv = http.get(
            "/rest/v1/leads",
            params={"select": "first_name", "order": "first_name"},
            headers={"Accept": "text/csv"},
        )
        assert csv.text.splitlines() == ["first_name", "Ann", "Bob"]

        whole = http.get(
            "/rest/v1/leads",
            params={"select": "first_name"},
            headers={"Prefer": "count=exact", "Range": "0-2"},
        )
    assert len(whole.json()) == MAX_ROWS


def test_set_returning_rpc_returns_at_most_max_rows(api: Api, bounded: Api, counters: None) -> None:
    member = agency_owner(bounded, "Bounded Rpc Agency")
    with bounded.http(member.access_token) as http:
        numbers = http.get("/rest/v1/rpc/bounds_numbers", params={"n": "5"})
        assert numbers.status_code == 200, numbers.text
        assert numbers.json() == [1, 2]
        assert numbers.headers["content-range"] == "0-1/*"
        pairs = http.post("/rest/v1/rpc/bounds_pairs", json={"n": 5})
        assert pairs.json() == [{"i": 1, "sq": 1}, {"i": 2, "sq": 4}]
    with api.http(member.access_token) as http:
        # Under the default cap, the same calls answer whole.
        assert http.get("/rest/v1/rpc/bounds_numbers", params={"n": "5"}).json() == [1, 2, 3, 4, 5]
        assert len(http.post("/rest/v1/rpc/bounds_pairs", json={"n": 5}).json()) == 5


def _raw_get(api: Api, token: str, target: str) -> tuple[int, bytes]:
    """A GET over a plain socket: httpx refuses to send a query string this long, an attacker would not."""
    url = httpx.URL(api.url)
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {url.host}\r\napikey: {api.anon_key}\r\n"
        f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((url.host, url.port), timeout=60) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("operator", ["match", "imatch", "like", "ilike"])
def test_huge_patterns_end_in_bounded_time(api: Api, bounded: Api, owner: Member, operator: str) -> None:
    # 5 MB never reaches us: the HTTP parser refuses a request head past 80 KiB.
    status, _ = _raw_get(
        api, owner.access_token, f"/rest/v1/leads?select=id&first_name={operator}.{'(a*)*' * (1 << 20)}"
    )
    assert status == 400
    # What fits is matched, refused as a bad pattern, or cut off by the statement timeout: never a 500.
    member = agency_owner(bounded, f"Bounded Pattern Agency {operator}")
    with bounded.http(member.access_token) as http:
        http.post("/rest/v1/leads", json=[{"first_name": "a" * 200}])
    pattern = "(a*)*" * 12_000 + "b"
    status, body = _raw_get(
        bounded, member.access_token, f"/rest/v1/leads?select=id&first_name={operator}.{pattern}"
    )
    assert status in (200, 400, 504), body[:300]
