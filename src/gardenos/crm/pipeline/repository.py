"""SQL for the pipeline summary."""

from __future__ import annotations

# Every status, with or without leads, in pipeline order. Run as the caller, under RLS.
PIPELINE = """
SELECT s.status, count(l.id) AS count, coalesce(sum(l.estimated_value), 0) AS estimated_value
FROM unnest(%s::text[]) WITH ORDINALITY AS s (status, position)
LEFT JOIN public.leads l ON l.status = s.status
GROUP BY s.status, s.position
ORDER BY s.position
"""
