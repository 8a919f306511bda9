"""The OpenAI-compatible embeddings provider with the official `openai` client against a real HTTP server
on loopback that answers from a script: vectors (base64, as the client asks, or plain lists, in any
order), 429 with Retry-After, 5xx, timeouts, a refused key, the wrong dimensions."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gardenos.agents.embeddings import DIMENSIONS, EmbeddingError, OpenAIEmbedder, build_embedder
from gardenos.embedded.postgres import free_port
from gardenos.errors import ConfigurationError
from gardenos.settings import Settings

pytestmark = pytest.mark.anyio


@dataclass
class Reply:
    status: int = 200
    dimensions: int = DIMENSIONS
    reverse: bool = False  # answer the vectors out of order (their `index` says where they go)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Script:
    replies: list[Reply] = field(default_factory=list)
    requests: list[tuple[float, dict[str, Any], dict[str, str]]] = field(default_factory=list)


def vector_of(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    """What the scripted model answers for a text: deterministic, not of unit length."""
    rng = np.random.default_rng(sum(text.encode()))
    return [float(x) for x in (rng.normal(size=dimensions) * 3).astype(np.float32)]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    async def embeddings(request: Request) -> Response:
        body = await request.json()
        script.requests.append((time.monotonic(), body, dict(request.headers)))
        reply = script.replies.pop(0) if script.replies else Reply(500)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status != 200:
            return JSONResponse(
                {"error": {"message": f"scripted {reply.status}"}}, reply.status, reply.headers
            )
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for index, text in enumerate(texts):
            vector = vector_of(text, reply.dimensions)
            encoded: Any = vector
            if body.get("encoding_format") == "base64":
                encoded = base64.b64encode(np.array(vector, dtype="<f4").tobytes()).decode()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        if reply.reverse:
            data.reverse()
        usage = {"prompt_tokens": 3 * len(texts), "total_tokens": 3 * len(texts)}
        return JSONResponse({"object": "list", "data": data, "model": body["model"], "usage": usage})

    app = Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])])
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
async def _embedder(
    url: str, *, timeout_s: float = 5.0, max_retries: int = 2
) -> AsyncIterator[OpenAIEmbedder]:
    embedder = OpenAIEmbedder(
        base_url=url,
        api_key="emb-key",
        model="BAAI/bge-small-en-v1.5",
        timeout_s=timeout_s,
        max_retries=max_retries,
    )
    try:
        yield embedder
    finally:
        await embedder.close()


def _start(script: Script, *replies: Reply) -> None:
    script.replies[:] = list(replies)
    script.requests.clear()


async def test_vectors_come_back_in_the_texts_order_as_unit_vectors(server: tuple[str, Script]) -> None:
    url, script = server
    _start(script, Reply(reverse=True))
    texts = ["landscaping quote", "overdue invoice", "hedge trimming"]

    async with _embedder(url) as embedder:
        vectors = await embedder.embed(texts)

    assert embedder.model_id == "openai:BAAI/bge-small-en-v1.5"
    assert len(vectors) == 3
    for text, vector in zip(texts, vectors, strict=True):
        assert len(vector) == DIMENSIONS
        assert np.linalg.norm(vector) == pytest.approx(1, abs=1e-6)
        expected = np.array(vector_of(text))
        assert np.dot(vector, expected / np.linalg.norm(expected)) == pytest.approx(1, abs=1e-6)
    ((_, body, headers),) = script.requests
    assert body["model"] == "BAAI/bge-small-en-v1.5"
    assert body["input"] == texts
    assert headers["authorization"] == "Bearer emb-key"


async def test_nothing_to_embed_asks_nothing(server: tuple[str, Script]) -> None:
    url, script = server
    _start(script)
    async with _embedder(url) as embedder:
        assert await embedder.embed([]) == []
    assert script.requests == []


async def test_429_is_retried_after_the_retry_after_it_names(server: tuple[str, Script]) -> None:
    url, script = server
    _start(script, Reply(429, headers={"Retry-After": "1"}), Reply())

    async with _embedder(url) as embedder:
        (vector,) = await embedder.embed(["retry me"])

    assert len(vector) == DIMENSIONS
    assert len(script.requests) == 2
    assert script.requests[1][0] - script.requests[0][0] >= 0.9  # waited as told


async def test_5xx_after_the_last_retry_is_a_retryable_503(server: tuple[str, Script]) -> None:
    url, script = server
    _start(script, Reply(503), Reply(500))

    with pytest.raises(EmbeddingError) as caught:
        async with _embedder(url, max_retries=1) as embedder:
            await embedder.embed(["down"])

    assert len(script.requests) == 2
    assert caught.value.retryable
    assert caught.value.status_code == 503
    assert "500" in caught.value.message


async def test_a_timeout_is_reported_as_such(server: tuple[str, Script]) -> None:
    url, script = server
    _start(script, Reply(delay_s=3))

    with pytest.raises(EmbeddingError) as caught:
        async with _embedder(url, timeout_s=0.5, max_retries=0) as embedder:
            await embedder.embed(["slow"])

    assert caught.value.timeout
    assert caught.value.retryable
    assert "did not answer in time" in caught.value.message


async def test_a_refused_key_is_not_retried_and_says_which_setting(server: tuple[str, Script]) -> None:
    url, script = server
    _start(script, Reply(401))

    with pytest.raises(EmbeddingError) as caught:
        async with _embedder(url) as embedder:
            await embedder.embed(["who am i"])

    assert not caught.value.retryable
    assert caught.value.status_code == 502
    assert len(script.requests) == 1
    assert "GARDENOS_AI_EMBEDDING_API_KEY" in (caught.value.hint or "")


async def test_a_model_of_other_dimensions_is_refused_with_advice(server: tuple[str, Script]) -> None:
    url, script = server
    _start(script, Reply(dimensions=768))

    with pytest.raises(ConfigurationError) as caught:
        async with _embedder(url) as embedder:
            await embedder.embed(["too wide"])

    assert "768 dimensions" in caught.value.message
    assert "GARDENOS_AI_EMBEDDING_MODEL" in (caught.value.hint or "")


async def test_the_settings_choose_it(server: tuple[str, Script]) -> None:
    url, script = server
    _start(script, Reply())
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        ai_embedder="openai",
        ai_embedding_base_url=url,
        ai_embedding_api_key="from-settings",
        ai_embedding_model="all-minilm",
    )
    embedder = build_embedder(settings)
    assert isinstance(embedder, OpenAIEmbedder)
    try:
        assert embedder.model_id == "openai:all-minilm"
        (vector,) = await embedder.embed(["configured"])
    finally:
        await embedder.close()
    assert len(vector) == DIMENSIONS
    assert script.requests[0][2]["authorization"] == "Bearer from-settings"
    with pytest.raises(ConfigurationError, match="no key"):
        build_embedder(Settings(_env_file=None, ai_embedder="openai"))  # type: ignore[call-arg]
