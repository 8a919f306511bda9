"""What uploads of a dead process left behind, removed: at the start of every API process, then every
GARDENOS_STORAGE_SWEEP_INTERVAL_S.

An upload writes its bytes under a new key (a temporary file or a multipart upload until committed),
then records the object in `storage.objects`; an upsert or a remove deletes the replaced key after its
commit. A process killed (kill -9, OOM, power cut) between those steps leaves an unfinished write (never
visible: no key names it) or stored bytes that no object names (never visible either: every read starts
from the metadata). Nothing it leaves is metadata without bytes: the row is written last."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import psycopg

from gardenos.db.pool import Database
from gardenos.errors import GardenError
from gardenos.storage.backend import ObjectStore

log = logging.getLogger(__name__)

# One agency's recorded versions, to tell its stored keys that no object names. service_role: every
# agency's rows.
VERSIONS = "SELECT version FROM storage.objects WHERE agency_id = %s AND version IS NOT NULL"
# The keys resumable uploads will publish to: their staging (on S3 a multipart upload on that key) waits
# for the next chunk, idle, until the upload expires; resumable.py's own sweeper removes expired ones.
RESUMABLE = "SELECT version FROM storage.uploads"


@dataclass(frozen=True)
class Swept:
    unfinished: int
    unnamed: int


async def sweep(database: Database, store: ObjectStore, idle_s: float) -> Swept:
    """Remove unfinished writes of dead processes, and stored bytes no object has named for `idle_s`
    (an upload records its object within moments of storing its bytes: older unnamed bytes belong to a
    process that died in between)."""
    async with database.transaction("service_role") as conn:
        cur = await conn.execute(RESUMABLE)
        resumable = {str(row[0]) for row in await cur.fetchall()}
    unfinished = await store.remove_abandoned(idle_s, resumable)
    unnamed = 0
    async for agency, keys in _by_agency(store.keys(time.time() - idle_s)):
        async with database.transaction("service_role") as conn:
            cur = await conn.execute(VERSIONS, (agency,))
            named = {row[0] for row in await cur.fetchall()}
        for key in keys - named - resumable:
            await store.delete(key)
            unnamed += 1
    return Swept(unfinished, unnamed)


async def _by_agency(keys: AsyncIterator[str]) -> AsyncIterator[tuple[uuid.UUID, set[str]]]:
    agency: str | None = None
    batch: set[str] = set()
    async for key in keys:
        owner = key.partition("/")[0]
        if owner != agency and batch:
            yield uuid.UUID(agency), batch
            batch = set()
        agency = owner
        batch.add(key)
    if batch and agency is not None:
        yield uuid.UUID(agency), batch


async def run(database: Database, store: ObjectStore, idle_s: float, interval_s: float) -> None:
    """Sweep now, then every `interval_s` (0: once), until cancelled. A failed sweep is logged and tried
    again at the next round: tidying up is never a reason to stop serving."""
    while True:
        try:
            swept = await sweep(database, store, idle_s)
        except (GardenError, psycopg.Error, OSError) as exc:
            log.warning("storage sweep of %s failed (%s); trying again later", store.where(), exc)
        else:
            if swept.unfinished or swept.unnamed:
                log.info(
                    "storage: removed %d unfinished upload(s) and %d unnamed object(s) left by a stopped"
                    " process",
                    swept.unfinished,
                    swept.unnamed,
                )
        if not interval_s:
            return
        await asyncio.sleep(interval_s)
