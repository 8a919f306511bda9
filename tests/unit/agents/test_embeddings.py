"""The embedders: the offline ONNX MiniLM (when its wheels are installed) and the hashing fallback."""

from __future__ import annotations

import numpy as np
import pytest

from gardenos.agents.embeddings import (
    DIMENSIONS,
    HashingEmbedder,
    OnnxMiniLMEmbedder,
    onnx_files,
    vector_literal,
)

pytestmark = pytest.mark.anyio


def _cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))


async def test_hashing_vectors_are_unit_deterministic_and_spelling_aware() -> None:
    embedder = HashingEmbedder()
    a, b, c, empty = await embedder.embed(
        ["Garden design Berlin", "garden designs in Berlin", "tax invoice", ""]
    )
    assert len(a) == DIMENSIONS
    assert abs(np.linalg.norm(a) - 1) < 1e-6
    assert abs(np.linalg.norm(empty) - 1) < 1e-6
    assert (await embedder.embed(["Garden design Berlin"]))[0] == a
    assert _cos(a, b) > _cos(a, c)


async def test_onnx_minilm_embeds_by_meaning() -> None:
    files = onnx_files()
    assert files is not None, "the ONNX MiniLM wheels are dependencies of gardenos: they must be installed"
    embedder = OnnxMiniLMEmbedder(*files, threads=1)
    texts = [
        "landscaping quote for a small garden",
        "price for redesigning a backyard",
        "overdue tax invoice",
    ]
    quote, backyard, invoice = await embedder.embed(texts)
    assert len(quote) == DIMENSIONS
    assert abs(np.linalg.norm(quote) - 1) < 1e-5
    assert _cos(quote, backyard) > _cos(quote, invoice) + 0.2
    # Batching and order do not change a text's vector (beyond float noise).
    (again,) = await embedder.embed([texts[2]])
    assert _cos(again, invoice) > 0.9999


def test_vector_literal() -> None:
    assert vector_literal([0.5, -1.0, 1e-9]) == "[0.5,-1,1e-09]"
