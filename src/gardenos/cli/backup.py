"""`gardenos backup [list]` and `gardenos restore --to TIME|latest`: base backups of the cluster, the WAL
archive, point-in-time restores into a new data folder, and verified restores (`--verify`)."""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.markup import escape
from rich.table import Table

from gardenos.backup.backup import (
    backup_store,
    list_backups,
    list_restores,
    parse_target,
    restore,
    restore_window,
    stop_restore,
    take_backup,
)
from gardenos.backup.lock import backup_lock
from gardenos.backup.verify import Verification, newest, verifications, verify
from gardenos.cli.backup_schedule import prune_command, schedule_app
from gardenos.cli.console import console, err_console
from gardenos.cluster.cluster import Cluster
from gardenos.errors import BadRequest
from gardenos.settings import get_settings

app = typer.Typer(help="Base backups of the cluster (`gardenos backup`), and `gardenos backup list`.")


@app.callback(invoke_without_command=True)
def backup(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the backup as JSON."),
    verify_latest: bool = typer.Option(
        False,
        "--verify-latest",
        help="Take no backup: verify the newest one (as `gardenos restore --verify`).",
    ),
) -> None:
    """Take a base backup (pg_basebackup from a replica) into the backup folder, or S3-compatible
    storage when GARDENOS_BACKUP_S3_BUCKET is set; the WAL is archived there continuously."""
    if ctx.invoked_subcommand is not None:
        return
    cluster = Cluster(get_settings())
    if verify_latest:
        _verify(cluster, None, None, latest=False, as_json=as_json)
        return
    with (
        backup_lock(cluster.layout, "base backup (`gardenos backup`)"),
        err_console.status("taking a base backup…"),
    ):
        taken = take_backup(cluster)
    if as_json:
        print(json.dumps(taken.to_dict()))
        return
    seconds = (taken.finished_at - taken.started_at).total_seconds()
    console.print(
        f"backup [bold]{taken.label}[/] from {taken.source}: {taken.size_bytes / 1e6:.1f} MB "
        f"in {seconds:.1f} s{' (encrypted)' if taken.encrypted else ''}; {taken.location}"
    )


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print the backups as JSON.")) -> None:
    """The base backups, oldest first, and where the WAL archive is."""
    cluster = Cluster(get_settings())
    found = list_backups(cluster)
    with err_console.status("reading what the WAL archive covers…"):
        window = restore_window(cluster)
    verified = verifications(cluster, found)
    last = newest(verified)
    if as_json:
        backups = [{**b.to_dict(), "verification": _verified_dict(verified.get(b.label))} for b in found]
        print(
            json.dumps(
                {"backups": backups, "window": window.to_dict(), "last_verification": _verified_dict(last)}
            )
        )
        return
    table = Table("label", "from", "finished (UTC)", "size", "encrypted", "last verified (UTC)")
    for b in found:
        v = verified.get(b.label)
        table.add_row(
            b.label,
            b.source,
            b.finished_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{b.size_bytes / 1e6:.1f} MB",
            "yes" if b.encrypted else "no",
            f"{v.verified_at:%Y-%m-%d %H:%M:%S} {'ok' if v.ok else 'FAILED'}" if v else "never",
        )
    console.print(table)
    if last is not None:
        console.print(
            f"last verification: backup {last.backup} at {last.verified_at:%Y-%m-%d %H:%M:%S} (UTC): "
            f"{'ok' if last.ok else 'FAILED'}"
        )
    console.print(f"WAL archive: {backup_store(cluster).wal_location}")
    spans = Table("timeline", "earliest restorable (UTC)", "latest restorable (UTC)", "segments")
    for span in window.timelines:
        spans.add_row(
            str(span.timeline),
            span.earliest.strftime("%Y-%m-%d %H:%M:%S") if span.earliest else "-",
            span.latest.strftime("%Y-%m-%d %H:%M:%S") if span.latest else "-",
            str(span.segments),
        )
    console.print(spans)
    console.print(f"restorable {window.describe()}{' (the cluster runs: up to now)' if window.live else ''}")


app.command("prune")(prune_command)
app.add_typer(schedule_app, name="schedule")


restore_app = typer.Typer(
    help="Point-in-time restores (`gardenos restore --to TIME`), `restore list`, `restore stop ID`."
)


@restore_app.callback(invoke_without_command=True)
def restore_command(
    ctx: typer.Context,
    to: str | None = typer.Option(
        None, "--to", help="A time ('2026-11-22 10:15:00', UTC unless an offset is given) or 'latest'."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print where the restored server runs as JSON."),
    backup_id: str | None = typer.Option(
        None, "--backup", metavar="ID", help="Restore this backup (`gardenos backup list`), not the newest."
    ),
    check: bool = typer.Option(
        False,
        "--verify",
        help="Restore into a scratch server, check it (pg_amcheck; row counts against the backup's "
        "manifest when no --to is given), remove it and report; exit status 1 unless every check passed.",
    ),
) -> None:
    """Restore the newest base backup before TIME into a new data folder, replay the WAL archive up to
    TIME, and start it on a free port: the seed for a new cluster."""
    if ctx.invoked_subcommand is not None:
        return
    cluster = Cluster(get_settings())
    if check:
        target = parse_target(to) if to is not None else None
        _verify(cluster, backup_id, target, latest=to is not None and target is None, as_json=as_json)
        return
    if to is None:
        raise BadRequest("say where to restore to: `gardenos restore --to TIME` (or `--to latest`)")
    target = parse_target(to)
    with err_console.status("restoring (unpacking the base backup, replaying WAL)…"):
        restored = restore(cluster, target, backup_label=backup_id)
    if as_json:
        print(
            json.dumps(
                {
                    "folder": str(restored.folder),
                    "port": restored.port,
                    "backup": restored.backup,
                    "target": restored.target,
                    "log": str(restored.log_file),
                }
            )
        )
        return
    console.print(f"restored backup [bold]{restored.backup}[/] to {restored.target}")
    console.print(f"running on 127.0.0.1:{restored.port}; data folder {restored.folder / 'data'}")
    console.print(f"its log: {restored.log_file}")


@restore_app.command("list")
def restore_list(as_json: bool = typer.Option(False, "--json", help="Print the restores as JSON.")) -> None:
    """Every restore (its id, port, target) and whether its server runs."""
    found = list_restores(Cluster(get_settings()))
    if as_json:
        print(json.dumps([r.to_dict() for r in found]))
        return
    table = Table("id", "running", "port", "target", "backup", "log")
    for r in found:
        table.add_row(
            r.id,
            "yes" if r.running else "no",
            str(r.port or ""),
            r.target or "",
            r.backup or "",
            str(r.log_file),
        )
    console.print(table)


@restore_app.command("stop")
def restore_stop(
    restore_id: str = typer.Argument(..., metavar="ID", help="From `gardenos restore list`."),
) -> None:
    """Stop a restored server (its folder stays)."""
    ran = stop_restore(Cluster(get_settings()), restore_id)
    console.print(f"restore {restore_id} stopped" if ran else f"restore {restore_id} was not running")


def _verify(
    cluster: Cluster, label: str | None, target: datetime | None, *, latest: bool, as_json: bool
) -> None:
    # Under the backup lock: a prune must not remove the backup or the WAL being restored.
    with (
        backup_lock(cluster.layout, "verification (`gardenos restore --verify`)"),
        err_console.status("verifying (restoring into a scratch server, checking it)…"),
    ):
        outcome = verify(cluster, label, target, latest=latest)
    if as_json:
        print(json.dumps(outcome.to_dict()))
    else:
        console.print(f"verification of backup [bold]{outcome.backup}[/], restored to {outcome.target}:")
        for check in outcome.checks:
            colour = "green" if check.ok else "yellow" if check.ok is None else "red"
            console.print(f"  [{colour}]{check.status:<8}[/] {check.name:<11} {escape(check.detail)}")
        if outcome.log_file:
            console.print(f"the scratch server's log: {outcome.log_file}")
        console.print(
            "[green]verified: every check passed[/]" if outcome.ok else "[red]verification FAILED[/]"
        )
    if not outcome.ok:
        raise typer.Exit(1)


def _verified_dict(found: Verification | None) -> dict[str, object] | None:
    return found.to_dict() if found is not None else None
