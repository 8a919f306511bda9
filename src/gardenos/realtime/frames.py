"""Phoenix channel frames as Supabase's clients write and read them.

`vsn=1.0.0` (supabase-py, realtime-js when asked): a JSON object `{join_ref, ref, topic, event, payload}`.
`vsn=2.0.0` (realtime-js's default): a JSON array `[join_ref, ref, topic, event, payload]`, and broadcasts
as binary frames: a client's push is kind 3 (`userBroadcastPush`), the server's delivery kind 4
(`userBroadcast`), each a header of lengths, then the strings, then the user payload (JSON or raw bytes).
Either text form is read whatever the version; the server writes the form its client negotiated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Vsn = Literal["1.0.0", "2.0.0"]
VERSIONS: tuple[Vsn, ...] = ("1.0.0", "2.0.0")

USER_BROADCAST_PUSH = 3
USER_BROADCAST = 4
BINARY_ENCODING = 0
JSON_ENCODING = 1


class FrameError(Exception):
    """A frame that cannot be read: answered on topic `phoenix` with this reason, the socket stays open."""


@dataclass(frozen=True, slots=True)
class Frame:
    join_ref: str | None
    ref: str | None
    topic: str
    event: str
    payload: Any


def decode(data: str | bytes) -> Frame:
    if isinstance(data, bytes):
        return _decode_binary(data)
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise FrameError(f"malformed frame: not JSON ({str(exc)[:80]})") from None
    if isinstance(value, list) and len(value) == 5:
        join_ref, ref, topic, event, payload = value
    elif isinstance(value, dict):
        join_ref, ref = value.get("join_ref"), value.get("ref")
        topic, event, payload = value.get("topic"), value.get("event"), value.get("payload")
    else:
        raise FrameError(
            "malformed frame: expected [join_ref, ref, topic, event, payload] or an object with those keys"
        )
    if not isinstance(topic, str) or not isinstance(event, str):
        raise FrameError("malformed frame: `topic` and `event` must be strings")
    if not isinstance(payload, dict):
        raise FrameError("malformed frame: `payload` must be an object")
    return Frame(_ref(join_ref), _ref(ref), topic, event, payload)


def _ref(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    raise FrameError("malformed frame: `ref` and `join_ref` must be strings")


def _decode_binary(data: bytes) -> Frame:
    """Kind 3: kind, len(join_ref), len(ref), len(topic), len(event), len(meta), encoding, the strings,
    then the user payload."""
    if len(data) < 7 or data[0] != USER_BROADCAST_PUSH:
        raise FrameError(
            "malformed frame: the only binary frame a client may send is a broadcast push (kind 3)"
        )
    lengths = data[1:6]
    encoding = data[6]
    offset = 7
    parts: list[str] = []
    try:
        for length in lengths:
            parts.append(data[offset : offset + length].decode())
            offset += length
    except UnicodeDecodeError:
        raise FrameError("malformed frame: binary header strings must be UTF-8") from None
    if offset > len(data):
        raise FrameError("malformed frame: binary header longer than the frame")
    join_ref, ref, topic, event, meta = parts
    body = data[offset:]
    user_payload: Any
    if encoding == JSON_ENCODING:
        try:
            user_payload = json.loads(body)
        except (ValueError, RecursionError):
            raise FrameError("malformed frame: the broadcast's JSON payload is not JSON") from None
    elif encoding == BINARY_ENCODING:
        user_payload = bytes(body)
    else:
        raise FrameError(f"malformed frame: unknown payload encoding {encoding}")
    payload: dict[str, Any] = {"type": "broadcast", "event": event, "payload": user_payload}
    if meta:
        try:
            payload["meta"] = json.loads(meta)
        except ValueError:
            raise FrameError("malformed frame: broadcast metadata is not JSON") from None
    return Frame(join_ref or None, ref or None, topic, "broadcast", payload)


def encode(vsn: Vsn, frame: Frame) -> str | bytes:
    """The frame as this client reads it. Raw-bytes broadcast payloads go as kind 4 binary frames (a
    `vsn=1.0.0` client cannot read them: `BinaryForJson`)."""
    payload = frame.payload
    if vsn == "2.0.0" and frame.event == "broadcast" and isinstance(payload.get("payload"), bytes):
        return _encode_user_broadcast(frame.topic, payload["event"], payload["payload"])
    if isinstance(payload, dict) and isinstance(payload.get("payload"), bytes):
        raise BinaryForJson
    if vsn == "1.0.0":
        return json.dumps(
            {
                "join_ref": frame.join_ref,
                "ref": frame.ref,
                "topic": frame.topic,
                "event": frame.event,
                "payload": payload,
            },
            separators=(",", ":"),
        )
    return json.dumps([frame.join_ref, frame.ref, frame.topic, frame.event, payload], separators=(",", ":"))


def around_payload(
    vsn: Vsn, join_ref: str | None, ref: str | None, topic: str, event: str
) -> tuple[str, str]:
    """What goes before and after a frame's payload JSON: fixed for a channel's pushes of one event, so a
    payload encoded once for many clients is spliced into each client's frame."""
    if vsn == "1.0.0":
        head = json.dumps(
            {"join_ref": join_ref, "ref": ref, "topic": topic, "event": event}, separators=(",", ":")
        )
        return head[:-1] + ',"payload":', "}"
    return json.dumps([join_ref, ref, topic, event], separators=(",", ":"))[:-1] + ",", "]"


class BinaryForJson(Exception):
    """A raw-bytes broadcast for a client that only reads JSON."""


def _encode_user_broadcast(topic: str, event: str, body: bytes) -> bytes:
    topic_b, event_b = topic.encode(), event.encode()
    header = bytes([USER_BROADCAST, len(topic_b), len(event_b), 0, BINARY_ENCODING])
    return header + topic_b + event_b + body
