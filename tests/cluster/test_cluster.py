"""A real cluster: routing through HAProxy, switchover under load, a crashed leader, `failover-test`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psycopg

from gardenos.cluster.cluster import Cluster
from gardenos.cluster.failover import run_round


def gardenos(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    settings = cluster.settings
    env = {
        **os.environ,
        "GARDENOS_DATA_DIR": str(settings.data_dir),
        "GARDENOS_RUNTIME_DIR": str(settings.runtime_dir),
        "GARDENOS_BACKUP_ENCRYPTION_KEY": settings.backup_encryption_key.get_secret_value()
        if settings.backup_encryption_key
        else "",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "gardenos", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_status_shows_leader_sync_standby_and_replica(cluster: Cluster) -> None:
    result = gardenos(cluster, "cluster", "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    roles = sorted((m["role"], m["state"]) for m in status["members"])
    assert roles == [("leader", "running"), ("replica", "streaming"), ("sync_standby", "streaming")]
    primary = [b["server"] for b in status["haproxy"] if b["proxy"] == "primary" and b["status"] == "UP"]
    assert primary == [status["leader"]]

    table = gardenos(cluster, "cluster", "status")
    assert table.returncode == 0, table.stderr
    for word in ("leader", "sync_standby", "replica", "read-write", "read-only"):
        assert word in table.stdout
    assert cluster.spec.superuser_password not in table.stdout + result.stdout


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


def test_killed_leader_is_replaced_without_loss_and_rejoins_as_replica(cluster: Cluster) -> None:
    report = run_round(cluster, "leader")
    assert report.new_leader != report.old_leader
    assert report.acknowledged_lost == 0
    state = cluster.wait_healthy()
    old = state.member(report.old_leader)
    assert old is not None
    assert old.is_streaming
    assert state.leader is not None
    assert state.leader.timeline == old.timeline


def test_failover_test_command_prints_json_rounds(cluster: Cluster) -> None:
    result = gardenos(cluster, "cluster", "failover-test", "--kill", "postgres", "--rounds", "1", "--json")
    assert result.returncode == 0, result.stderr
    rounds = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(rounds) == 1
    for key in ("unavailability_s", "acknowledged_lost", "in_doubt", "rejoin_s"):
        assert key in rounds[0]
    assert rounds[0]["acknowledged_lost"] == 0
    assert rounds[0]["unavailability_s"] > 0


def test_bad_node_names_and_faults_are_refused(cluster: Cluster) -> None:
    result = gardenos(cluster, "cluster", "stop-node", "node9")
    assert result.returncode == 1
    assert "no node 'node9'" in result.stderr
    assert "node1" in result.stderr
    result = gardenos(cluster, "cluster", "failover-test", "--kill", "everything")
    assert result.returncode == 1
    assert "choose one of" in result.stderr
