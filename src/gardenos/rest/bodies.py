"""The bodies of `/rest/v1` writes and calls: JSON, or (inserts) CSV with a header row, as PostgREST reads
them; a body that cannot be read is 400 PGRST102 with what to change."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import Request

from gardenos.rest.build import RestError


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RestError("PGRST102", 400, "Empty or invalid json", details=str(exc)) from exc


async def rows_body(request: Request) -> list[dict[str, Any]]:
    """The rows of an insert: a JSON object or array of objects, or (`Content-Type: text/csv`) a CSV with a
    header row of column names, where an empty field is an empty string and `NULL` is null (as PostgREST)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type == "text/csv":
        return csv_rows(await request.body())
    payload = await json_body(request)
    rows = payload if isinstance(payload, list) else [payload]
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise RestError("PGRST102", 400, "the body must be a JSON object or an array of objects")
    return rows


def csv_rows(raw: bytes) -> list[dict[str, Any]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RestError("PGRST102", 400, "the CSV body is not UTF-8", details=str(exc)) from exc
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise RestError("PGRST102", 400, "the CSV body could not be read", details=str(exc)) from exc
    if not lines or not lines[0]:
        raise RestError("PGRST102", 400, "the CSV body is empty: it needs a header row of column names")
    header = lines[0]
    if len(set(header)) != len(header) or any(not name for name in header):
        raise RestError(
            "PGRST102", 400, "the CSV header must name each column once", details=",".join(header)
        )
    rows = []
    for number, values in enumerate(lines[1:], start=2):
        if not values:
            continue  # a blank line, e.g. the one after a final newline
        if len(values) != len(header):
            raise RestError(
                "PGRST102",
                400,
                f"line {number} of the CSV body has {len(values)} fields; the header names {len(header)}",
            )
        rows.append({k: None if v == "NULL" else v for k, v in zip(header, values, strict=True)})
    if not rows:
        raise RestError("PGRST102", 400, "the CSV body has a header but no rows")
    return rows
