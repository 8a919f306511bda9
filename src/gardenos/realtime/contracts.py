"""What a realtime channel and the database-change feed agree on.

A channel joined with `config.postgres_changes` asks the feed for one subscription per entry. The feed
decides, for every committed change, which subscriptions may see it (the subscriber's RLS as of that
moment) and hands each the change in the wire shape of Supabase Realtime's `postgres_changes` message
`data`; the channel adds the subscription ids and sends it. Changes reach a sink in commit order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from gardenos.auth.principal import Principal
from gardenos.errors import BadRequest

ChangeEvent = Literal["INSERT", "UPDATE", "DELETE", "*"]


class InvalidChangeSpec(BadRequest):
    """A `postgres_changes` entry the feed cannot serve (unknown table, bad filter, feature off): the
    channel answers its join with this message."""

    error_code = "invalid_postgres_changes"


@dataclass(frozen=True)
class ChangeSpec:
    """One `postgres_changes` entry of a join's config, as the client sent it."""

    event: ChangeEvent
    schema: str
    table: str | None = None  # None or "*": every exposed table of the schema
    filter: str | None = None  # PostgREST-style `column=op.value` (eq, neq, lt, lte, gt, gte, in)


class ChangeMessage:
    """One change as every subscriber that may see it receives it: `data` is `{"schema", "table",
    "commit_timestamp", "type", "columns": [{"name", "type"}], "record", "old_record", "errors"}`, as
    Supabase Realtime sends it; `json` its text, encoded once however many receive it."""

    __slots__ = ("_json", "data")

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self._json: str | None = None

    @property
    def json(self) -> str:
        if self._json is None:
            self._json = json.dumps(self.data, separators=(",", ":"))
        return self._json


class ChangeSink(Protocol):
    async def deliver(self, change: ChangeMessage) -> None:
        """One change the subscriber may see."""

    async def gap(self, reason: str) -> None:
        """Changes may have been missed (the feed restarted, the database failed over): the channel tells
        its client in a `system` message; never silent loss."""


class ChangeSubscription(Protocol):
    def set_principal(self, principal: Principal) -> None:
        """A refreshed `access_token`: later changes are checked as this caller."""

    async def close(self) -> None: ...


class ChangeFeed(Protocol):
    async def subscribe(self, principal: Principal, spec: ChangeSpec, sink: ChangeSink) -> ChangeSubscription:
        """Raises InvalidChangeSpec with a message a person can act on."""


class NoChangeFeed:
    """The feed of a server where database changes are not available."""

    async def subscribe(self, principal: Principal, spec: ChangeSpec, sink: ChangeSink) -> ChangeSubscription:
        raise InvalidChangeSpec("database changes are not available on this server")
