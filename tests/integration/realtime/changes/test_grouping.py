"""Subscribers share a visibility check only when PostgreSQL proves their policies read nothing of them
but context values that are equal (context.py): members of one agency on `leads` share one; users whose
visible rows differ never do, and values that move between grouping and checking split the group."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import psycopg
import pytest

from gardenos.realtime.changes import context, visibility
from gardenos.realtime.changes.catalog import Policy, TableInfo
from gardenos.realtime.contracts import ChangeSpec
from tests.integration.realtime.changes.conftest import Member, Sink, World

pytestmark = pytest.mark.anyio


async def _table(world: World, name: str) -> TableInfo:
    table = await world.feed.tables.get(name)
    assert table is not None
    return table


async def _prove(world: World, table: TableInfo, role: str = "authenticated") -> tuple[str, ...] | None:
    async with world.feed.database.transaction("service_role") as conn:
        return await context.prove(conn, table, table.condition(role))


@pytest.mark.parametrize(
    ("qual", "reads"),
    [
        ("(agency_id = ( SELECT auth.agency_id() AS agency_id))", ("agency_id",)),
        ("((first_name = 'x'::text) AND (agency_id = auth.agency_id()))", ("agency_id",)),
        ("(agency_id IN ( SELECT auth.agency_ids() AS agency_ids))", ("agency_ids",)),
        # Text that only looks like a call, inside a literal, reads nothing.
        ("(first_name = '( SELECT auth.uid() AS uid)'::text)", ()),
        # Anything else of the caller: not proven, so checked per token.
        ("(first_name = CURRENT_USER)", None),
        ("(first_name = current_setting('request.jwt.claim.sub'::text, true))", None),
        ("(agency_id IN ( SELECT m.agency_id FROM memberships m WHERE (m.user_id = auth.uid())))", None),
        ("(agency_id = ( SELECT auth.some_other() AS some_other))", None),
        ("(created_at > now())", None),
    ],
)
async def test_the_probe_proves_what_a_policy_reads(
    world: World, qual: str, reads: tuple[str, ...] | None
) -> None:
    leads = await _table(world, "leads")
    table = dataclasses.replace(leads, policies=(Policy(True, ("authenticated",), qual),))
    assert await _prove(world, table) == reads


async def test_leads_policies_read_the_agency_only(world: World) -> None:
    leads = await _table(world, "leads")
    assert await _prove(world, leads) == ("agency_id",)
    # No policy for these roles: one check per role, whoever the caller.
    assert await _prove(world, leads, "anon") == ()
    assert await _prove(world, leads, "service_role") == ()


def _lead(agency: str) -> tuple[dict[str, Any], None]:
    return {"id": str(uuid.uuid4()), "agency_id": agency, "first_name": "x"}, None


class Spy:
    """Records the checks of each visibility statement round, and can act before the first one."""

    def __init__(self, before_first: Any = None) -> None:
        self.rounds: list[list[visibility.Check]] = []
        self.before_first = before_first
        self.run = visibility._run

    async def __call__(self, conn: Any, table: TableInfo, checks: Any) -> Any:
        if not self.rounds and self.before_first is not None:
            self.before_first()
        self.rounds.append(list(checks))
        return await self.run(conn, table, checks)


async def test_members_of_one_agency_share_one_check(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = world.agency(), world.agency()
    members = [world.member(a), world.member(a), world.member(a), world.member(b)]
    leads = await _table(world, "leads")
    reads = await _prove(world, leads)
    spy = Spy()
    monkeypatch.setattr(visibility, "_run", spy)
    batch = visibility.Batch(leads, [_lead(a), _lead(b), _lead(a)])
    _, seen = await batch.evaluate(
        world.feed.database, [visibility.Check(m.principal, None, reads) for m in members]
    )
    assert seen == [{0, 2}, {0, 2}, {0, 2}, {1}]
    assert [len(r) for r in spy.rounds] == [2]  # one check for agency a's three members, one for b's


async def test_users_whose_visible_rows_differ_are_not_merged(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both users claim agency a, so `auth.agency_id()` is equal; but `memberships_read` also reads
    `auth.agency_ids()`, and one of them is a member of b too: they see different memberships."""
    a, b = world.agency(), world.agency()
    only_a = world.member(a)
    both = world.member(a)
    with world.owner() as conn:
        conn.execute(
            "INSERT INTO memberships (agency_id, user_id, role) VALUES (%s, %s, 'member')", (b, both.user_id)
        )
    memberships = await _table(world, "memberships")
    assert await _prove(world, memberships) == ("agency_id", "agency_ids")
    sinks = {only_a.user_id: Sink(), both.user_id: Sink()}
    for member in (only_a, both):
        spec = ChangeSpec("INSERT", "public", "memberships")
        await world.feed.subscribe(member.principal, spec, sinks[member.user_id])
    in_b = world.member(b)
    in_a = world.member(a)
    await sinks[both.user_id].wait(2)
    await sinks[only_a.user_id].wait(1)
    assert [e["record"]["user_id"] for e in sinks[both.user_id].events] == [in_b.user_id, in_a.user_id]
    assert [e["record"]["user_id"] for e in sinks[only_a.user_id].events] == [in_a.user_id]
    # Two checks from the start: not one group split after the fact.
    spy = Spy()
    monkeypatch.setattr(visibility, "_run", spy)
    rows = [
        ({"agency_id": b, "user_id": in_b.user_id}, None),
        ({"agency_id": a, "user_id": in_a.user_id}, None),
    ]
    _, seen = await visibility.Batch(memberships, rows).evaluate(
        world.feed.database,
        [visibility.Check(m.principal, None, ("agency_id", "agency_ids")) for m in (only_a, both)],
    )
    assert seen == [{1}, {0, 1}]
    assert [len(r) for r in spy.rounds] == [2]


async def test_values_that_move_before_the_check_split_the_group(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The member whose token runs the group's check is removed between the grouping and the check:
    the check sees their agency gone, so the group is checked one member at a time, and the others
    still see their agency's rows."""
    a = world.agency()
    removed, staying = world.member(a), world.member(a)

    def remove(member: Member = removed) -> None:
        with psycopg.connect(world.database.owner_url, autocommit=True) as conn:
            conn.execute("DELETE FROM memberships WHERE user_id = %s", (member.user_id,))

    leads = await _table(world, "leads")
    reads = await _prove(world, leads)
    spy = Spy(before_first=remove)
    monkeypatch.setattr(visibility, "_run", spy)
    batch = visibility.Batch(leads, [_lead(a)])
    _, seen = await batch.evaluate(
        world.feed.database, [visibility.Check(m.principal, None, reads) for m in (removed, staying)]
    )
    assert seen == [set(), {0}]
    assert [len(r) for r in spy.rounds] == [1, 2]
