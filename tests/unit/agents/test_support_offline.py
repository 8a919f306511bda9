"""The offline support rules: a reply built from the facts that share the question's words (or are very
close to it in meaning), naming them; a holding reply when nothing on file answers; always the same."""

from __future__ import annotations

from typing import Any

import pytest

from gardenos.agents.llm import GenerationRequest
from gardenos.agents.offline import OfflineProvider, answer_question
from gardenos.agents.outputs import SupportAnswer

pytestmark = pytest.mark.anyio

FACTS: list[dict[str, Any]] = [
    {
        "id": "memory:1",
        "source": "agency memory",
        "text": "Opening hours: Monday to Friday, 8:00 to 17:00",
        "similarity": 0.41,
    },
    {
        "id": "memory:2",
        "source": "agency memory",
        "text": "We deliver plants within 30 km for free",
        "similarity": 0.12,
    },
    {"id": "memory:3", "source": "memory", "text": "Prefers native plants, has a dog", "similarity": 0.08},
    {
        "id": "activity:9",
        "source": "meeting (done)",
        "text": "Site visit — measured 40 m2 of lawn",
        "days_ago": 3.0,
    },
    {"id": "record:company", "source": "record", "text": "Company: Lovelace Gardens"},
]


def _context(question: str, **overrides: Any) -> dict[str, Any]:
    return {
        "question": question,
        "facts": FACTS,
        "name": "Ada",
        "tone": "friendly",
        "agency_name": "Green Thumb",
        **overrides,
    }


def test_the_reply_quotes_the_facts_that_answer_and_names_them() -> None:
    reply = answer_question(_context("When are you open? What are your opening hours?"))

    assert reply.answered
    assert reply.facts_used == ["memory:1"]
    assert "Monday to Friday, 8:00 to 17:00" in reply.body
    assert reply.body.startswith("Hi Ada,")
    assert reply.body.endswith("Green Thumb")
    assert reply.subject == "Re: When are you open? What are your opening hours?"
    assert reply.full_message == f"Subject: {reply.subject}\n\n{reply.body}"


def test_the_facts_sharing_most_words_come_first_at_most_three() -> None:
    reply = answer_question(_context("Do you deliver native plants to my garden, and how big was the lawn?"))

    # "deliver" and "plants" (2 words), "native plants" (2), "lawn" (1); the record shares none.
    assert reply.facts_used == ["memory:2", "memory:3", "activity:9"]
    quoted = [reply.body.index(f"- {text}") for text in ("We deliver", "Prefers native", "Site visit")]
    assert quoted == sorted(quoted)


def test_a_question_nothing_on_file_answers_gets_a_holding_reply() -> None:
    reply = answer_question(_context("Can I pay in bitcoin?"))

    assert not reply.answered
    assert reply.facts_used == []
    assert "checking with the team" in reply.body


def test_a_memory_very_close_in_meaning_counts_without_shared_words() -> None:
    facts = [{"id": "memory:7", "source": "agency memory", "text": "Weekdays 8-17", "similarity": 0.8}]
    reply = answer_question(_context("When can I reach someone?", facts=facts))
    assert reply.facts_used == ["memory:7"]


def test_tone_and_determinism() -> None:
    question = "What are your opening hours?"
    assert answer_question(_context(question)) == answer_question(_context(question))
    formal = answer_question(_context(question, tone="formal"))
    assert formal.body.startswith("Dear Ada,")
    assert "Kind regards," in formal.body
    concise = answer_question(_context(question, tone="concise"))
    assert len(concise.body) < len(formal.body)


async def test_the_provider_answers_support_in_its_schema() -> None:
    request = GenerationRequest(
        kind="support", system="", prompt="", context=_context("opening hours?"), schema=SupportAnswer
    )
    generation = await OfflineProvider().generate(request)
    assert generation.output.facts_used == ["memory:1"]
    assert generation.model == "gardenos-offline-1"
