"""`gardenos backup prune` (retention) and `gardenos backup schedule [run]` (scheduled base backups)."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from gardenos.backup.lock import backup_lock
from gardenos.backup.retention import plan_prune, prune
from gardenos.backup.schedule import BackupStatus, Schedule, backup_status
from gardenos.cli.console import console, err_console
from gardenos.cluster.cluster import Cluster
from gardenos.settings import get_settings

# How long `backup prune` waits for a backup being taken (a scheduled one) before it gives up.
PRUNE_WAIT_S = 600.0


def prune_command(
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be removed; remove nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print what was (or would be) removed as JSON."),
) -> None:
    """Remove old base backups, and the archived WAL no kept backup needs.

    The rule (GARDENOS_BACKUP_KEEP_COUNT = N, default 7; GARDENOS_BACKUP_KEEP_DAYS = D, default 7): a
    base backup is removed only when it is not the newest, at least N backups are newer than it, AND a
    newer backup is itself more than D days old (so restores still reach D days back). Then every
    archived WAL file before the segment where the oldest kept backup starts is removed, on every
    timeline; `.history` files always stay. The scheduled backup applies the same rule after each run.
    """
    cluster = Cluster(get_settings())
    if dry_run:
        plan = plan_prune(cluster, dry_run=True)
    else:
        with (
            backup_lock(cluster.layout, "prune (`gardenos backup prune`)", wait_s=PRUNE_WAIT_S),
            err_console.status("pruning…"),
        ):
            plan = prune(cluster)
    if as_json:
        print(json.dumps(plan.to_dict()))
        return
    verb = "would remove" if dry_run else "removed"
    console.print(f"{verb} {len(plan.removed)} base backups: {', '.join(plan.removed) or '-'}")
    console.print(f"kept {len(plan.kept)}: {', '.join(plan.kept) or '-'}")
    wal = plan.to_dict()
    span = f" ({wal['wal_removed_first']} … {wal['wal_removed_last']})" if plan.wal_removed else ""
    kept_from = f"; WAL kept from segment {wal['wal_kept_from']}" if plan.wal_kept_from is not None else ""
    console.print(f"{verb} {len(plan.wal_removed)} archived WAL files{span}{kept_from}")
    for note in plan.notes:
        console.print(f"[yellow]{note}[/]")


schedule_app = typer.Typer(
    help="Scheduled base backups: `gardenos backup schedule` shows it; `cluster up` runs it."
)


@schedule_app.callback(invoke_without_command=True)
def schedule_status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print it as JSON."),
) -> None:
    """The newest base backup's age and the schedule (GARDENOS_BACKUP_SCHEDULE: '24h' by default, 'off'):
    whether it runs and when it takes the next backup."""
    if ctx.invoked_subcommand is not None:
        return
    status = backup_status(Cluster(get_settings()))
    if as_json:
        print(json.dumps(status.to_dict()))
        return
    print_backup_status(status)


@schedule_app.command("run")
def schedule_run(
    state_dir: str | None = typer.Option(
        None, "--state-dir", help="Where it writes what it did [default: <cluster dir>/schedule]."
    ),
) -> None:
    """Take a base backup whenever the newest is GARDENOS_BACKUP_SCHEDULE old (at once when there is
    none), then apply retention (see `gardenos backup prune --help`); until SIGTERM or Ctrl-C. `cluster up`
    starts this in the background and `cluster down` stops it; run it yourself only without them."""
    cluster = Cluster(get_settings())
    folder = Path(state_dir) if state_dir else cluster.layout.server_root / "schedule"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def say(message: str) -> None:
        print(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {message}", flush=True)

    schedule = Schedule(cluster, folder, say)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, schedule.on_signal)
    schedule.run()
    say("stopped")


def print_backup_status(status: BackupStatus) -> None:
    """One table: the newest backup and its age, the schedule and its next run."""
    table = Table("newest backup", "age", "backups", "schedule", "next run (UTC)", title="backups")
    if status.problem:
        newest, age = "?", status.problem
    else:
        newest = status.newest or "none"
        age = _duration(status.age_s) if status.age_s is not None else "-"
    if status.schedule_interval_s is None:
        schedule = "off"
    else:
        every = _duration(status.schedule_interval_s)
        schedule = f"every {every}" if status.schedule_running else f"every {every} (not running)"
    next_run = f"{status.next_run:%Y-%m-%d %H:%M:%S}" if status.next_run else "-"
    table.add_row(newest, age, str(status.backups), schedule, next_run)
    console.print(table)
    if status.last_error:
        console.print(f"[yellow]the last scheduled backup failed: {status.last_error}[/]")


def _duration(seconds: float) -> str:
    """'2d 3h', '5h 12m', '4m 10s', '12s'."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
