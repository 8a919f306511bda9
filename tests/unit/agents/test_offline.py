"""The offline provider: deterministic, explainable answers for every agent type."""

from __future__ import annotations

from typing import Any

import pytest

from gardenos.agents.llm import GenerationRequest, LLMError
from gardenos.agents.offline import (
    OfflineProvider,
    analyse_lead,
    draft_follow_up,
    draft_proposal,
    explain_insight,
)
from gardenos.agents.outputs import LeadAnalysis

pytestmark = pytest.mark.anyio

STRONG = {
    "first_name": "Ada",
    "email": "ada@lovelace-gardens.co.uk",
    "phone": "+44 20 7946 0000",
    "company": "Lovelace Gardens",
    "job_title": "Managing Director",
    "source": "referral",
    "status": "proposal",
    "estimated_value": 18000,
    "days_since_activity": 3,
    "age_days": 20,
}
WEAK = {"first_name": "Bob", "email": "bob123@gmail.com", "source": "cold", "status": "new", "age_days": 40}
RECENT = [
    {"kind": "meeting", "status": "done", "subject": "Site visit", "days_ago": 3},
    {"kind": "call", "status": "done", "subject": "Budget call", "days_ago": 10},
]


def test_the_same_context_always_gives_the_same_answer() -> None:
    context = {"lead": STRONG, "activities": RECENT, "neighbours": []}
    assert analyse_lead(context) == analyse_lead(dict(context))


def test_a_strong_lead_outscores_a_weak_one_and_says_why() -> None:
    strong = analyse_lead({"lead": STRONG, "activities": RECENT})
    weak = analyse_lead({"lead": WEAK, "activities": []})

    assert strong.quality_score > 80 > 40 > weak.quality_score
    assert strong.conversion_probability > weak.conversion_probability
    factors = {r.factor: r.points for r in strong.reasons}
    assert factors["decision maker"] > 0
    assert factors["source: referral"] == 12
    assert factors["recent activity"] == 9  # a meeting (6) and a call (3)
    assert {r.factor for r in weak.reasons} >= {"source: cold", "never contacted"}
    assert 20 + sum(r.points for r in weak.reasons) == weak.quality_score
    assert any("first contact" in a for a in weak.next_actions)


def test_similar_past_leads_move_the_score_and_are_named() -> None:
    converted = [{"id": f"c{i}-0000-0000", "status": "converted", "similarity": 0.9} for i in range(4)]
    lost = [{"id": f"l{i}-0000-0000", "status": "lost", "similarity": 0.9} for i in range(4)]
    base = {"lead": {**WEAK, "status": "contacted"}, "activities": []}

    up = analyse_lead(base | {"neighbours": converted})
    down = analyse_lead(base | {"neighbours": lost})

    assert up.quality_score - down.quality_score == 20
    similar = next(r for r in up.reasons if r.factor == "similar leads")
    assert "4 of 4" in similar.detail
    assert "c0-0000-" in similar.detail


def test_lost_and_converted_leads() -> None:
    assert analyse_lead({"lead": {**STRONG, "status": "lost"}}).quality_score <= 10
    assert analyse_lead({"lead": {**WEAK, "status": "converted"}}).quality_score >= 95


def test_follow_up_uses_the_timeline_the_memories_and_the_tone() -> None:
    context: dict[str, Any] = {
        "record": {"first_name": "Ada", "status": "proposal"},
        "timeline": [{"kind": "meeting", "status": "done", "subject": "Garden redesign", "days_ago": 2}],
        "memories": ["they want native plants only"],
        "tone": "formal",
        "agency_name": "Green Thumb",
    }
    draft = draft_follow_up(context)

    assert draft.subject == "Re: Garden redesign"
    assert draft.body.startswith("Dear Ada,")
    assert "meeting with us 2 days ago" in draft.body
    assert "native plants only" in draft.body
    assert "proposal" in draft.body
    assert draft.full_message == f"Subject: {draft.subject}\n\n{draft.body}"
    assert draft_follow_up(context) == draft
    concise = draft_follow_up(context | {"tone": "concise"})
    assert "native plants" not in concise.body


def test_insight_recommends_from_the_numbers() -> None:
    text = explain_insight(
        {
            "metrics": {
                "total_leads": 100,
                "converted_leads": 20,
                "stale_leads": 12,
                "median_first_response_hours": 30,
                "by_source": [
                    {"source": "referral", "leads": 20, "rate": 0.5},
                    {"source": "ads", "leads": 50, "rate": 0.04},
                ],
                "by_stage": [{"status": "contacted", "leads": 40}],
            }
        }
    )
    assert "20 converted (20%)" in text.summary
    joined = " ".join(text.recommendations)
    assert "referral" in joined
    assert "ads" in joined
    assert "12 stale" in joined
    assert "within a day" in joined


def test_proposals_pick_items_and_quantities_from_the_needs() -> None:
    price_list = [
        {
            "sku": "LAWN",
            "name": "Lawn turf laying",
            "unit": "m2",
            "unit_price": 12,
            "keywords": ["lawn", "turf"],
        },
        {"sku": "TREE", "name": "Tree planting", "unit": "tree", "unit_price": 150, "keywords": ["trees"]},
        {
            "sku": "POND",
            "name": "Pond construction",
            "unit": "unit",
            "unit_price": 3000,
            "keywords": ["pond"],
        },
    ]
    draft = draft_proposal(
        {
            "record": {"company": "Acme"},
            "needs": "New lawn of 40 m2 and 3 trees, no pond",
            "price_list": price_list,
        }
    )
    lines = {line.sku: line.quantity for line in draft.lines}
    assert lines["LAWN"] == 40
    assert lines["TREE"] == 3
    assert draft.title == "Proposal for Acme"


async def test_the_provider_answers_in_the_requested_schema_and_refuses_unknown_kinds() -> None:
    provider = OfflineProvider()
    generation = await provider.generate(
        GenerationRequest(
            kind="lead_analysis", system="", prompt="", context={"lead": STRONG}, schema=LeadAnalysis
        )
    )
    assert isinstance(generation.output, LeadAnalysis)
    assert generation.model == "gardenos-offline-1"
    assert generation.cost_usd == 0
    with pytest.raises(LLMError):
        await provider.generate(
            GenerationRequest(kind="poetry", system="", prompt="", context={}, schema=LeadAnalysis)
        )


def test_proposals_skip_what_is_refused() -> None:
    price_list = [
        {"sku": "LAWN", "name": "Lawn turf laying", "unit": "m2", "unit_price": 12, "keywords": []},
        {"sku": "POND", "name": "Pond construction", "unit": "unit", "unit_price": 3000, "keywords": []},
    ]
    draft = draft_proposal({"record": {}, "needs": "lawn, no pond", "price_list": price_list})
    assert [line.sku for line in draft.lines] == ["LAWN"]
