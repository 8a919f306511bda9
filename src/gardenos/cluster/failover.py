"""`gardenos cluster failover-test`: a writer, a fault, and a report.

Each round: wait for a healthy cluster, start a writer, cause the fault, wait for the first
acknowledged write after it, restart what was killed and wait until it has rejoined, then look on the
(new) leader for every write the writer was told was committed. The writer goes either straight to
HAProxy's read-write port (`sql`: one autocommit INSERT at a time, each row with an id the writer
chose) or through the GardenOS API (`api`: `POST /api/v1/leads` as an agency owner, each lead named
so that it can be looked for, its id taken from the 201).

- `unavailability_s`: from the last acknowledged write before the fault to the first one after it;
- `acknowledged_lost`: acknowledged writes missing on the leader afterwards (must be 0);
- `in_doubt`: writes whose outcome the writer never learnt (the connection broke during the INSERT;
  through the API: no answer, a 503 that says the outcome is unknown, or any other 5xx);
  `in_doubt_committed` says how many of them turned out to be committed;
- `rejoin_s`: from restarting the killed node (for `postgres`: from the fault, as Patroni restarts
  it by itself) until it streams again (or leads) in a healthy cluster;
- `responses` (API only): answers by kind: `201`, `503` (`503_without_retry_after` must be 0),
  `other_5xx` (must be 0), `4xx`, `no_answer`;
- `timeline`: when, in seconds after the fault, each step of the recovery was first seen (sampled
  every tenth of a second): Patroni noticing, the leader's PostgreSQL taking writes again, HAProxy
  routing to it, a synchronous standby attached to it, and the write that ended the longest gap.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import httpx
import psycopg

from gardenos.cluster.cluster import POLL_S, Cluster
from gardenos.cluster.processes import ClusterError

if TYPE_CHECKING:
    from gardenos.cluster.api_target import ApiTarget

Fault = Literal["leader", "postgres", "patroni", "switchover"]
FAULTS: tuple[Fault, ...] = ("leader", "postgres", "patroni", "switchover")
Through = Literal["sql", "api"]
THROUGH: tuple[Through, ...] = ("sql", "api")
TEST_DATABASE = "gardenos_failover_test"
TABLE = "failover_writes"


@dataclass(frozen=True)
class RoundReport:
    round: int
    fault: str
    through: str
    old_leader: str
    new_leader: str
    unavailability_s: float
    acknowledged: int
    acknowledged_lost: int
    in_doubt: int
    in_doubt_committed: int
    rejoin_s: float
    timeline: dict[str, float] = field(default_factory=dict)
    responses: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Writer(ABC):
    """Writes one thing at a time until stopped; keeps when each acknowledged write was acknowledged."""

    def __init__(self) -> None:
        self.acknowledged: list[tuple[float, Any]] = []
        self.in_doubt: list[Any] = []
        self.responses: Counter[str] = Counter()
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None

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
                raise ClusterError(
                    f"no write was acknowledged within {timeout:.0f} s"
                    + (f" (answers so far: {dict(self.responses)})" if self.responses else "")
                )
            time.sleep(0.02)
        return found

    @abstractmethod
    def _run(self) -> None: ...

    @abstractmethod
    def check(self, cluster: Cluster) -> tuple[int, int]:
        """(acknowledged writes missing on the leader, writes in doubt that were committed)."""


class SqlWriter(Writer):
    """Autocommit INSERTs of ids it chooses, through `url`, reconnecting after every failure."""

    def __init__(self, url: str, first_id: int) -> None:
        super().__init__()
        self.url = url
        self.first_id = first_id

    def _run(self) -> None:
        ids = itertools.count(self.first_id)
        conn: psycopg.Connection | None = None
        while not self.stop_event.is_set():
            if conn is None:
                try:
                    conn = psycopg.connect(self.url, autocommit=True, connect_timeout=2)
                except psycopg.OperationalError:
                    time.sleep(0.02)  # nothing was sent: not in doubt
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

    def check(self, cluster: Cluster) -> tuple[int, int]:
        acknowledged = [row_id for _, row_id in self.acknowledged]
        with psycopg.connect(cluster.url(dbname=TEST_DATABASE), autocommit=True) as conn:
            found = _count(conn, f"SELECT count(*) FROM {TABLE} WHERE id = ANY(%s)", acknowledged)
            doubtful = _count(conn, f"SELECT count(*) FROM {TABLE} WHERE id = ANY(%s)", self.in_doubt)
        return len(acknowledged) - found, doubtful


class ApiWriter(Writer):
    """`POST /api/v1/leads` as an agency owner, one at a time; each lead's last name is unique."""

    UNKNOWN_OUTCOME = "may or may not"

    def __init__(self, target: ApiTarget) -> None:
        super().__init__()
        self.target = target
        self.marker = uuid.uuid4().hex[:12]

    def _run(self) -> None:
        with httpx.Client(base_url=self.target.url, headers=self.target.headers, timeout=30) as http:
            for n in itertools.count(1):
                if self.stop_event.is_set():
                    return
                name = f"{self.marker}-{n}"
                try:
                    response = http.post("/api/v1/leads", json={"first_name": "Failover", "last_name": name})
                except httpx.TransportError:
                    self.responses["no_answer"] += 1
                    self.in_doubt.append(name)
                    time.sleep(0.02)
                    continue
                status = response.status_code
                if status == 201:
                    self.responses["201"] += 1
                    self.acknowledged.append((time.monotonic(), str(response.json()["id"])))
                    continue
                kind = "503" if status == 503 else "other_5xx" if status >= 500 else f"{status // 100}xx"
                self.responses[kind] += 1
                if status == 503 and "retry-after" not in response.headers:
                    self.responses["503_without_retry_after"] += 1
                if status >= 500 and (status != 503 or self.UNKNOWN_OUTCOME in response.text):
                    self.in_doubt.append(name)
                time.sleep(0.1 if status == 503 else 0.02)

    def check(self, cluster: Cluster) -> tuple[int, int]:
        acknowledged = [lead_id for _, lead_id in self.acknowledged]
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            found = _count(conn, "SELECT count(*) FROM public.leads WHERE id = ANY(%s::uuid[])", acknowledged)
            doubtful = _count(
                conn, "SELECT count(*) FROM public.leads WHERE last_name = ANY(%s)", self.in_doubt
            )
        return len(acknowledged) - found, doubtful


def _count(conn: psycopg.Connection, sql: str, values: list[Any]) -> int:
    row = conn.execute(sql, (values,)).fetchone()
    return int(row[0]) if row else 0


def prepare(cluster: Cluster) -> None:
    """The SQL writer's own database and table (never GardenOS's database)."""
    with psycopg.connect(cluster.url(dbname="postgres"), autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TEST_DATABASE,)).fetchone() is None:
            conn.execute(f"CREATE DATABASE {TEST_DATABASE}")
    with psycopg.connect(cluster.url(dbname=TEST_DATABASE), autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigint PRIMARY KEY, at timestamptz DEFAULT now())"
        )


def sql_writer(cluster: Cluster) -> SqlWriter:
    prepare(cluster)
    with psycopg.connect(cluster.url(dbname=TEST_DATABASE), autocommit=True) as conn:
        row = conn.execute(f"SELECT coalesce(max(id), 0) FROM {TABLE}").fetchone()
    return SqlWriter(cluster.url(dbname=TEST_DATABASE), (int(row[0]) if row else 0) + 1_000_000)


def run_round(
    cluster: Cluster,
    fault: Fault,
    number: int = 1,
    *,
    api: ApiTarget | None = None,
    progress: Callable[[str], None] | None = None,
) -> RoundReport:
    """One round; through the API when `api` is given (see `api_target.serve_api`), else through SQL."""
    say = progress or (lambda message: None)
    nodes = len(cluster.spec.nodes)
    state = cluster.wait_healthy(120)
    assert state.leader is not None
    old_leader = state.leader.name
    writer: Writer = ApiWriter(api) if api is not None else sql_writer(cluster)
    writer.start()
    probe = Probe(cluster)
    try:
        writer.wait_for_ack_after(time.monotonic(), 60)
        probe.start()
        time.sleep(0.5)
        if fault != "switchover":
            # A crash comes at any moment of Patroni's loop, and the lease expires ttl after the leader's
            # last renewal. A round starts when a loop has just reported the cluster healthy, so without
            # this every kill fell at about the same point of the loop: the same fault measured 18.3-19.3 s
            # through SQL (whose writer starts slower) and 19.4-21.0 s through the API.
            time.sleep(random.uniform(0, cluster.settings.cluster_loop_wait_s))  # noqa: S311 (not a secret)
        say(f"round {number}: {fault} on {old_leader}")
        fault_at = time.monotonic()
        if fault == "switchover":
            cluster.switchover()
        else:
            # The signals go out at once; the kill returns once the processes are gone.
            if fault == "leader":
                cluster.stop_node(old_leader, kill=True)
            elif fault == "patroni":
                cluster.node(old_leader).kill()
            else:
                cluster.node(old_leader).kill_postgres()
        # Killing Patroni alone leaves its PostgreSQL serving until HAProxy fences it and the lease
        # expires: the gap comes later. So wait for a leader HAProxy routes to (a new one unless only
        # PostgreSQL crashed), and a write acknowledged after that, then take the longest gap.
        new_leader = _wait_routed_leader(cluster, None if fault == "postgres" else old_leader)
        writer.wait_for_ack_after(time.monotonic(), 120)
        time.sleep(0.5)
    finally:
        writer.stop()
        probe.stop()
    unavailability, back_at = _longest_gap([at for at, _ in writer.acknowledged], since=fault_at)
    timeline = probe.timeline(fault_at, old_leader)
    timeline["writes acknowledged again"] = round(back_at - fault_at, 2)
    say(f"round {number}: {new_leader} leads; longest write gap {unavailability:.1f} s")
    rejoin_from = fault_at
    if fault in ("leader", "patroni"):
        rejoin_from = time.monotonic()
        cluster.start_node(old_leader)
    state = cluster.wait_member(old_leader, timeout=180)
    rejoin_s = time.monotonic() - rejoin_from
    if state.member(old_leader) is None or len(state.members) != nodes:
        raise ClusterError(f"{old_leader} did not rejoin")
    lost, doubtful = writer.check(cluster)
    assert state.leader is not None
    return RoundReport(
        round=number,
        fault=fault,
        through="api" if api is not None else "sql",
        old_leader=old_leader,
        new_leader=state.leader.name,
        unavailability_s=round(unavailability, 2),
        acknowledged=len(writer.acknowledged),
        acknowledged_lost=lost,
        in_doubt=len(writer.in_doubt),
        in_doubt_committed=doubtful,
        rejoin_s=round(rejoin_s, 2),
        timeline=timeline,
        responses=dict(sorted(writer.responses.items())),
    )


@dataclass(frozen=True)
class Sample:
    at: float
    # The old leader as Patroni reports it: still the running leader?
    old_leads: bool
    # The running leader Patroni reports (None while there is none, or it is not running yet).
    leader: str | None
    # The node asked directly: the leader, or the old leader while Patroni reports none.
    node: str | None
    routed: tuple[str, ...]
    # That node's PostgreSQL takes writes; a synchronous standby streams from it.
    writable: bool
    sync_attached: bool


class Probe:
    """Samples the cluster every POLL_S while a round runs, to tell when each step of the recovery
    happened: what Patroni reports, what HAProxy routes, and what the leader's PostgreSQL answers."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="failover-probe", daemon=True)
        self._conns: dict[str, psycopg.Connection] = {}
        self._old_leader: str | None = None

    def start(self) -> None:
        state = self.cluster.state()
        self._old_leader = state.leader.name if state.leader else None
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for conn in self._conns.values():
            conn.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            with contextlib.suppress(OSError, ValueError, KeyError):  # only a missing point
                self.samples.append(self._sample())
            self._stop.wait(max(0.0, POLL_S - (time.monotonic() - began)))

    def _sample(self) -> Sample:
        at = time.monotonic()
        state = self.cluster.state()
        old = state.member(self._old_leader) if self._old_leader else None
        leader = state.leader.name if state.leader else None
        node = leader or self._old_leader
        writable, attached = self._ask(node)
        return Sample(
            at=at,
            old_leads=old is not None and old.is_leader,
            leader=leader,
            node=node,
            routed=state.routed("primary"),
            writable=writable,
            sync_attached=attached,
        )

    def _ask(self, node: str | None) -> tuple[bool, bool]:
        if node is None:
            return False, False
        conn = self._conns.get(node)
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(
                    self.cluster.node_url(node, dbname="postgres"), autocommit=True, connect_timeout=1
                )
                self._conns[node] = conn
            row = conn.execute(
                "SELECT NOT pg_is_in_recovery(), EXISTS (SELECT 1 FROM pg_stat_replication "
                "WHERE state = 'streaming' AND sync_state IN ('sync', 'quorum'))"
            ).fetchone()
        except psycopg.Error:
            if conn is not None:
                conn.close()
            self._conns.pop(node, None)
            return False, False
        return (bool(row[0]), bool(row[1])) if row else (False, False)

    def timeline(self, fault_at: float, old_leader: str) -> dict[str, float]:
        """Seconds after the fault at which each step was first seen (steps never seen are left out)."""
        samples = [s for s in self.samples if s.at >= fault_at]
        found: dict[str, float] = {}
        noticed = next((s for s in samples if not s.old_leads), None)
        if noticed is not None:
            found["patroni noticed"] = round(noticed.at - fault_at, 2)
        steps: dict[str, Callable[[Sample], bool]] = {
            "leader writable": lambda s: s.writable,
            "haproxy routes the leader": lambda s: s.node is not None and s.routed == (s.node,),
            "sync standby attached": lambda s: s.sync_attached,
            "patroni reports the leader running": lambda s: s.leader is not None,
        }
        for name, holds in steps.items():
            # The first moment it holds again after it stopped holding (or after the leader changed).
            lost = next((i for i, s in enumerate(samples) if not holds(s) or s.node != old_leader), None)
            if lost is None:
                continue
            back = next((s for s in samples[lost:] if holds(s)), None)
            if back is not None:
                found[name] = round(back.at - fault_at, 2)
        return found


def _wait_routed_leader(cluster: Cluster, other_than: str | None, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while True:
        state = cluster.state()
        leader = state.leader
        if leader is not None and leader.name != other_than and state.routed("primary") == (leader.name,):
            return leader.name
        if time.monotonic() > deadline:
            raise ClusterError(f"no new leader within {timeout:.0f} s")
        time.sleep(POLL_S)


def _longest_gap(times: list[float], since: float) -> tuple[float, float]:
    """The longest time between consecutive acknowledged writes, from the last one before `since`,
    and when it ended."""
    before = [t for t in times if t <= since]
    window = ([before[-1]] if before else []) + [t for t in times if t > since]
    gaps = [(b - a, b) for a, b in itertools.pairwise(window)]
    return max(gaps, default=(0.0, since))
