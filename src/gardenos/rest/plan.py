"""`Accept: application/vnd.pgrst.plan+json|text`: the EXPLAIN of a request's own statement, as PostgREST
answers it when `db-plan-enabled` is on (GARDENOS_REST_PLAN_ENABLED here).

The plan is of the very statement the request would run, in the same transaction as the same role with
the same claims, read-only mode and statement timeout: a role that may not run the query gets the
query's own refusal rather than its plan, and `options=analyze` runs it under RLS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from psycopg import sql

from gardenos.rest.build import RestError

PLAN_TYPES = {
    "application/vnd.pgrst.plan": "text",
    "application/vnd.pgrst.plan+text": "text",
    "application/vnd.pgrst.plan+json": "json",
}
# EXPLAIN's options a client may ask for, as PostgREST names them (`options=analyze|verbose`).
OPTIONS = ("analyze", "verbose", "settings", "buffers", "wal")


@dataclass(frozen=True)
class PlanRequest:
    format: Literal["json", "text"]
    for_type: str
    options: tuple[str, ...]

    @property
    def media_type(self) -> str:
        """As PostgREST writes it back (its `toMime`), in the Content-Type and in a refusal."""
        text = f'application/vnd.pgrst.plan+{self.format}; for="{self.for_type}"'
        return text + (f"; options={'|'.join(self.options)}" if self.options else "")

    def explain(self, statement: sql.Composable) -> sql.Composed:
        keywords = [f"FORMAT {self.format.upper()}", *(o.upper() for o in self.options)]
        return sql.SQL("EXPLAIN ({}) {}").format(sql.SQL(", ").join(map(sql.SQL, keywords)), statement)

    def body(self, rows: list[tuple[Any, ...]]) -> str:
        """FORMAT JSON answers one row, FORMAT TEXT a row per line."""
        if self.format == "json":
            return json.dumps(rows[0][0])
        return "".join(f"{row[0]}\n" for row in rows)


def _parameters(text: str) -> tuple[str, dict[str, str]]:
    kind, *parts = text.split(";")
    params = {}
    for part in parts:
        key, _, value = part.partition("=")
        if key.strip():
            params[key.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), params


def _plan(kind: str, params: dict[str, str]) -> PlanRequest:
    for_type = params.get("for", "application/json").lower() or "application/json"
    asked = params.get("options", "").split("|")
    return PlanRequest(
        "json" if PLAN_TYPES[kind] == "json" else "text",
        for_type,
        tuple(o for o in OPTIONS if o in asked),
    )


def plan_request(accept: str, *, enabled: bool) -> PlanRequest | None:
    """The plan the Accept header asks for, or None for an ordinary answer.

    As PostgREST, the first media type that can be produced wins, and a plan type cannot be produced
    when plans are off: an Accept that names nothing else is 406 PGRST107."""
    media = [_parameters(m) for m in accept.split(",") if m.strip()]
    refused = []
    for kind, params in media:
        if kind not in PLAN_TYPES:
            return None
        plan = _plan(kind, params)
        if enabled:
            return plan
        refused.append(plan.media_type)
    if refused:
        raise RestError("PGRST107", 406, f"None of these media types are available: {', '.join(refused)}")
    return None
