"""The API, running against the cluster through HAProxy, keeps serving across a crash of the leader:
503s are allowed in the gap, never a 500, and every write it acknowledged (201) is on the new leader.

Depends on the pool surviving a failover (src/gardenos/db/pool.py: drop dead connections, reconnect
through HAProxy, 503 + Retry-After for a write that cannot be confirmed)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from gardenos.auth.tokens import TokenService
from gardenos.cluster.cluster import Cluster
from gardenos.db.target import DatabaseTarget
from gardenos.embedded.postgres import free_port
from tests.live import Api, Mailbox, ServerThread, agency_owner


@pytest.fixture(scope="module")
def cluster_api(cluster: Cluster) -> Iterator[Api]:
    settings = cluster.settings.model_copy(update={"cluster": True, "pool_timeout_s": 2.0})
    target = DatabaseTarget(settings)
    target.prepare()
    tokens = TokenService(settings, target.secrets.jwt_secret)
    port = free_port()
    with ServerThread(target, port) as url, httpx.Client(timeout=30) as transport:
        yield Api(
            url,
            tokens.api_key("anon"),
            tokens.api_key("service_role"),
            Mailbox(),
            target.owner_url,
            transport,
        )


def test_api_keeps_serving_across_a_leader_crash(cluster: Cluster, cluster_api: Api) -> None:
    owner = agency_owner(cluster_api, "Failover Agency")
    statuses: Counter[int] = Counter()
    acknowledged: list[str] = []
    server_errors: list[str] = []
    stop = threading.Event()

    def write() -> None:
        with cluster_api.http(owner.access_token) as http:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    response = http.post("/api/v1/leads", json={"first_name": f"Writer {n}"}, timeout=30)
                except httpx.TransportError:
                    statuses[0] += 1
                    continue
                statuses[response.status_code] += 1
                if response.status_code == 201:
                    acknowledged.append(response.json()["id"])
                elif response.status_code >= 500 and response.status_code != 503:
                    server_errors.append(response.text)
                elif response.status_code == 503:
                    assert "retry-after" in response.headers
                    time.sleep(0.1)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        while len(acknowledged) < 20:
            time.sleep(0.05)
        state = cluster.wait_healthy()
        assert state.leader is not None
        old_leader = state.leader.name
        cluster.stop_node(old_leader, kill=True)
        killed_at = time.monotonic()
        before = len(acknowledged)
        deadline = killed_at + 120
        while len(acknowledged) < before + 20:
            assert time.monotonic() < deadline, f"the API never wrote again: {statuses}"
            time.sleep(0.1)
        with cluster_api.http() as http:
            assert http.get("/ready").status_code == 200
    finally:
        stop.set()
        writer.join(timeout=60)
    cluster.start_node(old_leader)
    cluster.wait_member(old_leader)

    assert server_errors == [], statuses
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM leads WHERE id = ANY(%s::uuid[])", (acknowledged,)
        ).fetchone()
    assert row == (len(acknowledged),), f"acknowledged leads lost; statuses {statuses}"
