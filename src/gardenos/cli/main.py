"""`gardenos`: run, migrate and inspect GardenOS."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError
from rich.markup import escape

from gardenos import __version__
from gardenos.cli import ai, backup, cluster, db, demo, importer, keys, mail, realtime, storage, up, worker
from gardenos.cli.console import err_console
from gardenos.errors import GardenError

app = typer.Typer(
    name="gardenos",
    help="GardenOS: a self-hosted CRM platform with a Supabase-compatible API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("up")(up.up)
app.command("demo-data")(demo.demo_data)
app.command("keys")(keys.keys)
app.command("worker")(worker.worker)
app.add_typer(ai.app, name="ai")
app.add_typer(db.app, name="db")
app.add_typer(mail.app, name="mail")
app.add_typer(realtime.app, name="realtime")
app.add_typer(importer.app, name="import")
app.add_typer(storage.app, name="storage")
app.add_typer(cluster.app, name="cluster")
app.add_typer(backup.app, name="backup")
app.add_typer(backup.restore_app, name="restore")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gardenos {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """GardenOS: a self-hosted CRM platform with a Supabase-compatible API."""


def main() -> None:
    try:
        app()
    except ValidationError as exc:
        problems = "; ".join(
            f"GARDENOS_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        err_console.print(f"[bold red]error:[/] invalid setting: {escape(problems)}")
        sys.exit(2)
    except GardenError as exc:
        # Messages quote user input: never read them as rich markup.
        err_console.print(f"[bold red]error:[/] {escape(exc.message)}")
        if exc.hint:
            err_console.print(f"[yellow]hint:[/] {escape(exc.hint)}")
        sys.exit(1)
