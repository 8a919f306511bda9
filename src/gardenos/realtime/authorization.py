"""Realtime Authorization, as Supabase's: who may join a private channel, and send on it, is decided by
the project's RLS policies on `realtime.messages`, evaluated as the caller with `realtime.topic()` set.

In one transaction that is always rolled back: a probe row per extension (broadcast, presence) is
inserted by the API's own login (`realtime.authorization_probe`); then, as the caller's role with its
claims, reading it back answers "may receive", and inserting a like row answers "may send".
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from gardenos.auth.principal import Principal
from gardenos.db.pool import Database

EXTENSIONS = ("broadcast", "presence")

AS_LOGIN = "SELECT set_config('realtime.topic', %s, true), set_config('role', 'authenticator', true)"
PROBE = "SELECT realtime.authorization_probe(%s, %s, %s)"
AS_CALLER = "SELECT set_config('role', %s, true)"
READ = "SELECT extension FROM realtime.messages WHERE id = ANY(%s)"
WRITE = "INSERT INTO realtime.messages (agency_id, topic, extension, private) VALUES (%s, %s, %s, true)"


@dataclass(frozen=True)
class Permissions:
    read: bool
    send: frozenset[str]  # the extensions the caller may send: broadcast, presence

    @classmethod
    def everything(cls) -> Permissions:
        return cls(True, frozenset(EXTENSIONS))


class _Answered(Exception):
    """Leaves the transaction by rollback, carrying the answer."""

    def __init__(self, permissions: Permissions) -> None:
        self.permissions = permissions


async def authorize(database: Database, principal: Principal, topic: str) -> Permissions:
    if principal.is_service_role:
        return Permissions.everything()  # BYPASSRLS, as in Supabase
    agency = principal.agency_id
    try:
        async with database.transaction(principal.role, principal.raw_claims) as conn:
            await conn.execute(AS_LOGIN, (topic,))
            probes = []
            for extension in EXTENSIONS:
                row = await (await conn.execute(PROBE, (agency, topic, extension))).fetchone()
                assert row is not None
                probes.append(row[0])
            await conn.execute(AS_CALLER, (principal.role,))
            readable = {row[0] for row in await (await conn.execute(READ, (probes,))).fetchall()}
            send = set()
            for extension in EXTENSIONS:
                try:
                    async with conn.transaction():
                        await conn.execute(WRITE, (agency, topic, extension))
                    send.add(extension)
                except psycopg.errors.InsufficientPrivilege:
                    pass
            raise _Answered(Permissions(bool(readable), frozenset(send)))
    except _Answered as answer:
        return answer.permissions
