"""Rates and caps of /realtime/v1 (settings `realtime_*`), per API process."""

from __future__ import annotations

import time
from collections import defaultdict


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
    """Connections per agency (a connection counts toward each agency it joined a channel in) and each
    agency's event bucket."""

    def __init__(self, events_per_s: float) -> None:
        self.events_per_s = events_per_s
        self.connections: defaultdict[str | None, set[int]] = defaultdict(set)
        self.buckets: dict[str | None, TokenBucket] = {}

    def event(self, agency: str | None) -> bool:
        bucket = self.buckets.get(agency)
        if bucket is None:
            bucket = self.buckets[agency] = TokenBucket(self.events_per_s)
        return bucket.take()

    def release(self, agency: str | None, connection: int) -> None:
        holders = self.connections.get(agency)
        if holders is not None:
            holders.discard(connection)
            if not holders:
                del self.connections[agency]
                self.buckets.pop(agency, None)
