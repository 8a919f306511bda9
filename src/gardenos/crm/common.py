"""What the CRM packages share: the agency-scoped transaction, keyset pagination with opaque cursors, list
filters, and the field types of request bodies."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Generic, TypeVar

from psycopg.rows import DictRow
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

from gardenos.auth.principal import Principal
from gardenos.crm.contacts.fields import IDENTITY as IDENTITY
from gardenos.crm.normalize import normalize_email
from gardenos.db.pool import Conn, Database

# crm's modules read rows with these (one implementation, in db/).
from gardenos.db.rows import fetch_all as fetch_all
from gardenos.db.rows import fetch_one as fetch_one
from gardenos.errors import BadRequest

ADMIN_ROLES = frozenset({"owner", "admin"})
MIN_MOMENT = datetime(1900, 1, 1, tzinfo=UTC)
MAX_MOMENT = datetime(9000, 1, 1, tzinfo=UTC)

# Run as the caller, so the membership policy decides which memberships it sees.
IS_MEMBER = """
SELECT EXISTS (
    SELECT FROM public.memberships m WHERE m.agency_id = (SELECT auth.agency_id()) AND m.user_id = %s
) AS member
"""


class InvalidField(BadRequest):
    """A well-formed body that breaks a rule of the agency's data: a custom field, a record it names."""

    status_code = 422
    code = "GARDEN422"


# --- the caller and its transaction -------------------------------------------------------------------


def require_agency(principal: Principal) -> uuid.UUID:
    """The caller's active agency: a signed-in user (401 otherwise) whose token carries one (403)."""
    return principal.require_agency()


def agency_role(principal: Principal) -> str | None:
    meta = principal.raw_claims.get("app_metadata")
    role = meta.get("agency_role") if isinstance(meta, dict) else None
    return role if isinstance(role, str) else None


@asynccontextmanager
async def agency_transaction(database: Database, principal: Principal) -> AsyncIterator[Conn]:
    """One transaction as `authenticated` with the caller's claims: row-level security confines every
    statement in it to the caller's agency."""
    require_agency(principal)
    async with database.transaction("authenticated", principal.raw_claims) as conn:
        yield conn


async def check_owner(conn: Conn, owner_id: uuid.UUID | None) -> None:
    """An owner must be a member of the caller's agency."""
    if owner_id is None:
        return
    row = await fetch_one(conn, IS_MEMBER, (owner_id,))
    if row is None or not row["member"]:
        raise BadRequest(
            "owner_id is not a member of your agency: "
            "GET /api/v1/agencies/{agency_id}/members lists who can own records"
        )


# --- keyset pagination --------------------------------------------------------------------------------

# How a cursor's values are read back, per the SQL type of the sort key they came from.
_DECODERS: dict[str, Any] = {
    "timestamptz": lambda v: _aware(datetime.fromisoformat(v)),
    "uuid": lambda v: uuid.UUID(_typed(v, str)),
    "text": lambda v: _typed(v, str),
    "bool": lambda v: _typed(v, bool),
    "int": lambda v: _typed(v, int),
    "bigint": lambda v: _typed(v, int),
    "float8": lambda v: float(_typed(v, (int, float))),
    "numeric": lambda v: Decimal(_typed(v, str)),
}


@dataclass(frozen=True)
class SortKey:
    expression: str  # SQL over the list's own alias; never from input
    sql_type: str  # a key of _DECODERS


@dataclass(frozen=True)
class Sort:
    """An order for a list: its keys end with a unique one (the id), so the order is total."""

    name: str
    keys: tuple[SortKey, ...]
    descending: bool


def keyset_query(columns: str, source: str, sort: Sort) -> str:
    """A page of `SELECT columns FROM source` in `sort`'s order, starting after the cursor's row.

    The keys come out as k0…kn (for the next cursor); the cursor's values come in as %(k0)s…, and
    %(paged)s says whether there is a cursor at all.
    """
    keys = ", ".join(f"{key.expression} AS k{i}" for i, key in enumerate(sort.keys))
    names = ", ".join(f"page.k{i}" for i in range(len(sort.keys)))
    bound = ", ".join(f"%(k{i})s::{key.sql_type}" for i, key in enumerate(sort.keys))
    direction = " DESC" if sort.descending else ""
    order = ", ".join(f"page.k{i}{direction}" for i in range(len(sort.keys)))
    after = "<" if sort.descending else ">"
    return (
        f"SELECT * FROM (SELECT {columns}, {keys} FROM {source}) page\n"
        f"WHERE (NOT %(paged)s::boolean OR ({names}) {after} ({bound}))\n"
        f"ORDER BY {order}\nLIMIT %(limit)s"
    )


def encode_cursor(sort: Sort, row: Mapping[str, Any]) -> str:
    values = [_jsonable(row[f"k{i}"]) for i in range(len(sort.keys))]
    raw = json.dumps({"s": sort.name, "k": values}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: Sort, cursor: str | None) -> dict[str, Any]:
    """The query parameters that start a page after `cursor` (or at the beginning, without one)."""
    params: dict[str, Any] = {f"k{i}": None for i in range(len(sort.keys))}
    if cursor is None:
        return params | {"paged": False}
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        name, values = data["s"], data["k"]
        valid = isinstance(values, list) and len(values) == len(sort.keys)
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise BadRequest(_BAD_CURSOR + "it was not made by this API") from exc
    if name != sort.name:
        raise BadRequest(_BAD_CURSOR + f"it belongs to the order {name!r}, not {sort.name!r}")
    if not valid:
        raise BadRequest(_BAD_CURSOR + "it does not fit this list")
    try:
        for i, (key, value) in enumerate(zip(sort.keys, values, strict=True)):
            params[f"k{i}"] = _DECODERS[key.sql_type](value)
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise BadRequest(_BAD_CURSOR + "its values were changed") from exc
    return params | {"paged": True}


_BAD_CURSOR = "the cursor is not valid (pass back `next_cursor` as it came, or start again without one): "


def _typed(value: Any, types: type | tuple[type, ...]) -> Any:
    # bool is an int in Python; a cursor that mixes them up was not made here.
    if not isinstance(value, types) or (isinstance(value, bool) and types is not bool):
        raise TypeError(f"unexpected {type(value).__name__}")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a timestamp without a time zone")
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    return value


ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page. Opaque: do not build one."
    )


async def fetch_page(
    conn: Conn, queries: Mapping[str, str], sort: Sort, params: dict[str, Any], cursor: str | None, limit: int
) -> tuple[list[DictRow], str | None]:
    """One page of rows in `sort`'s order and the cursor of the next page, if there is one."""
    bound = params | decode_cursor(sort, cursor) | {"limit": limit + 1}
    rows = await fetch_all(conn, queries[sort.name], bound)
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(sort, rows[limit - 1])


class ListFilters(BaseModel):
    """Query parameters of a list. Unknown ones are refused: a misspelt filter would silently return
    everything."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200, description="Rows per page, 1 to 200.")
    cursor: str | None = Field(
        default=None, max_length=2000, description="The previous page's `next_cursor`."
    )

    @model_validator(mode="before")
    @classmethod
    def _without_apikey(cls, data: Any) -> Any:
        # Supabase clients may send the API key as a query parameter; it is not a filter.
        if isinstance(data, dict) and "apikey" in data:
            return {k: v for k, v in data.items() if k != "apikey"}
        return data


# --- field types of request bodies --------------------------------------------------------------------


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        return _no_nul(value).strip() or None
    return value


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refused here, it is the caller's to fix, not a server error.
    if "\x00" in value:
        raise ValueError("text cannot contain NUL characters (\\u0000)")
    return value


def _storable(value: datetime) -> datetime:
    # Far-off years would be stored but could not be read back as Python datetimes.
    if not MIN_MOMENT <= value <= MAX_MOMENT:
        raise ValueError("expected a time between the years 1900 and 9000")
    return value


def _email(value: str) -> str:
    # The importer's rules (crm/normalize.py): trimmed, domain lower-cased, a reason when refused.
    return normalize_email(value)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


# Optional text, trimmed; blank becomes null.
BlankIsNull = BeforeValidator(_blank_to_none)
ShortText = Annotated[Annotated[str, StringConstraints(max_length=200)] | None, BlankIsNull]
Phone = Annotated[Annotated[str, StringConstraints(max_length=50)] | None, BlankIsNull]
Url = Annotated[Annotated[str, StringConstraints(max_length=2048)] | None, BlankIsNull]
LongText = Annotated[Annotated[str, StringConstraints(max_length=20000)] | None, BlankIsNull]
Email = Annotated[
    Annotated[str, StringConstraints(max_length=320), AfterValidator(_email)] | None, BlankIsNull
]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), AfterValidator(_no_nul)
]
# A list's filter on a custom field, `name:value`: the field's name (crm/custom_fields' pattern), then its
# value as text.
CustomFieldFilter = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}:", max_length=300), AfterValidator(_no_nul)
]
# A time a row stores (not a filter's bound, which may be anything).
Moment = Annotated[AwareDatetime, AfterValidator(_storable)]
MAX_TAGS = 100
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_unique)]
CustomFields = Annotated[dict[str, Any], Field(max_length=100)]
# Money is numeric(14, 2) in the database and a JSON number in answers.
MoneyIn = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


def no_identity(entity: str) -> str:
    return f"a {entity} needs at least one of {', '.join(IDENTITY)}"
