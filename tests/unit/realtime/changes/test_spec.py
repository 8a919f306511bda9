"""postgres_changes entries checked against a table's catalog entry: PostgREST's filter syntax through
/rest/v1's grammar, limited to the operators Supabase Realtime serves, with messages a person can act on."""

from __future__ import annotations

import pytest

from gardenos.realtime.changes.catalog import Column, Policy, TableInfo
from gardenos.realtime.changes.spec import ColumnFilter, compile_spec, parse_filter
from gardenos.realtime.contracts import ChangeSpec, InvalidChangeSpec

LEADS = TableInfo(
    "public",
    "leads",
    1,
    True,
    "f",
    ("agency_id", "id"),
    (Column("agency_id", "uuid", "uuid"), Column("id", "uuid", "uuid"), Column("score", "int2", "smallint")),
    (Policy(True, ("authenticated",), "(agency_id = ( SELECT auth.agency_id() AS agency_id))"),),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("score=eq.5", ColumnFilter("score", "eq", ("5",))),
        ("score=neq.5", ColumnFilter("score", "neq", ("5",))),
        ("score=gte.5", ColumnFilter("score", "gte", ("5",))),
        ("name=eq.a.b=c", ColumnFilter("name", "eq", ("a.b=c",))),
        ('name=in.(a,"b,c",d)', ColumnFilter("name", "in", ("a", "b,c", "d"))),
    ],
)
def test_filters_parse(text: str, expected: ColumnFilter) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("score", "column=op.value"),
        ("=eq.1", "column=op.value"),
        ("score=like.*a*", "not supported"),
        ("score=not.eq.1", "not supported"),
        ("score=eq(any).{1,2}", "not supported"),
        ("score=nope.1", "failed to parse filter"),
        ("data->a=eq.1", "plain column"),
        ("score=in.(1,2", "score=in"),
    ],
)
def test_bad_filters_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidChangeSpec, match=message):
        parse_filter(text)


def test_a_filter_names_a_column_of_the_table() -> None:
    with pytest.raises(InvalidChangeSpec, match="has no column 'nope'") as caught:
        compile_spec(ChangeSpec("*", "public", "leads", "nope=eq.1"), LEADS, [])
    assert caught.value.hint == "columns: agency_id, id, score"


def test_every_event_of_every_table() -> None:
    spec = compile_spec(ChangeSpec("*", "public", "*"), None, [])
    assert spec.matches("clients", "DELETE")
    assert spec.matches("leads", "INSERT")
    only = compile_spec(ChangeSpec("UPDATE", "public", "leads"), LEADS, [])
    assert only.matches("leads", "UPDATE")
    assert not only.matches("leads", "INSERT")
    assert not only.matches("clients", "UPDATE")


def test_policies_combine_as_postgresql_combines_them() -> None:
    assert LEADS.visibility("anon").as_string() == "false"
    assert "auth.agency_id()" in LEADS.visibility("authenticated").as_string()
