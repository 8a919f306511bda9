"""One `gardenos up` per data folder, and what the previous one left behind.

`gardenos up` holds an exclusive `flock` on `<data_dir>/up.lock` for as long as it lives. The kernel
releases it when the process ends, however it ends (kill -9, the OOM killer), so the lock tells a live
`gardenos up` from one that is gone, which a PID file cannot (a stale file looks the same as a live
one, and PIDs are reused). The holder keeps a one-line record in the file: its PID, its API address,
its phase (starting, serving, stopping, stopped) and the postmaster it started. The next `gardenos up`
reads it:

- lock busy, the holder stopping: wait for it (Ctrl-C, then `make up` again at once);
- lock busy otherwise: another `gardenos up` serves this data folder: refuse, naming its PID;
- lock free: the record is the last holder's. A postmaster of this data folder that it names (or
  that it was starting) is its orphan; one it does not name was started by `gardenos db start`.

The file is never deleted: a `gardenos up` waiting on the old file while a third one locks a new file
of the same name would give the data folder two owners.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import psutil

from gardenos.errors import ConfigurationError

Phase = Literal["starting", "serving", "stopping", "stopped"]
# The record is rewritten in place, padded to one size, so that a reader never sees half of it.
RECORD_BYTES = 256
# Marks a postmaster being started whose PID is not known yet.
STARTING_POSTGRES = 0


@dataclass(frozen=True)
class UpRecord:
    pid: int
    api: str
    phase: Phase
    # The postmaster this `gardenos up` started (STARTING_POSTGRES while starting it); None when it
    # started none (it uses a server `gardenos db start` runs, or has not got that far).
    postgres_pid: int | None = None

    def encode(self) -> bytes:
        text = json.dumps(
            {"pid": self.pid, "api": self.api, "phase": self.phase, "postgres_pid": self.postgres_pid}
        )
        return (text + "\n").encode().ljust(RECORD_BYTES)

    @classmethod
    def decode(cls, raw: bytes) -> UpRecord | None:
        try:
            data = json.loads(raw.decode().strip())
            return cls(
                pid=int(data["pid"]),
                api=str(data["api"]),
                phase=data["phase"],
                postgres_pid=None if data["postgres_pid"] is None else int(data["postgres_pid"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def started(self, postmaster: int) -> bool:
        """Whether this `gardenos up` started the running `postmaster` (or was starting one)."""
        return self.postgres_pid in (STARTING_POSTGRES, postmaster)


class UpLock:
    """The lock of one data folder; `acquire` once, `record` as the phase changes, `release` at the end."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "up.lock"
        self._fd: int | None = None
        self._record: UpRecord | None = None

    def acquire(
        self, api: str, *, wait_s: float = 30.0, waiting: Callable[[UpRecord], None] | None = None
    ) -> UpRecord | None:
        """Take the lock, waiting up to `wait_s` for a holder that is stopping. Returns the record the
        last holder left (None on a first start); raises ConfigurationError when another `gardenos up`
        runs, or is still stopping after `wait_s`."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Not inherited by the processes we start (os.open's default): PostgreSQL holding a copy
        # would keep the lock after we are gone.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._wait_for(fd, wait_s, waiting)
        except BaseException:
            os.close(fd)
            raise
        previous = UpRecord.decode(os.pread(fd, RECORD_BYTES, 0))
        self._fd = fd
        self.record(UpRecord(pid=os.getpid(), api=api, phase="starting"))
        return previous

    def _wait_for(self, fd: int, wait_s: float, waiting: Callable[[UpRecord], None] | None) -> None:
        deadline = time.monotonic() + wait_s
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            holder = UpRecord.decode(os.pread(fd, RECORD_BYTES, 0))
            # A record of a process that is gone: the holder has just taken the lock and not yet
            # written its own. Look again.
            fresh = holder is not None and holder.phase != "stopped" and psutil.pid_exists(holder.pid)
            if holder is not None and fresh and holder.phase != "stopping":
                raise ConfigurationError(
                    f"another `gardenos up` (pid {holder.pid}) is running on the data folder "
                    f"{self.path.parent}, serving {holder.api}",
                    hint="stop it first (Ctrl-C in its terminal, or `kill "
                    f"{holder.pid}`), or give this one a data folder of its own with GARDENOS_DATA_DIR",
                )
            if holder is not None and fresh and not announced:
                announced = True
                if waiting is not None:
                    waiting(holder)
            if time.monotonic() > deadline:
                pid = f" (pid {holder.pid})" if holder is not None else ""
                raise ConfigurationError(
                    f"the previous `gardenos up`{pid} on the data folder {self.path.parent} is still "
                    f"stopping after {wait_s:.0f} s",
                    hint="wait for it to finish, or look at what it is doing; then start again",
                )
            time.sleep(0.1)

    def record(self, record: UpRecord) -> None:
        if self._fd is None:
            return
        self._record = record
        os.pwrite(self._fd, record.encode(), 0)

    def set_phase(self, phase: Phase) -> None:
        """Called from signal handlers too: one write of a record built in memory."""
        if self._record is not None:
            self.record(replace(self._record, phase=phase))

    def set_postgres(self, pid: int | None) -> None:
        if self._record is not None:
            self.record(replace(self._record, postgres_pid=pid))

    def release(self) -> None:
        if self._fd is None:
            return
        self.set_phase("stopped")
        with contextlib.suppress(OSError):
            os.close(self._fd)  # closing releases the lock
        self._fd = None
