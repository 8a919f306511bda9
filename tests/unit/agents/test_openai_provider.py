"""The OpenAI-compatible provider with the official `openai` client against a real HTTP server on loopback
that answers from a script: valid answers, 429 with Retry-After, 5xx, timeouts, malformed JSON."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gardenos.agents.llm import GenerationRequest, LLMError, OpenAICompatibleProvider, Prices
from gardenos.embedded.postgres import free_port

pytestmark = pytest.mark.anyio


class Verdict(BaseModel):
    score: int
    reason: str


@dataclass
class Reply:
    status: int = 200
    content: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Script:
    replies: list[Reply] = field(default_factory=list)
    requests: list[tuple[float, dict[str, Any]]] = field(default_factory=list)


def _completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "scripted",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    async def chat(request: Request) -> Response:
        script.requests.append((time.monotonic(), await request.json()))
        reply = script.replies.pop(0) if script.replies else Reply(500, None)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status != 200:
            return JSONResponse(
                {"error": {"message": f"scripted {reply.status}"}}, reply.status, reply.headers
            )
        return JSONResponse(_completion(reply.content or ""), headers=reply.headers)

    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/v1", script
    server.should_exit = server.force_exit = True  # not waiting for a scripted slow reply
    thread.join(timeout=10)


@asynccontextmanager
async def _provider(
    url: str, *, timeout_s: float = 5.0, max_retries: int = 2
) -> AsyncIterator[OpenAICompatibleProvider]:
    provider = OpenAICompatibleProvider(
        base_url=url,
        api_key="test-key",
        model="deepseek-ai/DeepSeek-V3-0324",
        timeout_s=timeout_s,
        max_retries=max_retries,
        prices=Prices(0.27, 1.10),
    )
    try:
        yield provider
    finally:
        await provider.close()


def _request() -> GenerationRequest[Verdict]:
    return GenerationRequest(kind="test", system="Judge.", prompt="Is it good?", context={}, schema=Verdict)


def _start(script: Script, *replies: Reply) -> None:
    script.replies[:] = list(replies)
    script.requests.clear()


async def test_a_valid_answer_is_validated_and_costed(server: tuple[str, Script]) -> None:
    url, script = server
    _start(script, Reply(content='{"score": 7, "reason": "clear need"}'))

    async with _provider(url) as provider:
        generation = await provider.generate(_request())

    assert generation.output == Verdict(score=7, reason="clear need")
    assert (generation.prompt_tokens, generation.completion_tokens) == (100, 20)
    assert generation.cost_usd == pytest.approx((100 * 0.27 + 20 * 1.10) / 1e6)
    body = script.requests[0][1]
    assert body["model"] == "deepseek-ai/DeepSeek-V3-0324"
    assert body["response_format"] == {"type": "json_object"}
    assert "JSON schema" in body["messages"][0]["content"]


async def test_429_is_retried_after_the_retry_after_it_names(server: tuple[str, Script]) -> None:
    url, script = server
    _start(script, Reply(429, headers={"Retry-After": "1"}), Reply(content='{"score": 1, "reason": "ok"}'))

    async with _provider(url) as provider:
        generation = await provider.generate(_request())

    assert generation.output.score == 1
    assert len(script.requests) == 2
    assert script.requests[1][0] - script.requests[0][0] >= 0.9  # waited as told, not the default backoff


async def test_5xx_after_the_last_retry_is_a_retryable_error(server: tuple[str, Script]) -> None:
    url, script = server
    _start(script, Reply(503), Reply(502), Reply(500))

    with pytest.raises(LLMError) as caught:
        async with _provider(url, max_retries=2) as provider:
            await provider.generate(_request())

    assert len(script.requests) == 3
    assert caught.value.retryable
    assert "500" in caught.value.message


async def test_a_timeout_is_reported_as_such(server: tuple[str, Script]) -> None:
    url, script = server
    _start(script, Reply(delay_s=3, content="{}"))

    with pytest.raises(LLMError) as caught:
        async with _provider(url, timeout_s=0.5, max_retries=0) as provider:
            await provider.generate(_request())

    assert caught.value.outcome == "timeout"
    assert caught.value.retryable


async def test_malformed_json_gets_one_repair_request(server: tuple[str, Script]) -> None:
    url, script = server
    _start(
        script,
        Reply(content="Sure! Here is the JSON: {score: seven}"),
        Reply(content='```json\n{"score": 7, "reason": "fixed"}\n```'),
    )

    async with _provider(url) as provider:
        generation = await provider.generate(_request())

    assert generation.output.reason == "fixed"
    assert generation.prompt_tokens == 200  # both calls are counted
    repair = script.requests[1][1]["messages"]
    assert repair[-2]["role"] == "assistant"
    assert "does not fit the schema" in repair[-1]["content"]


async def test_a_second_invalid_answer_is_a_clear_failure(server: tuple[str, Script]) -> None:
    url, script = server
    _start(script, Reply(content='{"score": "high"}'), Reply(content='{"score": 3}'))

    with pytest.raises(LLMError) as caught:
        async with _provider(url) as provider:
            await provider.generate(_request())

    assert caught.value.outcome == "invalid_output"
    assert not caught.value.retryable
    assert "reason" in caught.value.message
    assert len(script.requests) == 2


async def test_a_refused_key_is_not_retried(server: tuple[str, Script]) -> None:
    url, script = server
    _start(script, Reply(401))

    with pytest.raises(LLMError) as caught:
        async with _provider(url) as provider:
            await provider.generate(_request())

    assert not caught.value.retryable
    assert len(script.requests) == 1
    assert "GARDENOS_AI_LLM_API_KEY" in (caught.value.hint or "")


def test_fenced_json_is_parsed() -> None:
    from gardenos.agents.llm import parse_json_reply

    assert parse_json_reply('```json\n{"a": 1}\n```') == {"a": 1}
    assert json.dumps(parse_json_reply('{"a": [1]}')) == '{"a": [1]}'
