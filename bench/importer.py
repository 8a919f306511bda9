"""`gardenos import leads` on a realistic 1,000,000-row CSV (5% dirty rows) into an agency that already holds
1,000,000 leads, against a plain COPY of the same file into an unindexed table, in the same run.

The import runs as the CLI does, in its own process, so that its peak RSS is its own. The baseline is the
floor for getting those bytes into PostgreSQL on this machine: COPY … (FORMAT csv) into a table of text
columns with no index, constraint, trigger or row-level security.
"""

from __future__ import annotations

import csv
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from bench.support import private_database
from gardenos.db.target import DatabaseTarget
from gardenos.demo.agency import ensure_agency
from gardenos.demo.generator import load_demo_data

HEADER = ["First Name", "Last Name", "Email", "Phone", "Company", "Job Title", "City", "Country",
          "Lead Source", "Notes", "Budget"]  # fmt: skip
FIRST = ["Anna", "Jürgen", "Zoë", "José", "Łukasz", "Chloé", "Søren", "Mary", "Ahmed", "Wei", "Olga", "Seán"]
LAST = ["Müller-Łukasiewicz", "Smith", "O'Brien", "van der Berg", "García", "Nguyễn", "Kowalski", "Dubois",
        "McDonald", "Rossi", "Jensen", "Schäfer"]  # fmt: skip
COMPANIES = ["ACME GmbH", "Globex Inc.", "Initech", "Umbrella Corp", "Stark Industries", "Bäckerei Größe", ""]
# Formats as people type them at home; {a} three digits (four where the plan needs them), {b} four.
CITIES = [("Berlin", "Germany", "+49 30 {a} {b}"), ("New York", "United States", "(212) {a}-{b}"),
          ("London", "United Kingdom", "+44 20 {a}0 {b}"), ("Paris", "France", "+33 1 {a}0 {b}"),
          ("Madrid", "Spain", "+34 91 {a} {b}")]  # fmt: skip
PLAIN = "CREATE UNLOGGED TABLE IF NOT EXISTS bench_plain_import ({}) ".format(
    ", ".join(f"c{i} text" for i in range(len(HEADER)))
)


def write_csv(path: Path, rows: int, existing: list[str], seed: int = 1) -> dict[str, int]:
    """A CRM export: 95% clean rows, 5% dirty (bad emails, bad phones, no identity, in-file duplicates,
    existing leads' emails, shouted names); UTF-8 with names in many scripts."""
    rng = random.Random(seed)  # noqa: S311 (test data)
    dirty = {
        "bad_email": 0,
        "bad_phone": 0,
        "no_identity": 0,
        "file_duplicate": 0,
        "existing": 0,
        "shouted": 0,
    }
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            city, country, phone_form = rng.choice(CITIES)
            email = f"{first[0].lower()}.{i}@example{i % 997}.com"
            phone = phone_form.format(a=200 + i // 10000, b=f"{i % 10000:04d}")
            company = rng.choice(COMPANIES)
            r = rng.random()
            if r < 0.05:
                kind = list(dirty)[int(r * 120) % len(dirty)]
                dirty[kind] += 1
                if kind == "bad_email":
                    email = email.replace("@", " at ")
                elif kind == "bad_phone":
                    phone = "n/a 12"
                elif kind == "no_identity":
                    first = last = email = phone = company = ""
                elif kind == "file_duplicate" and i:
                    email = f"{FIRST[0][0].lower()}.{i - 1}@example{(i - 1) % 997}.com"
                elif kind == "existing" and existing:
                    email = existing[i % len(existing)]
                elif kind == "shouted":
                    first, last = first.upper(), last.upper()
            note = "Met at the trade show; wants a demo." if r > 0.8 else ""
            title = "Head of Sales" if r > 0.5 else ""
            source = "linkedin" if r > 0.3 else "website"
            out.writerow(
                [first, last, email, phone, company, title, city, country, source, note, int(r * 1e5)]
            )
    return dirty


def run(*, leads: int, rows: int) -> None:
    console = Console()
    with private_database() as target, psycopg.connect(target.owner_url) as conn:
        with conn.transaction():
            agency = ensure_agency(
                conn,
                name="Bench",
                slug="bench",
                owner_email="owner@bench.example",
                password=secrets.token_urlsafe(12),
            )
        with console.status(f"importer: {leads:,} existing leads…"), conn.transaction():
            load_demo_data(conn, agency_id=agency.id, leads=leads, clients=leads // 20, seed=1)
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE public.leads")
        conn.execute("VACUUM ANALYZE public.clients")
        existing = [
            r[0] for r in conn.execute("SELECT email FROM public.leads WHERE email IS NOT NULL LIMIT 20000")
        ]
        conn.autocommit = False
        with tempfile.TemporaryDirectory(prefix="gardenos-bench-import-") as tmp:
            path = Path(tmp) / "leads.csv"
            with console.status(f"importer: writing a {rows:,}-row CSV…"):
                dirty = write_csv(path, rows, existing)
            size_mb = path.stat().st_size / 1e6

            conn.execute(PLAIN)
            conn.commit()
            with console.status("baseline: plain COPY of the same file…"), conn.transaction():
                started = time.perf_counter()
                # LATIN1: every byte is accepted as it is, as the importer's own reading does not fail either.
                with (
                    conn.cursor().copy(
                        "COPY bench_plain_import FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'LATIN1')"
                    ) as copy,
                    path.open("rb") as f,
                ):
                    while chunk := f.read(1 << 20):
                        copy.write(chunk)
            plain_s = time.perf_counter() - started

            with console.status("gardenos import leads …"):
                started = time.perf_counter()
                returncode, peak_kb = _import(target, path)
                import_s = time.perf_counter() - started
            peak_mb = peak_kb / 1024
        counts = conn.execute(
            "SELECT rows_total, rows_imported, rows_invalid, rows_duplicate, status FROM public.imports"
        ).fetchone()
    if returncode != 0:
        raise SystemExit("the import failed")
    assert counts is not None
    table = Table(
        title=f"import of {rows:,} rows ({size_mb:,.0f} MB, 5% dirty) into an agency of {leads:,} leads"
    )
    for column in ("what", "seconds", "rows/s", "peak RSS"):
        table.add_column(column, justify="left" if column == "what" else "right")
    table.add_row("gardenos import leads", f"{import_s:.1f}", f"{rows / import_s:,.0f}", f"{peak_mb:,.0f} MB")
    table.add_row("plain COPY, same file", f"{plain_s:.1f}", f"{rows / plain_s:,.0f}", "")
    console.print(table)
    console.print(
        f"rows read {counts[0]:,}: imported {counts[1]:,}, invalid {counts[2]:,}, duplicates {counts[3]:,} "
        f"(dirty rows written: {', '.join(f'{k} {v:,}' for k, v in dirty.items())})"
    )
    console.print(
        f"the import takes {import_s / plain_s:.1f}× the plain COPY (target ≤ 5×, under 60 s); "
        f"peak RSS {peak_mb:,.0f} MB (target < 300 MB)"
    )


def _import(target: DatabaseTarget, path: Path) -> tuple[int, int]:
    """Run the CLI; its exit code and its own peak RSS in KB (wait4's, not every child's: initdb's
    would count under RUSAGE_CHILDREN)."""
    settings = target.settings
    env = os.environ | {
        "GARDENOS_DATA_DIR": str(settings.data_dir),
        "GARDENOS_RUNTIME_DIR": str(settings.runtime_dir),
        "GARDENOS_PG_PORT": "0",
        "COLUMNS": "160",
    }
    command = [sys.executable, "-m", "gardenos", "import", "leads", str(path), "--agency", "bench"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss
