"""The plan media types as the clients send them, and GET /rpc's split of arguments from filters."""

from __future__ import annotations

import pytest

from gardenos.rest.build import RestError
from gardenos.rest.plan import PlanRequest, plan_request
from gardenos.rest.rpc import split_query
from gardenos.rest.schema import Column, Function, SchemaCache


def test_supabase_js_explain_header_is_read() -> None:
    # postgrest-js's .explain({analyze: true, format: 'json'}) after .single()
    header = (
        'application/vnd.pgrst.plan+json; for="application/vnd.pgrst.object+json"; options=analyze|buffers;'
    )
    assert plan_request(header, enabled=True) == PlanRequest(
        "json", "application/vnd.pgrst.object+json", ("analyze", "buffers")
    )
    assert plan_request("application/vnd.pgrst.plan", enabled=True) == PlanRequest(
        "text", "application/json", ()
    )
    # Options outside EXPLAIN's known few are dropped, never spliced into SQL.
    assert plan_request(
        "application/vnd.pgrst.plan+json; options=analyze);drop", enabled=True
    ) == PlanRequest("json", "application/json", ())


def test_plans_off_refuse_as_postgrest_unless_another_type_is_accepted() -> None:
    assert plan_request("application/json", enabled=False) is None
    assert plan_request("application/vnd.pgrst.plan+json, application/json", enabled=False) is None
    with pytest.raises(RestError) as refused:
        plan_request("application/vnd.pgrst.plan+text; options=analyze", enabled=False)
    assert refused.value.status_code == 406
    assert refused.value.code == "PGRST107"
    assert refused.value.message == (
        'None of these media types are available: application/vnd.pgrst.plan+text; for="application/json"; '
        "options=analyze"
    )


def _cache() -> SchemaCache:
    status = Column("status", "text", "S", True, False, False)
    function = Function(
        "by_status", "s", True, True, "record", ("status", "query"), ("text", "text"), 1, None, (status,)
    )
    return SchemaCache({}, {"by_status": (function,)}, ())


@pytest.mark.parametrize(
    ("pairs", "args", "read"),
    [
        ([("query", "eq.5")], {"query": "eq.5"}, []),  # an argument, whatever its value reads as
        ([("status", "new")], {"status": "new"}, []),
        ([("status", "eq.new")], {}, [("status", "eq.new")]),  # also a result column: a filter
        (
            [("select", "status"), ("order", "status"), ("limit", "1")],
            {},
            [("select", "status"), ("order", "status"), ("limit", "1")],
        ),
        ([("other", "gt.1")], {}, [("other", "gt.1")]),
        ([("other", "x")], {"other": "x"}, []),  # not a filter: an argument (then PGRST202)
    ],
)
def test_get_rpc_separates_arguments(
    pairs: list[tuple[str, str]], args: dict[str, str], read: list[tuple[str, str]]
) -> None:
    assert split_query(_cache(), "by_status", pairs) == (args, read)
