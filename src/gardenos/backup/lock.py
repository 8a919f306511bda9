"""One base backup or prune at a time per cluster: an exclusive `flock` on `<cluster dir>/backup.lock`.

Two `pg_basebackup`s at once double the load on the node they copy from for nothing, and a prune that
ran while a backup was being written could not tell that backup's files from debris. The kernel
releases the lock however its holder ends (kill -9 included), so there is nothing stale to clean. The
holder writes who it is into the file, for the message the next one gets. The cluster's processes all
run on this machine, so a file lock covers every command and the schedule.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from gardenos.cluster.layout import ClusterLayout
from gardenos.errors import Conflict

LOCK_FILE = "backup.lock"
POLL_S = 0.2


@contextlib.contextmanager
def backup_lock(layout: ClusterLayout, what: str, *, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the cluster's backup lock for the block; waits up to `wait_s`, then raises Conflict naming
    the holder."""
    layout.load_spec()  # "no cluster in …: create one with `gardenos cluster up`" when there is none
    path = layout.server_root / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Conflict(
                        f"{_holder(fd)} is running; try again when it is done "
                        "(one base backup or prune at a time)"
                    ) from None
                time.sleep(POLL_S)
        record = {"pid": os.getpid(), "what": what, "since": datetime.now(UTC).isoformat()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    try:
        record = json.loads(os.pread(fd, 4096, 0))
        since = datetime.fromisoformat(record["since"])
        return f"a {record['what']} (pid {record['pid']}, since {since:%Y-%m-%d %H:%M:%S} UTC)"
    except (ValueError, KeyError, TypeError):
        return "another base backup or prune"
