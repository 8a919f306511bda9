"""Patroni under a small init of its own: `python patroni_init.py patroni.yml`.

Patroni detaches PostgreSQL: when that postmaster dies it becomes a zombie of whatever adopts
orphans. An init that reaps late (some container and sandbox inits take over a second) keeps the dead
postmaster looking alive to Patroni, which then spends a whole extra HA loop before it restarts it.
This process marks itself a child subreaper (Linux' PR_SET_CHILD_SUBREAPER), so orphans of its
Patroni are adopted by it and reaped at once, runs Patroni as its child, forwards signals to it, and
exits with it. It does what Patroni itself does when it runs as PID 1 in a container.

When Patroni dies, this process exits too and PostgreSQL, adopted by the system's init, goes on
running: the same as without it (HAProxy's check on Patroni's REST API fences it from clients).

The cluster copies this file next to walcrypt.py and runs it with the service user's Python: it
imports nothing from GardenOS.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import signal
import sys
from types import FrameType

PR_SET_CHILD_SUBREAPER = 36
FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGABRT,
)


def _become_subreaper() -> None:
    # Not Linux: orphans go to the system's init, as without this file.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: patroni_init.py PATRONI_CONFIG", file=sys.stderr)
        return 2
    _become_subreaper()
    child = os.fork()
    if child == 0:
        for sig in FORWARDED:
            signal.signal(sig, signal.SIG_DFL)
        patroni = importlib.import_module("patroni.__main__")
        patroni.check_psycopg()
        sys.argv = ["patroni", argv[0]]
        patroni.patroni_main(argv[0])
        os._exit(0)

    def forward(signo: int, frame: FrameType | None) -> None:
        del frame
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signo)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    while True:
        try:
            pid, status = os.wait()  # every child: Patroni, and the orphans it leaves to us
        except ChildProcessError:
            return 0
        if pid == child:
            return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
