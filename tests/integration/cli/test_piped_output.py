"""Output a user can pipe: written to a file, nothing a command prints is wrapped or cut, and a script
reads the reports as JSON.

Every command runs as `gardenos … > file` does, with COLUMNS=80 exported as a shell exports it: the
width of the terminal around the pipe must not shape what goes into the file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
import psycopg
import pytest

from gardenos.agents.kinds import AGENTS
from gardenos.db.migrate import latest_version
from gardenos.db.migrate import status as migration_status
from gardenos.demo.agency import ensure_agency
from gardenos.mail.mailer import OutboxMailer
from gardenos.mail.templates import compose
from gardenos.secrets import load_or_create
from tests.live import Api, agency_owner
from tests.support import SessionDatabase

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Longer than 80 columns on its own: wrapped, it would not be found whole on any line.
LONG_NAME = "leads-from-the-spring-trade-fair-in-hamburg-" + "and-the-partner-agencies-newsletter-" * 3


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def gardenos(database: SessionDatabase, tmp_path: Path, *args: str) -> Run:
    """`gardenos ARGS > file`: stdout to a file, stderr kept apart."""
    out = tmp_path / f"stdout-{uuid.uuid4().hex[:8]}"
    with out.open("w") as f:
        result = subprocess.run(
            [sys.executable, "-m", "gardenos", *args],
            env={**database.env(), "COLUMNS": "80"},
            stdout=f,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=300,
            check=False,
        )
    return Run(result.returncode, out.read_text(), result.stderr)


def _role(database: SessionDatabase, key: str) -> str:
    """The key's role, once its signature checks out against the project secret."""
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", key), key
    secret = load_or_create(database.settings).jwt_secret
    claims = jwt.decode(key, secret, algorithms=[database.settings.jwt_algorithm])
    return str(claims["role"])


def test_keys_written_to_a_file_are_name_value_lines_of_whole_jwts(
    database: SessionDatabase, tmp_path: Path
) -> None:
    result = gardenos(database, tmp_path, "keys")
    assert result.returncode == 0, result.stderr
    pairs = dict(line.split("=", 1) for line in result.lines())
    assert set(pairs) == {"GARDENOS_URL", "GARDENOS_ANON_KEY", "GARDENOS_SERVICE_ROLE_KEY"}, result.stdout
    assert pairs["GARDENOS_URL"] == database.settings.external_url
    assert _role(database, pairs["GARDENOS_ANON_KEY"]) == "anon"
    assert _role(database, pairs["GARDENOS_SERVICE_ROLE_KEY"]) == "service_role"
    assert "secret" in result.stderr  # the warning is for the person, not for the file


def test_keys_anon_and_service_role_print_the_bare_key(database: SessionDatabase, tmp_path: Path) -> None:
    for flag, role in (("--anon", "anon"), ("--service-role", "service_role")):
        result = gardenos(database, tmp_path, "keys", flag)
        assert result.returncode == 0, result.stderr
        [key] = result.lines()
        assert result.stdout == key + "\n"
        assert _role(database, key) == role

    both = gardenos(database, tmp_path, "keys", "--anon", "--service-role")
    assert both.returncode == 1
    assert "one of" in both.stderr
    assert both.stdout == ""


def test_keys_json_is_kept(database: SessionDatabase, tmp_path: Path) -> None:
    result = gardenos(database, tmp_path, "keys", "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["url"] == database.settings.external_url
    assert _role(database, found["anon"]) == "anon"
    assert _role(database, found["service_role"]) == "service_role"


def _leads_csv(tmp_path: Path, tag: str) -> Path:
    path = tmp_path / f"{LONG_NAME}{tag}.csv"
    rows = [f"Person,N{i},p{i}-{tag}@example.com" for i in range(30)]
    rows += ["Bad,Email,not-an-email", "Worse,Email,two@@example.com", f"Person,N0,p0-{tag}@example.com"]
    path.write_text("first_name,last_name,email\n" + "\n".join(rows) + "\n")
    return path


def test_an_import_report_written_to_a_file_is_whole_and_its_id_reverts(
    database: SessionDatabase, api: Api, tmp_path: Path
) -> None:
    member = agency_owner(api, "The Spring Trade Fair And Partner Newsletter Agency Of Hamburg")
    path = _leads_csv(tmp_path, "a")
    result = gardenos(database, tmp_path, "import", "leads", str(path), "--agency", member.agency_id)
    assert result.returncode == 0, result.stderr

    lines = result.lines()
    [headline] = [line for line in lines if line.startswith("import ")]
    [import_id] = UUID.findall(headline)
    assert any(path.name in line for line in lines), result.stdout
    [errors_line] = [line for line in lines if "error report" in line]
    assert "not-an-email" in Path(errors_line.split()[-1]).read_text()
    assert f"revert with: POST /api/v1/imports/{import_id}/revert" in lines
    # The progress, on stderr, is whole as well: its last state on one line.
    assert re.search(r"33 rows .* 31 valid +2 invalid +1 duplicate", result.stderr), result.stderr

    with api.http(member.access_token) as http:
        reverted = http.post(f"/api/v1/imports/{import_id}/revert")
    assert reverted.status_code == 200, reverted.text
    assert reverted.json()["leads_deleted"] == 30


def test_the_import_report_as_json(database: SessionDatabase, api: Api, tmp_path: Path) -> None:
    member = agency_owner(api, "Json Importers")
    path = _leads_csv(tmp_path, "b")
    result = gardenos(
        database, tmp_path, "import", "leads", str(path), "--agency", member.agency_id, "--json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded"
    assert report["filename"] == path.name
    assert report["dry_run"] is False
    assert (report["rows_total"], report["rows_imported"], report["rows_invalid"]) == (33, 30, 2)
    assert (report["rows_updated"], report["rows_duplicate"]) == (0, 1)
    assert report["detected"]["delimiter"] == "comma"
    assert "not-an-email" in Path(report["errors_file"]).read_text()
    assert report["revert"] == f"/api/v1/imports/{report['id']}/revert"
    with api.http(member.access_token) as http:
        assert http.get(f"/api/v1/imports/{report['id']}").json()["rows_imported"] == 30


def test_db_status_is_whole_and_reads_as_json(database: SessionDatabase, tmp_path: Path) -> None:
    result = gardenos(database, tmp_path, "db", "status")
    assert result.returncode == 0, result.stderr
    assert any(line.strip() == f"data:   {database.pg.pgdata}" for line in result.lines()), result.stdout
    for row in migration_status(database.owner_url):
        assert any(
            f"{row.migration.version:04d}" in line and row.migration.name in line for line in result.lines()
        ), row.migration.label

    found = json.loads(gardenos(database, tmp_path, "db", "status", "--json").stdout)
    assert found["embedded"]["running"] is True
    assert found["embedded"]["data"] == str(database.pg.pgdata)
    assert database.pg.state.password not in found["url"]
    assert found["migrations"][-1]["version"] == latest_version()
    assert all(m["applied_at"] for m in found["migrations"])


@pytest.mark.anyio
async def test_mail_list_is_whole_and_reads_as_json(database: SessionDatabase, tmp_path: Path) -> None:
    to = f"a-rather-long-address-{uuid.uuid4().hex}@newsletter.partner-agency.example.com"
    link = f"https://crm.example.com/auth/v1/verify?token={'t' * 90}&type=magiclink"
    await OutboxMailer(database.owner_url).send(compose("magic_link", to=to, site_name="GardenOS", link=link))

    listed = gardenos(database, tmp_path, "mail", "list", "--to", to)
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.lines() if to in line]
    assert link in row

    [mail] = json.loads(gardenos(database, tmp_path, "mail", "list", "--to", to, "--json").stdout)
    assert (mail["to"], mail["kind"], mail["link"]) == (to, "magic_link", link)
    assert mail["subject"]
    uuid.UUID(mail["id"])


@pytest.fixture
def dead_task(database: SessionDatabase) -> tuple[str, str, str]:
    """A dead task with a long error, in an agency of its own: (task id, agency slug, error)."""
    slug = f"piped-{uuid.uuid4().hex[:8]}"
    error = "the provider answered 429 Too Many Requests " * 4
    with psycopg.connect(database.owner_url) as conn, conn.transaction():
        agency = ensure_agency(
            conn, name=slug, slug=slug, owner_email=f"owner@{slug}.example", password="piped-tests-pw"
        )
        row = conn.execute(
            "INSERT INTO agent_tasks (agency_id, agent_type, status, attempts, last_error) "
            "VALUES (%s, %s, 'dead', 4, %s) RETURNING id",
            (agency.id, sorted(AGENTS)[0], error),
        ).fetchone()
    assert row is not None
    return str(row[0]), slug, error


def test_ai_tasks_and_status_are_whole_and_read_as_json(
    database: SessionDatabase, tmp_path: Path, dead_task: tuple[str, str, str]
) -> None:
    task_id, slug, error = dead_task
    listed = gardenos(database, tmp_path, "ai", "tasks", "--agency", slug)
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.lines() if task_id in line]
    assert slug in row
    assert error.strip() in row
    assert "…" not in row

    [task] = json.loads(gardenos(database, tmp_path, "ai", "tasks", "--agency", slug, "--json").stdout)
    assert (task["id"], task["agency"], task["status"], task["last_error"]) == (task_id, slug, "dead", error)

    status = gardenos(database, tmp_path, "ai", "status", "--json")
    assert status.returncode == 0, status.stderr
    found = json.loads(status.stdout)
    assert found["tasks"][sorted(AGENTS)[0]]["dead"] >= 1
    assert isinstance(found["agents"], list)
