"""PostgREST's query-string grammar (`select`, `order`, filters, `or`/`and` trees) parsed into `ast.py`.

Hand-written recursive descent over a small cursor. PostgREST's grammar has no formal definition: it is
whatever its Haskell (Parsec) parser accepts, full of context-dependent rules — a value ends at `,` or
`)` only inside logic trees, quotes are syntax in some places and data in others, `-` belongs to a name
unless `>` follows. No parsing library in our dependencies fits that better than plain functions that
mirror PostgREST's rules one for one and report exact positions.

Deliberate differences from PostgREST, all stricter or safer:
- every query key that is not reserved is a filter and must parse (PostgREST silently ignores
  `?id=5`, which on DELETE would mean "every row"); trailing garbage is an error, not ignored;
- `limit`/`offset` must be non-negative integers; `select` and `order` may not be repeated;
- one hint and one join type per embed; `in.()` is the empty list; empty names are rejected;
- inside `or=(…)` a quote or `{` that never closes is an error (PostgREST reads it as plain text);
- `parse_filters` (PATCH/DELETE) rejects filters on embedded resources instead of returning them;
- nesting is capped at `MAX_DEPTH` levels (embeds, logic trees, embed paths and the parentheses of an
  `fts` query), a JSON path at `MAX_JSON_PATH` steps and a request at `MAX_ITEMS` items: the work a query
  string can ask of the planner, of `build.py` (which recurses) and of to_tsquery stays bounded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal, NoReturn, get_args

from gardenos.errors import BadRequest
from gardenos.rest.ast import (
    Condition,
    Embed,
    FieldRef,
    Filter,
    JsonArrow,
    JsonStep,
    Logic,
    Operator,
    OrderTerm,
    ReadRequest,
    SelectField,
    SelectItem,
)

MAX_DEPTH = 16  # embeds inside embeds, logic trees inside logic trees, embed path segments, tsquery groups
MAX_JSON_PATH = 32  # `->`/`->>` steps in one column reference
MAX_ITEMS = 500  # select items + filters + logic nodes + order terms in one request
MAX_LIST_VALUES = 10_000  # items of one `in.(…)` list or `{…}` array
MAX_COLUMNS = 1600  # PostgreSQL's own limit on columns in a table
MAX_BIGINT = 2**63 - 1

_OPERATORS: dict[str, Operator] = {op: op for op in get_args(Operator)}
_OPERATORS_HINT = (
    "a filter is column=operator.value, as in id=eq.5 or name=not.in.(a,b); operators: "
    + ", ".join(_OPERATORS)
)
_QUANTIFIABLE = frozenset({"eq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"})
_FTS = frozenset({"fts", "plfts", "phfts", "wfts"})
_IS_VALUES = ("null", "not_null", "true", "false", "unknown")
_EMBEDDABLE = frozenset({"order", "limit", "offset", "and", "or"})
_WRITE_ONLY = frozenset({"columns", "on_conflict"})
_READ_ONLY = frozenset({"order", "limit", "offset"})
_WS = " \t\r\n"
_INVALID = re.compile(r"[\x00\ud800-\udfff]")
_NESTED_LOGIC = re.compile(r"(not\.)?(and|or)[ \t\r\n]*\(")
_INDEX = re.compile(r"-?[0-9]+")
_OPERATOR_TOKEN = re.compile(r"[^.(),]*")
_WORD = re.compile(r"[A-Za-z_]*")
_IDENTIFIER = re.compile(r"[\w $]*")
_NAME = re.compile(r"(?:[\w $]+(?:-(?!>)[\w $]+)*)?")
_NONNEG = re.compile(r"[0-9]{1,19}")


class QueryParseError(BadRequest):
    """A query parameter that PostgREST's grammar does not accept: 400, PGRST100."""

    code = "PGRST100"


def _clip(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


class _Budget:
    def __init__(self) -> None:
        self.items = 0


class _Cursor:
    """A position in one parameter's text, and how to fail there."""

    def __init__(self, text: str, subject: str, budget: _Budget) -> None:
        self.text, self.pos, self.budget = text, 0, budget
        self.message = f"failed to parse {subject} ({_clip(text)})"
        if bad := _INVALID.search(text):
            self.pos = bad.start()
            self.error(f"invalid character (NUL or lone surrogate) at character {self.pos + 1}")

    def error(self, details: str, hint: str | None = None) -> NoReturn:
        raise QueryParseError(self.message, details=details, hint=hint)

    def fail(self, expected: str) -> NoReturn:
        got = repr(self.text[self.pos]) if self.pos < len(self.text) else "end of input"
        self.error(f"unexpected {got} at character {self.pos + 1}, expected {expected}")

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def eat(self, token: str) -> bool:
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str, expected: str) -> None:
        if not self.eat(token):
            self.fail(expected)

    def match(self, pattern: re.Pattern[str]) -> str:
        found = pattern.match(self.text, self.pos)
        assert found is not None  # every pattern used here also matches the empty string
        self.pos = found.end()
        return found.group()

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WS:
            self.pos += 1

    def end(self, expected: str = "end of input") -> None:
        self.skip_ws()
        if self.pos < len(self.text):
            self.fail(expected)

    def take(self) -> None:
        self.budget.items += 1
        if self.budget.items > MAX_ITEMS:
            self.error(f"too many items: a request may hold at most {MAX_ITEMS} select items and filters")

    def nest(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.error(f"nested too deeply at character {self.pos + 1}: at most {MAX_DEPTH} levels")


def _quoted(c: _Cursor) -> str:
    start, out = c.pos, []
    c.pos += 1
    while (ch := c.peek()) != '"':
        if not ch:
            c.pos = start
            c.error(f"unterminated quoted string starting at character {start + 1}")
        if ch == "\\" and c.pos + 1 < len(c.text):
            c.pos += 1
            ch = c.peek()
        out.append(ch)
        c.pos += 1
    c.pos += 1
    return "".join(out)


def _name(c: _Cursor, expected: str = "a column name") -> str:
    """`"quoted \\" name"`, or words of letters, digits, `_`, `$` and spaces joined by `-` (not `->`)."""
    c.skip_ws()
    start = c.pos
    name = _quoted(c) if c.peek() == '"' else c.match(_NAME).strip()
    if not name:
        c.pos = start
        c.fail(expected)
    return name


def _identifier(c: _Cursor, expected: str) -> str:
    """A type name or text search configuration: letters, digits, `_`, `$`, spaces."""
    start = c.pos
    if not (word := c.match(_IDENTIFIER).strip()):
        c.pos = start
        c.fail(expected)
    return word


def _keyword(c: _Cursor, options: Sequence[str], *, lower: bool = False) -> str:
    start = c.pos
    word = c.match(_WORD)
    if (word.lower() if lower else word) not in options:
        expected = ", ".join(f'"{o}"' for o in options[:-1]) + f' or "{options[-1]}"'
        if not word:
            c.pos = start
            c.fail(expected)
        c.error(f'unexpected "{_clip(word, 40)}" at character {start + 1}, expected {expected}')
    return word.lower() if lower else word


def _json_path(c: _Cursor) -> tuple[JsonStep, ...]:
    steps: list[JsonStep] = []
    while c.peek(2) == "->":
        if len(steps) == MAX_JSON_PATH:
            c.error(f"JSON path too long at character {c.pos + 1}: at most {MAX_JSON_PATH} steps")
        arrow: JsonArrow = "->>" if c.peek(3) == "->>" else "->"
        c.pos += len(arrow)
        index = _INDEX.match(c.text, c.pos)
        end = index.end() if index else 0
        if index and (
            end == len(c.text) or c.text[end] in ".,)" + _WS or c.text.startswith(("->", "::"), end)
        ):
            c.pos = index.end()
            steps.append(JsonStep(arrow, str(int(index.group())), is_index=True))
        else:
            steps.append(JsonStep(arrow, _name(c, "a JSON key or array index")))
    return tuple(steps)


def _field(c: _Cursor) -> FieldRef:
    return FieldRef(_name(c), _json_path(c))


# select=alias:col->a::cast, alias:rel!hint!inner(…), ...rel(…), *


def _select_forest(c: _Cursor, depth: int) -> tuple[SelectItem, ...]:
    c.nest(depth)
    items = [_select_item(c, depth)]
    c.skip_ws()
    while c.eat(","):
        items.append(_select_item(c, depth))
        c.skip_ws()
    return tuple(items)


def _select_item(c: _Cursor, depth: int) -> SelectItem:
    c.take()
    c.skip_ws()
    if c.eat("..."):
        return _embed(c, _name(c, "a relation name"), None, depth, spread=True)
    if c.eat("*"):
        return SelectField(FieldRef("*"))
    name, alias = _name(c), None
    if c.peek() == ":" and c.peek(2) != "::":
        c.pos += 1
        c.skip_ws()
        if c.peek(3) == "...":
            c.error(f"a spread embed cannot have an alias (character {c.pos + 1})")
        name, alias = _name(c), name
    if c.peek() in ("!", "("):
        return _embed(c, name, alias, depth, spread=False)
    ref = FieldRef(name, _json_path(c))
    cast = _identifier(c, "a type name") if c.eat("::") else None
    return SelectField(ref, alias, cast)


def _embed(c: _Cursor, relation: str, alias: str | None, depth: int, *, spread: bool) -> Embed:
    hint: str | None = None
    join: str | None = None
    while c.eat("!"):
        word = _name(c, "a foreign key hint or join type (inner, left)")
        if word in ("inner", "left"):
            if join is not None:
                c.error(f'embed "{relation}" names its join type twice')
            join = word
        elif hint is not None:
            c.error(f'embed "{relation}" has two hints ("{hint}", "{word}"); at most one is allowed')
        else:
            hint = word
    c.expect("(", '"!" or "(" after the relation name')
    c.skip_ws()
    select = () if c.peek() == ")" else _select_forest(c, depth + 1)
    c.expect(")", '"," or ")"')
    return Embed(relation, select, alias, hint, join == "inner", spread)


# order=a,b.desc,c.asc.nullsfirst,data->>k.desc.nullslast,rel(col).desc


def _order_terms(c: _Cursor, path: tuple[str, ...]) -> tuple[OrderTerm, ...]:
    terms: list[OrderTerm] = []
    while True:
        c.take()
        name, relation = _name(c), None
        if c.eat("("):
            relation, ref = name, _field(c)
            c.skip_ws()
            c.expect(")", '")"')
        else:
            ref = FieldRef(name, _json_path(c))
        descending, nulls_first = False, None
        if c.eat("."):
            word = _keyword(c, ("asc", "desc", "nullsfirst", "nullslast"))
            if word in ("asc", "desc"):
                descending = word == "desc"
                if c.eat("."):
                    word = _keyword(c, ("nullsfirst", "nullslast"))
            if word.startswith("nulls"):
                nulls_first = word == "nullsfirst"
        terms.append(OrderTerm(ref, descending, nulls_first, path, relation))
        c.skip_ws()
        if not c.eat(","):
            c.end('".asc", ".desc", ".nullsfirst", ".nullslast", "," or end of input')
            return tuple(terms)


# Filter values: [not.]op[(any|all|language)].value


def _operation(c: _Cursor, ref: FieldRef, *, in_logic: bool) -> Filter:
    c.take()
    negated = c.eat("not.")
    start = c.pos
    token = c.match(_OPERATOR_TOKEN)
    if (op := _OPERATORS.get(token)) is None:
        c.pos = start
        if not token:
            c.fail("an operator (eq, gt, in, is, …)")
        c.error(f'unknown operator "{_clip(token, 40)}" at character {start + 1}', _OPERATORS_HINT)
    language: str | None = None
    quantifier: Literal["any", "all"] | None = None
    if c.eat("("):
        if op in _FTS:
            language = _identifier(c, "a text search configuration, as in fts(english)")
        elif op in _QUANTIFIABLE:
            quantifier = "any" if _keyword(c, ("any", "all")) == "any" else "all"
        else:
            c.error(f'operator "{op}" takes no modifier in parentheses (character {c.pos})', _OPERATORS_HINT)
        c.expect(")", '")"')
    c.expect(".", f'"." after the operator "{op}"')
    start, values = c.pos, None
    if op == "in":
        values = _list(c)
        value = c.text[start : c.pos]
    elif op == "is":
        value = _keyword(c, _IS_VALUES, lower=True)
    elif quantifier:
        values = _pg_array(c)
        value = c.text[start : c.pos]
    elif in_logic:
        value = _logic_value(c)
    else:
        value, c.pos = c.text[c.pos :], len(c.text)
    if op == "fts":
        _tsquery_groups(c, value, start)
    return Filter(ref, op, value, negated, values, language, quantifier)


def _tsquery_groups(c: _Cursor, value: str, start: int) -> None:
    """to_tsquery's parentheses nest at most MAX_DEPTH deep: its parser recurses per group, and
    thousands of them kept one statement busy for tens of seconds. (plainto_, phraseto_ and
    websearch_to_tsquery read parentheses as punctuation.)"""
    depth = 0
    for offset, ch in enumerate(value):
        if ch == "(":
            depth += 1
            if depth > MAX_DEPTH:
                c.pos = start + offset
                c.error(
                    f"text search query nested too deeply at character {c.pos + 1}: "
                    f"at most {MAX_DEPTH} levels of parentheses"
                )
        elif ch == ")":
            depth = max(depth - 1, 0)


def _list(c: _Cursor) -> tuple[str, ...]:
    """`(1,2,"a,b")`: unquoted items are kept verbatim (spaces included), quoted ones unescaped."""
    c.skip_ws()
    c.expect("(", '"(" to start the list, as in in.(1,2)')
    items: list[str] = []
    if c.eat(")"):
        return ()
    while True:
        if len(items) == MAX_LIST_VALUES:
            c.error(f"a list may hold at most {MAX_LIST_VALUES} values")
        start = c.pos
        c.skip_ws()
        if c.peek() == '"':
            items.append(_quoted(c))
            c.skip_ws()
        else:
            c.pos = start
            while c.pos < len(c.text) and c.text[c.pos] not in ",)":
                c.pos += 1
            items.append(c.text[start : c.pos])
        if not c.eat(","):
            c.expect(")", '"," or ")" in the list')
            return tuple(items)


def _pg_array(c: _Cursor) -> tuple[str, ...]:
    """`{a,"b,c"}` for `eq(any)` and friends: one-dimensional, PostgreSQL's quoting."""
    c.expect("{", '"{" to start an array, as in eq(any).{1,2}')
    items: list[str] = []
    c.skip_ws()
    if c.eat("}"):
        return ()
    while True:
        if len(items) == MAX_LIST_VALUES:
            c.error(f"an array may hold at most {MAX_LIST_VALUES} values")
        c.skip_ws()
        if c.peek() == '"':
            items.append(_quoted(c))
        else:
            start = c.pos
            while c.pos < len(c.text) and c.text[c.pos] not in ',{}"':
                c.pos += 1
            if not (item := c.text[start : c.pos].strip()):
                c.fail("an array element")
            items.append(item)
        c.skip_ws()
        if not c.eat(","):
            c.expect("}", '"," or "}" in the array')
            return tuple(items)


def _braced(c: _Cursor) -> str:
    """A balanced `{…}` (an array or JSON literal) with quotes respected, kept verbatim."""
    start, depth, quoted = c.pos, 0, False
    while True:
        if c.pos == len(c.text):
            c.pos = start
            c.error(f"unbalanced {{ starting at character {start + 1} (quote the value to use it as text)")
        ch = c.text[c.pos]
        c.pos += 1
        if quoted:
            c.pos += ch == "\\"
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch in "{}":
            depth += 1 if ch == "{" else -1
            if depth == 0:
                return c.text[start : c.pos]


def _logic_value(c: _Cursor) -> str:
    """Inside `or=(…)` a value ends at `,` or `)` unless it is quoted or a balanced `{…}`."""
    if c.peek() == '"':
        return _quoted(c)
    if c.peek() == "{":
        return _braced(c)
    start = c.pos
    while c.pos < len(c.text) and c.text[c.pos] not in ",)":
        c.pos += 1
    return c.text[start : c.pos]


def _logic(c: _Cursor, operator: str, negated: bool, depth: int) -> Logic:
    c.nest(depth)
    c.take()
    c.skip_ws()
    c.expect("(", '"(" to start the logic tree, as in or=(a.eq.1,b.eq.2)')
    conditions: list[Condition] = []
    while True:
        c.skip_ws()
        if nested := _NESTED_LOGIC.match(c.text, c.pos):
            c.pos = nested.end() - 1
            conditions.append(_logic(c, nested.group(2), bool(nested.group(1)), depth + 1))
        else:
            ref = _field(c)
            c.expect(".", '"." and an operator after the column')
            conditions.append(_operation(c, ref, in_logic=True))
        c.skip_ws()
        if not c.eat(","):
            c.expect(")", '"," or ")"')
            return Logic("and" if operator == "and" else "or", tuple(conditions), negated)


# Whole requests


def _key(key: str, budget: _Budget) -> tuple[tuple[str, ...], FieldRef, str | None, bool]:
    """`a.b.col->k`, `a.limit`, `a.not.or` → (embed path, field, reserved word or None, negated)."""
    c = _Cursor(key, "tree path", budget)
    names: list[str] = []
    bare: list[bool] = []  # a quoted `"limit"` is a column, never the reserved word
    while True:
        c.skip_ws()
        bare.append(c.peek() != '"')
        names.append(_name(c))
        if not c.eat("."):
            break
    json_path = _json_path(c)
    c.end('".", "->", "->>" or end of input')
    if len(names) > MAX_DEPTH:
        c.error(f"embed path nested too deeply: at most {MAX_DEPTH} levels")
    last = names[-1]
    if json_path or not bare[-1] or last not in _EMBEDDABLE:
        return tuple(names[:-1]), FieldRef(last, json_path), None, False
    negated = last in ("and", "or") and len(names) > 1 and bare[-2] and names[-2] == "not"
    return tuple(names[: -2 if negated else -1]), FieldRef(last), last, negated


def _nonneg(name: str, value: str) -> int:
    if not _NONNEG.fullmatch(value) or int(value) > MAX_BIGINT:
        raise QueryParseError(
            f"failed to parse {name} parameter ({_clip(value)})",
            details=f"{name} must be a non-negative integer (at most {MAX_BIGINT})",
        )
    return int(value)


class _Request:
    """One request's parameters, added in order."""

    def __init__(self, *, filters_only: bool) -> None:
        self.filters_only = filters_only
        self.budget = _Budget()
        self.select: tuple[SelectItem, ...] | None = None
        self.where: list[Condition] = []
        self.order: dict[tuple[str, ...], tuple[OrderTerm, ...]] = {}
        self.limit: dict[tuple[str, ...], int] = {}
        self.offset: dict[tuple[str, ...], int] = {}

    def add(self, key: str, value: str) -> None:
        if key in _WRITE_ONLY or (key == "select" and self.filters_only):
            return
        if key == "select":
            if self.select is not None:
                _Cursor(value, "select parameter", self.budget).error("select is given twice")
            self.select = _select(value, self.budget)
            return
        path, ref, reserved, negated = _key(key, self.budget)
        if path and self.filters_only and reserved not in _READ_ONLY:
            raise QueryParseError(
                f"failed to parse filter ({_clip(key)})",
                details="filters on embedded resources shape what a read embeds; a write has none",
                hint=f"filter on the table's own columns instead of {_clip(key, 40)}",
            )
        if reserved in ("and", "or"):
            c = _Cursor(value, "logic tree", self.budget)
            self.where.append(replace(_logic(c, reserved, negated, 1), embed_path=path))
            c.end('end of input after the closing ")"')
            return
        if reserved is not None:
            if self.filters_only:
                return
            if reserved == "order":
                c = _Cursor(value, "order", self.budget)
                if path in self.order:
                    c.error(f"{key} is given twice")
                self.order[path] = _order_terms(c, path)
            else:
                (self.limit if reserved == "limit" else self.offset)[path] = _nonneg(reserved, value)
            return
        c = _Cursor(value, "filter", self.budget)
        condition = _operation(c, ref, in_logic=False)
        c.end()
        self.where.append(replace(condition, embed_path=path))


def _select(text: str, budget: _Budget) -> tuple[SelectItem, ...]:
    c = _Cursor(text, "select parameter", budget)
    items = _select_forest(c, 1)
    c.end('"," or end of input')
    return items


def _columns(text: str, subject: str) -> tuple[str, ...]:
    c = _Cursor(text, subject, _Budget())
    names = [_name(c)]
    c.skip_ws()
    while c.eat(","):
        if len(names) == MAX_COLUMNS:
            c.error(f"at most {MAX_COLUMNS} columns")
        names.append(_name(c))
        c.skip_ws()
    c.end('"," or end of input')
    return tuple(dict.fromkeys(names))


def parse_select(text: str) -> tuple[SelectItem, ...]:
    """`select=`: columns, `*`, aliases, casts, JSON paths and embeds, nested."""
    return _select(text, _Budget())


def parse_order(text: str) -> tuple[OrderTerm, ...]:
    """`order=`: `a,b.desc,c.asc.nullsfirst,data->>k.desc.nullslast,rel(col).desc`."""
    return _order_terms(_Cursor(text, "order", _Budget()), ())


def parse_filters(params: Sequence[tuple[str, str]]) -> tuple[Condition, ...]:
    """The filters and logic trees among `params`, for PATCH/DELETE: all on the table itself.

    `select`, `order`, `limit`, `offset` (also per embed), `columns`, `on_conflict` are skipped unparsed;
    a filter on an embedded resource (`clients.name=eq.x`) is an error rather than a condition that a
    write could mistake for one on its own rows."""
    request = _Request(filters_only=True)
    for key, value in params:
        request.add(key, value)
    return tuple(request.where)


def parse_read(params: Sequence[tuple[str, str]]) -> ReadRequest:
    """A GET's decoded query pairs, in order (repeated keys allowed), as a `ReadRequest`."""
    request = _Request(filters_only=False)
    for key, value in params:
        request.add(key, value)
    root_select = request.select if request.select is not None else ReadRequest().select
    return ReadRequest(
        select=root_select,
        where=tuple(request.where),
        order=request.order.pop((), ()),
        limit=request.limit.pop((), None),
        offset=request.offset.pop((), 0),
        embed_limits=request.limit,
        embed_offsets=request.offset,
        embed_order=request.order,
    )


def is_filter_value(value: str) -> bool:
    """Whether a query value reads as a filter (`eq.5`, `not.in.(a,b)`, `is.null`). On GET /rpc, PostgREST
    takes a parameter whose value does not for one of the function's arguments."""
    try:
        c = _Cursor(value, "filter", _Budget())
        _operation(c, FieldRef("_"), in_logic=False)
        c.end()
    except QueryParseError:
        return False
    return True


def is_reserved_key(key: str) -> bool:
    """`select`, `columns`, `on_conflict`, and keys ending in `order`, `limit`, `offset`, `and`, `or`
    (also per embed: `activities.limit`): never a function argument, as in PostgREST."""
    return key in ("select", *_WRITE_ONLY) or key.rpartition(".")[2] in _EMBEDDABLE


def parse_columns(text: str) -> tuple[str, ...]:
    """`columns=` on inserts: the names, in order, each once."""
    return _columns(text, "columns parameter")


def parse_on_conflict(text: str) -> tuple[str, ...]:
    """`on_conflict=` on upserts: the unique key's columns, in order, each once."""
    return _columns(text, "on_conflict parameter")
