"""`gardenos db …`: the database GardenOS runs on."""

from __future__ import annotations

import os
import subprocess

import typer
from psycopg.conninfo import conninfo_to_dict
from rich.table import Table

from gardenos.cli.console import console, print_json
from gardenos.cli.target import database_target
from gardenos.db import migrate as migrations
from gardenos.db.target import DatabaseTarget
from gardenos.embedded.postgres import wheel_bin_dir
from gardenos.errors import ConfigurationError
from gardenos.settings import get_settings

app = typer.Typer(help="Migrate, inspect and open the database.", no_args_is_help=True)


def _target() -> DatabaseTarget:
    return database_target(get_settings())


@app.command()
def migrate() -> None:
    """Apply pending migrations (idempotent: nothing to do is not an error)."""
    target = _target()
    with target.running():
        applied = target.prepare()
    if applied:
        for m in applied:
            console.print(f"applied [bold]{m.label}[/]")
    else:
        console.print("the schema is current: nothing to apply")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print the state as JSON.")) -> None:
    """Where the database is, whether it runs, and which migrations are applied."""
    target = _target()
    pg = target.embedded
    initialized = pg is None or pg.is_initialized
    rows = []
    if initialized:
        with target.running():
            rows = migrations.status(target.owner_url)
    # After `running()`: it stops again a server it had to start, so this is the state we found.
    pid = pg.running_pid() if pg is not None and pg.is_initialized else None
    if as_json:
        print_json(
            {
                "embedded": None
                if pg is None
                else {
                    "folder": pg.data_dir,
                    "created": pg.is_initialized,
                    "running": pid is not None,
                    "pid": pid,
                    "data": pg.pgdata,
                    "log": pg.log_file,
                },
                "url": target.describe(),
                "migrations": [
                    {"version": r.migration.version, "name": r.migration.name, "applied_at": r.applied_at}
                    for r in rows
                ],
            }
        )
        return
    if pg is not None:
        console.print(f"embedded PostgreSQL in [bold]{pg.data_dir}[/]")
        if not pg.is_initialized:
            console.print("not created yet: `gardenos up` or `gardenos db start` creates it")
            return
        console.print(f"  server: {'running, pid ' + str(pid) if pid else 'stopped'}")
        console.print(f"  data:   {pg.pgdata}")
        console.print(f"  log:    {pg.log_file}")
    console.print(f"  url:    {target.describe()}")
    table = Table("version", "name", "applied at")
    for row in rows:
        applied = row.applied_at.isoformat(timespec="seconds") if row.applied_at else "[yellow]pending[/]"
        table.add_row(f"{row.migration.version:04d}", row.migration.name, applied)
    console.print(table)


@app.command()
def start() -> None:
    """Start the embedded PostgreSQL in the background (it keeps running until `gardenos db stop`)."""
    target = _target()
    if target.embedded is None:
        raise ConfigurationError("GARDENOS_DATABASE_URL is set: that database is not GardenOS's to start")
    if target.embedded.is_running():
        console.print(f"already running (pid {target.embedded.running_pid()})")
        return
    target.embedded.start()
    target.prepare()
    console.print(f"running on {target.describe()}; log: {target.embedded.log_file}")


@app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL (fast shutdown: nothing committed is lost)."""
    target = _target()
    if target.embedded is None:
        raise ConfigurationError("GARDENOS_DATABASE_URL is set: that database is not GardenOS's to stop")
    console.print("stopped" if target.embedded.stop() else "was not running")


@app.command()
def logs(lines: int = typer.Option(50, "--lines", "-n", help="How many lines from the end.")) -> None:
    """Print the end of the embedded PostgreSQL's log, and where the log is."""
    target = _target()
    if target.embedded is None:
        raise ConfigurationError("GARDENOS_DATABASE_URL is set: its logs are wherever that server keeps them")
    console.print(f"[dim]{target.embedded.log_file}[/]")
    print(target.embedded.log_tail(lines))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def psql(ctx: typer.Context) -> None:
    """psql on the database as its owner. Reads stdin; arguments after `--` go to psql."""
    target = _target()
    with target.running():
        params = conninfo_to_dict(target.owner_url)
        env = dict(os.environ)
        env.update(
            PGHOST=str(params.get("host", "127.0.0.1")),
            PGPORT=str(params.get("port", "5432")),
            PGUSER=str(params.get("user", "")),
            PGDATABASE=str(params.get("dbname", "")),
        )
        if params.get("password"):
            env["PGPASSWORD"] = str(params["password"])
        code = subprocess.call([str(wheel_bin_dir() / "psql"), *ctx.args], env=env)
    raise typer.Exit(code)
