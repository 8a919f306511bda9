"""`cluster up` on a cluster that `cluster down` stopped cleanly resumes its timeline.

Why every start used to make a new timeline: Patroni starts a stopped PostgreSQL as a standby unless
it is restarting a primary it saw crash while holding the leader key (`Ha.recover`). After a clean
stop nobody holds the key (the leader's Patroni deletes it on the way out), so every node came up as
a standby, the most advanced one won the leader race and was promoted: a new timeline, a `.partial`
segment in the archive, a failover nobody asked for.

What Patroni does take over without a promotion is a PostgreSQL already running as a primary (as
after a restart of Patroni alone). So when exactly one node's control file says it was shut down as
a primary ("shut down") and every other node's says it was shut down as a standby on the same or an
older timeline, `cluster up` starts that node's PostgreSQL itself, as a primary, with the command
line Patroni last started it with (`postmaster.opts`), then its Patroni, which takes the leader key;
the others start after it and follow. Anything else (a crash, a node missing, a standby ahead) is
left to Patroni's usual start.
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from gardenos.cluster.layout import ClusterLayout
from gardenos.cluster.processes import ClusterError


@dataclass(frozen=True)
class ControlData:
    state: str
    timeline: int


def control_data(layout: ClusterLayout, bin_dir: Path, pgdata: Path) -> ControlData | None:
    """What the node's control file says (None when there is no data folder or it cannot be read)."""
    if not (pgdata / "PG_VERSION").exists():
        return None
    result = subprocess.run(
        [*layout.run_as.prefix, str(bin_dir / "pg_controldata"), "-D", str(pgdata)],
        check=False,
        capture_output=True,
        text=True,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
        cwd="/",
    )
    if result.returncode != 0:
        return None
    fields = {
        key.strip(): value.strip()
        for key, _, value in (line.partition(":") for line in result.stdout.splitlines())
    }
    try:
        return ControlData(fields["Database cluster state"], int(fields["Latest checkpoint's TimeLineID"]))
    except (KeyError, ValueError):
        return None


def clean_leader(layout: ClusterLayout, bin_dir: Path, names: list[str]) -> str | None:
    """The node that was the leader when every node was shut down cleanly, or None."""
    found = {name: control_data(layout, bin_dir, layout.pgdata(name)) for name in names}
    primaries = [name for name, data in found.items() if data is not None and data.state == "shut down"]
    if len(primaries) != 1:
        return None
    leader = primaries[0]
    leader_data = found[leader]
    assert leader_data is not None
    for name, data in found.items():
        if name == leader:
            continue
        if data is None or data.state != "shut down in recovery" or data.timeline > leader_data.timeline:
            return None
    if (layout.pgdata(leader) / "standby.signal").exists():
        return None
    return leader


def start_primary(
    layout: ClusterLayout, bin_dir: Path, name: str, url: str, log: Path, timeout: float
) -> None:
    """Start the node's PostgreSQL as Patroni last did, and wait until it takes connections."""
    pgdata = layout.pgdata(name)
    opts = shlex.split((pgdata / "postmaster.opts").read_text())[1:]
    if opts[:1] == ["-D"]:
        opts = opts[2:]
    # Through pg_ctl, which exits once the postmaster runs: the postmaster must not be a child of
    # this (possibly long-lived) process, or it would stay a zombie when Patroni stops it, and
    # Patroni would wait for it to go away until its timeout.
    argv = [
        str(bin_dir / "pg_ctl"),
        "start",
        "--no-wait",
        "-D",
        str(pgdata),
        "-l",
        str(log),
        "-o",
        shlex.join(opts),
    ]
    result = subprocess.run(
        [*layout.run_as.prefix, *argv], check=False, capture_output=True, text=True, cwd=pgdata
    )
    if result.returncode != 0:
        raise ClusterError(f"pg_ctl could not start {name}'s PostgreSQL: {result.stderr.strip()}; see {log}")
    deadline = time.monotonic() + timeout
    while True:
        with (
            contextlib.suppress(psycopg.OperationalError),
            psycopg.connect(url, connect_timeout=2, autocommit=True) as conn,
        ):
            if conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,):
                return
        if time.monotonic() > deadline:
            raise ClusterError(
                f"{name}'s PostgreSQL did not take connections within {timeout:.0f} s; see {log}"
            )
        time.sleep(0.1)
