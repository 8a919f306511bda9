"""Scheduled base backups, and how old the newest backup is.

`gardenos backup schedule run` (the process `cluster up` supervises, see cluster/backup_schedule.py)
takes a base backup when the newest one is GARDENOS_BACKUP_SCHEDULE old (at once when there is none),
then applies retention (retention.py). The next run is counted from the newest backup in the storage,
whoever took it, so a manual `gardenos backup` or a restart of the cluster moves it rather than adding
one. Each run asks Patroni afresh which node to copy from (a streaming replica, else the leader), so a
failover between runs changes nothing; a run that fails (no leader during a failover, storage out of
reach) is retried after a backoff. The backup lock (lock.py) keeps it from running beside a manual
backup or prune. What it last did and when it runs next go to `state.json` in its folder, which
`cluster status` reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gardenos.backup.backup import list_backups, take_backup
from gardenos.backup.lock import backup_lock
from gardenos.backup.retention import prune
from gardenos.cluster.backup_schedule import STATE_FILE
from gardenos.cluster.cluster import Cluster
from gardenos.errors import ConfigurationError, Conflict

# The longest wait before the storage is read again (a manual backup moves the next run).
RECHECK_S = 60.0
# After a failed run: the first retry comes after min(interval, this), each next one twice as late,
# up to min(interval, MAX_BACKOFF_S).
FIRST_BACKOFF_S = 30.0
MAX_BACKOFF_S = 3600.0
# How soon a wait notices a stop.
STEP_S = 0.2


@dataclass(frozen=True)
class BackupStatus:
    """The newest base backup and the schedule, as `cluster status` shows them (and metrics may)."""

    newest: str | None
    newest_finished_at: datetime | None
    age_s: float | None
    backups: int
    schedule_interval_s: float | None
    schedule_running: bool
    next_run: datetime | None
    last_error: str | None
    # Why the storage could not be read, if it could not.
    problem: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "newest": self.newest,
            "newest_finished_at": self.newest_finished_at.isoformat() if self.newest_finished_at else None,
            "age_s": None if self.age_s is None else round(self.age_s, 1),
            "backups": self.backups,
            "schedule_interval_s": self.schedule_interval_s,
            "schedule_running": self.schedule_running,
            "next_run": self.next_run.isoformat() if self.next_run else None,
            "last_error": self.last_error,
            "problem": self.problem,
        }


def newest_backup_age(cluster: Cluster, *, now: datetime | None = None) -> timedelta | None:
    """How long ago the newest base backup finished; None when there is none."""
    found = list_backups(cluster)
    return (now or datetime.now(UTC)) - found[-1].finished_at if found else None


def backup_status(cluster: Cluster, *, now: datetime | None = None) -> BackupStatus:
    """The newest backup's age and the schedule's next run (from the running schedule's state file)."""
    moment = now or datetime.now(UTC)
    process = cluster.backup_schedule()
    pid = process.pid()
    state = read_state(process.state_file) if pid is not None else {}
    if state.get("pid") != pid:
        state = {}
    # The running schedule's own interval (set when it was started), else the settings'.
    interval = state.get("interval_s") or cluster.settings.backup_schedule_s
    next_run = datetime.fromisoformat(state["next_run"]) if state.get("next_run") else None
    last = state.get("last") or {}
    error = last.get("error")
    try:
        found = list_backups(cluster)
    except (OSError, ValueError) as exc:  # the storage is out of reach (StoreError is an OSError)
        return BackupStatus(None, None, None, 0, interval, pid is not None, next_run, error, str(exc))
    newest = found[-1] if found else None
    return BackupStatus(
        newest.label if newest else None,
        newest.finished_at if newest else None,
        (moment - newest.finished_at).total_seconds() if newest else None,
        len(found),
        interval,
        pid is not None,
        next_run,
        error,
    )


def read_state(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def next_run_after(newest: datetime | None, interval_s: float, now: datetime) -> datetime:
    """When the next scheduled backup is due: an interval after the newest one, or now."""
    return now if newest is None else max(now, newest + timedelta(seconds=interval_s))


def backoff_s(failures: int, interval_s: float) -> float:
    return float(min(interval_s, FIRST_BACKOFF_S * 2.0 ** (failures - 1), MAX_BACKOFF_S))


class Schedule:
    """The loop of `gardenos backup schedule run`; its signal handler (`on_signal`) ends it between runs,
    or cuts a backup being taken short (it raises `Stopped` then)."""

    def __init__(self, cluster: Cluster, state_dir: Path, say: Callable[[str], None]) -> None:
        interval = cluster.settings.backup_schedule_s
        if interval is None:
            raise ConfigurationError("GARDENOS_BACKUP_SCHEDULE is off: set it to an interval such as 24h")
        self.cluster = cluster
        self.interval_s = interval
        self.state_file = state_dir / STATE_FILE
        self.say = say
        # Set by the signal handler (a plain flag: an Event's lock could be held by the code it interrupts).
        self.stopping = False
        self.busy = False
        self.failures = 0
        self.retry_at: datetime | None = None
        self.last: dict[str, Any] = {}

    def run(self) -> None:
        self.say(f"every {self.interval_s:g} s after the newest base backup (pid {os.getpid()})")
        while not self.stopping:
            now = datetime.now(UTC)
            try:
                found = list_backups(self.cluster)
            except (OSError, ValueError) as exc:
                self._failed(now, f"cannot read the backup storage: {exc}")
                self._wait_until(self.retry_at or now)
                continue
            due = next_run_after(found[-1].finished_at if found else None, self.interval_s, now)
            if self.retry_at is not None:
                due = max(due, self.retry_at)
            self._write_state(due)
            if due > now:
                self._wait_until(due)
                continue
            self._run_once(now)

    def _run_once(self, now: datetime) -> None:
        try:
            with backup_lock(self.cluster.layout, "scheduled backup"):
                self.busy = True
                try:
                    taken = take_backup(self.cluster)
                except BaseException:
                    # Cut short (a failover, a stop): its staging folder goes; we hold the lock.
                    self._remove_staging()
                    raise
                finally:
                    self.busy = False
                seconds = (taken.finished_at - taken.started_at).total_seconds()
                size = f"{taken.size_bytes / 1e6:.1f} MB"
                self.say(f"backup {taken.label} from {taken.source}: {size} in {seconds:.1f} s")
                self.failures, self.retry_at = 0, None
                self.last = {"at": now.isoformat(), "ok": True, "label": taken.label, "error": None}
                try:
                    plan = prune(self.cluster)
                except (OSError, ValueError) as exc:
                    self.last["error"] = f"retention: {exc}"
                    self.say(f"retention failed: {exc}")
                    return
                self.last.update(removed=list(plan.removed), wal_removed=len(plan.wal_removed))
                if plan.removed or plan.wal_removed:
                    self.say(
                        f"retention removed {len(plan.removed)} backups ({', '.join(plan.removed) or '-'}) "
                        f"and {len(plan.wal_removed)} WAL files"
                    )
        except Conflict as exc:
            # Another backup or prune runs: it counts; look again soon.
            self.say(str(exc))
            self.retry_at = now + timedelta(seconds=min(self.interval_s, RECHECK_S))
        except Stopped:
            self.say("stopped while a backup was being taken; it was discarded")
        except Exception as exc:  # whatever failed, the schedule goes on and says why
            self._failed(now, str(exc) or type(exc).__name__)

    def _failed(self, now: datetime, error: str) -> None:
        self.failures += 1
        delay = backoff_s(self.failures, self.interval_s)
        self.retry_at = now + timedelta(seconds=delay)
        self.last = {"at": now.isoformat(), "ok": False, "label": None, "error": error}
        self.say(f"failed ({self.failures} in a row): {error}; next try in {delay:g} s")
        self._write_state(self.retry_at)

    def _wait_until(self, due: datetime) -> None:
        """Sleep until `due`, at most RECHECK_S, in short steps that notice a stop."""
        until = time.monotonic() + max(0.0, min((due - datetime.now(UTC)).total_seconds(), RECHECK_S))
        while not self.stopping and (left := until - time.monotonic()) > 0:
            time.sleep(min(left, STEP_S))

    def _remove_staging(self) -> None:
        staging = self.cluster.layout.base_backups
        for folder in staging.glob(".*.partial") if staging.exists() else []:
            shutil.rmtree(folder, ignore_errors=True)

    def _write_state(self, next_run: datetime) -> None:
        state = {
            "pid": os.getpid(),
            "interval_s": self.interval_s,
            "next_run": next_run.isoformat(),
            "failures": self.failures,
            "last": self.last,
        }
        tmp = self.state_file.with_name(f".{STATE_FILE}.tmp")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(state))
            tmp.replace(self.state_file)

    def on_signal(self, signum: int, frame: object) -> None:
        del signum, frame
        self.stopping = True
        if self.busy:
            raise Stopped


class Stopped(BaseException):
    """Raised in the main thread by the stop signal while a backup is taken (its `pg_basebackup` is
    killed by `subprocess.run` on the way out)."""
