"""`gardenos cluster failover-test`: a writer through the read-write port, a fault, and a report.

Each round: wait for a healthy cluster, start a writer (one autocommit INSERT at a time, each row
with an id the writer chose, so that afterwards every row can be looked for), cause the fault, wait
for the first acknowledged write after it, restart what was killed and wait until it has rejoined,
then look on the (new) leader for every row the writer was told was committed.

- `unavailability_s`: from the last acknowledged write before the fault to the first one after it;
- `acknowledged_lost`: acknowledged rows missing on the leader afterwards (must be 0);
- `in_doubt`: writes whose outcome the writer never learnt (the connection broke during the INSERT);
  `in_doubt_committed` says how many of them turned out to be committed;
- `rejoin_s`: from restarting the killed node (for `postgres`: from the fault, as Patroni restarts
  it by itself) until it streams again (or leads) in a healthy cluster.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import psycopg

from gardenos.cluster.cluster import Cluster
from gardenos.cluster.processes import ClusterError

Fault = Literal["leader", "postgres", "patroni", "switchover"]
FAULTS: tuple[Fault, ...] = ("leader", "postgres", "patroni", "switchover")
TEST_DATABASE = "gardenos_failover_test"
TABLE = "failover_writes"


@dataclass(frozen=True)
class RoundReport:
    round: int
    fault: str
    old_leader: str
    new_leader: str
    unavailability_s: float
    acknowledged: int
    acknowledged_lost: int
    in_doubt: int
    in_doubt_committed: int
    rejoin_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Writer:
    """Writes rows one at a time through `url` until stopped, reconnecting after every failure."""

    url: str
    first_id: int
    acknowledged: list[tuple[float, int]] = field(default_factory=list)
    in_doubt: list[int] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Writer:
        self._thread = threading.Thread(target=self._run, name="failover-writer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def acknowledged_after(self, moment: float) -> float | None:
        return next((at for at, _ in self.acknowledged if at > moment), None)

    def wait_for_ack_after(self, moment: float, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while (found := self.acknowledged_after(moment)) is None:
            if time.monotonic() > deadline:
                raise ClusterError(f"no write was acknowledged within {timeout:.0f} s of the fault")
            time.sleep(0.02)
        return found

    def _run(self) -> None:
        ids = itertools.count(self.first_id)
        conn: psycopg.Connection | None = None
        while not self.stop_event.is_set():
            if conn is None:
                try:
                    conn = psycopg.connect(self.url, autocommit=True, connect_timeout=2)
                except psycopg.OperationalError:
                    time.sleep(0.05)  # nothing was sent: not in doubt
                    continue
            row_id = next(ids)
            try:
                conn.execute(f"INSERT INTO {TABLE} (id) VALUES (%s)", (row_id,))
            except psycopg.Error:
                self.in_doubt.append(row_id)
                conn.close()
                conn = None
                continue
            self.acknowledged.append((time.monotonic(), row_id))
        if conn is not None:
            conn.close()


def prepare(cluster: Cluster) -> None:
    """The test's own database and table (never GardenOS's database)."""
    with psycopg.connect(cluster.url(dbname="postgres"), autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TEST_DATABASE,)).fetchone() is None:
            conn.execute(f"CREATE DATABASE {TEST_DATABASE}")
    with psycopg.connect(cluster.url(dbname=TEST_DATABASE), autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigint PRIMARY KEY, at timestamptz DEFAULT now())"
        )


def run_round(
    cluster: Cluster, fault: Fault, number: int = 1, *, progress: Callable[[str], None] | None = None
) -> RoundReport:
    say = progress or (lambda message: None)
    nodes = len(cluster.spec.nodes)
    state = cluster.wait_healthy(120)
    assert state.leader is not None
    old_leader = state.leader.name
    prepare(cluster)
    with psycopg.connect(cluster.url(dbname=TEST_DATABASE), autocommit=True) as conn:
        row = conn.execute(f"SELECT coalesce(max(id), 0) FROM {TABLE}").fetchone()
    first_id = (int(row[0]) if row else 0) + 1_000_000
    writer = Writer(cluster.url(dbname=TEST_DATABASE), first_id).start()
    try:
        writer.wait_for_ack_after(time.monotonic(), 30)
        time.sleep(0.5)
        say(f"round {number}: {fault} on {old_leader}")
        fault_at = time.monotonic()
        if fault == "switchover":
            cluster.switchover()
        else:
            if fault == "leader":
                cluster.stop_node(old_leader, kill=True)
            elif fault == "patroni":
                cluster.node(old_leader).kill()
            else:
                cluster.node(old_leader).kill_postgres()
            # A write in flight may still be acknowledged while the processes die: count from their death.
            fault_at = time.monotonic()
        # Killing Patroni alone leaves its PostgreSQL serving until HAProxy fences it and the lease
        # expires: the gap comes later. So wait for a leader HAProxy routes to (a new one unless only
        # PostgreSQL crashed), and a write acknowledged after that, then take the longest gap.
        new_leader = _wait_routed_leader(cluster, None if fault == "postgres" else old_leader)
        writer.wait_for_ack_after(time.monotonic(), 120)
        time.sleep(0.5)
    finally:
        writer.stop()
    unavailability = _longest_gap([at for at, _ in writer.acknowledged], since=fault_at)
    say(f"round {number}: {new_leader} leads; longest write gap {unavailability:.1f} s")
    rejoin_from = fault_at
    if fault in ("leader", "patroni"):
        rejoin_from = time.monotonic()
        cluster.start_node(old_leader)
    state = cluster.wait_member(old_leader, timeout=180)
    rejoin_s = time.monotonic() - rejoin_from
    if state.member(old_leader) is None or len(state.members) != nodes:
        raise ClusterError(f"{old_leader} did not rejoin")
    acknowledged = [row_id for _, row_id in writer.acknowledged]
    with psycopg.connect(cluster.url(dbname=TEST_DATABASE), autocommit=True) as conn:
        found = conn.execute(f"SELECT count(*) FROM {TABLE} WHERE id = ANY(%s)", (acknowledged,)).fetchone()
        doubtful = conn.execute(
            f"SELECT count(*) FROM {TABLE} WHERE id = ANY(%s)", (writer.in_doubt,)
        ).fetchone()
    assert state.leader is not None
    return RoundReport(
        round=number,
        fault=fault,
        old_leader=old_leader,
        new_leader=state.leader.name,
        unavailability_s=round(unavailability, 2),
        acknowledged=len(acknowledged),
        acknowledged_lost=len(acknowledged) - (int(found[0]) if found else 0),
        in_doubt=len(writer.in_doubt),
        in_doubt_committed=int(doubtful[0]) if doubtful else 0,
        rejoin_s=round(rejoin_s, 2),
    )


def _wait_routed_leader(cluster: Cluster, other_than: str | None, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while True:
        state = cluster.state()
        leader = state.leader
        if leader is not None and leader.name != other_than and state.routed("primary") == (leader.name,):
            return leader.name
        if time.monotonic() > deadline:
            raise ClusterError(f"no new leader within {timeout:.0f} s")
        time.sleep(0.1)


def _longest_gap(times: list[float], since: float) -> float:
    """The longest time between consecutive acknowledged writes, from the last one before `since`."""
    before = [t for t in times if t <= since]
    window = ([before[-1]] if before else []) + [t for t in times if t > since]
    return max((b - a for a, b in itertools.pairwise(window)), default=0.0)
