"""Rate limits, per client IP, per email address and per signed-in user: on sign-in, sign-up,
mail-sending and verification, and on the routes that cost far more than a read (imports, AI tasks,
search).

Counters live in PostgreSQL (an UNLOGGED table: losing them in a crash only resets the windows), so
every API process shares them. Each request's hits are counted in their own short transaction: a request
that then fails (a wrong password) must still have counted.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime

from gardenos.db.pool import Database
from gardenos.errors import GardenError

HIT = """
INSERT INTO auth.rate_limits AS r (key, window_start, hits) VALUES (%(key)s, now(), 1)
ON CONFLICT (key) DO UPDATE SET
    window_start = CASE WHEN r.window_start <= now() - make_interval(secs => %(window)s)
                        THEN now() ELSE r.window_start END,
    hits = CASE WHEN r.window_start <= now() - make_interval(secs => %(window)s) THEN 1 ELSE r.hits + 1 END
RETURNING hits, window_start, now()
"""


class RateLimited(GardenError):
    status_code = 429
    code = "GARDEN429"
    error_code = "over_request_rate_limit"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Limit:
    """At most `limit` requests of `bucket` per window for `subject` (an address, an email, a user id);
    `what` names them in the 429's message ("sign-in attempts for this email")."""

    bucket: str
    subject: str
    limit: int
    what: str


def client_key(ip: str | None) -> str:
    """Who a per-IP limit counts: the IPv4 address, or the IPv6 address's /64, the least one subscriber
    is given (counting single IPv6 addresses, one machine would have 2^64 budgets)."""
    if not ip:
        return "?"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RateLimiter:
    def __init__(self, database: Database, window_s: int) -> None:
        self.database = database
        self.window_s = window_s

    async def hit(self, bucket: str, subject: str, limit: int, what: str) -> None:
        """Count one request of `bucket` for `subject`; 429 past `limit` per window."""
        await self.check(Limit(bucket, subject, limit, what))

    async def check(self, *limits: Limit) -> None:
        """Count one request against each of `limits` (one transaction); 429 if any is past its limit,
        saying when the longest-waiting one allows again."""
        over: list[tuple[int, Limit]] = []
        async with self.database.transaction("service_role") as conn:
            for limit in limits:
                key = f"{limit.bucket}:{limit.subject.lower()}"
                cur = await conn.execute(HIT, {"key": key, "window": self.window_s})
                row = await cur.fetchone()
                assert row is not None
                hits: int = row[0]
                window_start: datetime = row[1]
                now: datetime = row[2]
                if hits > limit.limit:
                    elapsed = (now - window_start).total_seconds()
                    over.append((max(1, math.ceil(self.window_s - elapsed)), limit))
        if over:
            retry_after, limit = max(over, key=lambda item: item[0])
            raise RateLimited(
                f"too many {limit.what} (at most {limit.limit} in {self.window_s} s); "
                f"try again in {retry_after} seconds",
                retry_after,
            )
