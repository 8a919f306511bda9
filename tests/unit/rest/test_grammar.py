"""The PostgREST query grammar: what the `postgrest` client sends, PostgREST's documented syntax, garbage."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any, Literal

import postgrest
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gardenos.rest.ast import (
    OPERATORS,
    Condition,
    Embed,
    FieldRef,
    Filter,
    JsonStep,
    Logic,
    OrderTerm,
    ReadRequest,
    SelectField,
    SelectItem,
)
from gardenos.rest.grammar import (
    MAX_DEPTH,
    MAX_ITEMS,
    QueryParseError,
    parse_columns,
    parse_filters,
    parse_on_conflict,
    parse_order,
    parse_read,
    parse_select,
)

# No example database: nothing is written to the working tree.
fuzz = settings(database=None, deadline=None, max_examples=300)


def R(text: str) -> FieldRef:
    """`data->a->>0` as a FieldRef (index steps are the all-digit ones)."""
    column, *rest = re.split(r"(->>?)", text)
    steps = tuple(
        JsonStep(arrow, key, is_index=re.fullmatch(r"-?[0-9]+", key) is not None)  # type: ignore[arg-type]
        for arrow, key in zip(rest[::2], rest[1::2], strict=True)
    )
    return FieldRef(column, steps)


def F(ref: str, operator: str, value: str, **kw: Any) -> Filter:
    return Filter(R(ref), operator, value, **kw)  # type: ignore[arg-type]


def S(ref: str, alias: str | None = None, cast: str | None = None) -> SelectField:
    return SelectField(R(ref), alias, cast)


def O(ref: str, **kw: Any) -> OrderTerm:  # noqa: E743
    return OrderTerm(R(ref), **kw)


STAR = S("*")


# ---------------------------------------------------------------------------------------------------------
# Exactly what the official `postgrest` client sends (checked against the installed client below).

ClientCall = Callable[[Any], Any]
CLIENT_CASES: list[tuple[str, ClientCall, list[tuple[str, str]], ReadRequest]] = [
    (
        "select with embed",
        lambda t: t.select("*, clients(name)"),
        [("select", "*,clients(name)")],
        ReadRequest(select=(STAR, Embed("clients", (S("name"),)))),
    ),
    ("eq int", lambda t: t.select().eq("id", 1), [("id", "eq.1")], ReadRequest(where=(F("id", "eq", "1"),))),
    (
        "eq with comma and dots",
        lambda t: t.select().eq("name", "a,b.c"),
        [("name", "eq.a,b.c")],
        ReadRequest(where=(F("name", "eq", "a,b.c"),)),
    ),
    (
        "eq None",
        lambda t: t.select().eq("x", None),
        [("x", "eq.null")],
        ReadRequest(where=(F("x", "eq", "null"),)),
    ),
    (
        "eq dict",
        lambda t: t.select().eq("data", {"a": 1}),
        [("data", 'eq.{"a":1}')],
        ReadRequest(where=(F("data", "eq", '{"a":1}'),)),
    ),
    (
        "neq bool",
        lambda t: t.select().neq("b", True),
        [("b", "neq.true")],
        ReadRequest(where=(F("b", "neq", "true"),)),
    ),
    (
        "gt gte lt lte",
        lambda t: t.select().gt("a", 1).gte("b", 2.5).lt("c", "2024-01-01").lte("d", -3),
        [("a", "gt.1"), ("b", "gte.2.5"), ("c", "lt.2024-01-01"), ("d", "lte.-3")],
        ReadRequest(
            where=(F("a", "gt", "1"), F("b", "gte", "2.5"), F("c", "lt", "2024-01-01"), F("d", "lte", "-3"))
        ),
    ),
    # The client sends the pattern as given: `%` or PostgREST's `*` alias, which stays for the builder.
    (
        "like %",
        lambda t: t.select().like("name", "%ob%"),
        [("name", "like.%ob%")],
        ReadRequest(where=(F("name", "like", "%ob%"),)),
    ),
    (
        "ilike *",
        lambda t: t.select().ilike("name", "*ob*"),
        [("name", "ilike.*ob*")],
        ReadRequest(where=(F("name", "ilike", "*ob*"),)),
    ),
    (
        "like_all_of",
        lambda t: t.select().like_all_of("name", "a*,b*"),
        [("name", "like(all).{a*,b*}")],
        ReadRequest(where=(F("name", "like", "{a*,b*}", values=("a*", "b*"), quantifier="all"),)),
    ),
    (
        "ilike_any_of",
        lambda t: t.select().ilike_any_of("name", "%x%"),
        [("name", "ilike(any).{%x%}")],
        ReadRequest(where=(F("name", "ilike", "{%x%}", values=("%x%",), quantifier="any"),)),
    ),
    (
        "is None",
        lambda t: t.select().is_("x", None),
        [("x", "is.null")],
        ReadRequest(where=(F("x", "is", "null"),)),
    ),
    (
        "is True",
        lambda t: t.select().is_("x", True),
        [("x", "is.true")],
        ReadRequest(where=(F("x", "is", "true"),)),
    ),
    (
        "is False",
        lambda t: t.select().is_("x", False),
        [("x", "is.false")],
        ReadRequest(where=(F("x", "is", "false"),)),
    ),
    (
        "in ints",
        lambda t: t.select().in_("id", [1, 2, 3]),
        [("id", "in.(1,2,3)")],
        ReadRequest(where=(F("id", "in", "(1,2,3)", values=("1", "2", "3")),)),
    ),
    (
        "in quoted",
        lambda t: t.select().in_("name", ["a,b", 'say "hi"', "x y", "(p)"]),
        [("name", 'in.("a,b","say \\"hi\\"",x y,"(p)")')],
        ReadRequest(
            where=(
                F("name", "in", '("a,b","say \\"hi\\"",x y,"(p)")', values=("a,b", 'say "hi"', "x y", "(p)")),
            )
        ),
    ),
    (
        "in empty",
        lambda t: t.select().in_("id", []),
        [("id", "in.()")],
        ReadRequest(where=(F("id", "in", "()", values=()),)),
    ),
    (
        "contains array",
        lambda t: t.select().contains("tags", ["a", "b c"]),
        [("tags", 'cs.{a,"b c"}')],
        ReadRequest(where=(F("tags", "cs", '{a,"b c"}'),)),
    ),
    (
        "contains json",
        lambda t: t.select().contains("data", {"a": 1}),
        [("data", 'cs.{"a": 1}')],
        ReadRequest(where=(F("data", "cs", '{"a": 1}'),)),
    ),
    (
        "contains range",
        lambda t: t.select().contains("period", "[2020-01-01,2021-01-01)"),
        [("period", "cs.[2020-01-01,2021-01-01)")],
        ReadRequest(where=(F("period", "cs", "[2020-01-01,2021-01-01)"),)),
    ),
    (
        "contained_by",
        lambda t: t.select().contained_by("tags", ["a", "b"]),
        [("tags", "cd.{a,b}")],
        ReadRequest(where=(F("tags", "cd", "{a,b}"),)),
    ),
    (
        "contained_by json",
        lambda t: t.select().contained_by("data", {"a": [1, 2]}),
        [("data", 'cd.{"a": [1, 2]}')],
        ReadRequest(where=(F("data", "cd", '{"a": [1, 2]}'),)),
    ),
    (
        "overlaps",
        lambda t: t.select().overlaps("tags", ["a", "b"]),
        [("tags", "ov.{a,b}")],
        ReadRequest(where=(F("tags", "ov", "{a,b}"),)),
    ),
    (
        "overlaps range",
        lambda t: t.select().overlaps("period", "[2017-01-01,2017-06-30]"),
        [("period", "ov.[2017-01-01,2017-06-30]")],
        ReadRequest(where=(F("period", "ov", "[2017-01-01,2017-06-30]"),)),
    ),
    (
        "range operators",
        lambda t: t.select().range_gt("r", (1, 10)).range_lte("s", (2, 3)).range_adjacent("u", (4, 5)),
        [("r", "sr.(1,10)"), ("s", "nxr.(2,3)"), ("u", "adj.(4,5)")],
        ReadRequest(where=(F("r", "sr", "(1,10)"), F("s", "nxr", "(2,3)"), F("u", "adj", "(4,5)"))),
    ),
    (
        "text_search",
        lambda t: t.select().text_search("tsv", "cat & dog"),
        [("tsv", "fts.cat & dog")],
        ReadRequest(where=(F("tsv", "fts", "cat & dog"),)),
    ),
    (
        "text_search plain english",
        lambda t: t.select().text_search("tsv", "fat cats", {"type": "plain", "config": "english"}),
        [("tsv", "plfts(english).fat cats")],
        ReadRequest(where=(F("tsv", "plfts", "fat cats", language="english"),)),
    ),
    (
        "text_search phrase",
        lambda t: t.select().text_search("tsv", "the fat cats", {"type": "phrase"}),
        [("tsv", "phfts.the fat cats")],
        ReadRequest(where=(F("tsv", "phfts", "the fat cats"),)),
    ),
    (
        "text_search web_search french",
        lambda t: t.select().text_search(
            "tsv", '"chat noir" -chien', {"type": "web_search", "config": "french"}
        ),
        [("tsv", 'wfts(french)."chat noir" -chien')],
        ReadRequest(where=(F("tsv", "wfts", '"chat noir" -chien', language="french"),)),
    ),
    (
        "match",
        lambda t: t.select().match({"a": 1, "b": "x"}),
        [("a", "eq.1"), ("b", "eq.x")],
        ReadRequest(where=(F("a", "eq", "1"), F("b", "eq", "x"))),
    ),
    (
        "or",
        lambda t: t.select().or_("age.lt.18,age.gt.21"),
        [("or", "(age.lt.18,age.gt.21)")],
        ReadRequest(where=(Logic("or", (F("age", "lt", "18"), F("age", "gt", "21"))),)),
    ),
    (
        "or on referenced table",
        lambda t: t.select().or_("name.eq.x,name.eq.y", reference_table="clients"),
        [("clients.or", "(name.eq.x,name.eq.y)")],
        ReadRequest(
            where=(Logic("or", (F("name", "eq", "x"), F("name", "eq", "y")), embed_path=("clients",)),)
        ),
    ),
    (
        "not or",
        lambda t: t.select().not_.or_("a.eq.1,b.eq.2"),
        [("not.or", "(a.eq.1,b.eq.2)")],
        ReadRequest(where=(Logic("or", (F("a", "eq", "1"), F("b", "eq", "2")), negated=True),)),
    ),
    (
        "not eq",
        lambda t: t.select().not_.eq("c", 3),
        [("c", "not.eq.3")],
        ReadRequest(where=(F("c", "eq", "3", negated=True),)),
    ),
    (
        "not in",
        lambda t: t.select().not_.in_("c", [1, 2]),
        [("c", "not.in.(1,2)")],
        ReadRequest(where=(F("c", "in", "(1,2)", values=("1", "2"), negated=True),)),
    ),
    (
        "not is",
        lambda t: t.select().not_.is_("c", None),
        [("c", "not.is.null")],
        ReadRequest(where=(F("c", "is", "null", negated=True),)),
    ),
    (
        "order",
        lambda t: t.select().order("id").order("created_at", desc=True),
        [("order", "id.asc,created_at.desc")],
        ReadRequest(order=(O("id"), O("created_at", descending=True))),
    ),
    (
        "order nulls",
        lambda t: t.select().order("a", nullsfirst=True).order("data->>k", desc=True, nullsfirst=False),
        [("order", "a.asc.nullsfirst,data->>k.desc.nullslast")],
        ReadRequest(order=(O("a", nulls_first=True), O("data->>k", descending=True, nulls_first=False))),
    ),
    (
        "order foreign table",
        lambda t: t.select("*, clients(*)").order(
            "name", desc=True, nullsfirst=True, foreign_table="clients"
        ),
        [("select", "*,clients(*)"), ("clients.order", "name.desc.nullsfirst")],
        ReadRequest(
            select=(STAR, Embed("clients", (STAR,))),
            embed_order={
                ("clients",): (O("name", descending=True, nulls_first=True, embed_path=("clients",)),)
            },
        ),
    ),
    ("limit", lambda t: t.select().limit(5), [("limit", "5")], ReadRequest(limit=5)),
    (
        "limit foreign table",
        lambda t: t.select().limit(3, foreign_table="clients"),
        [("clients.limit", "3")],
        ReadRequest(embed_limits={("clients",): 3}),
    ),
    (
        "range",
        lambda t: t.select().range(10, 19),
        [("offset", "10"), ("limit", "10")],
        ReadRequest(limit=10, offset=10),
    ),
    (
        "range foreign table",
        lambda t: t.select().range(0, 4, foreign_table="clients"),
        [("clients.offset", "0"), ("clients.limit", "5")],
        ReadRequest(embed_limits={("clients",): 5}, embed_offsets={("clients",): 0}),
    ),
    (
        "quoted column",
        lambda t: t.select().eq("my,col", 1),
        [('"my,col"', "eq.1")],
        ReadRequest(where=(F("my,col", "eq", "1"),)),
    ),
    (
        "json path",
        lambda t: t.select().eq("data->>k", "v"),
        [("data->>k", "eq.v")],
        ReadRequest(where=(F("data->>k", "eq", "v"),)),
    ),
    (
        "embedded column",
        lambda t: t.select().eq("clients.name", "x"),
        [("clients.name", "eq.x")],
        ReadRequest(where=(F("name", "eq", "x", embed_path=("clients",)),)),
    ),
    (
        "generic filter",
        lambda t: t.select().filter("id", "isdistinct", "5"),
        [("id", "isdistinct.5")],
        ReadRequest(where=(F("id", "isdistinct", "5"),)),
    ),
]


def _pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return pairs if any(k == "select" for k, _ in pairs) else [("select", "*"), *pairs]


@pytest.mark.parametrize(
    ("pairs", "expected"), [c[2:] for c in CLIENT_CASES], ids=[c[0] for c in CLIENT_CASES]
)
def test_client_queries_parse(pairs: list[tuple[str, str]], expected: ReadRequest) -> None:
    assert parse_read(_pairs(pairs)) == expected


@pytest.mark.parametrize(
    ("call", "pairs"), [(c[1], c[2]) for c in CLIENT_CASES], ids=[c[0] for c in CLIENT_CASES]
)
def test_client_really_sends_these_pairs(call: ClientCall, pairs: list[tuple[str, str]]) -> None:
    client = postgrest.SyncPostgrestClient("http://localhost/rest/v1")
    sent = call(client.from_("t")).request.params.multi_items()
    assert sorted(sent) == sorted(_pairs(pairs))


# ---------------------------------------------------------------------------------------------------------
# select=

SELECT_CASES: list[tuple[str, tuple[SelectItem, ...]]] = [
    ("*", (STAR,)),
    ("id,name", (S("id"), S("name"))),
    ("  id ,\tname  ", (S("id"), S("name"))),
    ("fullName:full_name", (S("full_name", alias="fullName"),)),
    ("salary::text", (S("salary", cast="text"),)),
    ("n:salary::double precision", (S("salary", alias="n", cast="double precision"),)),
    ("alias:data->a->>b::text", (S("data->a->>b", alias="alias", cast="text"),)),
    ("data->phones->0->>number", (S("data->phones->0->>number"),)),
    ("arr->-1", (S("arr->-1"),)),
    ("data->12abc", (S("data->12abc"),)),
    ('data->"a.b"->>"x,y"', (S("data->a.b->>x,y"),)),
    (
        "first name,identifier-with-dashes,$col,_x,café",
        tuple(S(n) for n in ("first name", "identifier-with-dashes", "$col", "_x", "café")),
    ),
    ('"my col","a,b":"x y"', (S("my col"), S("x y", alias="a,b"))),
    ('"say \\"hi\\""', (S('say "hi"'),)),
    ("clients(name)", (Embed("clients", (S("name"),)),)),
    ("*,clients(*)", (STAR, Embed("clients", (STAR,)))),
    ("director:directors(id,last_name)", (Embed("directors", (S("id"), S("last_name")), alias="director"),)),
    ("addresses!billing(name)", (Embed("addresses", (S("name"),), hint="billing"),)),
    ("actors!inner(first_name)", (Embed("actors", (S("first_name"),), inner=True),)),
    ("actors!left(*)", (Embed("actors", (STAR,)),)),
    ("a:addresses!billing!inner(*)", (Embed("addresses", (STAR,), alias="a", hint="billing", inner=True),)),
    ("addresses!inner!billing(*)", (Embed("addresses", (STAR,), hint="billing", inner=True),)),
    (
        "...directors(director_last_name:last_name)",
        (Embed("directors", (S("last_name", alias="director_last_name"),), spread=True),),
    ),
    ("...d!fk!inner(*)", (Embed("d", (STAR,), hint="fk", inner=True, spread=True),)),
    (
        "title,actors:roles(character,...actors(first_name,last_name))",
        (
            S("title"),
            Embed(
                "roles",
                (S("character"), Embed("actors", (S("first_name"), S("last_name")), spread=True)),
                alias="actors",
            ),
        ),
    ),
    ("title,actors()", (S("title"), Embed("actors", ()))),
    ("roles( * , actors ( * ) )", (Embed("roles", (STAR, Embed("actors", (STAR,)))),)),
    ("count()", (Embed("count", ()),)),
]


@pytest.mark.parametrize(("text", "expected"), SELECT_CASES, ids=[c[0] for c in SELECT_CASES])
def test_select(text: str, expected: tuple[SelectItem, ...]) -> None:
    assert parse_select(text) == expected


def test_select_nesting_up_to_the_limit() -> None:
    text = "a(" * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1)
    item: SelectItem = S("x")
    for _ in range(MAX_DEPTH - 1):
        item = Embed("a", (item,))
    assert parse_select(text) == (item,)


SELECT_ERRORS = [
    ("", "expected a column name"),
    ("   ", "expected a column name"),
    (",", "unexpected ','"),
    ("a,", "end of input"),
    ("a,,b", "unexpected ','"),
    ("a(", "end of input"),
    ("a(b", 'expected "," or ")"'),
    ("a)", "unexpected ')'"),
    ("a!(b)", "hint or join type"),
    ("*!hint", "unexpected '!'"),
    ("alias:*", "unexpected '*'"),
    ("name::", "expected a type name"),
    ("name::text[]", "unexpected '['"),
    ("a->", "JSON key"),
    ("data->>-78xy", "JSON key"),
    ("rel->x(*)", "unexpected '('"),
    ("a!b!c(*)", "two hints"),
    ("a!inner!left(*)", "join type twice"),
    ('"unterminated', "unterminated quoted string"),
    ('""', "expected a column name"),
    ("x:...rel(*)", "spread embed cannot have an alias"),
    ("amount.sum()", "unexpected '.'"),
    ("a\x00b", "invalid character"),
    ("a\ud800", "invalid character"),
    ("a--b", "unexpected '-'"),
    ("🙂", "expected a column name"),
    ("a(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), f"at most {MAX_DEPTH} levels"),
    (",".join(["a"] * (MAX_ITEMS + 1)), f"at most {MAX_ITEMS}"),
]


@pytest.mark.parametrize(("text", "details"), SELECT_ERRORS, ids=[repr(c[0])[:40] for c in SELECT_ERRORS])
def test_select_errors(text: str, details: str) -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_select(text)
    error = caught.value
    assert (error.code, error.status_code) == ("PGRST100", 400)
    assert error.message.startswith("failed to parse select parameter (")
    assert details in (error.details or ""), error.details


# ---------------------------------------------------------------------------------------------------------
# order=

ORDER_CASES: list[tuple[str, tuple[OrderTerm, ...]]] = [
    ("a", (O("a"),)),
    ("age.desc,height.asc", (O("age", descending=True), O("height"))),
    (
        "a,b.desc,c.asc.nullsfirst,data->>k.desc.nullslast",
        (
            O("a"),
            O("b", descending=True),
            O("c", nulls_first=True),
            O("data->>k", descending=True, nulls_first=False),
        ),
    ),
    ("age.nullsfirst", (O("age", nulls_first=True),)),
    ("arr->0.desc", (O("arr->0", descending=True),)),
    (" a , b.desc ", (O("a"), O("b", descending=True))),
    ('"my col".desc,"a.b"', (O("my col", descending=True), O("a.b"))),
    ("directors(last_name).desc", (O("last_name", descending=True, relation="directors"),)),
    ("name,clients(data->>k),id", (O("name"), O("data->>k", relation="clients"), O("id"))),
]


@pytest.mark.parametrize(("text", "expected"), ORDER_CASES, ids=[c[0] for c in ORDER_CASES])
def test_order(text: str, expected: tuple[OrderTerm, ...]) -> None:
    assert parse_order(text) == expected


ORDER_ERRORS = [
    ("", "expected a column name"),
    ("id.ac", 'unexpected "ac"'),
    ("id.descc", 'unexpected "descc"'),
    ("id.smth34", 'unexpected "smth"'),
    ("id.asc.nlsfst", 'expected "nullsfirst" or "nullslast"'),
    ("id.nullsfirst.desc", "unexpected '.'"),
    ("clients(name,id)", 'expected ")"'),
    ("a..desc", "unexpected '.'"),
    ("a.desc,", "end of input"),
    ("a.", "end of input"),
]


@pytest.mark.parametrize(("text", "details"), ORDER_ERRORS, ids=[c[0] for c in ORDER_ERRORS])
def test_order_errors(text: str, details: str) -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_order(text)
    assert caught.value.message.startswith("failed to parse order (")
    assert details in (caught.value.details or ""), caught.value.details


# ---------------------------------------------------------------------------------------------------------
# Filters, top level: the value is everything after the operator.

FILTER_CASES: list[tuple[tuple[str, str], Condition]] = [
    (("age", "lt.13"), F("age", "lt", "13")),
    (("name", "eq."), F("name", "eq", "")),
    (("v", "eq.a.b.c"), F("v", "eq", "a.b.c")),
    (("v", 'eq."x"'), F("v", "eq", '"x"')),
    (("v", "eq.(a,b)"), F("v", "eq", "(a,b)")),
    (("v", "eq.ünïcødé ✓"), F("v", "eq", "ünïcødé ✓")),
    (("v", "neq.not.x"), F("v", "neq", "not.x")),
    (("v", "match.^a.*$"), F("v", "match", "^a.*$")),
    (("v", "imatch.x"), F("v", "imatch", "x")),
    (("v", "isdistinct.5"), F("v", "isdistinct", "5")),
    (("v", "is.NULL"), F("v", "is", "null")),
    (("v", "is.Not_Null"), F("v", "is", "not_null")),
    (("v", "is.True"), F("v", "is", "true")),
    (("v", "is.false"), F("v", "is", "false")),
    (("v", "is.unknown"), F("v", "is", "unknown")),
    (("v", "in.(1,2,3)"), F("v", "in", "(1,2,3)", values=("1", "2", "3"))),
    (
        ("v", 'in.(1,2,"a,b","say \\"hi\\"")'),
        F("v", "in", '(1,2,"a,b","say \\"hi\\"")', values=("1", "2", "a,b", 'say "hi"')),
    ),
    (("v", "in.(a b, c)"), F("v", "in", "(a b, c)", values=("a b", " c"))),
    (("v", 'in.( "a" , "b" )'), F("v", "in", '( "a" , "b" )', values=("a", "b"))),
    (("v", "in.(,)"), F("v", "in", "(,)", values=("", ""))),
    (("v", "in.()"), F("v", "in", "()", values=())),
    (("v", "not.in.(x)"), F("v", "in", "(x)", values=("x",), negated=True)),
    (("v", "eq(any).{1,2}"), F("v", "eq", "{1,2}", values=("1", "2"), quantifier="any")),
    (("v", "gt(all).{ 1 , 2 }"), F("v", "gt", "{ 1 , 2 }", values=("1", "2"), quantifier="all")),
    (
        ("v", 'like(any).{"a,b*",c\\d}'),
        F("v", "like", '{"a,b*",c\\d}', values=("a,b*", "c\\d"), quantifier="any"),
    ),
    (("v", "imatch(any).{}"), F("v", "imatch", "{}", values=(), quantifier="any")),
    (("v", "not.lte(any).{5}"), F("v", "lte", "{5}", values=("5",), quantifier="any", negated=True)),
    (("tsv", "fts(french).amusant"), F("tsv", "fts", "amusant", language="french")),
    (
        ("tsv", "not.phfts(english).The Fat Cats"),
        F("tsv", "phfts", "The Fat Cats", language="english", negated=True),
    ),
    (("tsv", "not.wfts(french).amusant"), F("tsv", "wfts", "amusant", language="french", negated=True)),
    (("tags", "cs.{example, new}"), F("tags", "cs", "{example, new}")),
    (("r", "sl.(1,10)"), F("r", "sl", "(1,10)")),
    (("r", "nxl.[1,10)"), F("r", "nxl", "[1,10)")),
    (("data->>blood_type", "eq.A-"), F("data->>blood_type", "eq", "A-")),
    (("data->age", "gt.20"), F("data->age", "gt", "20")),
    (("data->a->b", "eq.1"), F("data->a->b", "eq", "1")),
    (("location->lat", "gte.19"), F("location->lat", "gte", "19")),
    (("arr->0", "eq.1"), F("arr->0", "eq", "1")),
    (
        ("roles.character", "in.(Chico,Harpo)"),
        F("character", "in", "(Chico,Harpo)", values=("Chico", "Harpo"), embed_path=("roles",)),
    ),
    (
        ("roles.actors.first_name", "like.*Tom*"),
        F("first_name", "like", "*Tom*", embed_path=("roles", "actors")),
    ),
    (("90_comps.year", "eq.1990"), F("year", "eq", "1990", embed_path=("90_comps",))),
    (("c.data->>k", "eq.v"), F("data->>k", "eq", "v", embed_path=("c",))),
    (("actors", "not.is.null"), F("actors", "is", "null", negated=True)),
    (('"limit"', "eq.1"), F("limit", "eq", "1")),
    (('c."or"', "eq.1"), F("or", "eq", "1", embed_path=("c",))),
    (("order->x", "eq.1"), F("order->x", "eq", "1")),
    (("first name", "eq.x"), F("first name", "eq", "x")),
]


def _check_write_filters(pair: tuple[str, str], expected: Condition) -> None:
    """PATCH/DELETE take the same filters, except on embedded resources: a write embeds nothing."""
    if not expected.embed_path:
        assert parse_filters([pair]) == (expected,)
        return
    with pytest.raises(QueryParseError) as caught:
        parse_filters([pair])
    assert caught.value.message == f"failed to parse filter ({pair[0]})"
    assert "embedded resources" in (caught.value.details or "")


@pytest.mark.parametrize(("pair", "expected"), FILTER_CASES, ids=["=".join(c[0]) for c in FILTER_CASES])
def test_filter(pair: tuple[str, str], expected: Condition) -> None:
    assert parse_read([pair]).where == (expected,)
    _check_write_filters(pair, expected)


FILTER_ERRORS = [
    (("id", "5"), 'unknown operator "5"'),
    (("id", "noop.1"), 'unknown operator "noop"'),
    (("id", ""), "expected an operator"),
    (("id", "eq"), 'expected "." after the operator "eq"'),
    (("id", "not.not.eq.1"), 'unknown operator "not"'),
    (("id", "in.1,2"), 'expected "(" to start the list'),
    (("id", "in.(1,2"), "end of input"),
    (("id", "in.(1,2)x"), "unexpected 'x'"),
    (("id", 'in.("a)'), "unterminated quoted string"),
    (("id", 'in.("a"b)'), "unexpected 'b'"),
    (("id", "is.maybe"), 'unexpected "maybe"'),
    (("id", "is.nullx"), 'unexpected "nullx"'),
    (("id", "is."), 'expected "null"'),
    (("id", "eq(some).{1}"), 'unexpected "some"'),
    (("id", "neq(any).{1}"), "takes no modifier"),
    (("id", "in(any).{1}"), "takes no modifier"),
    (("id", "eq(any).1"), 'expected "{"'),
    (("id", "eq(any).{{1}}"), "expected an array element"),
    (("id", "eq(any).{1,}"), "expected an array element"),
    (("id", "eq(any).{1"), "end of input"),
    (("id", "eq(any).{1}x"), "unexpected 'x'"),
    (("id", "fts(english.x"), 'expected ")"'),
    (("id", "fts().x"), "text search configuration"),
    (("", "eq.1"), "expected a column name"),
    (("a..b", "eq.1"), "expected a column name"),
    (("a.", "eq.1"), "expected a column name"),
    (("a->", "eq.1"), "JSON key"),
    (("a b(", "eq.1"), "unexpected '('"),
    (("id", "eq.\x00"), "invalid character"),
    ((".".join(["e"] * (MAX_DEPTH + 1)), "eq.1"), "embed path nested too deeply"),
]


@pytest.mark.parametrize(("pair", "details"), FILTER_ERRORS, ids=["=".join(c[0]) for c in FILTER_ERRORS])
def test_filter_errors(pair: tuple[str, str], details: str) -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_read([pair])
    assert caught.value.message.startswith(("failed to parse filter (", "failed to parse tree path ("))
    assert details in (caught.value.details or ""), caught.value.details


def test_unknown_operator_names_it_and_lists_the_valid_ones() -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_filters([("age", "greater.5")])
    error = caught.value
    assert error.message == "failed to parse filter (greater.5)"
    assert error.details == 'unknown operator "greater" at character 1'
    assert error.hint is not None
    assert all(op in error.hint for op in OPERATORS)
    assert error.to_dict()["code"] == "PGRST100"


# ---------------------------------------------------------------------------------------------------------
# Logic trees: inside them a value ends at `,` or `)` unless quoted (or a balanced `{…}`).

LOGIC_CASES: list[tuple[tuple[str, str], Condition]] = [
    (("or", "(age.lt.18,age.gt.21)"), Logic("or", (F("age", "lt", "18"), F("age", "gt", "21")))),
    (("and", "(a.gte.0,a.lte.100)"), Logic("and", (F("a", "gte", "0"), F("a", "lte", "100")))),
    (
        ("not.and", "(a.gte.0,a.lte.100)"),
        Logic("and", (F("a", "gte", "0"), F("a", "lte", "100")), negated=True),
    ),
    (
        ("or", "(a.eq.1,b.gt.2,and(c.lt.3,d.is.null),not.or(e.eq.1,f.eq.2))"),
        Logic(
            "or",
            (
                F("a", "eq", "1"),
                F("b", "gt", "2"),
                Logic("and", (F("c", "lt", "3"), F("d", "is", "null"))),
                Logic("or", (F("e", "eq", "1"), F("f", "eq", "2")), negated=True),
            ),
        ),
    ),
    (
        ("or", '(name.eq."a,b",name.in.("x","y"),name.eq."(p)",name.eq."say \\"hi\\"")'),
        Logic(
            "or",
            (
                F("name", "eq", "a,b"),
                F("name", "in", '("x","y")', values=("x", "y")),
                F("name", "eq", "(p)"),
                F("name", "eq", 'say "hi"'),
            ),
        ),
    ),
    (
        ("or", "(data->>k.eq.v,arr->0.gt.1,data->a->>b.is.null)"),
        Logic("or", (F("data->>k", "eq", "v"), F("arr->0", "gt", "1"), F("data->a->>b", "is", "null"))),
    ),
    (
        ("or", '(tags.cs.{a,b},tags.eq(any).{x,"y,z"},data.cs.{"a":{"b":1}},v.eq."{unclosed")'),
        Logic(
            "or",
            (
                F("tags", "cs", "{a,b}"),
                F("tags", "eq", '{x,"y,z"}', values=("x", "y,z"), quantifier="any"),
                F("data", "cs", '{"a":{"b":1}}'),
                F("v", "eq", "{unclosed"),
            ),
        ),
    ),
    (
        ("or", "(tsv.fts(english).cat,tsv.not.plfts.dog,x.is.TRUE)"),
        Logic(
            "or",
            (
                F("tsv", "fts", "cat", language="english"),
                F("tsv", "plfts", "dog", negated=True),
                F("x", "is", "true"),
            ),
        ),
    ),
    (
        ("or", "(actors.is.null,directors.not.is.null)"),
        Logic("or", (F("actors", "is", "null"), F("directors", "is", "null", negated=True))),
    ),
    (("or", "( a.eq.1 , b.eq.2 )"), Logic("or", (F("a", "eq", "1 "), F("b", "eq", "2 ")))),
    (("or", "(a.eq.,b.eq.2)"), Logic("or", (F("a", "eq", ""), F("b", "eq", "2")))),
    (("or", "(and.eq.1,or.eq.2)"), Logic("or", (F("and", "eq", "1"), F("or", "eq", "2")))),
    (("or", "(a.in.())"), Logic("or", (F("a", "in", "()", values=()),))),
    (
        ("clients.or", "(name.eq.a,name.eq.b)"),
        Logic("or", (F("name", "eq", "a"), F("name", "eq", "b")), embed_path=("clients",)),
    ),
    (
        ("roles.actors.not.and", "(a.eq.1)"),
        Logic("and", (F("a", "eq", "1"),), negated=True, embed_path=("roles", "actors")),
    ),
    (('"not".or', "(a.eq.1)"), Logic("or", (F("a", "eq", "1"),), embed_path=("not",))),
]


@pytest.mark.parametrize(("pair", "expected"), LOGIC_CASES, ids=["=".join(c[0]) for c in LOGIC_CASES])
def test_logic(pair: tuple[str, str], expected: Condition) -> None:
    assert parse_read([pair]).where == (expected,)
    _check_write_filters(pair, expected)


def test_logic_nesting_up_to_the_limit() -> None:
    depth = MAX_DEPTH - 1
    value = "(" + "and(" * depth + "a.eq.1" + ")" * (depth + 1)
    expected: Condition = F("a", "eq", "1")
    for _ in range(depth):
        expected = Logic("and", (expected,))
    assert parse_filters([("or", value)]) == (Logic("or", (expected,)),)


LOGIC_ERRORS = [
    (("or", "()"), "expected a column name"),
    (("or", ""), 'expected "(" to start the logic tree'),
    (("or", "a.eq.1"), 'expected "(" to start the logic tree'),
    (("or", "(a.eq.1"), 'expected "," or ")"'),
    (("or", "(a.eq.1))"), "unexpected ')'"),
    (("or", "(a.eq.1,)"), "expected a column name"),
    (("or", "(id.in.1,2)"), 'expected "(" to start the list'),
    (("or", "(and(a.eq.1)"), 'expected "," or ")"'),
    (("or", '(a.eq."x)'), "unterminated quoted string"),
    (("or", '(a.eq."x"y)'), "unexpected 'y'"),
    (("or", "(xor(a.eq.1))"), "unexpected '('"),
    (("or", "(a.noop.1)"), 'unknown operator "noop"'),
    (("or", "(a.is.nil)"), 'unexpected "nil"'),
    (("or", "(a)"), 'expected "." and an operator'),
    (("or", "(a.cs.{x,y)"), "unbalanced {"),
    (("or", '(a.cs.{"x}")'), "unbalanced {"),
    (("or", "(" + "and(" * MAX_DEPTH + "a.eq.1" + ")" * (MAX_DEPTH + 1)), f"at most {MAX_DEPTH} levels"),
    (("or", "(" + ",".join(["a.eq.1"] * MAX_ITEMS) + ")"), f"at most {MAX_ITEMS}"),
]


@pytest.mark.parametrize(("pair", "details"), LOGIC_ERRORS, ids=[c[0][1][:40] for c in LOGIC_ERRORS])
def test_logic_errors(pair: tuple[str, str], details: str) -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_filters([pair])
    assert caught.value.message.startswith("failed to parse logic tree (")
    assert details in (caught.value.details or ""), caught.value.details


# ---------------------------------------------------------------------------------------------------------
# Whole requests


def test_read_request_from_the_docs() -> None:
    request = parse_read(
        [
            ("select", "*,roles(*,actors(*))"),
            ("grade", "gte.90"),
            ("id", "gt.1"),
            ("id", "lt.9"),
            ("or", "(age.eq.14,not.and(age.gte.11,age.lte.17))"),
            ("roles.actors.order", "last_name"),
            ("roles.actors.first_name", "like.*Tom*"),
            ("roles.limit", "10"),
            ("roles.offset", "2"),
            ("order", "grade.desc"),
            ("limit", "0"),
            ("offset", "20"),
            ("columns", "ignored here ((("),
            ("on_conflict", "ignored too"),
        ]
    )
    assert request == ReadRequest(
        select=(STAR, Embed("roles", (STAR, Embed("actors", (STAR,))))),
        where=(
            F("grade", "gte", "90"),
            F("id", "gt", "1"),
            F("id", "lt", "9"),
            Logic(
                "or",
                (
                    F("age", "eq", "14"),
                    Logic("and", (F("age", "gte", "11"), F("age", "lte", "17")), negated=True),
                ),
            ),
            F("first_name", "like", "*Tom*", embed_path=("roles", "actors")),
        ),
        order=(O("grade", descending=True),),
        limit=0,
        offset=20,
        embed_limits={("roles",): 10},
        embed_offsets={("roles",): 2},
        embed_order={("roles", "actors"): (O("last_name", embed_path=("roles", "actors")),)},
    )


def test_defaults_and_repeated_limits() -> None:
    assert parse_read([]) == ReadRequest()
    assert parse_read([("limit", "5"), ("limit", "7")]).limit == 7  # the last one wins, as in PostgREST


def test_filters_skip_reading_parameters_unparsed() -> None:
    params = [
        ("select", "((("),
        ("order", "..."),
        ("limit", "x"),
        ("c.offset", "-"),
        ("c.order", "."),
        ("columns", "("),
        ("on_conflict", "("),
        ("id", "eq.1"),
        ("or", "(a.eq.1)"),
    ]
    assert parse_filters(params) == (F("id", "eq", "1"), Logic("or", (F("a", "eq", "1"),)))


@pytest.mark.parametrize(
    ("pairs", "message", "details"),
    [
        ([("limit", "-1")], "failed to parse limit parameter (-1)", "non-negative integer"),
        ([("limit", "1.5")], "failed to parse limit parameter (1.5)", "non-negative integer"),
        ([("limit", "")], "failed to parse limit parameter ()", "non-negative integer"),
        ([("offset", "²")], "failed to parse offset parameter (²)", "non-negative integer"),
        ([("c.limit", "9" * 20)], "failed to parse limit parameter", "at most"),
        ([("select", "a"), ("select", "b")], "failed to parse select parameter", "given twice"),
        ([("order", "a"), ("order", "b")], "failed to parse order (b)", "given twice"),
        ([("id", "eq.1")] * (MAX_ITEMS + 1), "failed to parse filter (eq.1)", f"at most {MAX_ITEMS}"),
    ],
)
def test_read_errors(pairs: list[tuple[str, str]], message: str, details: str) -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_read(pairs)
    assert caught.value.message.startswith(message)
    assert details in (caught.value.details or "")


def test_long_input_is_clipped_in_the_message() -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_select("a" * 5000 + "!")
    assert len(caught.value.message) < 150


@pytest.mark.parametrize("parse", [parse_columns, parse_on_conflict])
def test_columns(parse: Callable[[str], tuple[str, ...]]) -> None:
    assert parse("id") == ("id",)
    assert parse("agency_id,email") == ("agency_id", "email")  # `on_conflict` as the client sends it
    assert parse(' a , "b,c",a ') == ("a", "b,c")
    assert parse('"name","email"') == ("name", "email")  # what the client sends for bulk inserts
    for bad in ("", ",", "a,", "a b(", '"x', "a\x00"):
        with pytest.raises(QueryParseError):
            parse(bad)


def test_columns_message_names_the_parameter() -> None:
    with pytest.raises(QueryParseError, match=r"failed to parse columns parameter \(a,\)"):
        parse_columns("a,")
    with pytest.raises(QueryParseError, match=r"failed to parse on_conflict parameter \(\)"):
        parse_on_conflict("")


# ---------------------------------------------------------------------------------------------------------
# Property-based: any text at all fails only with QueryParseError.

TOKENS = [*'abn0-9.,()"\\{}!:*->< \t~é🙂\x00\ud800', "->>", "not.", "eq.", "in.", "or(", "and(", "::", "..."]
SYNTAX = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)
ANY_TEXT = st.one_of(st.text(), SYNTAX)


def _only_parse_errors(call: Callable[[], object]) -> None:
    try:
        call()
    except QueryParseError as error:
        failure = error
    else:
        return
    assert (failure.code, failure.status_code) == ("PGRST100", 400)
    assert failure.message.startswith("failed to parse ")


@fuzz
@given(ANY_TEXT)
def test_fuzz_text_entry_points(text: str) -> None:
    for parse in (parse_select, parse_order, parse_columns, parse_on_conflict):
        _only_parse_errors(partial(parse, text))


@fuzz
@given(
    st.lists(
        st.tuples(
            st.one_of(ANY_TEXT, st.sampled_from(["or", "not.and", "c.limit", "order", "select"])), ANY_TEXT
        ),
        max_size=4,
    )
)
def test_fuzz_params(params: list[tuple[str, str]]) -> None:
    _only_parse_errors(lambda: parse_read(params))
    _only_parse_errors(lambda: parse_filters(params))


@fuzz
@given(ANY_TEXT, st.sampled_from(sorted(OPERATORS)), st.sampled_from(["", "not.", "(any)", "(english)"]))
def test_fuzz_values_after_each_operator(text: str, operator: str, modifier: str) -> None:
    _only_parse_errors(lambda: parse_read([("c", f"{operator}{modifier}.{text}")]))
    _only_parse_errors(lambda: parse_filters([("or", f"(c.{operator}{modifier}.{text})")]))


# ---------------------------------------------------------------------------------------------------------
# Round trips: generate an AST, write it as a query string, parse it back.

RESERVED_WORDS = {
    "select",
    "columns",
    "on_conflict",
    "order",
    "limit",
    "offset",
    "and",
    "or",
    "not",
    "inner",
    "left",
}
BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
VALUE_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
NAMES = st.one_of(
    st.from_regex(BARE, fullmatch=True).filter(lambda s: len(s) < 12),
    VALUE_TEXT.filter(lambda s: s not in ("", "*")),
)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def name(text: str) -> str:
    return text if BARE.fullmatch(text) and text not in RESERVED_WORDS else quote(text)


json_steps = st.lists(
    st.one_of(
        st.builds(JsonStep, st.sampled_from(["->", "->>"]), NAMES),
        st.builds(
            lambda a, i: JsonStep(a, str(i), is_index=True),
            st.sampled_from(["->", "->>"]),
            st.integers(-99, 99),
        ),
    ),
    max_size=3,
).map(tuple)
refs = st.builds(FieldRef, NAMES, json_steps)


def render_ref(ref: FieldRef) -> str:
    return name(ref.column) + "".join(s.arrow + (s.key if s.is_index else name(s.key)) for s in ref.json_path)


@st.composite
def filters(draw: st.DrawFn, in_logic: bool = False) -> tuple[str, Filter]:
    """A filter, and its `op.value` text (top level: raw value; in a logic tree: quoted)."""
    ref, negated = draw(refs), draw(st.booleans())
    op = draw(st.sampled_from(sorted(OPERATORS)))
    kw: dict[str, Any] = {}
    if op == "in" or (
        op in {"eq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"} and draw(st.booleans())
    ):
        items = draw(st.lists(VALUE_TEXT, max_size=4).map(tuple))
        kw["values"] = items
        if op == "in":
            modifier, value = "", "(" + ",".join(map(quote, items)) + ")"
        else:
            kw["quantifier"] = draw(st.sampled_from(["any", "all"]))
            modifier, value = f"({kw['quantifier']})", "{" + ",".join(map(quote, items)) + "}"
        text = value
    elif op == "is":
        modifier = ""
        text = value = draw(st.sampled_from(["null", "not_null", "true", "false", "unknown"]))
    else:
        modifier = ""
        if op in {"fts", "plfts", "phfts", "wfts"} and draw(st.booleans()):
            kw["language"] = draw(st.from_regex(BARE, fullmatch=True).filter(lambda s: len(s) < 12))
            modifier = f"({kw['language']})"
        value = draw(VALUE_TEXT)
        text = quote(value) if in_logic else value
    rendered = ("not." if negated else "") + op + modifier + "." + text
    return rendered, Filter(ref, op, value, negated, **kw)  # type: ignore[arg-type]


@fuzz
@given(filters(), st.lists(NAMES, max_size=2).map(tuple))
def test_round_trip_filters(rendered_filter: tuple[str, Filter], path: tuple[str, ...]) -> None:
    text, expected = rendered_filter
    key = ".".join([*map(name, path), render_ref(expected.ref)])
    assert parse_read([(key, text)]).where == (replace(expected, embed_path=path),)


@st.composite
def logic_trees(draw: st.DrawFn, depth: int = 0) -> tuple[str, Logic]:
    operator: Literal["and", "or"] = draw(st.sampled_from(["and", "or"]))
    negated = draw(st.booleans())
    parts: list[str] = []
    conditions: list[Condition] = []
    for _ in range(draw(st.integers(1, 3))):
        if depth < 3 and draw(st.integers(0, 3)) == 0:
            text, tree = draw(logic_trees(depth + 1))
            conditions.append(tree)
        else:
            op_text, condition = draw(filters(in_logic=True))
            text = render_ref(condition.ref) + "." + op_text
            conditions.append(condition)
        parts.append(text)
    text = f"{'not.' if negated else ''}{operator}({','.join(parts)})"
    return text, Logic(operator, tuple(conditions), negated)


@fuzz
@given(logic_trees())
def test_round_trip_logic(tree: tuple[str, Logic]) -> None:
    text, expected = tree
    negated, operator, value = re.fullmatch(r"(not\.)?(and|or)(\(.*\))", text, re.DOTALL).groups()  # type: ignore[union-attr]
    assert parse_filters([(f"{negated or ''}{operator}", value)]) == (expected,)


@st.composite
def select_items(draw: st.DrawFn, depth: int = 0) -> tuple[str, SelectItem]:
    alias = draw(st.one_of(st.none(), NAMES))
    if depth < 3 and draw(st.integers(0, 3)) == 0:
        children = [draw(select_items(depth + 1)) for _ in range(draw(st.integers(0, 3)))]
        spread = draw(st.booleans())
        hint = draw(st.one_of(st.none(), NAMES.filter(lambda s: s not in ("inner", "left"))))
        inner = draw(st.booleans())
        relation = draw(NAMES)
        text = (
            ("..." if spread else (f"{name(alias)}:" if alias else ""))
            + name(relation)
            + (f"!{name(hint)}" if hint else "")
            + ("!inner" if inner else "")
            + "("
            + ",".join(c[0] for c in children)
            + ")"
        )
        embed = Embed(relation, tuple(c[1] for c in children), None if spread else alias, hint, inner, spread)
        return text, embed
    if draw(st.integers(0, 5)) == 0:
        return "*", STAR
    ref = draw(refs)
    cast = draw(st.one_of(st.none(), st.from_regex(BARE, fullmatch=True).filter(lambda s: len(s) < 12)))
    text = (f"{name(alias)}:" if alias else "") + render_ref(ref) + (f"::{cast}" if cast else "")
    return text, SelectField(ref, alias, cast)


@fuzz
@given(st.lists(select_items(), min_size=1, max_size=4))
def test_round_trip_select(items: list[tuple[str, SelectItem]]) -> None:
    assert parse_select(" , ".join(text for text, _ in items)) == tuple(item for _, item in items)


@fuzz
@given(
    st.lists(
        st.tuples(refs, st.one_of(st.none(), NAMES), st.booleans(), st.sampled_from([None, True, False])),
        min_size=1,
        max_size=4,
    )
)
def test_round_trip_order(terms: list[tuple[FieldRef, str | None, bool, bool | None]]) -> None:
    parts, expected = [], []
    for ref, relation, descending, nulls_first in terms:
        text = f"{name(relation)}({render_ref(ref)})" if relation else render_ref(ref)
        text += ".desc" if descending else ""
        text += "" if nulls_first is None else (".nullsfirst" if nulls_first else ".nullslast")
        parts.append(text)
        expected.append(OrderTerm(ref, descending, nulls_first, relation=relation))
    assert parse_order(",".join(parts)) == tuple(expected)
