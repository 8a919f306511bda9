"""What a `/rest/v1` request asks for, parsed from its query string and headers, before any SQL.

The parser (`grammar.py`) produces these; the SQL builder consumes them with the schema cache, quoting
every identifier and binding every value. Names here are as the client wrote them: whether they exist
is the builder's question, not the parser's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# A JSON path step: `->` keeps JSON, `->>` yields text. Keys are strings; a step like `->0` is an index.
JsonArrow = Literal["->", "->>"]


@dataclass(frozen=True)
class JsonStep:
    arrow: JsonArrow
    key: str
    is_index: bool = False


@dataclass(frozen=True)
class FieldRef:
    """A column, optionally followed by a JSON path: `data->a->>b`."""

    column: str
    json_path: tuple[JsonStep, ...] = ()


@dataclass(frozen=True)
class SelectField:
    """`alias:column->path::cast`. `*` is `FieldRef("*")`."""

    ref: FieldRef
    alias: str | None = None
    cast: str | None = None


@dataclass(frozen=True)
class Embed:
    """`alias:relation!hint!inner(select…)` — a related table, along a foreign key.

    `hint` disambiguates between several foreign keys (a column, constraint or table name); `inner`
    makes it an inner join (rows without a match are dropped); `spread` is `...relation(…)`."""

    relation: str
    select: tuple[SelectItem, ...]
    alias: str | None = None
    hint: str | None = None
    inner: bool = False
    spread: bool = False


SelectItem = SelectField | Embed

Operator = Literal[
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "like",
    "ilike",
    "match",
    "imatch",
    "in",
    "is",
    "isdistinct",
    "fts",
    "plfts",
    "phfts",
    "wfts",
    "cs",
    "cd",
    "ov",
    "sl",
    "sr",
    "nxr",
    "nxl",
    "adj",
]
OPERATORS: frozenset[str] = frozenset(Operator.__args__)  # type: ignore[attr-defined]
# Modifiers PostgREST allows on some operators: `eq(any)`, `like(all)`.
Quantifier = Literal["any", "all"]


@dataclass(frozen=True)
class Filter:
    """`column->path=not.op(quantifier).value`.

    `value` is the raw text after the operator, unparsed except for what the operator's grammar needs:
    - `in`: `values` holds the list items (quotes removed, `\\"` and `\\\\` unescaped);
    - `is`: value is one of null, not_null, true, false, unknown (lower-cased);
    - `fts` family: `language` is the optional config, `fts(english).cats`;
    - `eq(any)` etc.: `quantifier` set and `values` holds the `{a,b}` items."""

    ref: FieldRef
    operator: Operator
    value: str
    negated: bool = False
    values: tuple[str, ...] | None = None
    language: str | None = None
    quantifier: Quantifier | None = None
    # The embed path for filters on embedded resources: `clients.name=eq.x` -> ("clients",).
    embed_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Logic:
    """`or=(a.eq.1,and(b.gt.2,c.is.null))`, `not.and=(…)`."""

    operator: Literal["and", "or"]
    conditions: tuple[Condition, ...]
    negated: bool = False
    embed_path: tuple[str, ...] = ()


Condition = Filter | Logic


@dataclass(frozen=True)
class OrderTerm:
    ref: FieldRef
    descending: bool = False
    # None: PostgreSQL's default (NULLS LAST ascending, NULLS FIRST descending).
    nulls_first: bool | None = None
    embed_path: tuple[str, ...] = ()
    # Ordering by a column of a to-one embedded resource: `order=directors(last_name).desc`.
    relation: str | None = None


@dataclass(frozen=True)
class ReadRequest:
    select: tuple[SelectItem, ...] = (SelectField(FieldRef("*")),)
    where: tuple[Condition, ...] = ()
    order: tuple[OrderTerm, ...] = ()
    limit: int | None = None
    offset: int = 0
    # Per-embed limit/offset/order: `clients.limit=5`.
    embed_limits: dict[tuple[str, ...], int] = field(default_factory=dict)
    embed_offsets: dict[tuple[str, ...], int] = field(default_factory=dict)
    embed_order: dict[tuple[str, ...], tuple[OrderTerm, ...]] = field(default_factory=dict)
