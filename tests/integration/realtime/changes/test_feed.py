"""Database changes through the feed, from real commits on the session's PostgreSQL to a sink, checked
as the subscriber's own role: order, filters, payload shape, RLS between agencies and at removal."""

from __future__ import annotations

import asyncio

import pytest

from gardenos.realtime.contracts import ChangeSpec, InvalidChangeSpec
from tests.integration.realtime.changes.conftest import Sink, World

pytestmark = pytest.mark.anyio


async def test_inserts_updates_deletes_arrive_in_commit_order(world: World) -> None:
    agency = world.agency()
    member = world.member(agency)
    sink = Sink()
    await world.feed.subscribe(member.principal, ChangeSpec("*", "public", "leads"), sink)
    with world.owner() as conn:
        (lead,) = conn.execute(
            "INSERT INTO leads (agency_id, first_name, score, tags) VALUES (%s, 'Ada', 7, '{a,\"b c\"}') "
            "RETURNING id::text",
            (agency,),
        ).fetchone() or ("",)
        conn.execute("UPDATE leads SET score = 9, notes = %s WHERE id = %s", ('quote " and \\ (a)', lead))
        conn.execute("DELETE FROM leads WHERE id = %s", (lead,))
    insert, update, delete = await sink.wait(3)
    assert [e["type"] for e in (insert, update, delete)] == ["INSERT", "UPDATE", "DELETE"]
    assert (insert["schema"], insert["table"], insert["errors"]) == ("public", "leads", None)
    assert (insert["record"]["id"], insert["record"]["score"]) == (lead, 7)
    assert insert["record"]["tags"] == ["a", "b c"]
    assert {"name": "score", "type": "int2"} in insert["columns"]
    assert insert["commit_timestamp"].endswith("Z")
    # leads has REPLICA IDENTITY FULL: the whole old row.
    assert (update["record"]["score"], update["record"]["notes"]) == (9, 'quote " and \\ (a)')
    assert update["old_record"]["score"] == 7
    # A deleted row of a table under RLS: its primary key only, as Supabase sends it.
    assert delete["old_record"] == {"agency_id": agency, "id": lead}
    assert "record" not in delete


async def test_filters_select_rows_by_typed_comparison(world: World) -> None:
    agency = world.agency()
    member = world.member(agency)
    over, listed = Sink(), Sink()
    await world.feed.subscribe(member.principal, ChangeSpec("INSERT", "public", "leads", "score=gt.9"), over)
    await world.feed.subscribe(
        member.principal, ChangeSpec("INSERT", "public", "leads", 'first_name=in.(Bo,"Cy, Jr")'), listed
    )
    with world.owner() as conn:
        for name, score in [("Al", 5), ("Bo", 10), ("Cy, Jr", 80), ("Di", 9)]:
            conn.execute(
                "INSERT INTO leads (agency_id, first_name, score) VALUES (%s, %s, %s)", (agency, name, score)
            )
        conn.execute("INSERT INTO leads (agency_id, first_name, score) VALUES (%s, 'End', 100)", (agency,))
    assert [e["record"]["first_name"] for e in await over.wait(3)] == ["Bo", "Cy, Jr", "End"]
    assert [e["record"]["first_name"] for e in await listed.wait(2)] == ["Bo", "Cy, Jr"]


async def test_two_agencies_never_see_each_others_rows(world: World) -> None:
    a, b = world.agency(), world.agency()
    sinks = {a: Sink(), b: Sink()}
    for agency, sink in sinks.items():
        # Two members each: they share one visibility check per batch, and both receive.
        for _ in range(2):
            await world.feed.subscribe(world.member(agency).principal, ChangeSpec("*", "public", None), sink)
    with world.owner() as conn:
        for i in range(10):
            agency = a if i % 3 else b
            conn.execute("INSERT INTO leads (agency_id, first_name) VALUES (%s, %s)", (agency, f"n{i}"))
            conn.execute("INSERT INTO clients (agency_id, company) VALUES (%s, %s)", (agency, f"c{i}"))
    await sinks[a].wait(2 * 2 * 6)
    await sinks[b].wait(2 * 2 * 4)
    for agency, sink in sinks.items():
        assert {e["record"]["agency_id"] for e in sink.events} == {agency}


async def test_a_removed_member_receives_nothing_after_the_removal_commits(world: World) -> None:
    agency = world.agency()
    staying, leaving = world.member(agency), world.member(agency)
    kept, cut = Sink(), Sink()
    await world.feed.subscribe(staying.principal, ChangeSpec("INSERT", "public", "leads"), kept)
    await world.feed.subscribe(leaving.principal, ChangeSpec("INSERT", "public", "leads"), cut)
    with world.owner() as conn:
        conn.execute("INSERT INTO leads (agency_id, first_name) VALUES (%s, 'before')", (agency,))
        conn.execute(
            "DELETE FROM memberships WHERE agency_id = %s AND user_id = %s", (agency, leaving.user_id)
        )
        conn.execute("INSERT INTO leads (agency_id, first_name) VALUES (%s, 'after')", (agency,))
    await kept.wait(2)
    # Anything in flight for `cut` went out with `kept`'s, in the same fan-out: nothing more is coming.
    assert [e["record"]["first_name"] for e in cut.events] in ([], ["before"])


async def test_a_burst_of_a_thousand_inserts_loses_nothing(world: World) -> None:
    agency = world.agency()
    sink = Sink()
    await world.feed.subscribe(world.member(agency).principal, ChangeSpec("INSERT", "public", "leads"), sink)
    with world.owner() as conn:
        for i in range(1000):
            conn.execute(
                "INSERT INTO leads (agency_id, first_name, score) VALUES (%s, 'x', %s)", (agency, i % 100)
            )
    events = await sink.wait(1000)
    assert len(events) == 1000
    assert [e["record"]["score"] for e in events] == [i % 100 for i in range(1000)]


async def test_a_subscription_sees_only_what_commits_after_it(world: World) -> None:
    agency = world.agency()
    with world.owner() as conn:
        conn.execute("INSERT INTO leads (agency_id, first_name) VALUES (%s, 'earlier')", (agency,))
    sink = Sink()
    await world.feed.subscribe(
        world.service(), ChangeSpec("INSERT", "public", "leads", f"agency_id=eq.{agency}"), sink
    )
    with world.owner() as conn:
        conn.execute("INSERT INTO leads (agency_id, first_name) VALUES (%s, 'later')", (agency,))
    assert [e["record"]["first_name"] for e in await sink.wait(1)] == ["later"]


async def test_a_closed_subscription_receives_nothing(world: World) -> None:
    agency = world.agency()
    member = world.member(agency)
    closed, open_ = Sink(), Sink()
    subscription = await world.feed.subscribe(
        member.principal, ChangeSpec("INSERT", "public", "leads"), closed
    )
    await world.feed.subscribe(member.principal, ChangeSpec("INSERT", "public", "leads"), open_)
    await subscription.close()
    with world.owner() as conn:
        conn.execute("INSERT INTO leads (agency_id, first_name) VALUES (%s, 'x')", (agency,))
    await open_.wait(1)
    assert closed.events == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ChangeSpec("*", "public", "no_such_table"), "not an exposed table"),
        (ChangeSpec("*", "auth", "users"), "is not exposed"),
        (ChangeSpec("*", "public", "leads", "nope=eq.1"), "has no column 'nope'"),
        (ChangeSpec("*", "public", "leads", "score=like.1"), "not supported"),
        (ChangeSpec("*", "public", "leads", "score=eq.high"), "score=eq.high"),
        (ChangeSpec("*", "public", "leads", "score"), "column=op.value"),
        (ChangeSpec("*", "public", None, "score=eq.1"), "needs a table"),
        (ChangeSpec("TRUNCATE", "public", "leads"), "is not one of"),  # type: ignore[arg-type]
    ],
)
async def test_bad_specs_are_refused_with_a_message(world: World, spec: ChangeSpec, message: str) -> None:
    with pytest.raises(InvalidChangeSpec, match=message):
        await world.feed.subscribe(world.service(), spec, Sink())
    await asyncio.sleep(0)
