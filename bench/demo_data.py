"""`gardenos demo-data` throughput, against a plain COPY of the same rows into an unindexed table.

Both run on a private embedded PostgreSQL started for the benchmark. The baseline reads back exactly the
leads the generator wrote and COPYs them into a table with the same columns but no indexes, constraints
or generated columns: the ceiling for getting those bytes into PostgreSQL on this machine.
"""

from __future__ import annotations

import io
import secrets
import time

import psycopg
from rich.console import Console
from rich.table import Table

from bench.support import private_database
from gardenos.demo.agency import ensure_agency
from gardenos.demo.generator import load_demo_data

LEAD_COLUMNS = (
    "id, agency_id, first_name, last_name, email, phone, company, job_title, website, city, country, source, "
    "status, owner_id, score, estimated_value, tags, custom_fields, notes, last_activity_at, converted_at, "
    "created_at, updated_at"
)
PLAIN_TABLE = f"CREATE TABLE bench_plain_leads AS SELECT {LEAD_COLUMNS} FROM public.leads WITH NO DATA"


def run(*, leads: int, clients: int) -> None:
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
        with console.status(f"demo-data: {leads:,} leads, {clients:,} clients…"), conn.transaction():
            started = time.perf_counter()
            counts = load_demo_data(
                conn,
                agency_id=agency.id,
                leads=leads,
                clients=clients,
                owner_ids=[agency.owner_id],
                seed=1,
            )
        demo_s = time.perf_counter() - started

        buffer = io.BytesIO()
        with conn.cursor().copy(f"COPY (SELECT {LEAD_COLUMNS} FROM public.leads) TO STDOUT") as copy:
            for chunk in copy:
                buffer.write(chunk)
        conn.execute(PLAIN_TABLE)
        conn.commit()
        with console.status("baseline: plain COPY of the same leads…"), conn.transaction():
            started = time.perf_counter()
            with conn.cursor().copy(f"COPY bench_plain_leads ({LEAD_COLUMNS}) FROM STDIN") as copy:
                view = buffer.getbuffer()
                for offset in range(0, len(view), 1 << 20):
                    copy.write(view[offset : offset + (1 << 20)])
                del view
        plain_s = time.perf_counter() - started

    table = Table(title="demo-data (one transaction, 9 indexes on leads) vs plain COPY (no indexes)")
    table.add_column("what")
    table.add_column("rows", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("leads/s", justify="right")
    table.add_row(
        "gardenos demo-data",
        f"{counts.leads:,} leads, {counts.clients:,} clients, {counts.activities:,} activities",
        f"{demo_s:.1f}",
        f"{counts.leads / demo_s:,.0f}",
    )
    table.add_row(
        "plain COPY, same leads", f"{counts.leads:,}", f"{plain_s:.1f}", f"{counts.leads / plain_s:,.0f}"
    )
    console.print(table)
    size_mb = len(buffer.getbuffer()) / 1e6
    console.print(f"demo-data takes {demo_s / plain_s:.1f}× the plain COPY of its leads ({size_mb:,.0f} MB)")
