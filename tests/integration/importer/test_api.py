"""/api/v1/imports over a real server: upload, watch, error report, revert; refusals are 4xx."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.live import Api, Mailbox, Member, agency_owner, serve
from tests.support import SessionDatabase
from tests.unit.importer.corpus import DATA


def wait_for(http: httpx.Client, import_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body: dict[str, Any] = http.get(f"/api/v1/imports/{import_id}").json()
        if body["status"] in ("succeeded", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError("the import did not finish")


@pytest.fixture(scope="module")
def member(api: Api) -> Member:
    return agency_owner(api, "Importers")


def test_upload_watch_errors_and_revert(api: Api, member: Member) -> None:
    with api.http(member.access_token) as http:
        response = http.post(
            "/api/v1/imports",
            params={"on_duplicate": "merge"},
            files={"file": ("dirty.csv", (DATA / "dirty.csv").read_bytes(), "text/csv")},
        )
        assert response.status_code == 202, response.text
        created = response.json()
        assert created["status"] in ("pending", "running", "succeeded")
        done = wait_for(http, created["id"])
        assert done["status"] == "succeeded", done
        # The row with a valid email and a phone that is no number is imported, with a warning.
        assert (done["rows_total"], done["rows_imported"], done["rows_invalid"]) == (7, 2, 4)
        assert done["rows_warned"] == 1
        assert done["detected"]["delimiter"] == "comma"

        report = http.get(f"/api/v1/imports/{created['id']}/errors")
        assert report.status_code == 200
        assert report.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(report.text)))
        assert rows[0] == ["line", "column", "reason", "row"]
        assert [r[0] for r in rows[1:]] == ["3", "4", "5", "8"]
        assert rows[1][1] == "email"
        warnings = list(csv.reader(io.StringIO(http.get(f"/api/v1/imports/{created['id']}/warnings").text)))
        assert [(r[0], r[1], r[3]) for r in warnings[1:]] == [("6", "phone", "+1 555")]

        leads = http.get("/api/v1/leads", params={"q": "ok@example.com"}).json()["items"]
        assert [lead["email"] for lead in leads] == ["ok@example.com"]
        reverted = http.post(f"/api/v1/imports/{created['id']}/revert")
        assert reverted.status_code == 200, reverted.text
        assert reverted.json()["leads_deleted"] == 2
        assert http.get("/api/v1/leads", params={"q": "ok@example.com"}).json()["items"] == []
        again = http.post(f"/api/v1/imports/{created['id']}/revert")
        assert again.status_code == 409


def test_an_imports_report_is_kept_with_the_agencys_files(api: Api, member: Member) -> None:
    """POST …/reports stores the error report (and the warnings) in the agency's private `attachments`
    bucket, the same CSV as GET …/errors, readable through /storage/v1; another agency gets neither."""
    with api.http(member.access_token) as http:
        response = http.post(
            "/api/v1/imports", files={"file": ("dirty.csv", (DATA / "dirty.csv").read_bytes(), "text/csv")}
        )
        assert response.status_code == 202, response.text
        import_id = response.json()["id"]
        assert wait_for(http, import_id)["status"] == "succeeded"
        for level, name in (("error", "errors"), ("warning", "warnings")):
            stored = http.post(f"/api/v1/imports/{import_id}/reports", params={"level": level})
            assert stored.status_code == 201, stored.text
            assert (stored.json()["bucket"], stored.json()["path"]) == (
                "attachments",
                f"imports/{import_id}/{name}.csv",
            )
            kept = http.get(f"/storage/v1/object/attachments/imports/{import_id}/{name}.csv")
            assert kept.status_code == 200, kept.text
            assert kept.headers["content-type"].startswith("text/csv")
            assert kept.text == http.get(f"/api/v1/imports/{import_id}/{name}").text
        assert len(list(csv.reader(io.StringIO(kept.text)))) == 2  # the header and the one warning
        # Stored again: replaced, not refused.
        assert http.post(f"/api/v1/imports/{import_id}/reports").status_code == 201
    other = agency_owner(api, "Report Readers")
    with api.http(other.access_token) as http:
        assert http.post(f"/api/v1/imports/{import_id}/reports").status_code == 404
        theirs = http.get(f"/storage/v1/object/attachments/imports/{import_id}/errors.csv")
        assert theirs.status_code in (400, 404), theirs.text


def test_a_bad_file_fails_with_its_reason(api: Api, member: Member) -> None:
    with api.http(member.access_token) as http:
        created = http.post(
            "/api/v1/imports", files={"file": ("x.bin", (DATA / "binary.csv").read_bytes(), "text/csv")}
        ).json()
        done = wait_for(http, created["id"])
    assert done["status"] == "failed"
    assert "not text" in done["error"]


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"content": b"email\nx@example.com\n"}, 400, "multipart/form-data"),
        ({"files": {"other": ("a.csv", b"email\n", "text/csv")}}, 400, "no `file` part"),
        (
            {"files": {"file": ("a.csv", b"email\n")}, "data": {"mapping": "columns: [nope]"}},
            422,
            "unknown field",
        ),
        ({"files": {"file": ("a.csv", b"email\n")}, "params": {"on_duplicate": "replace"}}, 422, ""),
        (  # cut off on the way: no closing boundary
            {
                "content": b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
                b"email\nx@example.com\n",
                "headers": {"content-type": "multipart/form-data; boundary=b"},
            },
            400,
            "closing boundary",
        ),
    ],
)
def test_bad_uploads_are_4xx(
    api: Api, member: Member, kwargs: dict[str, Any], status: int, message: str
) -> None:
    with api.http(member.access_token) as http:
        response = http.post("/api/v1/imports", **kwargs)
    assert response.status_code == status, response.text
    assert message in response.text


def test_missing_or_foreign_imports_are_404(api: Api, member: Member) -> None:
    with api.http(member.access_token) as http:
        for path in ("", "/errors"):
            assert http.get(f"/api/v1/imports/00000000-0000-7000-8000-000000000000{path}").status_code == 404
        assert http.post("/api/v1/imports/00000000-0000-7000-8000-000000000000/revert").status_code == 404


@pytest.fixture(scope="module")
def small_api(database: SessionDatabase, mailbox: tuple[Mailbox, int]) -> Iterator[Api]:
    yield from serve(database, mailbox, import_max_bytes=1000)


def test_an_upload_over_the_limit_is_refused_while_streaming(small_api: Api) -> None:
    member = agency_owner(small_api, "Small")

    def body() -> Iterator[bytes]:  # chunked, no Content-Length: only the stream can tell
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
        for _ in range(100):
            yield b"email\n" + b"x@example.com\n" * 100

    with small_api.http(member.access_token) as http:
        response = http.post(
            "/api/v1/imports", content=body(), headers={"content-type": "multipart/form-data; boundary=b"}
        )
    assert response.status_code == 413
    assert "GARDENOS_IMPORT_MAX_BYTES" in response.text


@pytest.mark.parametrize("setting", ["gardenos.audit", "gardenos.subscriptions", "gardenos.writer"])
def test_an_api_caller_cannot_turn_the_bulk_switches_off(api: Api, member: Member, setting: str) -> None:
    """The importer turns row-by-row auditing and subscriptions off in its own transaction (SET LOCAL);
    an API caller runs no SQL of its own: /rest/v1/rpc reaches only `public`'s functions, not set_config,
    and a lead written through the API is audited."""
    with api.http(member.access_token) as http:
        for name in ("set_config", "pg_catalog.set_config"):
            args = {"setting_name": setting, "new_value": "off", "is_local": False}
            response = http.post(f"/rest/v1/rpc/{name}", json=args)
            assert response.status_code == 404, response.text
        created = http.post(
            "/rest/v1/leads", json={"first_name": "Audited"}, headers={"Prefer": "return=representation"}
        )
        assert created.status_code == 201, created.text
        lead_id = created.json()[0]["id"]
    with psycopg.connect(api.owner_url) as conn:
        audited = conn.execute(
            "SELECT count(*) FROM audit_log WHERE record_id = %s AND action = 'insert'", (lead_id,)
        ).fetchone()
    assert audited == (1,)


def test_members_read_imports_but_only_the_importer_writes_them(api: Api, member: Member) -> None:
    """Through /rest/v1 a member sees its agency's imports, and can neither forge one, change one (its
    outcome, or the upload a pending import would read) nor delete one: each is refused with the way in."""
    with api.http(member.access_token) as http:
        response = http.post(
            "/api/v1/imports",
            files={
                "file": ("two.csv", b"first_name,email\nAda,ada@example.com\nBo,bo@example.com\n", "text/csv")
            },
        )
        assert response.status_code == 202, response.text
        import_id = response.json()["id"]
        done = wait_for(http, import_id)
        assert done["status"] == "succeeded", done
        listed = http.get(f"/rest/v1/imports?id=eq.{import_id}&select=id,status,rows_imported")
        assert listed.json() == [{"id": import_id, "status": "succeeded", "rows_imported": 2}]
        attempts = [
            http.patch(f"/rest/v1/imports?id=eq.{import_id}", json={"status": "pending"}),
            http.patch(f"/rest/v1/imports?id=eq.{import_id}", json={"file_path": "/etc/passwd"}),
            http.patch(f"/rest/v1/imports?id=eq.{import_id}", json={"rows_imported": 1000}),
            http.delete(f"/rest/v1/imports?id=eq.{import_id}"),
            http.post("/rest/v1/imports", json={"filename": "forged.csv", "status": "succeeded"}),
        ]
        for refused in attempts:
            assert refused.status_code == 403, refused.text
            assert "written by the importer only" in refused.json()["message"]
            assert "/api/v1/imports" in refused.json()["hint"]
        after = http.get("/rest/v1/imports?select=id,status,rows_imported,filename").json()
        kept = [row for row in after if row["id"] == import_id]
        assert kept == [listed.json()[0] | {"filename": "two.csv"}]
        assert "forged.csv" not in [row["filename"] for row in after]
        # The importer's own doors still write it.
        reverted = http.post(f"/api/v1/imports/{import_id}/revert")
        assert reverted.status_code == 200, reverted.text
        assert http.get(f"/api/v1/imports/{import_id}").json()["status"] == "reverted"


def test_phones_without_a_country_code_are_read_in_the_agencys_region(api: Api) -> None:
    german = agency_owner(api, "Berliner Agentur")
    with psycopg.connect(api.owner_url, autocommit=True) as owner:
        owner.execute(
            'UPDATE agencies SET settings = settings || \'{"phone_region": "DE"}\' WHERE id = %s',
            (german.agency_id,),
        )
    body = "Vorname;Nachname;Telefon\nZoë;Müller;030 1234567\n".encode()
    with api.http(german.access_token) as http:
        created = http.post("/api/v1/imports", files={"file": ("de.csv", body, "text/csv")})
        assert created.status_code == 202, created.text
        done = wait_for(http, created.json()["id"])
        assert done["options"]["default_region"] == "DE"
        phones = http.get("/rest/v1/leads?select=phone&last_name=eq.Müller").json()
    assert phones == [{"phone": "+49301234567"}]


def test_possible_duplicates_are_listed_and_imported_custom_fields_are_editable(api: Api) -> None:
    owner = agency_owner(api, "Switchboard Agency")
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE agencies SET settings = settings || "
            '\'{"custom_fields": {"leads": {"tier": {"type": "text"}}}}\' WHERE id = %s',
            (owner.agency_id,),
        )
    body = (
        b"first_name,last_name,email,phone,Kunden-Nr\n"
        b"Ann,Lee,ann@acme.example,+49 30 1234567,K-1\n"
        b"Bob,Kay,bob@acme.example,+49 30 1234567,K-2\n"
    )
    with api.http(owner.access_token) as http:
        created = http.post(
            "/api/v1/imports", params={"match": "email"}, files={"file": ("s.csv", body, "text/csv")}
        )
        assert created.status_code == 202, created.text
        done = wait_for(http, created.json()["id"])
        assert (done["rows_imported"], done["rows_possible_duplicate"]) == (2, 1)
        assert done["options"]["match"] == ["email"]
        assert done["detected"]["custom_fields_defined"] == ["kunden_nr"]
        possible = http.get(f"/api/v1/imports/{done['id']}/possible-duplicates")
        assert possible.status_code == 200, possible.text
        [pair] = possible.json()
        assert (pair["line"], pair["reason"], pair["match_kind"]) == (3, "phone", "lead")
        assert (pair["lead"]["email"], pair["match"]["email"]) == ("bob@acme.example", "ann@acme.example")
        patched = http.patch(
            f"/api/v1/leads/{pair['lead']['id']}",
            json={"custom_fields": {"kunden_nr": "K-3", "tier": "gold"}},
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["custom_fields"] == {"kunden_nr": "K-3", "tier": "gold"}
        refused = http.post(
            "/api/v1/imports", params={"match": "fuzzy"}, files={"file": ("s.csv", body, "text/csv")}
        )
        assert refused.status_code == 422, refused.text
