"""PostgreSQL's `pgoutput` logical replication messages (protocol version 1), decoded from the bytes
`pg_logical_slot_peek_binary_changes` returns, one message per row.

The layout is PostgreSQL's "Logical Replication Message Formats" chapter. Only what the change feed
reads is kept: column values stay in their text form (the publication is not `binary`), and the feed
lets PostgreSQL itself turn them into typed values.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# Timestamps count microseconds from PostgreSQL's epoch.
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class UnchangedToast:
    """A TOASTed value an UPDATE did not change: pgoutput does not send it again."""

    def __repr__(self) -> str:
        return "UNCHANGED_TOAST"


UNCHANGED_TOAST = UnchangedToast()

# A column's value: text, None for NULL, or UNCHANGED_TOAST.
Value = str | None | UnchangedToast


@dataclass(frozen=True)
class Begin:
    final_lsn: int
    commit_time: datetime
    xid: int


@dataclass(frozen=True)
class Commit:
    commit_lsn: int
    end_lsn: int
    commit_time: datetime


@dataclass(frozen=True)
class RelationColumn:
    name: str
    type_oid: int
    type_modifier: int
    is_key: bool


@dataclass(frozen=True)
class Relation:
    oid: int
    schema: str
    name: str
    # 'd' default (primary key), 'n' nothing, 'f' full, 'i' index.
    replica_identity: str
    columns: tuple[RelationColumn, ...]


@dataclass(frozen=True)
class TypeInfo:
    oid: int
    schema: str
    name: str


@dataclass(frozen=True)
class Insert:
    relation_oid: int
    new: tuple[Value, ...]


@dataclass(frozen=True)
class Update:
    relation_oid: int
    new: tuple[Value, ...]
    # The old row: every column under REPLICA IDENTITY FULL ('O'), the key columns when the key changed
    # ('K', other columns None), or nothing.
    old: tuple[Value, ...] | None = None
    old_is_key_only: bool = False


@dataclass(frozen=True)
class Delete:
    relation_oid: int
    old: tuple[Value, ...]
    old_is_key_only: bool = False


@dataclass(frozen=True)
class Truncate:
    relation_oids: tuple[int, ...]
    cascade: bool
    restart_identity: bool


@dataclass(frozen=True)
class LogicalMessage:
    transactional: bool
    lsn: int
    prefix: str
    content: bytes


@dataclass(frozen=True)
class Origin:
    lsn: int
    name: str


Message = Begin | Commit | Relation | TypeInfo | Insert | Update | Delete | Truncate | LogicalMessage | Origin


class DecodeError(ValueError):
    """Bytes that are not a pgoutput message this decoder knows."""


@dataclass
class _Reader:
    data: bytes
    pos: int = field(default=0)

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise DecodeError(f"message truncated at byte {self.pos} (needs {n} more)")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> str:
        return chr(self.take(1)[0])

    def int8(self) -> int:
        return int(self.take(1)[0])

    def int16(self) -> int:
        return int(struct.unpack("!h", self.take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack("!i", self.take(4))[0])

    def uint32(self) -> int:
        return int(struct.unpack("!I", self.take(4))[0])

    def int64(self) -> int:
        return int(struct.unpack("!q", self.take(8))[0])

    def timestamp(self) -> datetime:
        return PG_EPOCH + timedelta(microseconds=self.int64())

    def string(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise DecodeError(f"unterminated string at byte {self.pos}")
        text = self.data[self.pos : end].decode()
        self.pos = end + 1
        return text

    def tuple_data(self) -> tuple[Value, ...]:
        # The hot loop of decoding (a value per column per row): indexes into the bytes directly.
        data, pos = self.data, self.pos
        values: list[Value] = []
        try:
            (count,) = _INT16.unpack_from(data, pos)
            pos += 2
            for _ in range(count):
                kind = data[pos]
                pos += 1
                if kind == _TEXT:
                    (length,) = _INT32.unpack_from(data, pos)
                    pos += 4
                    if pos + length > len(data):
                        raise DecodeError(f"message truncated at byte {pos} (needs {length} more)")
                    values.append(data[pos : pos + length].decode())
                    pos += length
                elif kind == _NULL:
                    values.append(None)
                elif kind == _UNCHANGED:
                    values.append(UNCHANGED_TOAST)
                elif kind == _BINARY:
                    raise DecodeError("binary column values: the publication must not use binary mode")
                else:
                    raise DecodeError(f"unknown column kind {chr(kind)!r}")
        except (struct.error, IndexError) as exc:
            raise DecodeError(f"message truncated at byte {pos}") from exc
        self.pos = pos
        return tuple(values)


_INT16 = struct.Struct("!h")
_INT32 = struct.Struct("!i")
_TEXT, _NULL, _UNCHANGED, _BINARY = b"t"[0], b"n"[0], b"u"[0], b"b"[0]


def decode(data: bytes) -> Message:
    """One pgoutput message (protocol version 1, no streaming)."""
    r = _Reader(data)
    kind = r.byte()
    if kind == "B":
        return Begin(r.int64(), r.timestamp(), r.uint32())
    if kind == "C":
        r.int8()  # flags, unused
        return Commit(r.int64(), r.int64(), r.timestamp())
    if kind == "R":
        oid, schema, name = r.uint32(), r.string(), r.string()
        identity = r.byte()
        columns = []
        for _ in range(r.int16()):
            flags = r.int8()
            columns.append(RelationColumn(r.string(), r.uint32(), r.int32(), bool(flags & 1)))
        return Relation(oid, schema, name, identity, tuple(columns))
    if kind == "Y":
        return TypeInfo(r.uint32(), r.string(), r.string())
    if kind == "I":
        oid = r.uint32()
        if r.byte() != "N":
            raise DecodeError("an Insert without its new tuple")
        return Insert(oid, r.tuple_data())
    if kind == "U":
        oid = r.uint32()
        marker = r.byte()
        old: tuple[Value, ...] | None = None
        key_only = False
        if marker in ("K", "O"):
            old, key_only = r.tuple_data(), marker == "K"
            marker = r.byte()
        if marker != "N":
            raise DecodeError("an Update without its new tuple")
        return Update(oid, r.tuple_data(), old, key_only)
    if kind == "D":
        oid = r.uint32()
        marker = r.byte()
        if marker not in ("K", "O"):
            raise DecodeError("a Delete without its old tuple")
        return Delete(oid, r.tuple_data(), marker == "K")
    if kind == "T":
        count, options = r.int32(), r.int8()
        return Truncate(tuple(r.uint32() for _ in range(count)), bool(options & 1), bool(options & 2))
    if kind == "M":
        flags, lsn, prefix = r.int8(), r.int64(), r.string()
        return LogicalMessage(bool(flags & 1), lsn, prefix, r.take(r.int32()))
    if kind == "O":
        return Origin(r.int64(), r.string())
    raise DecodeError(f"unknown pgoutput message {kind!r}")


def format_lsn(lsn: int) -> str:
    """`pg_lsn`'s text form."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)
