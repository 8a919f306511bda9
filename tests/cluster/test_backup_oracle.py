"""The restore test that cannot be fooled (issue 15, "Done when").

A writer inserts one row per transaction through the read-write port and keeps, for each, the moment
just before COMMIT was sent and the moment the commit was acknowledged. Meanwhile come a switchover, a
kill -9 of the leader (Patroni and its postmaster: a failover), a kill -9 of the new leader's
postmaster alone (Patroni restarts it on its timeline) and `cluster down` + `cluster up` (which must
keep the timeline, and name a restore left running). Base backups: one early, one after the restart.
Then the run is restored to 20 points in time (one of them earlier, on the running cluster), on every
timeline, at the faults, at the edges of one commit, and a moment before the restore command itself
(the writer still writing). Each restored database must hold every row acknowledged before its T
and no row whose COMMIT was sent after it; a row whose [sent, acknowledged] holds T may be either,
and a row whose COMMIT was never sent is never there. Times outside the window are refused.

The module uses the package's cluster (a cluster of its own would add a bootstrap to CI); it is named
to run before `test_down.py`, and leaves the cluster healthy with every node back.

Clocks: PostgreSQL stamps a commit record with its clock between receiving COMMIT and answering it,
and recovery_target_time compares those stamps; the writer reads the same wall clock (UTC, in
microseconds) on the same machine, so `sent <= commit stamp <= acknowledged`.
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from gardenos.backup.backup import take_backup
from gardenos.cluster.cluster import Cluster
from tests.cluster.conftest import gardenos

TABLE = "oracle_writes"
RESTORES = 20
US = timedelta(microseconds=1)


@dataclass
class Write:
    id: int
    # Just before COMMIT was sent (None: it never was, the transaction failed before); when the
    # commit was acknowledged (None: it was not, or the answer was lost).
    sent: datetime | None = None
    acked: datetime | None = None
    error: str | None = None


@dataclass
class Writer:
    """One row per transaction through `url`, reconnecting after any failure, until stopped."""

    url: str
    writes: list[Write] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="oracle-writer", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        assert self.thread is not None
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the writer did not stop"

    def acknowledged(self) -> list[Write]:
        return [w for w in list(self.writes) if w.acked is not None]

    def wait_acks(self, count: int = 5, timeout: float = 90) -> datetime:
        """Until `count` more writes are acknowledged; returns the last one's acknowledgement."""
        start = len(self.acknowledged())
        deadline = time.monotonic() + timeout
        while len(found := self.acknowledged()) < start + count:
            assert time.monotonic() < deadline, f"no write acknowledged within {timeout:.0f} s"
            time.sleep(0.02)
        acked = found[-1].acked
        assert acked is not None
        return acked

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        next_id = 1
        while not self.stop_event.is_set():
            if conn is None:
                try:
                    conn = psycopg.connect(self.url, connect_timeout=2)
                except psycopg.OperationalError:
                    time.sleep(0.05)
                    continue
            write = Write(next_id)
            next_id += 1
            self.writes.append(write)
            try:
                conn.execute(f"INSERT INTO {TABLE} (id) VALUES (%s)", (write.id,))
                write.sent = datetime.now(UTC)
                conn.commit()
                write.acked = datetime.now(UTC)
            except psycopg.Error as exc:
                write.error = type(exc).__name__
                conn.close()
                conn = None
                time.sleep(0.05)
                continue
            # About 50 rows a second: commits close together around every target, without
            # loading the machine's two cores.
            time.sleep(0.02)
        if conn is not None:
            conn.close()


def mismatches(writes: list[Write], target: datetime, found: set[int]) -> list[str]:
    """What the database restored to `target` holds wrongly: a row acknowledged before it that is
    missing, a row whose COMMIT was sent after it (or never) that is there."""
    wrong = []
    for w in writes:
        if w.acked is not None and w.acked < target and w.id not in found:
            wrong.append(f"row {w.id} acknowledged at {w.acked:%H:%M:%S.%f} is missing")
        elif (w.sent is None or w.sent > target) and w.id in found:
            sent = f"{w.sent:%H:%M:%S.%f}" if w.sent else "never"
            wrong.append(f"row {w.id} (COMMIT sent {sent}) is there")
    return wrong


def _timeline(cluster: Cluster) -> int:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        current = conn.execute("SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)").fetchone()
    assert current is not None
    return int(current[0], 16)


def _restore(cluster: Cluster, target: datetime) -> tuple[dict[str, object], float]:
    started = time.monotonic()
    result = gardenos(cluster, "restore", "--to", target.isoformat(), "--json")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, f"restore to {target.isoformat()}: {result.stderr}"
    return json.loads(result.stdout), elapsed


def _rows(cluster: Cluster, port: int) -> set[int]:
    with psycopg.connect(cluster.url(port), autocommit=True) as conn:
        return {row[0] for row in conn.execute(f"SELECT id FROM {TABLE}")}


def _stop(cluster: Cluster, folder: str) -> None:
    restore_id = folder.rstrip("/").rsplit("/", 1)[-1]
    stopped = gardenos(cluster, "restore", "stop", restore_id)
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stdout


def _pick(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + (end - start) * rng.random()


# A guard against a hang, not a speed check: the run (faults, 20 restores) takes minutes on a loaded machine.
@pytest.mark.timeout(1200)
def test_restores_hold_exactly_the_commits_acknowledged_before_their_time(cluster: Cluster) -> None:
    module_started = time.monotonic()
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    cluster.wait_healthy()
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY)")
    writer = Writer(cluster.url())
    writer.start()
    marks: dict[str, datetime] = {}
    timelines: dict[str, int] = {}
    durations: list[float] = []
    wrong: list[str] = []
    running: dict[str, object] | None = None

    def check(name: str, target: datetime, *, keep: bool = False) -> dict[str, object]:
        restored, elapsed = _restore(cluster, target)
        durations.append(elapsed)
        try:
            found = _rows(cluster, int(str(restored["port"])))
        finally:
            if not keep:
                _stop(cluster, str(restored["folder"]))
        bad = mismatches(list(writer.writes), target, found)
        wrong.extend(f"T={target.isoformat()} ({name}): {message}" for message in bad[:5])
        return restored

    try:
        writer.wait_acks()
        timelines["start"] = _timeline(cluster)
        marks["backup"] = take_backup(cluster).restorable_from
        writer.wait_acks(25)

        marks["switchover"] = datetime.now(UTC)
        switched = gardenos(cluster, "cluster", "switchover")
        assert switched.returncode == 0, switched.stderr
        marks["switched"] = writer.wait_acks()
        timelines["switchover"] = _timeline(cluster)
        writer.wait_acks(25)

        # A crash of the leader's machine: its Patroni and its postmaster killed (SIGKILL) at once; a
        # standby takes over once the leader key expires.
        leader = cluster.wait_healthy().leader
        assert leader is not None
        marks["leader killed"] = datetime.now(UTC)
        assert cluster.stop_node(leader.name, kill=True)
        marks["failed over"] = writer.wait_acks(timeout=120)
        timelines["failover"] = _timeline(cluster)
        cluster.start_node(leader.name)
        # While the old leader rejoins: a restore to before the failover, made on the running
        # cluster and left running, for `cluster down` to name.
        running = check(
            "before the failover, on the running cluster",
            _pick(rng, marks["switched"], marks["leader killed"]),
            keep=True,
        )
        cluster.wait_member(leader.name)
        writer.wait_acks(25)

        # The new leader's postmaster alone killed: its Patroni, still holding the key, restarts it.
        leader = cluster.wait_healthy().leader
        assert leader is not None
        marks["postmaster killed"] = datetime.now(UTC)
        assert cluster.node(leader.name).kill_postgres()
        marks["postmaster back"] = writer.wait_acks(timeout=120)
        timelines["postmaster killed"] = _timeline(cluster)
        cluster.wait_healthy()
        writer.wait_acks(25)

        marks["down"] = datetime.now(UTC)
        down = gardenos(cluster, "cluster", "down")
        assert down.returncode == 0, down.stderr
        restore_id = str(running["folder"]).rsplit("/", 1)[-1]
        assert f"restore {restore_id} still runs on 127.0.0.1:{running['port']}" in down.stdout
        up = gardenos(cluster, "cluster", "up")
        assert up.returncode == 0, up.stderr
        marks["up"] = writer.wait_acks(timeout=120)
        # A clean stop and start is no failover.
        timelines["down and up"] = _timeline(cluster)
        assert timelines["down and up"] == timelines["postmaster killed"], timelines
        _stop(cluster, str(running["folder"]))
        running = None
        writer.wait_acks(25)
        # A second backup: restores after it replay from it, those before from the first.
        marks["second backup"] = take_backup(cluster).restorable_from
        writer.wait_acks(25)

        # Restores across the whole run, at the faults, at one commit's edges, then a moment before
        # the restore command with the writer still writing.
        acked = writer.acknowledged()
        last = acked[-1].acked
        assert last is not None
        targets: list[tuple[str, datetime]] = []
        for name, start, end, count in (
            ("after the backup", marks["backup"], marks["switchover"], 2),
            ("after the switchover", marks["switched"], marks["leader killed"], 2),
            ("after the failover", marks["failed over"], marks["postmaster killed"], 2),
            ("after the crash restart", marks["postmaster back"], marks["down"], 1),
            ("after down and up", marks["up"], marks["second backup"], 1),
            ("after the second backup", marks["second backup"], last, 1),
        ):
            targets += [(name, _pick(rng, start, end)) for _ in range(count)]
        for name in ("leader killed", "postmaster killed", "down"):
            targets.append((f"just before: {name}", marks[name] - rng.randint(1, 300_000) * US))
        for name in ("failed over", "up"):
            targets.append((f"just after: {name}", marks[name] + rng.randint(1, 300) * US))
        edge = rng.choice([w for w in acked if w.sent is not None and w.sent > marks["backup"]])
        assert edge.sent is not None
        assert edge.acked is not None
        targets += [("a commit's acknowledgement", edge.acked + US), ("a commit's sending", edge.sent - US)]
        for name, target in targets:
            check(name, target)
        while len(durations) < RESTORES:
            writer.wait_acks(rng.randint(1, 20))
            newest = writer.acknowledged()[-1].acked
            assert newest is not None
            check("a moment before the restore command", newest + US)
    finally:
        writer.stop()
        if running is not None:
            _stop(cluster, str(running["folder"]))
        # Whatever happened, the modules after this one find every node running. (Through the
        # command: this fixture's controllers still hold the processes `cluster down` stopped.)
        assert gardenos(cluster, "cluster", "up").returncode == 0

    listed = gardenos(cluster, "restore", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["id"] for r in json.loads(listed.stdout) if r["running"]] == []
    found = _rows(cluster, cluster.spec.rw_port)
    assert [w.id for w in writer.acknowledged() if w.id not in found] == [], "acknowledged writes lost"

    # Refused, with the window in the message: before the earliest restorable time, in the future.
    window = gardenos(cluster, "backup", "list", "--json")
    assert window.returncode == 0, window.stderr
    earliest = datetime.fromisoformat(json.loads(window.stdout)["window"]["earliest"])
    for refused_at in (earliest - timedelta(seconds=1), datetime.now(UTC) + timedelta(minutes=5)):
        refused = gardenos(cluster, "restore", "--to", refused_at.isoformat())
        assert refused.returncode == 1
        assert "is outside what can be restored: from 20" in refused.stderr
        assert "FATAL" not in refused.stderr

    assert len(set(timelines.values())) >= 3, timelines
    ordered = sorted(durations)
    # The figures the closing note asks for (shown with -s).
    print(
        f"\nrestore oracle (seed {seed}): {len(durations)} restores, {len(wrong)} mismatches, "
        f"{len(writer.acknowledged())} commits acknowledged of {len(writer.writes)} tried; timelines "
        f"{timelines}; restore p50 {statistics.median(ordered):.1f} s, "
        f"p95 {ordered[round(0.95 * (len(ordered) - 1))]:.1f} s, max {ordered[-1]:.1f} s; "
        f"module {time.monotonic() - module_started:.0f} s"
    )
    assert wrong == [], f"seed {seed}: " + "\n".join(wrong)
