"""pgoutput messages as PostgreSQL's documentation lays them out, built byte by byte and decoded."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gardenos.realtime.changes import pgoutput
from gardenos.realtime.changes.pgoutput import UNCHANGED_TOAST, DecodeError, decode

MOMENT = datetime(2026, 12, 3, 15, 0, 0, 123456, tzinfo=UTC)


def micros(moment: datetime) -> int:
    return (moment - pgoutput.PG_EPOCH) // pgoutput.timedelta(microseconds=1)


def tuple_data(values: list[str | object | None]) -> bytes:
    out = struct.pack("!h", len(values))
    for value in values:
        if value is None:
            out += b"n"
        elif value is UNCHANGED_TOAST:
            out += b"u"
        else:
            raw = str(value).encode()
            out += b"t" + struct.pack("!i", len(raw)) + raw
    return out


def test_begin_and_commit() -> None:
    begin = decode(b"B" + struct.pack("!qqI", 0x1_0000_0010, micros(MOMENT), 42))
    assert begin == pgoutput.Begin(0x1_0000_0010, MOMENT, 42)
    commit = decode(b"C" + struct.pack("!bqqq", 0, 0x10, 0x28, micros(MOMENT)))
    assert commit == pgoutput.Commit(0x10, 0x28, MOMENT)


def test_relation() -> None:
    data = (
        b"R"
        + struct.pack("!I", 16384)
        + b"public\0leads\0f"
        + struct.pack("!h", 2)
        + b"\x01id\0"
        + struct.pack("!Ii", 2950, -1)
        + b"\x00score\0"
        + struct.pack("!Ii", 21, -1)
    )
    relation = decode(data)
    assert isinstance(relation, pgoutput.Relation)
    assert (relation.schema, relation.name, relation.replica_identity) == ("public", "leads", "f")
    assert [(c.name, c.type_oid, c.is_key) for c in relation.columns] == [
        ("id", 2950, True),
        ("score", 21, False),
    ]


def test_insert_update_delete() -> None:
    oid = struct.pack("!I", 16384)
    assert decode(b"I" + oid + b"N" + tuple_data(["1", None])) == pgoutput.Insert(16384, ("1", None))
    update = decode(b"U" + oid + b"O" + tuple_data(["1", "x"]) + b"N" + tuple_data(["1", UNCHANGED_TOAST]))
    assert update == pgoutput.Update(16384, ("1", UNCHANGED_TOAST), ("1", "x"), False)
    assert decode(b"U" + oid + b"N" + tuple_data(["2", "é"])) == pgoutput.Update(16384, ("2", "é"))
    assert decode(b"D" + oid + b"K" + tuple_data(["1", None])) == pgoutput.Delete(16384, ("1", None), True)


@pytest.mark.parametrize("data", [b"", b"Z", b"I\0\0\0\1X", b"B\0\0", b"R\0\0\0\1public"])
def test_malformed_messages_are_refused(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(data)


@given(st.lists(st.one_of(st.none(), st.text()), max_size=20))
def test_any_row_decodes_to_its_values(values: list[str | None]) -> None:
    assert decode(b"I" + struct.pack("!I", 1) + b"N" + tuple_data(list(values))) == pgoutput.Insert(
        1, tuple(values)
    )


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_lsn_text_round_trips(lsn: int) -> None:
    assert pgoutput.parse_lsn(pgoutput.format_lsn(lsn)) == lsn
