"""A real cluster: routing through HAProxy, switchover under load, a PostgreSQL crash through
`failover-test`, refusals. (A crash of the whole leader node is in test_api_failover.py.)"""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg

from gardenos.cluster.cluster import Cluster
from gardenos.cluster.failover import run_round
from tests.cluster.conftest import cluster_settings, gardenos


def test_status_shows_leader_and_quorum_standbys(cluster: Cluster) -> None:
    """Quorum mode (the default): a commit waits for either standby, so both are in the quorum."""
    cluster.wait_healthy()
    result = gardenos(cluster, "cluster", "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    roles = sorted((m["role"], m["state"]) for m in status["members"])
    assert roles == [("leader", "running"), ("quorum_standby", "streaming"), ("quorum_standby", "streaming")]
    standbys = sorted(m["name"] for m in status["members"] if m["role"] != "leader")
    assert sorted(status["sync_standbys"]) == standbys
    primary = [b["server"] for b in status["haproxy"] if b["proxy"] == "primary" and b["status"] == "UP"]
    assert primary == [status["leader"]]
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        names = conn.execute("SHOW synchronous_standby_names").fetchone()
    assert names is not None
    assert names[0].startswith("ANY 1 (")

    table = gardenos(cluster, "cluster", "status")
    assert table.returncode == 0, table.stderr
    for word in ("leader", "quorum_standby", "read-write", "read-only"):
        assert word in table.stdout
    assert cluster.spec.superuser_password not in table.stdout + result.stdout


def test_priority_mode_shows_leader_sync_standby_and_replica(tmp_path: Path) -> None:
    """GARDENOS_CLUSTER_SYNC_MODE=priority: one named synchronous standby, the other node asynchronous."""
    settings = cluster_settings(tmp_path).model_copy(update={"cluster_sync_mode": "priority"})
    other = Cluster(settings)
    try:
        other.up(3)
        result = gardenos(other, "cluster", "status", "--json", settings=settings)
        assert result.returncode == 0, result.stderr
        status = json.loads(result.stdout)
        roles = sorted((m["role"], m["state"]) for m in status["members"])
        assert roles == [("leader", "running"), ("replica", "streaming"), ("sync_standby", "streaming")]
        with psycopg.connect(other.url(), autocommit=True) as conn:
            names = conn.execute("SHOW synchronous_standby_names").fetchone()
        assert names is not None
        assert names[0] == status["sync_standbys"][0]
    finally:
        other.down()
        other.remove()


def test_writes_land_on_the_leader_and_reads_come_from_a_replica(cluster: Cluster) -> None:
    state = cluster.wait_healthy()
    assert state.leader is not None
    leader_port = cluster.spec.node(state.leader.name).pg_port
    replica_ports = {cluster.spec.node(m.name).pg_port for m in state.replicas}
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        in_recovery, port = conn.execute("SELECT pg_is_in_recovery(), inet_server_port()").fetchone()  # type: ignore[misc]
        assert (in_recovery, port) == (False, leader_port)
        conn.execute("CREATE TABLE IF NOT EXISTS routing (id int PRIMARY KEY)")
        conn.execute("INSERT INTO routing VALUES (1) ON CONFLICT DO NOTHING")
    seen_ports = set()
    for _ in range(4):  # round robin over the replicas
        with psycopg.connect(cluster.url(cluster.spec.ro_port), autocommit=True) as conn:
            in_recovery, port = conn.execute("SELECT pg_is_in_recovery(), inet_server_port()").fetchone()  # type: ignore[misc]
            assert in_recovery is True
            seen_ports.add(port)
            deadline = time.monotonic() + 10
            while conn.execute("SELECT count(*) FROM routing").fetchone() != (1,):
                assert time.monotonic() < deadline, "the row never reached the replica"
                time.sleep(0.05)
    assert seen_ports == replica_ports


def test_switchover_under_write_load_loses_nothing(cluster: Cluster) -> None:
    report = run_round(cluster, "switchover")
    assert report.new_leader != report.old_leader
    assert report.acknowledged > 0
    assert report.acknowledged_lost == 0
    # The recovery was seen step by step, and writes came back after the leader took them.
    assert {"leader writable", "haproxy routes the leader", "writes acknowledged again"} <= set(
        report.timeline
    )


def test_failover_test_command_crashes_postgres_and_reports_json_rounds(cluster: Cluster) -> None:
    result = gardenos(cluster, "cluster", "failover-test", "--kill", "postgres", "--rounds", "1", "--json")
    assert result.returncode == 0, result.stderr
    rounds = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(rounds) == 1
    report = rounds[0]
    for key in ("unavailability_s", "acknowledged_lost", "in_doubt", "rejoin_s", "timeline"):
        assert key in report
    assert report["through"] == "sql"
    assert report["old_leader"] == report["new_leader"], "Patroni restarts PostgreSQL in place"
    assert report["acknowledged_lost"] == 0
    assert report["unavailability_s"] > 0
    assert "patroni noticed" in report["timeline"]


def test_bad_node_names_faults_and_writers_are_refused(cluster: Cluster) -> None:
    result = gardenos(cluster, "cluster", "stop-node", "node9")
    assert result.returncode == 1
    assert "no node 'node9'" in result.stderr
    assert "node1" in result.stderr
    result = gardenos(cluster, "cluster", "failover-test", "--kill", "everything")
    assert result.returncode == 1
    assert "choose one of" in result.stderr
    result = gardenos(cluster, "cluster", "failover-test", "--through", "carrier-pigeon")
    assert result.returncode == 1
    assert "choose one of sql, api" in result.stderr
