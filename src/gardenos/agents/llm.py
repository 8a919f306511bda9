"""LLM providers behind one small Protocol: an OpenAI-compatible API (the official `openai` client) and the
offline provider (`gardenos.agents.offline`), which is the default when no key is set.

An agent asks for a `GenerationRequest`: what kind of answer (the agent type), a system prompt and a user
prompt for a model, the structured context they were written from (the offline provider reasons over it
directly), and the pydantic schema the answer must fit.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import openai
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, ValidationError

from gardenos.errors import GardenError

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


@dataclass(frozen=True)
class GenerationRequest(Generic[T]):
    kind: str
    system: str
    prompt: str
    context: Mapping[str, Any]
    schema: type[T]


@dataclass(frozen=True)
class Generation(Generic[T]):
    output: T
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0


class LLMError(GardenError):
    """A model call that gave no usable answer. `outcome` is what `ai_interactions` records."""

    status_code = 502
    code = "GARDEN_LLM"

    def __init__(
        self,
        message: str,
        *,
        outcome: str = "error",
        retryable: bool = True,
        model: str = "",
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost_usd: float = 0.0,
        latency_ms: int = 0,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.outcome = outcome
        self.retryable = retryable
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.cost_usd = cost_usd
        self.latency_ms = latency_ms


class LLMProvider(Protocol):
    @property
    def model(self) -> str: ...

    async def generate(self, request: GenerationRequest[T]) -> Generation[T]:
        """An answer that fits `request.schema`, or an `LLMError`."""
        ...


@dataclass(frozen=True)
class Prices:
    """US dollars per million tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / 1e6


def parse_json_reply(text: str) -> Any:
    """The JSON object in a reply, tolerating a Markdown code fence around it."""
    match = _FENCE.match(text)
    return json.loads(match.group(1) if match else text)


def schema_instructions(schema: type[BaseModel]) -> str:
    return (
        "Answer with one JSON object only, no prose around it, that validates against this JSON schema:\n"
        + json.dumps(schema.model_json_schema(), separators=(",", ":"))
    )


def _validation_problems(exc: ValidationError | ValueError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:10]
        )
    return f"not JSON: {exc}"


class OpenAICompatibleProvider:
    """Chat completions over any OpenAI-compatible API (DeepInfra, OpenAI, vLLM, llama.cpp's server).

    The official client retries connection errors, timeouts, 408/409/429 and 5xx answers itself, with
    exponential backoff that honours `Retry-After`; what is left after `max_retries` is an `LLMError`.
    An answer that does not fit the schema gets one repair request quoting what was wrong.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        timeout_s: float,
        max_retries: int,
        prices: Prices,
    ) -> None:
        self._model = model
        self.prices = prices
        self.client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=max_retries
        )

    @property
    def model(self) -> str:
        return self._model

    async def close(self) -> None:
        await self.client.close()

    async def generate(self, request: GenerationRequest[T]) -> Generation[T]:
        started = time.perf_counter()
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": f"{request.system}\n\n{schema_instructions(request.schema)}"},
            {"role": "user", "content": request.prompt},
        ]
        usage = [0, 0]
        reply = await self._chat(messages, usage, started)
        try:
            output = request.schema.model_validate(parse_json_reply(reply))
        except (ValidationError, ValueError) as first:
            messages += [
                {"role": "assistant", "content": reply},
                {
                    "role": "user",
                    "content": "That answer does not fit the schema: "
                    f"{_validation_problems(first)}. Answer again with the corrected JSON object only.",
                },
            ]
            reply = await self._chat(messages, usage, started)
            try:
                output = request.schema.model_validate(parse_json_reply(reply))
            except (ValidationError, ValueError) as second:
                raise LLMError(
                    f"the model's answer did not fit the {request.schema.__name__} schema, even after "
                    f"one repair request: {_validation_problems(second)}",
                    outcome="invalid_output",
                    retryable=False,
                    **self._spent(usage, started),
                ) from second
        return Generation(output=output, **self._spent(usage, started))

    def _spent(self, usage: list[int], started: float) -> dict[str, Any]:
        return {
            "model": self._model,
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "cost_usd": self.prices.cost(usage[0], usage[1]),
            "latency_ms": int((time.perf_counter() - started) * 1000),
        }

    async def _chat(
        self, messages: list[ChatCompletionMessageParam], usage: list[int], started: float
    ) -> str:
        try:
            response = await self.client.chat.completions.create(
                model=self._model,
                messages=messages,
                response_format={"type": "json_object"},
                temperature=0.2,
            )
        except openai.APITimeoutError as exc:
            raise LLMError(
                f"the model at {self.client.base_url} did not answer in time (after retries)",
                outcome="timeout",
                hint="raise GARDENOS_AI_LLM_TIMEOUT_S, or check the provider's status",
                **self._spent(usage, started),
            ) from exc
        except openai.APIConnectionError as exc:
            raise LLMError(
                f"cannot reach the model at {self.client.base_url}: {exc}",
                hint="check GARDENOS_AI_LLM_BASE_URL and the network",
                **self._spent(usage, started),
            ) from exc
        except openai.APIStatusError as exc:
            retryable = exc.status_code == 429 or exc.status_code >= 500
            raise LLMError(
                f"the model API answered {exc.status_code}: {_error_text(exc)}",
                retryable=retryable,
                hint=None if retryable else "check GARDENOS_AI_LLM_API_KEY and GARDENOS_AI_LLM_MODEL",
                **self._spent(usage, started),
            ) from exc
        if response.usage is not None:
            usage[0] += response.usage.prompt_tokens
            usage[1] += response.usage.completion_tokens
        if not response.choices or response.choices[0].message.content is None:
            raise LLMError(
                "the model answered without any content",
                outcome="invalid_output",
                **self._spent(usage, started),
            )
        content: str = response.choices[0].message.content
        return content


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or body.get("error")
        if isinstance(message, dict):
            message = message.get("message")
        if message:
            return str(message)[:500]
    return exc.message[:500]
