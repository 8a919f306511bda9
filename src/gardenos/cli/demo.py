"""`gardenos demo-data`: realistic leads, clients and activities for an agency, loaded with COPY.

The generator (and faker with it) is imported when data is loaded, not with the CLI.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gardenos.cli.console import console, err_console
from gardenos.cli.target import database_target
from gardenos.db.target import DatabaseTarget
from gardenos.demo.agency import DEMO_SLUG, demo_login, ensure_agency, validate_slug
from gardenos.settings import Settings, get_settings

if TYPE_CHECKING:
    from gardenos.demo.generator import DemoCounts


def demo_data(
    leads: int = typer.Option(10_000, "--leads", min=0, help="How many leads to add."),
    clients: int = typer.Option(1_000, "--clients", min=0, help="How many of them become clients."),
    agency: str = typer.Option(DEMO_SLUG, "--agency", help="The agency's slug; created if missing."),
    seed: int | None = typer.Option(None, "--seed", help="Same seed, same data."),
) -> None:
    """Add demo leads, clients and activities to an agency (in one transaction: all or nothing)."""
    validate_slug(agency)
    settings = get_settings()
    target = database_target(settings)
    with target.running():
        target.prepare()
        started = time.perf_counter()
        counts = load_into_agency(settings, target, slug=agency, leads=leads, clients=clients, seed=seed)
        elapsed = time.perf_counter() - started
    console.print(
        f"added {counts.leads:,} leads, {counts.clients:,} clients and {counts.activities:,} activities "
        f"to agency [bold]{agency}[/] in {elapsed:.1f} s ({counts.leads / max(elapsed, 1e-9):,.0f} leads/s)"
    )


def load_into_agency(
    settings: Settings, target: DatabaseTarget, *, slug: str, leads: int, clients: int, seed: int | None
) -> DemoCounts:
    from gardenos.demo.generator import load_demo_data

    login = demo_login(settings.data_path)
    email = login.email if slug == DEMO_SLUG else f"owner@{slug}.example"
    with target.connect() as conn, conn.transaction():
        found = ensure_agency(conn, name=_title(slug), slug=slug, owner_email=email, password=login.password)
        with Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=False,
        ) as progress:
            tasks = {
                "leads": progress.add_task("leads", total=leads, rate=""),
                "clients": progress.add_task("clients", total=clients, rate=""),
                "activities": progress.add_task("activities", total=None, rate=""),
            }
            phase_started: dict[str, float] = {}
            last_report = [time.perf_counter()]

            def on_progress(phase: str, rows: int) -> None:
                task = tasks.get(phase)
                if task is None:
                    return
                # A phase's clock starts where the previous report left off: a phase that reports all
                # its rows at once (a server-side INSERT … SELECT) gets its real duration.
                now = time.perf_counter()
                started = phase_started.setdefault(phase, last_report[0])
                last_report[0] = now
                progress.advance(task, rows)
                if now - started > 0.05:
                    progress.update(
                        task, rate=f"{progress.tasks[task].completed / (now - started):,.0f} rows/s"
                    )

            counts = load_demo_data(
                conn,
                agency_id=found.id,
                leads=leads,
                clients=clients,
                owner_ids=[found.owner_id],
                seed=seed,
                on_progress=on_progress,
            )
            progress.update(tasks["activities"], total=counts.activities, completed=counts.activities)
    return counts


def _title(slug: str) -> str:
    return "Demo Agency" if slug == DEMO_SLUG else slug.replace("-", " ").title()
