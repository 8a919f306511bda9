"""`gardenos storage`: an agency's buckets and files from the command line, through storage's own service
(the one write path the API uses), as service_role in the agency it names: buckets, ls, cp in and out
(streamed, with a progress bar for large files), rm, and usage per agency and bucket."""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from gardenos.cli.console import console, err_console, print_json
from gardenos.cli.target import database_target
from gardenos.db.pool import Database
from gardenos.errors import BadRequest, NotFound
from gardenos.settings import get_settings
from gardenos.storage.paths import bucket_id, object_key, prefix
from gardenos.storage.service import Scope, Storage
from gardenos.storage.stores import object_store

app = typer.Typer(help="An agency's buckets and files (storage).", no_args_is_help=True)

AGENCIES = """
SELECT id, slug FROM public.agencies
WHERE %(agency)s::text IS NULL OR id::text = %(agency)s OR slug = %(agency)s
ORDER BY created_at
"""
USAGE = """
SELECT a.slug AS agency, b.id AS bucket, b.public, count(o.id) AS objects,
       coalesce(sum(o.size), 0)::bigint AS bytes
FROM storage.buckets b
JOIN public.agencies a ON a.id = b.agency_id
LEFT JOIN storage.objects o ON o.agency_id = b.agency_id AND o.bucket_id = b.id
WHERE %(agency)s::text IS NULL OR a.id::text = %(agency)s OR a.slug = %(agency)s
GROUP BY a.slug, b.id, b.public
ORDER BY a.slug, b.id
"""
BLOCK = 1 << 20
# Smaller files go without a progress bar: done before one would be worth drawing.
PROGRESS_FROM_BYTES = 8 << 20
PAGE = 1000

AgencyOption = Annotated[
    str | None, typer.Option("--agency", help="The agency's id or slug (needed when there is more than one).")
]


def _agency(conn: psycopg.Connection, agency: str | None) -> uuid.UUID:
    rows = conn.execute(AGENCIES, {"agency": agency}).fetchall()
    if not rows:
        raise BadRequest(f"there is no agency {agency!r}" if agency else "there is no agency yet")
    if agency is None and len(rows) > 1:
        slugs = ", ".join(r[1] for r in rows[:10])
        raise BadRequest(f"there is more than one agency: choose one with --agency ({slugs})")
    return uuid.UUID(str(rows[0][0]))


def _split(remote: str) -> tuple[str, str]:
    """`bucket/path/in/it` → (bucket id, object key), each checked as the API checks them."""
    bucket, _, key = remote.partition("/")
    return bucket_id(bucket), key


@contextlib.contextmanager
def _session(agency: str | None) -> Iterator[tuple[Callable[..., Any], Scope]]:
    """The database running and migrated, and a runner for coroutines given the service and the scope."""
    settings = get_settings()
    target = database_target(settings)
    with target.running():
        target.prepare()
        with target.connect() as conn:
            agency_id = _agency(conn, agency)
        scope = Scope("service_role", {"role": "service_role"}, agency_id, None)

        def run(work: Callable[[Storage], Any]) -> Any:
            async def main() -> Any:
                database = Database(target.api_url, min_size=1, max_size=2, timeout=30.0)
                await database.open()
                try:
                    storage = Storage(database, object_store(settings), settings.storage_max_upload_bytes)
                    return await work(storage)
                finally:
                    await database.close()

            return asyncio.run(main())

        yield run, scope


def _progress(size: int, label: str) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=size < PROGRESS_FROM_BYTES,
    )


@app.command("buckets")
def buckets(agency: AgencyOption = None, as_json: bool = typer.Option(False, "--json")) -> None:
    """The agency's buckets."""
    with _session(agency) as (run, scope):
        found = run(lambda storage: storage.list_buckets(scope))
    if as_json:
        print_json(found)
        return
    table = Table("bucket", "public", "file size limit", "allowed types", "created")
    for b in found:
        table.add_row(
            escape(b["id"]),
            "yes" if b["public"] else "no",
            _size(b["file_size_limit"]) if b["file_size_limit"] else "-",
            escape(", ".join(b["allowed_mime_types"] or [])) or "any",
            b["created_at"].strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@app.command("ls")
def ls(
    where: Annotated[str, typer.Argument(metavar="BUCKET[/PREFIX]", help="A bucket, or a folder in one.")],
    agency: AgencyOption = None,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """One folder of a bucket: its subfolders (ending in /) and files."""
    bucket, folder = _split(where)
    folder = prefix(folder.rstrip("/")) if folder.strip("/") else ""

    async def listing(storage: Storage) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        while True:
            options = {"prefix": folder, "limit": PAGE, "offset": len(entries)}
            page = await storage.list_objects(scope, bucket, options)
            entries += page
            if len(page) < PAGE:
                return entries

    with _session(agency) as (run, scope):
        entries = run(listing)
    if as_json:
        print_json(
            [
                {
                    "name": folder + e["name"] + ("/" if e["id"] is None else ""),
                    "size": (e["metadata"] or {}).get("size"),
                    "mime_type": (e["metadata"] or {}).get("mimetype"),
                    "updated_at": e["updated_at"],
                }
                for e in entries
            ]
        )
        return
    table = Table("name", "size", "type", "updated")
    for e in entries:
        if e["id"] is None:
            table.add_row(escape(folder + e["name"] + "/"), "", "folder", "")
            continue
        metadata = e["metadata"] or {}
        table.add_row(
            escape(folder + e["name"]),
            _size(metadata.get("size") or 0),
            escape(metadata.get("mimetype") or ""),
            e["updated_at"].strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@app.command("cp")
def cp(
    source: Annotated[str, typer.Argument(help="A local file to upload, or bucket/path to download.")],
    dest: Annotated[str, typer.Argument(help="bucket/path to upload to, or a local file to write.")],
    agency: AgencyOption = None,
    upsert: bool = typer.Option(False, "--upsert", help="Replace an object of the same name."),
) -> None:
    """Copy a file in (LOCAL bucket/path) or out (bucket/path LOCAL), streamed: a SOURCE that is a local
    file is uploaded, anything else is downloaded into DEST."""
    local = Path(source)
    if local.is_file():
        bucket, key = _split(dest)
        key = object_key(key or local.name)
        size = local.stat().st_size
        with _session(agency) as (run, scope):
            run(lambda storage: _upload(storage, scope, local, size, bucket, key, upsert))
        err_console.print(f"uploaded {escape(str(local))} to {escape(bucket)}/{escape(key)} ({_size(size)})")
        return
    bucket, key = _split(source)
    key = object_key(key)
    out = Path(dest)
    if out.is_dir():
        out = out / key.rsplit("/", 1)[-1]
    with _session(agency) as (run, scope):
        size = run(lambda storage: _download(storage, scope, bucket, key, out))
    err_console.print(f"downloaded {escape(bucket)}/{escape(key)} to {escape(str(out))} ({_size(size)})")


async def _upload(
    storage: Storage, scope: Scope, local: Path, size: int, bucket: str, key: str, upsert: bool
) -> int:
    kind = mimetypes.guess_type(local.name)[0] or "application/octet-stream"
    with _progress(size, f"{local.name} →") as progress, local.open("rb") as file:
        task = progress.add_task(f"{local.name} →", total=size)

        async def chunks() -> AsyncIterator[bytes]:
            while block := await asyncio.to_thread(file.read, BLOCK):
                progress.advance(task, len(block))
                yield block

        await storage.upload(
            scope,
            bucket,
            key,
            content_type=kind,
            content_length=str(size),
            body=chunks(),
            upsert=upsert,
        )
    return size


async def _download(storage: Storage, scope: Scope, bucket: str, key: str, out: Path) -> int:
    row = await storage.stat(scope, bucket, key)
    size = int(row["size"])
    # Written beside the destination and renamed when whole: an interrupted download leaves no half file
    # under the name asked for.
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with _progress(size, f"→ {out.name}") as progress, partial.open("wb") as file:
            task = progress.add_task(f"→ {out.name}", total=size)
            async for block in storage.store.read(row["version"]):
                await asyncio.to_thread(file.write, block)
                progress.advance(task, len(block))
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return size


@app.command("rm")
def rm(
    paths: Annotated[list[str], typer.Argument(metavar="BUCKET/PATH...", help="Objects to remove.")],
    agency: AgencyOption = None,
) -> None:
    """Remove objects (their bytes go after the metadata is gone)."""
    by_bucket: dict[str, list[str]] = {}
    for path in paths:
        bucket, key = _split(path)
        by_bucket.setdefault(bucket, []).append(object_key(key))

    async def remove(storage: Storage) -> list[str]:
        removed = []
        for bucket, keys in by_bucket.items():
            rows = await storage.remove(scope, bucket, keys)
            removed += [f"{bucket}/{row['name']}" for row in rows]
        return removed

    with _session(agency) as (run, scope):
        removed = run(remove)
    for path in removed:
        console.print(f"removed {escape(path)}")
    missing = [f"{b}/{k}" for b, keys in by_bucket.items() for k in keys if f"{b}/{k}" not in removed]
    if missing:
        raise NotFound(f"no such object: {', '.join(missing)}")


@app.command("usage")
def usage(agency: AgencyOption = None, as_json: bool = typer.Option(False, "--json")) -> None:
    """Objects and bytes per agency and bucket (every agency unless --agency names one)."""
    settings = get_settings()
    target = database_target(settings)
    with target.running(), target.connect() as conn:
        cur = conn.execute(USAGE, {"agency": agency})
        names = [c.name for c in cur.description or []]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    if as_json:
        print_json(rows)
        return
    table = Table("agency", "bucket", "public", "objects", "bytes", "size")
    for row in rows:
        table.add_row(
            escape(row["agency"]),
            escape(row["bucket"]),
            "yes" if row["public"] else "no",
            f"{row['objects']:,}",
            f"{row['bytes']:,}",
            _size(row["bytes"]),
        )
    total = sum(row["bytes"] for row in rows)
    console.print(table)
    err_console.print(f"{sum(row['objects'] for row in rows):,} objects, {_size(total)} in all")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"
