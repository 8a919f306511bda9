"""Rate limits on sign-in, sign-up, mail-sending and verification, per client IP and per email address.

Counters live in PostgreSQL (an UNLOGGED table: losing them in a crash only resets the windows), so
every API process shares them. Each hit is counted in its own short transaction: a request that then
fails (a wrong password) must still have counted.
"""

from __future__ import annotations

import math
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


class RateLimiter:
    def __init__(self, database: Database, window_s: int) -> None:
        self.database = database
        self.window_s = window_s

    async def hit(self, bucket: str, subject: str, limit: int, what: str) -> None:
        """Count one request of `bucket` for `subject` (an IP or an email); 429 past `limit` per window."""
        key = f"{bucket}:{subject.lower()}"
        async with self.database.transaction("service_role") as conn:
            cur = await conn.execute(HIT, {"key": key, "window": self.window_s})
            row = await cur.fetchone()
        assert row is not None
        hits: int = row[0]
        window_start: datetime = row[1]
        now: datetime = row[2]
        if hits > limit:
            retry_after = max(1, math.ceil(self.window_s - (now - window_start).total_seconds()))
            raise RateLimited(f"too many {what}; try again in {retry_after} seconds", retry_after)
