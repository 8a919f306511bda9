"""The frame codecs against the shapes the official clients write (realtime-js's serializer, supabase-py's
Message model), and garbage."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gardenos.realtime import frames
from gardenos.realtime.frames import Frame, FrameError


def _user_broadcast_push(
    join_ref: str, ref: str, topic: str, event: str, body: bytes, encoding: int
) -> bytes:
    """What realtime-js 2.x sends for `channel.send({type: 'broadcast', …})` with vsn=2.0.0."""
    header = bytes([3, len(join_ref), len(ref), len(topic), len(event), 0, encoding])
    return header + (join_ref + ref + topic + event).encode() + body


def test_both_text_forms_read_the_same() -> None:
    as_array = json.dumps(["1", "2", "realtime:room", "phx_join", {"config": {}}])
    as_object = json.dumps(
        {
            "join_ref": "1",
            "ref": "2",
            "topic": "realtime:room",
            "event": "phx_join",
            "payload": {"config": {}},
        }
    )
    assert (
        frames.decode(as_array)
        == frames.decode(as_object)
        == Frame("1", "2", "realtime:room", "phx_join", {"config": {}})
    )


def test_a_binary_broadcast_push_is_read_as_a_broadcast() -> None:
    data = _user_broadcast_push("1", "5", "realtime:room", "ping", b'{"n":1}', 1)
    assert frames.decode(data) == Frame(
        "1", "5", "realtime:room", "broadcast", {"type": "broadcast", "event": "ping", "payload": {"n": 1}}
    )
    raw = frames.decode(_user_broadcast_push("1", "6", "realtime:room", "blob", b"\x00\xff", 0))
    assert raw.payload["payload"] == b"\x00\xff"


def test_the_server_writes_the_form_its_client_negotiated() -> None:
    frame = Frame(
        None, None, "realtime:room", "broadcast", {"type": "broadcast", "event": "e", "payload": {}}
    )
    assert json.loads(frames.encode("1.0.0", frame))["topic"] == "realtime:room"
    assert json.loads(frames.encode("2.0.0", frame)) == [
        None,
        None,
        "realtime:room",
        "broadcast",
        frame.payload,
    ]
    binary = Frame(None, None, "t", "broadcast", {"type": "broadcast", "event": "e", "payload": b"\x01"})
    assert frames.encode("2.0.0", binary) == bytes([4, 1, 1, 0, 0]) + b"te\x01"
    with pytest.raises(frames.BinaryForJson):
        frames.encode("1.0.0", binary)


@given(
    st.sampled_from(frames.VERSIONS),
    st.none() | st.text(max_size=5),
    st.text(max_size=20),
    st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5) | st.none(), max_size=4),
)
def test_a_payload_encoded_once_makes_the_same_frame(
    vsn: frames.Vsn, ref: str | None, topic: str, payload: dict[str, object]
) -> None:
    """What a fan-out sends (the payload's JSON spliced into each frame) reads as `encode`'s."""
    head, tail = frames.around_payload(vsn, ref, ref, topic, "postgres_changes")
    raw = head + json.dumps(payload) + tail
    assert json.loads(raw) == json.loads(
        frames.encode(vsn, Frame(ref, ref, topic, "postgres_changes", payload))
    )


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_garbage_is_refused_with_a_reason_never_a_crash(data: bytes | str) -> None:
    reason = None
    try:
        frames.decode(data)
    except FrameError as exc:
        reason = str(exc)
    assert reason is None or reason.startswith("malformed frame")
