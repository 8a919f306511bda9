"""`gardenos cluster down` leaves no process and no listening port behind (runs last: the package's
fixture's teardown then finds nothing to stop)."""

from __future__ import annotations

import psutil

from gardenos.cluster.cluster import Cluster
from gardenos.embedded.postgres import port_is_free
from tests.cluster.conftest import gardenos


def test_down_leaves_nothing_running(cluster: Cluster) -> None:
    pids = [p.pid() for p in cluster._all()]
    postmasters = [cluster.node(n.name).postmaster_pid() for n in cluster.spec.nodes]
    assert all(pids)
    assert all(postmasters)

    result = gardenos(cluster, "cluster", "down")
    assert result.returncode == 0, result.stderr
    assert "etcd" in result.stdout

    root = str(cluster.layout.server_root)
    leftovers = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if root in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            leftovers.append(cmdline)
    assert leftovers == []
    assert [port for port in cluster.spec.ports() if not port_is_free(port)] == []
    assert not any(cluster.node(n.name).postmaster_pid() for n in cluster.spec.nodes)
