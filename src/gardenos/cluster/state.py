"""Immutable snapshots of a cluster: Patroni's members (as `patronictl list` shows them) and HAProxy's
view of its backends, taken at one moment."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import asdict, dataclass, field
from typing import Any

# Patroni's role for a synchronous standby: `sync_standby` in priority mode, `quorum_standby` in quorum mode.
SYNC_ROLES = frozenset({"sync_standby", "quorum_standby"})


@dataclass(frozen=True)
class MemberState:
    name: str
    role: str  # leader, sync_standby, replica
    state: str  # running, streaming, starting, stopped, crashed, …
    timeline: int | None = None
    lag_bytes: int | None = None
    host: str | None = None
    port: int | None = None

    @property
    def is_leader(self) -> bool:
        return self.role == "leader" and self.state == "running"

    @property
    def is_streaming(self) -> bool:
        return self.role != "leader" and self.state == "streaming"

    @classmethod
    def from_patroni(cls, raw: dict[str, Any]) -> MemberState:
        lag = raw.get("lag")
        return cls(
            name=str(raw["name"]),
            role=str(raw.get("role", "")),
            state=str(raw.get("state", "")),
            timeline=int(raw["timeline"]) if raw.get("timeline") is not None else None,
            lag_bytes=lag if isinstance(lag, int) else None,
            host=raw.get("host"),
            port=raw.get("port"),
        )


@dataclass(frozen=True)
class BackendState:
    """One server line of an HAProxy `listen` section: UP when its Patroni check passes."""

    proxy: str  # primary (the read-write port) or replicas (the read-only port)
    server: str
    status: str


@dataclass(frozen=True)
class ClusterState:
    members: tuple[MemberState, ...] = ()
    backends: tuple[BackendState, ...] = ()
    taken_at: float = field(default_factory=time.time)
    # Why the members are unknown (no Patroni REST API answered), if they are.
    problem: str | None = None

    @property
    def leader(self) -> MemberState | None:
        return next((m for m in self.members if m.is_leader), None)

    @property
    def sync_standbys(self) -> tuple[MemberState, ...]:
        return tuple(m for m in self.members if m.role in SYNC_ROLES and m.is_streaming)

    @property
    def replicas(self) -> tuple[MemberState, ...]:
        return tuple(m for m in self.members if m.is_streaming)

    def member(self, name: str) -> MemberState | None:
        return next((m for m in self.members if m.name == name), None)

    def routed(self, proxy: str) -> tuple[str, ...]:
        """The servers HAProxy sends this proxy's connections to."""
        return tuple(b.server for b in self.backends if b.proxy == proxy and b.status.startswith("UP"))

    def is_healthy(self, nodes: int, *, sync_wanted: int = 1) -> bool:
        """A leader that HAProxy routes writes to, every other node streaming, `sync_wanted` of them
        synchronous (in quorum mode every standby should be in the quorum: one that is merely streaming
        is not yet one the next leader counts on)."""
        leader = self.leader
        if leader is None or self.routed("primary") != (leader.name,):
            return False
        if len(self.sync_standbys) < min(sync_wanted, nodes - 1):
            return False
        return len(self.replicas) == nodes - 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "members": [asdict(m) for m in self.members],
            "haproxy": [asdict(b) for b in self.backends],
            "leader": self.leader.name if self.leader else None,
            "sync_standbys": [m.name for m in self.sync_standbys],
            "problem": self.problem,
        }


def parse_haproxy_stat(csv_text: str) -> tuple[BackendState, ...]:
    """The server rows of HAProxy's `show stat` (CSV with a `# ` before the header)."""
    text = csv_text.lstrip("# ")
    rows = csv.DictReader(io.StringIO(text))
    return tuple(
        BackendState(proxy=row["pxname"], server=row["svname"], status=row["status"])
        for row in rows
        if row.get("svname") not in (None, "FRONTEND", "BACKEND")
    )
