"""Rates and caps of /realtime/v1 (settings `realtime_*`).

- Connections per agency hold across every API process: each is a row of `realtime.connections`, taken
  under a transaction-scoped advisory lock per agency, so two processes cannot both take the last place.
  It costs one transaction when a connection joins its first channel of an agency, none per event.
- Channels per connection and joins/s are a connection's own, so per process is exact.
- Events/s per agency is a token bucket per process: shared, it would cost a database round trip per
  event, more than the event itself. N processes serving one agency allow it up to N times the rate.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from gardenos.db.pool import Database

log = logging.getLogger(__name__)

CLAIM_LOCK = """
SELECT pg_advisory_xact_lock(hashtext('gardenos_realtime_connections'), hashtext(coalesce(%s::text, '')))
"""
# Rows of processes whose lease ran out no longer count, even before a sweep removes them.
CLAIM = """
INSERT INTO realtime.connections (node_id, tag, agency_id)
SELECT %(node)s, %(tag)s, %(agency)s
WHERE (
    SELECT count(*) FROM realtime.connections c JOIN realtime.nodes n ON n.id = c.node_id
    WHERE c.agency_id IS NOT DISTINCT FROM %(agency)s AND n.expires_at > now()
) < %(cap)s
RETURNING 1
"""
RELEASE = """
DELETE FROM realtime.connections
WHERE node_id = %s AND (tag, coalesce(agency_id::text, '')) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
"""


class TokenBucket:
    """`rate` events per second, in bursts of up to one second's worth (at least one event)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.burst = max(1.0, rate)
        self.tokens = self.burst
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class AgencyCounters:
    """Connections per agency (a connection counts toward each agency it joined a channel in), shared by
    every process, and each agency's event bucket on this process."""

    def __init__(
        self,
        database: Database,
        node_id: uuid.UUID,
        register: Callable[[Any], Awaitable[None]],
        *,
        max_connections: int,
        events_per_s: float,
    ) -> None:
        self.database = database
        self.node_id = node_id
        # Writes this process's row in realtime.nodes, which a connection's row refers to.
        self.register = register
        self.max_connections = max_connections
        self.events_per_s = events_per_s
        # The connections (tags) of this process counted toward each agency.
        self.connections: defaultdict[str | None, set[str]] = defaultdict(set)
        self.buckets: dict[str | None, TokenBucket] = {}
        # Releases the database missed: retried with the next claim or release.
        self._unreleased: set[tuple[str, str | None]] = set()

    def event(self, agency: str | None) -> bool:
        bucket = self.buckets.get(agency)
        if bucket is None:
            bucket = self.buckets[agency] = TokenBucket(self.events_per_s)
        return bucket.take()

    async def claim(self, agency: str | None, tag: str) -> bool:
        """Count connection `tag` toward `agency`; False if the agency has its cap of connections."""
        if tag in self.connections.get(agency, ()):
            return True
        async with self.database.transaction("service_role") as conn:
            await self.register(conn)
            released = await self._release(conn)
            await conn.execute(CLAIM_LOCK, (agency,))
            params = {"node": self.node_id, "tag": tag, "agency": agency, "cap": self.max_connections}
            taken = await (await conn.execute(CLAIM, params)).fetchone() is not None
        self._unreleased -= released
        if taken:
            self.connections[agency].add(tag)
        return taken

    async def release(self, agency: str | None, tag: str) -> None:
        holders = self.connections.get(agency)
        if holders is None or tag not in holders:
            return
        holders.discard(tag)
        if not holders:
            del self.connections[agency]
            self.buckets.pop(agency, None)
        self._unreleased.add((tag, agency))
        try:
            async with self.database.transaction("service_role") as conn:
                released = await self._release(conn)
            self._unreleased -= released
        except Exception:
            # Kept until the next claim or release; the process's rows go with it at the latest.
            log.warning("realtime: a connection's place could not be given back yet; retrying later")

    async def _release(self, conn: Any) -> set[tuple[str, str | None]]:
        """Delete the rows of released connections in `conn`'s transaction; returns which, for the
        caller to forget once that transaction committed."""
        released = set(self._unreleased)
        if released:
            tags, agencies = zip(*released, strict=True)
            await conn.execute(RELEASE, (self.node_id, list(tags), [a or "" for a in agencies]))
        return released
