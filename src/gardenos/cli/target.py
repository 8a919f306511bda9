"""The database a command uses: `DatabaseTarget` told where the cluster is, for cluster mode."""

from __future__ import annotations

from gardenos.cluster.cluster import Cluster
from gardenos.db.target import DatabaseTarget
from gardenos.settings import Settings


def database_target(settings: Settings) -> DatabaseTarget:
    """In cluster mode (`GARDENOS_CLUSTER`, `gardenos up --cluster`), `gardenos cluster up`'s superuser
    through HAProxy's read-write port (the leader); otherwise as `DatabaseTarget` decides."""
    return DatabaseTarget(settings, cluster_url=lambda: Cluster(settings).url())
