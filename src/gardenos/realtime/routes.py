"""`/realtime/v1`: the websocket Supabase clients connect to, and broadcasts sent over HTTP."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response, WebSocket
from pydantic import BaseModel, Field

from gardenos.auth.principal import Principal, PrincipalDep, resolve_principal
from gardenos.errors import BadRequest, Forbidden, GardenError
from gardenos.realtime import frames
from gardenos.realtime.authorization import authorize
from gardenos.realtime.bus import Broadcast
from gardenos.realtime.socket import MAX_TOPIC_CHARS, POLICY, Realtime, serve

router = APIRouter(tags=["realtime"])


def _realtime(app_state: Any) -> Realtime:
    realtime: Realtime = app_state.realtime
    return realtime


@router.websocket("/realtime/v1/websocket")
async def websocket(websocket: WebSocket) -> None:
    """`?apikey=<anon or service key>&vsn=1.0.0|2.0.0`; a refused key is refused before the upgrade (403),
    as Supabase's."""
    vsn = websocket.query_params.get("vsn", "1.0.0")
    try:
        if vsn not in frames.VERSIONS:
            raise BadRequest(f"unsupported vsn {vsn[:20]!r}: use 1.0.0 or 2.0.0")
        principal = resolve_principal(websocket)
    except GardenError as exc:
        await websocket.close(POLICY, exc.message[:120])
        return
    await serve(_realtime(websocket.app.state), websocket, principal, vsn)


class BroadcastMessage(BaseModel):
    topic: str = Field(min_length=1, max_length=MAX_TOPIC_CHARS)
    event: str = Field(min_length=1, max_length=255)
    payload: Any = None
    private: bool = False
    # GardenOS's own: the agency whose topic this is, for the service role (whose key names none).
    agency_id: uuid.UUID | None = None


class BroadcastBody(BaseModel):
    messages: list[BroadcastMessage] = Field(min_length=1, max_length=100)


@router.post("/realtime/v1/api/broadcast", status_code=202)
async def http_broadcast(body: BroadcastBody, principal: PrincipalDep, request: Request) -> Response:
    """Supabase's `{messages: [{topic, event, payload, private}]}`, sent to the caller's agency's topics.
    A private message needs the caller's policies to allow sending on its topic; if any is refused,
    none is sent."""
    realtime = _realtime(request.app.state)
    if any(m.agency_id is not None for m in body.messages) and not principal.is_service_role:
        raise Forbidden(
            "only the service role may name an agency: a user's messages go to their own agency's topics",
            error_code="realtime_unauthorized",
        )
    default = str(principal.agency_id) if principal.agency_id is not None else None
    await _send(
        realtime,
        principal,
        [
            (
                str(m.agency_id) if m.agency_id else default,
                m.topic.removeprefix("realtime:"),
                m.event,
                m.payload,
                m.private,
            )
            for m in body.messages
        ],
    )
    return Response(status_code=202)


@router.post("/realtime/v1/api/broadcast/{topic}/events/{event}", status_code=202)
async def http_send(
    topic: str, event: str, principal: PrincipalDep, request: Request, payload: Annotated[Any, Body()] = None
) -> Response:
    """supabase-py's `channel.http_send(event, payload)`: one message, `?private=true` for a private topic."""
    realtime = _realtime(request.app.state)
    private = request.query_params.get("private") == "true"
    agency = str(principal.agency_id) if principal.agency_id is not None else None
    await _send(realtime, principal, [(agency, topic.removeprefix("realtime:"), event, payload, private)])
    return Response(status_code=202)


async def _send(
    realtime: Realtime, principal: Principal, messages: list[tuple[str | None, str, str, Any, bool]]
) -> None:
    """Every message checked before any is sent: a refusal sends none."""
    if any(len(topic) > MAX_TOPIC_CHARS or not topic for _, topic, *_ in messages):
        raise BadRequest(f"a topic must have 1 to {MAX_TOPIC_CHARS} characters")
    for topic in {topic for _, topic, _, _, private in messages if private}:
        permissions = await authorize(realtime.database, principal, topic)
        if "broadcast" not in permissions.send:
            raise Forbidden(
                f"you may not send to the private topic {topic!r}: no policy on realtime.messages allows it",
                error_code="realtime_unauthorized",
            )
    for agency, topic, event, payload, private in messages:
        await realtime.bus.publish(Broadcast((agency, topic), event, payload, private, None))
