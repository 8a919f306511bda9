"""kill -9 of the leader node (Patroni and PostgreSQL at once), with two writers at the same time: the
GardenOS API running against the cluster through HAProxy (`failover-test --through api`: POST
/api/v1/leads as an agency owner) and a writer straight to HAProxy's read-write port.

- a new leader takes over, and the old one rejoins as a streaming replica after `start-node`
  (pg_rewind), on the new leader's timeline;
- neither writer loses an acknowledged write (a 201 for the API);
- the API answers 503 (with Retry-After) in the gap, never another 5xx, and is ready again after.

The API's side depends on the pool surviving a failover (src/gardenos/db/pool.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gardenos.cluster.api_target import ApiTarget, serve_api
from gardenos.cluster.cluster import Cluster
from gardenos.cluster.failover import run_round, sql_writer


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> Iterator[ApiTarget]:
    with serve_api(cluster) as target:
        yield target


def test_leader_crash_loses_no_acknowledged_write_through_the_api_or_sql(
    cluster: Cluster, api: ApiTarget
) -> None:
    direct = sql_writer(cluster).start()
    try:
        report = run_round(cluster, "leader", api=api)
    finally:
        direct.stop()

    assert report.through == "api"
    assert report.new_leader != report.old_leader
    assert report.acknowledged_lost == 0, report
    assert report.responses.get("other_5xx", 0) == 0, report.responses
    assert report.responses.get("503_without_retry_after", 0) == 0, report.responses
    assert report.responses.get("201", 0) == report.acknowledged > 0
    assert report.timeline["writes acknowledged again"] >= report.timeline["leader writable"]

    lost, _ = direct.check(cluster)
    assert direct.acknowledged, "the SQL writer never wrote"
    assert lost == 0

    state = cluster.wait_healthy()
    old = state.member(report.old_leader)
    assert old is not None
    assert old.is_streaming
    assert state.leader is not None
    assert state.leader.timeline == old.timeline
    assert httpx.get(f"{api.url}/ready", timeout=10).status_code == 200
