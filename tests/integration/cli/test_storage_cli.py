"""`gardenos storage`: buckets, ls, cp in and out, rm and usage, run as a user runs them (a subprocess over
the session's database and storage folder), checked against what the API serves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from tests.integration.cli.test_piped_output import Run, gardenos
from tests.live import Api, Member, agency_owner
from tests.support import SessionDatabase


@pytest.fixture(scope="module")
def owner(api: Api) -> Member:
    return agency_owner(api, "Storage CLI Agency")


def _storage(database: SessionDatabase, tmp_path: Path, owner: Member, *args: str) -> Run:
    return gardenos(database, tmp_path, "storage", *args, "--agency", owner.agency_id)


def test_cp_in_ls_cp_out_usage_and_rm(
    api: Api, owner: Member, database: SessionDatabase, tmp_path: Path
) -> None:
    with api.http(owner.access_token) as http:
        assert http.post("/storage/v1/bucket", json={"id": "cli-docs"}).status_code == 200
    local = tmp_path / "report.pdf"
    body = os.urandom(3 << 20)
    local.write_bytes(body)

    put = _storage(database, tmp_path, owner, "cp", str(local), "cli-docs/2026/report.pdf")
    assert put.returncode == 0, put.stderr
    with api.http(owner.access_token) as http:
        got = http.get("/storage/v1/object/cli-docs/2026/report.pdf")
    assert (got.status_code, got.content, got.headers["content-type"]) == (200, body, "application/pdf")
    again = _storage(database, tmp_path, owner, "cp", str(local), "cli-docs/2026/report.pdf")
    assert again.returncode == 1
    assert "exists" in again.stderr
    assert (
        _storage(
            database, tmp_path, owner, "cp", "--upsert", str(local), "cli-docs/2026/report.pdf"
        ).returncode
        == 0
    )

    top = _storage(database, tmp_path, owner, "buckets", "--json")
    assert [b["id"] for b in json.loads(top.stdout)] == ["cli-docs"]
    listed = _storage(database, tmp_path, owner, "ls", "cli-docs", "--json")
    assert [e["name"] for e in json.loads(listed.stdout)] == ["2026/"]
    listed = _storage(database, tmp_path, owner, "ls", "cli-docs/2026", "--json")
    assert [(e["name"], e["size"]) for e in json.loads(listed.stdout)] == [("2026/report.pdf", len(body))]
    table = _storage(database, tmp_path, owner, "ls", "cli-docs/2026/")
    assert "2026/report.pdf" in table.stdout

    out = tmp_path / "out"
    out.mkdir()
    fetched = _storage(database, tmp_path, owner, "cp", "cli-docs/2026/report.pdf", str(out))
    assert fetched.returncode == 0, fetched.stderr
    assert (out / "report.pdf").read_bytes() == body
    assert sorted(p.name for p in out.iterdir()) == ["report.pdf"], "no partial file left beside it"

    usage = _storage(database, tmp_path, owner, "usage", "--json")
    assert json.loads(usage.stdout) == [
        {
            "agency": usage_slug(api, owner),
            "bucket": "cli-docs",
            "public": False,
            "objects": 1,
            "bytes": len(body),
        }
    ]

    removed = _storage(database, tmp_path, owner, "rm", "cli-docs/2026/report.pdf")
    assert removed.returncode == 0, removed.stderr
    with api.http(owner.access_token) as http:
        assert http.get("/storage/v1/object/cli-docs/2026/report.pdf").status_code == 404
    missing = _storage(database, tmp_path, owner, "rm", "cli-docs/2026/report.pdf")
    assert missing.returncode == 1
    assert "no such object" in missing.stderr


def test_bad_paths_and_unknown_buckets_are_errors_a_person_can_act_on(
    owner: Member, database: SessionDatabase, tmp_path: Path
) -> None:
    local = tmp_path / "x.txt"
    local.write_text("x")
    for args, says in (
        (("cp", str(local), "cli-docs/../escape.txt"), "'..'"),
        (("ls", "no-such-bucket"), "Bucket not found"),
        (("cp", "no-such-bucket/x.txt", str(tmp_path / "y.txt")), "not found"),
    ):
        result = _storage(database, tmp_path, owner, *args)
        assert result.returncode == 1, (args, result.stderr)
        assert says in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "y.txt").exists()


def usage_slug(api: Api, owner: Member) -> str:
    with httpx.Client(base_url=api.url, headers={"apikey": api.anon_key}) as http:
        agencies = http.get("/api/v1/agencies", headers={"Authorization": f"Bearer {owner.access_token}"})
    return str(next(a["slug"] for a in agencies.json() if a["id"] == owner.agency_id))
