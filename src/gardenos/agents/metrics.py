"""In-process metrics of agents and pools: counts, latency and queue-wait percentiles, tokens, cost."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

WINDOW = 2000  # the percentiles are over the latest this-many tasks


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Metrics:
    done: int = 0
    failed: int = 0
    retried: int = 0
    dead: int = 0
    lost: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latencies_s: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    waits_s: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))

    def succeeded(self, latency_s: float, wait_s: float, tokens: tuple[int, int], cost_usd: float) -> None:
        self.done += 1
        self.latencies_s.append(latency_s)
        self.waits_s.append(wait_s)
        self.spent(tokens, cost_usd)

    def spent(self, tokens: tuple[int, int], cost_usd: float) -> None:
        self.prompt_tokens += tokens[0]
        self.completion_tokens += tokens[1]
        self.cost_usd += cost_usd

    def failure(self, status: str | None) -> None:
        self.failed += 1
        if status == "queued":
            self.retried += 1
        elif status == "dead":
            self.dead += 1

    def snapshot(self) -> dict[str, Any]:
        latencies = list(self.latencies_s)
        waits = list(self.waits_s)
        return {
            "done": self.done,
            "failed": self.failed,
            "retried": self.retried,
            "dead": self.dead,
            "lost_leases": self.lost,
            "latency_ms": _ms({p: percentile(latencies, p) for p in (50, 95, 99)}),
            "queue_wait_ms": _ms({p: percentile(waits, p) for p in (50, 95, 99)}),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6),
        }

    @classmethod
    def combined(cls, parts: list[Metrics]) -> Metrics:
        total = cls()
        for part in parts:
            total.done += part.done
            total.failed += part.failed
            total.retried += part.retried
            total.dead += part.dead
            total.lost += part.lost
            total.prompt_tokens += part.prompt_tokens
            total.completion_tokens += part.completion_tokens
            total.cost_usd += part.cost_usd
            total.latencies_s.extend(part.latencies_s)
            total.waits_s.extend(part.waits_s)
        return total


def _ms(values: dict[int, float | None]) -> dict[str, float | None]:
    return {f"p{p}": None if v is None else round(v * 1000, 2) for p, v in values.items()}
