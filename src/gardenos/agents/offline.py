"""The offline provider: every agent works on a machine with no model and no key.

It reasons over the request's structured context, not its prompt text, with rules a person can read
here: the same context always gives the same answer, and every lead score lists the facts that moved it
(which fields, which activities, which similar leads) and by how many points.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from gardenos.agents.llm import Generation, GenerationRequest, LLMError, T
from gardenos.agents.outputs import (
    FollowUp,
    InsightText,
    LeadAnalysis,
    ProposalDraft,
    ProposalLine,
    Reason,
    SupportAnswer,
)

MODEL = "gardenos-offline-1"

FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "icloud.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
        "mail.com",
        "yandex.ru",
    }
)
DECISION_MAKERS = re.compile(
    r"\b(ceo|cto|cfo|coo|cmo|founder|co-founder|owner|president|director|head|vp|vice president|partner|"
    r"managing|geschäftsführer|inhaber|gérant|directeur|principal)\b",
    re.IGNORECASE,
)
SOURCE_POINTS = {
    "referral": (12, "referrals convert best"),
    "partner": (8, "partner introductions convert well"),
    "event": (5, "met in person at an event"),
    "website": (5, "came in through the website (inbound)"),
    "web": (5, "came in through the website (inbound)"),
    "inbound": (5, "inbound enquiry"),
    "linkedin": (3, "social inbound"),
    "ads": (2, "paid campaign"),
    "paid": (2, "paid campaign"),
    "cold": (-5, "cold outreach converts least"),
    "purchased": (-8, "bought list: consent and interest unknown"),
}
STATUS_POINTS = {
    "new": (0, "not contacted yet"),
    "contacted": (3, "first contact made"),
    "qualified": (8, "qualified: need and budget confirmed"),
    "proposal": (12, "a proposal is out"),
    "negotiation": (15, "in negotiation"),
}
ACTIVITY_POINTS = {"meeting": 6, "call": 3, "email": 2, "note": 1, "task": 1}


class OfflineProvider:
    """Deterministic answers from the request's context, one rule set per agent type."""

    def __init__(self) -> None:
        self._rules: dict[str, Callable[[Mapping[str, Any]], BaseModel]] = {
            "lead_analysis": analyse_lead,
            "follow_up": draft_follow_up,
            "insight": explain_insight,
            "design": draft_proposal,
            "support": answer_question,
        }

    @property
    def model(self) -> str:
        return MODEL

    async def generate(self, request: GenerationRequest[T]) -> Generation[T]:
        rule = self._rules.get(request.kind)
        if rule is None:
            raise LLMError(
                f"the offline provider has no rules for {request.kind!r}", retryable=False, model=MODEL
            )
        output = rule(request.context)
        return Generation(output=request.schema.model_validate(output.model_dump()), model=MODEL)


# --- lead analysis ------------------------------------------------------------------------------------


def analyse_lead(context: Mapping[str, Any]) -> LeadAnalysis:
    lead: Mapping[str, Any] = context.get("lead") or {}
    activities: list[Mapping[str, Any]] = list(context.get("activities") or [])
    neighbours: list[Mapping[str, Any]] = list(context.get("neighbours") or [])
    reasons: list[Reason] = []

    def add(factor: str, points: int, detail: str) -> None:
        if points:
            reasons.append(Reason(factor=factor, points=points, detail=detail))

    base = 20
    email = (lead.get("email") or "").strip().lower()
    if email:
        add("email", 10, f"reachable by email ({email})")
        domain = email.rpartition("@")[2]
        if domain and domain not in FREE_MAIL:
            add("business email", 5, f"a company domain ({domain}), not a free mailbox")
    if lead.get("phone"):
        add("phone", 8, "reachable by phone")
    if lead.get("company"):
        add("company", 8, f"works at {lead['company']}")
    title = lead.get("job_title") or ""
    if title:
        if DECISION_MAKERS.search(title):
            add("decision maker", 12, f"job title {title!r} decides or signs")
        else:
            add("job title", 4, f"job title known ({title})")
    if lead.get("website"):
        add("website", 3, "has a website to research")
    source = (lead.get("source") or "").strip().lower()
    for key, (points, why) in SOURCE_POINTS.items():
        if key in source:
            add(f"source: {source}", points, why)
            break
    value = _number(lead.get("estimated_value"))
    if value is not None:
        if value >= 10_000:
            add("deal size", 10, f"estimated value {value:,.0f} (≥ 10,000)")
        elif value >= 2_000:
            add("deal size", 5, f"estimated value {value:,.0f} (≥ 2,000)")
    status = lead.get("status") or "new"
    if status in STATUS_POINTS:
        points, why = STATUS_POINTS[status]
        add(f"stage: {status}", points, why)

    recent = [a for a in activities if a.get("status") == "done" and _num(a.get("days_ago"), 999) <= 30]
    activity_points = 0
    for activity in recent:
        activity_points += ACTIVITY_POINTS.get(str(activity.get("kind")), 1)
    if recent:
        kinds = ", ".join(sorted({str(a.get("kind")) for a in recent}))
        add("recent activity", min(activity_points, 15), f"{len(recent)} done in the last 30 days ({kinds})")
    since = lead.get("days_since_activity")
    age = _num(lead.get("age_days"), 0)
    if since is not None:
        if since > 30:
            add("gone quiet", -10, f"no activity for {int(since)} days")
        elif since > 14:
            add("cooling", -5, f"no activity for {int(since)} days")
    elif age > 7 and not activities:
        add("never contacted", -5, f"created {int(age)} days ago and never contacted")
    overdue = [a for a in activities if a.get("status") == "planned" and _num(a.get("due_in_days"), 0) < 0]
    if overdue:
        add(
            "overdue task",
            -4,
            f"{len(overdue)} planned task(s) past due ({overdue[0].get('subject') or 'task'})",
        )

    converted = [n for n in neighbours if n.get("status") == "converted"]
    lost = [n for n in neighbours if n.get("status") == "lost"]
    rate: float | None = None
    if len(converted) + len(lost) >= 3:
        weight_c = sum(float(n.get("similarity", 0)) for n in converted)
        weight_l = sum(float(n.get("similarity", 0)) for n in lost)
        rate = weight_c / (weight_c + weight_l) if weight_c + weight_l > 0 else 0.5
        ids = ", ".join(str(n.get("id"))[:8] for n in (converted + lost)[:5])
        add(
            "similar leads",
            round((rate - 0.5) * 20),
            f"{len(converted)} of {len(converted) + len(lost)} similar past leads converted ({ids}…)",
        )

    score = base + sum(r.points for r in reasons)
    if status == "lost":
        reasons.append(Reason(factor="stage: lost", points=min(0, 10 - score), detail="marked lost"))
        score = min(score, 10)
    if status == "converted":
        reasons.append(
            Reason(factor="stage: converted", points=max(0, 95 - score), detail="already a client")
        )
        score = max(score, 95)
    score = max(0, min(100, score))
    probability = 1 / (1 + math.exp(-(score - 55) / 12))
    if rate is not None:
        probability = 0.7 * probability + 0.3 * rate
    if status == "lost":
        probability = min(probability, 0.05)
    reasons.sort(key=lambda r: (-abs(r.points), r.factor))
    return LeadAnalysis(
        quality_score=score,
        conversion_probability=round(probability, 3),
        next_actions=_next_actions(lead, activities, status, score, overdue),
        reasons=reasons,
    )


def _next_actions(
    lead: Mapping[str, Any],
    activities: list[Mapping[str, Any]],
    status: str,
    score: int,
    overdue: list[Mapping[str, Any]],
) -> list[str]:
    name = lead.get("first_name") or lead.get("company") or "the lead"
    actions: list[str] = []
    if overdue:
        actions.append(f"Complete the overdue task: {overdue[0].get('subject') or 'planned task'}")
    if not lead.get("email") and not lead.get("phone"):
        actions.append("Find an email address or phone number: there is no way to reach them on file")
    since = lead.get("days_since_activity")
    if status == "new":
        actions.append(f"Make first contact with {name} within 24 hours")
    elif since is not None and since > 14 and status not in ("converted", "lost"):
        actions.append(f"Call {name}: no contact for {int(since)} days")
    stage_action = {
        "contacted": f"Qualify {name}: confirm need, budget and timing",
        "qualified": f"Send {name} a proposal",
        "proposal": f"Follow up on the proposal with {name}",
        "negotiation": "Resolve the open objections and agree terms",
        "converted": "Plan the kickoff with the new client",
        "lost": "Ask what made them choose otherwise; revisit in 6 months",
    }.get(status)
    if stage_action:
        actions.append(stage_action)
    if score >= 70 and not lead.get("owner_id") and status not in ("converted", "lost"):
        actions.append("Assign an owner: this is a high-scoring lead without one")
    if not lead.get("company") and status not in ("converted", "lost"):
        actions.append("Find out which company they work for")
    return actions[:5] or ["Review the lead"]


def _num(value: Any, default: float) -> float:
    number = _number(value)
    return default if number is None else number


def _number(value: Any, default: float | None = None) -> float | None:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


# --- follow-up ----------------------------------------------------------------------------------------

GREETINGS = {"formal": "Dear {name},", "friendly": "Hi {name},", "concise": "Hi {name},"}
CLOSINGS = {"formal": "Kind regards,", "friendly": "Best wishes,", "concise": "Thanks,"}
KIND_PHRASES = {
    "meeting": "Thank you again for meeting with us{when}",
    "call": "Thanks for the call{when}",
    "email": "I wanted to follow up on my email{about}{when}",
    "note": "I wanted to pick up where we left off{when}",
    "task": "I wanted to pick up where we left off{when}",
}
STAGE_ASKS = {
    "new": "Would you have 20 minutes this week for a short call to see how we can help?",
    "contacted": "Could we set up a short call to understand what you need and by when?",
    "qualified": "I'd be glad to put together a proposal. Could you confirm the scope we discussed?",
    "proposal": "Have you had a chance to look at our proposal? I'm happy to walk you through it.",
    "negotiation": "Is there anything still open on your side that I can help resolve?",
    "converted": "Is there anything we can do to make the start as smooth as possible?",
    "active": "Is there anything we can help you with at the moment?",
    "lost": "If your plans change, we would be glad to hear from you again.",
}


def draft_follow_up(context: Mapping[str, Any]) -> FollowUp:
    record: Mapping[str, Any] = context.get("record") or {}
    timeline: list[Mapping[str, Any]] = list(context.get("timeline") or [])
    memories: list[str] = [str(m) for m in context.get("memories") or []]
    tone = str(context.get("tone") or "friendly")
    if tone not in GREETINGS:
        tone = "friendly"
    agency = str(context.get("agency_name") or "our team")
    sender = str(context.get("sender_name") or agency)
    name = record.get("first_name") or record.get("last_name") or record.get("company") or "there"
    status = str(record.get("status") or "new")
    last = next((a for a in timeline if a.get("status") in ("done", None)), None)

    if last is not None:
        days = _number(last.get("days_ago"))
        when = (
            ""
            if days is None
            else (" today" if days < 1 else f" {int(days)} day{'s' if days >= 2 else ''} ago")
        )
        about = f" about {last['subject']!s}" if last.get("subject") else ""
        opener = (
            KIND_PHRASES.get(str(last.get("kind")), KIND_PHRASES["note"]).format(when=when, about=about) + "."
        )
        subject = f"Re: {last['subject']}" if last.get("subject") else f"Following up, {name}"
    else:
        opener = f"I'm reaching out from {agency} following your interest."
        subject = f"Great to connect, {name}" if status == "new" else f"Following up, {name}"
    first = opener
    if memories and tone != "concise":
        first += f" You mentioned: {memories[0].rstrip('.')}."
    ask = STAGE_ASKS.get(status, STAGE_ASKS["contacted"])
    body = "\n\n".join([GREETINGS[tone].format(name=name), first, ask, f"{CLOSINGS[tone]}\n{sender}"])
    subject = subject[:200]
    return FollowUp(subject=subject, body=body, full_message=f"Subject: {subject}\n\n{body}")


# --- insight ------------------------------------------------------------------------------------------


def explain_insight(context: Mapping[str, Any]) -> InsightText:
    metrics: Mapping[str, Any] = context.get("metrics") or {}
    sources: list[Mapping[str, Any]] = list(metrics.get("by_source") or [])
    stale = int(metrics.get("stale_leads") or 0)
    total = int(metrics.get("total_leads") or 0)
    converted = int(metrics.get("converted_leads") or 0)
    response_h = metrics.get("median_first_response_hours")
    parts = [f"{total} leads, {converted} converted ({_pct(converted, total)})."]
    recommendations: list[str] = []
    ranked = sorted(
        (s for s in sources if int(s.get("leads") or 0) >= 5), key=lambda s: -float(s.get("rate") or 0)
    )
    if ranked:
        best, worst = ranked[0], ranked[-1]
        parts.append(
            f"Best source: {best['source']} ({_pct_rate(best.get('rate'))} of {best['leads']} convert)."
        )
        recommendations.append(
            f"Put more effort into {best['source']}: it converts at {_pct_rate(best.get('rate'))}."
        )
        if worst is not best and float(worst.get("rate") or 0) < float(best.get("rate") or 0) / 2:
            parts.append(f"Weakest: {worst['source']} ({_pct_rate(worst.get('rate'))}).")
            recommendations.append(
                f"Review {worst['source']}: it converts at {_pct_rate(worst.get('rate'))} only."
            )
    if stale:
        parts.append(f"{stale} open leads have had no activity for 14 days or more.")
        recommendations.append(f"Work through the {stale} stale leads, or close the ones that are lost.")
    if response_h is not None:
        hours = float(response_h)
        parts.append(f"Median time to first contact: {hours:.1f} h.")
        if hours > 24:
            recommendations.append("Contact new leads within a day: the median first response takes longer.")
    stages: list[Mapping[str, Any]] = list(metrics.get("by_stage") or [])
    crowded = max(stages, key=lambda s: int(s.get("leads") or 0), default=None)
    if crowded and int(crowded.get("leads") or 0) > 0 and crowded.get("status") not in ("converted", "lost"):
        parts.append(f"Most open leads sit in '{crowded['status']}' ({crowded['leads']}).")
        recommendations.append(f"Look at what keeps leads in '{crowded['status']}' and move them on.")
    if not recommendations:
        recommendations.append("Keep logging activities: there is not enough data for firmer advice yet.")
    return InsightText(summary=" ".join(parts), recommendations=recommendations[:10])


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "n/a"


def _pct_rate(rate: Any) -> str:
    return f"{100 * float(rate or 0):.0f}%"


# --- design / proposal --------------------------------------------------------------------------------

_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[a-zà-ÿ]+\d*")
_NEGATIONS = frozenset({"no", "not", "without", "kein", "keine", "sans", "sin"})
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def draft_proposal(context: Mapping[str, Any]) -> ProposalDraft:
    """Items whose name or keywords the needs mention (not negated: "no pond"), each with the number
    nearest to its mention ("40 m2 of lawn", "3 trees"; else 1), best-matching first."""
    record: Mapping[str, Any] = context.get("record") or {}
    needs = str(context.get("needs") or "")
    items: list[Mapping[str, Any]] = list(context.get("price_list") or [])
    if not items:
        raise LLMError("the agency's price list is empty: add items first", retryable=False, model=MODEL)
    tokens = _TOKEN.findall(needs.lower())
    scored: list[tuple[int, str, ProposalLine]] = []
    for item in items:
        vocabulary = _vocabulary(item)
        mentions = [
            i
            for i, token in enumerate(tokens)
            if _stem(token) in vocabulary and not (i > 0 and tokens[i - 1] in _NEGATIONS)
        ]
        if not mentions:
            continue
        matched = sorted({tokens[i] for i in mentions})
        line = ProposalLine(
            sku=str(item["sku"]),
            quantity=_quantity(tokens, mentions),
            note=f"you asked for: {', '.join(matched)}",
        )
        scored.append((-len(mentions), str(item["sku"]), line))
    scored.sort(key=lambda s: (s[0], s[1]))
    lines = [line for _, _, line in scored[:8]]
    if not lines:
        cheapest = min(items, key=lambda i: (float(i.get("unit_price") or 0), str(i["sku"])))
        lines = [
            ProposalLine(sku=str(cheapest["sku"]), quantity=1, note="nothing on the list matched: a start")
        ]
    who = (
        record.get("company")
        or " ".join(filter(None, [record.get("first_name"), record.get("last_name")]))
        or "you"
    )
    return ProposalDraft(
        title=f"Proposal for {who}",
        introduction=f"Thank you for telling us what you need: {needs.strip()[:300] or 'your project'}. "
        "Here is what we propose, priced from our current list.",
        lines=lines,
        closing="Prices are valid for 30 days. We are happy to adjust the scope with you.",
    )


def _stem(word: str) -> str:
    """Crude plural folding, enough to match "trees" with "tree"."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _vocabulary(item: Mapping[str, Any]) -> set[str]:
    text = " ".join([str(item.get("name") or ""), " ".join(item.get("keywords") or [])])
    return {_stem(w) for w in _TOKEN.findall(text.lower()) if len(w) > 2 and not _NUMBER.fullmatch(w)}


def _quantity(tokens: list[str], mentions: list[int]) -> float:
    best: tuple[int, float] | None = None
    for mention in mentions:
        for i in range(max(0, mention - 3), min(len(tokens), mention + 4)):
            if _NUMBER.fullmatch(tokens[i]):
                distance = abs(i - mention)
                if best is None or distance < best[0]:
                    best = (distance, float(tokens[i].replace(",", ".")))
    return max(best[1], 0.01) if best else 1.0


# --- support ------------------------------------------------------------------------------------------

_WORD = re.compile(r"[a-zà-ÿ0-9]+")
_STOPWORDS = frozenset(
    """a about after all also am an and any are as at be been before but by can could did do does for from
    get got had has have how i if in into is it its just know let like me more my no not now of on or our
    please so some than that the their them then there these they this to up us want was we were what when
    where which who why will with would you your yours""".split()  # noqa: SIM905 - a word list, readable
)
LEAD_INS = {
    "friendly": "Here is what I can tell you:",
    "formal": "Please find the relevant details below:",
    "concise": "In short:",
}
NOT_ANSWERED = {
    "friendly": "I don't have the full answer at hand, so I'm checking with the team and will get back to "
    "you shortly.",
    "formal": "I do not have a complete answer at hand; I am checking with my colleagues and will revert "
    "to you shortly.",
    "concise": "I'm checking this with the team and will get back to you shortly.",
}
OFFERS = {
    "friendly": "Let me know if anything is unclear or if you'd like to talk it through.",
    "formal": "Please do not hesitate to contact me should you have any further questions.",
    "concise": "",
}


def _terms(text: str) -> set[str]:
    """Content words, crudely stemmed (both sides alike): "opening hours" and "open hour" meet."""
    terms = set()
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS or len(word) < 3:
            continue
        for suffix in ("ing", "ed", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        terms.add(word.rstrip("ey") if len(word) > 4 else word)
    return terms


def answer_question(context: Mapping[str, Any]) -> SupportAnswer:
    """The facts that share the most content words with the question (memories that are very close to
    it in meaning count too), at most three, quoted in the reply; none: a holding reply."""
    question = str(context.get("question") or "").strip()
    facts: list[Mapping[str, Any]] = list(context.get("facts") or [])
    tone = str(context.get("tone") or "friendly")
    if tone not in GREETINGS:
        tone = "friendly"
    agency = str(context.get("agency_name") or "our team")
    sender = str(context.get("sender_name") or agency)
    name = str(context.get("name") or "there")
    wanted = _terms(question)
    ranked = []
    for order, fact in enumerate(facts):
        shared = wanted & _terms(str(fact.get("text") or ""))
        similarity = float(fact.get("similarity") or 0)
        if shared or similarity >= 0.75:
            ranked.append((-len(shared), -similarity, order, fact))
    chosen = [fact for *_, fact in sorted(ranked, key=lambda r: r[:3])[:3]]

    one_line = " ".join(question.split())
    about = f': "{one_line}"' if len(one_line) <= 120 else ""
    parts = [GREETINGS[tone].format(name=name), f"Thank you for your question{about}."]
    if chosen:
        points = "\n".join(f"- {_sentence(str(f['text']))}" for f in chosen)
        parts.append(f"{LEAD_INS[tone]}\n{points}")
        if OFFERS[tone]:
            parts.append(OFFERS[tone])
    else:
        parts.append(NOT_ANSWERED[tone])
    parts.append(f"{CLOSINGS[tone]}\n{sender}")
    body = "\n\n".join(parts)
    subject = ("Re: " + (one_line[:60] + "…" if len(one_line) > 60 else one_line))[:200]
    return SupportAnswer(
        subject=subject,
        body=body,
        full_message=f"Subject: {subject}\n\n{body}",
        answered=bool(chosen),
        facts_used=[str(f["id"]) for f in chosen],
    )


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."
