"""`gardenos import leads FILE`: a spreadsheet export into an agency's leads, with progress and a summary.

The importer (with its YAML and phone-number libraries) is imported when the command runs, not with the CLI.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import psycopg
import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from gardenos.auth.tokens import agency_claims
from gardenos.cli.console import console, err_console, print_json
from gardenos.cli.target import database_target
from gardenos.db.target import DatabaseTarget
from gardenos.errors import BadRequest
from gardenos.settings import Settings, get_settings

if TYPE_CHECKING:
    from gardenos.importer.service import Counts, ImportOptions, OnDuplicate, Outcome, Phase

app = typer.Typer(help="Import spreadsheets (CSV) into an agency.", no_args_is_help=True)

# The owner connection resolves the agency and the member to act as; everything after runs as that member.
AGENCY = """
SELECT a.id, a.slug, m.user_id, m.role FROM public.agencies a
JOIN public.memberships m ON m.agency_id = a.id AND m.role IN ('owner', 'admin')
WHERE %(agency)s::text IS NULL OR a.id::text = %(agency)s OR a.slug = %(agency)s
ORDER BY a.created_at, m.role = 'owner' DESC, m.created_at
"""
PHASES = {"reading": "reading", "matching": "matching duplicates", "writing": "writing leads", "done": "done"}


@app.command("leads")
def leads(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The CSV file.")],
    agency: str | None = typer.Option(
        None, "--agency", help="The agency's id or slug (needed when there is more than one)."
    ),
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", exists=True, dir_okay=False, help="A YAML file: column -> field, options."),
    ] = None,
    on_duplicate: str = typer.Option(
        "skip",
        "--on-duplicate",
        help="A row matching an existing lead: skip it, update the lead from it, or merge (fill gaps).",
    ),
    region: str | None = typer.Option(
        None, "--region", help="Phone numbers without +country are this country's (default: settings)."
    ),
    match: str | None = typer.Option(
        None,
        "--match",
        help="Which fields make a row the same person as a lead or client: email, email_or_phone, phone, "
        "name_and_company, or several separated by commas (default: the agency's duplicate_rule, else "
        "email).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and count everything; keep nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (for scripts)."),
) -> None:
    """Import leads from a CSV file: validated, normalised, deduplicated, in one transaction."""
    from gardenos.crm.normalize import valid_region
    from gardenos.importer.mapping import parse_mapping
    from gardenos.importer.service import ImportOptions

    if on_duplicate not in ("skip", "update", "merge"):
        raise BadRequest("--on-duplicate must be skip, update or merge")
    settings = get_settings()
    if region is not None and not valid_region(region.upper()):
        raise BadRequest(f"--region {region!r} is not a country code phonenumbers knows (DE, US, …)")
    # Without --region: the agency's phone_region, else the server's (read by the importer, as for the API).
    options = ImportOptions(
        on_duplicate=_policy(on_duplicate),
        mapping=parse_mapping(mapping.read_text(encoding="utf-8")) if mapping else None,
        default_region=region.upper() if region else None,
        dry_run=dry_run,
        match=match,
        fallback_region=settings.default_phone_region.upper(),
    )
    target = database_target(settings)
    with target.running():
        target.prepare()
        outcome = run_import(settings, target, file, agency=agency, options=options)
    if as_json:
        print_json(_report(outcome, file.name))
    else:
        _summary(outcome, file.name)


def _policy(value: str) -> OnDuplicate:
    assert value in ("skip", "update", "merge")
    return value  # type: ignore[return-value]


def claims_for(conn: psycopg.Connection, agency: str | None) -> dict[str, Any]:
    """The claims of the agency's (first) owner, as its tokens carry them."""
    rows = conn.execute(AGENCY, {"agency": agency}).fetchall()
    conn.rollback()
    if not rows:
        raise BadRequest(
            f"there is no agency {agency!r}" if agency else "there is no agency yet",
            hint="create one with `gardenos demo-data` or POST /api/v1/agencies",
        )
    if agency is None and len({r[0] for r in rows}) > 1:
        slugs = ", ".join(sorted({r[1] for r in rows})[:10])
        raise BadRequest(f"there is more than one agency: choose one with --agency ({slugs})")
    agency_id, _slug, user_id, role = rows[0]
    return agency_claims(agency_id, role, user_id)


def run_import(
    settings: Settings, target: DatabaseTarget, file: Path, *, agency: str | None, options: ImportOptions
) -> Outcome:
    from gardenos.importer.service import Importer

    with (
        target.connect() as conn,
        target.connect(autocommit=False) as progress_conn,
        Progress(
            TextColumn("[bold]{task.description:<20}"),
            BarColumn(),
            TextColumn("{task.fields[rows]:>12} rows  {task.fields[rate]:>12}"),
            TextColumn("[green]{task.fields[valid]}[/] valid  [red]{task.fields[invalid]}[/] invalid  "
                       "[yellow]{task.fields[duplicate]}[/] duplicate"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
        ) as progress,
    ):  # fmt: skip
        claims = claims_for(conn, agency)
        size = file.stat().st_size
        task = progress.add_task(
            "reading", total=size, rows="0", rate="", valid="0", invalid="0", duplicate="?"
        )
        started = time.perf_counter()

        def on_progress(phase: Phase, counts: Counts, position: int) -> None:
            elapsed = max(time.perf_counter() - started, 1e-6)
            progress.update(
                task,
                description=PHASES[phase],
                completed=min(position, size),
                rows=f"{counts.total:,}",
                rate=f"{counts.total / elapsed:,.0f}/s",
                valid=f"{counts.valid:,}",
                invalid=f"{counts.invalid:,}",
                duplicate=f"{counts.duplicate:,}" if phase in ("writing", "done") else "?",
            )

        importer = Importer(
            conn,
            claims,
            progress_conn=progress_conn,
            on_progress=on_progress,
            errors_dir=(settings.import_dir or settings.data_path / "imports"),
            statement_timeout_s=settings.import_statement_timeout_s,
        )
        return importer.import_file(
            file, filename=file.name, options=options, max_bytes=settings.import_max_bytes
        )


def _revert_route(outcome: Outcome) -> str:
    return f"/api/v1/imports/{outcome.import_id}/revert"


def _report(outcome: Outcome, filename: str) -> dict[str, Any]:
    """The report for scripts, in the field names of GET /api/v1/imports/{id}."""
    counts = outcome.counts
    return {
        "id": outcome.import_id,
        "status": outcome.status,
        "filename": filename,
        "dry_run": outcome.dry_run,
        "rows_total": counts.total,
        "rows_imported": counts.inserted,
        "rows_updated": counts.updated,
        "rows_invalid": counts.invalid,
        "rows_duplicate": counts.duplicate,
        "rows_warned": counts.warned,
        "rows_possible_duplicate": counts.possible_duplicate,
        "detected": outcome.detected,
        "errors_file": outcome.errors_file,
        "revert": None if outcome.dry_run else _revert_route(outcome),
    }


def _summary(outcome: Outcome, filename: str) -> None:
    counts = outcome.counts
    # The id on a line of its own, not in the table's title: a title wraps to the table's width.
    console.print(
        f"import [bold]{outcome.import_id}[/]" + (" (dry run: nothing was kept)" if outcome.dry_run else "")
    )
    detected = ", ".join(f"{k}: {v}" for k, v in outcome.detected.items())
    console.print(f"file   {escape(filename)} ({escape(detected)})")
    table = Table()
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_row("read", f"{counts.total:,}")
    table.add_row("new leads" if not outcome.dry_run else "would be new leads", f"{counts.inserted:,}")
    table.add_row("leads updated" if not outcome.dry_run else "would update leads", f"{counts.updated:,}")
    table.add_row("duplicates skipped", f"{counts.duplicate:,}")
    table.add_row("invalid", f"{counts.invalid:,}")
    table.add_row("imported with a warning", f"{counts.warned:,}")
    table.add_row("possible duplicates (for review)", f"{counts.possible_duplicate:,}")
    console.print(table)
    if counts.possible_duplicate and not outcome.dry_run:
        console.print(f"review them: GET /api/v1/imports/{outcome.import_id}/possible-duplicates")
    if outcome.errors_file is not None:
        console.print(
            f"error report (line, column, reason, row): [bold]{escape(str(outcome.errors_file))}[/]"
        )
    if not outcome.dry_run:
        console.print(f"revert with: POST {_revert_route(outcome)}")
