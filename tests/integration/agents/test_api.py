"""`/ai` and `/api/v1/search` through a real server whose agents run in-process (the offline provider),
with mail to a real SMTP server on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.live import Api, Mailbox, Member, agency_owner, serve
from tests.support import SessionDatabase

AI = {
    "ai_workers": True,
    "ai_embedder": "hashing",
    "ai_embed_sweep_s": 0.5,
    "ai_poll_interval_s": 0.2,
    "ai_lease_s": 5.0,
    "ai_autoscale": False,
    "ai_wait_timeout_s": 60.0,
}


@pytest.fixture(scope="module")
def ai_api(database: SessionDatabase, mailbox: tuple[Mailbox, int]) -> Iterator[Api]:
    yield from serve(database, mailbox, **AI)


@pytest.fixture(scope="module")
def member(ai_api: Api) -> Member:
    return agency_owner(ai_api, f"Agents{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def lead_id(ai_api: Api, member: Member) -> str:
    with ai_api.http(member.access_token) as http:
        lead = http.post(
            "/api/v1/leads",
            json={
                "first_name": "Ada",
                "email": "ada@lovelace-gardens.example",
                "company": "Lovelace Gardens",
                "job_title": "Managing Director",
                "source": "referral",
                "status": "qualified",
            },
        )
        assert lead.status_code == 201, lead.text
        http.post(
            "/api/v1/activities",
            json={"kind": "meeting", "lead_id": lead.json()["id"], "subject": "Site visit"},
        )
    return str(lead.json()["id"])


def test_analyze_with_wait_returns_the_scored_lead_and_stores_it(
    ai_api: Api, member: Member, lead_id: str
) -> None:
    with ai_api.http(member.access_token) as http:
        answer = http.post(f"/ai/leads/{lead_id}/analyze", params={"wait": "true"})
        assert answer.status_code == 200, answer.text
        task = answer.json()
        assert task["status"] == "succeeded"
        result = task["result"]
        assert 0 <= result["quality_score"] <= 100
        assert 0 <= result["conversion_probability"] <= 1
        assert result["next_actions"]
        assert result["reasons"]
        assert result["model"] == "gardenos-offline-1"
        lead = http.get(f"/api/v1/leads/{lead_id}").json()
        assert lead["score"] == result["quality_score"]
        history = http.get(f"/ai/leads/{lead_id}/analyses").json()
        assert history[0]["quality_score"] == result["quality_score"]
        memories = http.get("/ai/memory", params={"subject_type": "lead", "subject_id": lead_id}).json()
        assert any(m["content"].startswith("Analysis: score") for m in memories)
    with psycopg.connect(ai_api.owner_url) as conn:
        row = conn.execute(
            "SELECT model, outcome, input ->> 'kind' FROM ai_interactions WHERE task_id = %s", (task["id"],)
        ).fetchone()
    assert row == ("gardenos-offline-1", "ok", "lead_analysis")


def test_follow_up_is_drafted_then_sent_only_when_approved(ai_api: Api, member: Member, lead_id: str) -> None:
    box = ai_api.mailbox
    with ai_api.http(member.access_token) as http:
        http.post(
            "/ai/memory",
            json={"subject_type": "lead", "subject_id": lead_id, "content": "prefers native plants"},
        ).raise_for_status()
        answer = http.post(
            f"/ai/leads/{lead_id}/follow-up", params={"wait": "true"}, json={"context": "the visit"}
        )
        assert answer.status_code == 200, answer.text
        result = answer.json()["result"]
        assert result["subject"] == "Re: Site visit"
        assert "native plants" in result["body"]
        assert result["full_message"].startswith(f"Subject: {result['subject']}")
        assert box.count_to("ada@lovelace-gardens.example") == 0
        draft = http.get(f"/api/v1/activities/{result['activity_id']}").json()
        assert draft["status"] == "draft"
        assert draft["kind"] == "email"

        sent = http.post(f"/ai/follow-ups/{result['activity_id']}/approve", json={"subject": "Your garden"})
        assert sent.status_code == 200, sent.text
        assert sent.json()["status"] == "done"
        again = http.post(f"/ai/follow-ups/{result['activity_id']}/approve")
        assert again.status_code == 409
    mail = box.last_to("ada@lovelace-gardens.example")
    assert mail["Subject"] == "Your garden"


def test_tasks_queue_metrics_and_errors(ai_api: Api, member: Member) -> None:
    with ai_api.http(member.access_token) as http:
        created = http.post(
            "/ai/tasks", json={"agent_type": "echo", "payload": {"hello": 1}, "idempotency_key": "once"}
        )
        assert created.status_code == 202, created.text
        same = http.post(
            "/ai/tasks", json={"agent_type": "echo", "payload": {"hello": 2}, "idempotency_key": "once"}
        )
        assert same.json()["id"] == created.json()["id"]
        done = http.get(f"/ai/tasks/{created.json()['id']}", params={"wait": "true"}).json()
        assert done["status"] == "succeeded"
        assert done["result"] == {"echo": {"hello": 1}}

        insight = http.post(
            "/ai/tasks", params={"wait": "true"}, json={"agent_type": "insight", "payload": {}}
        )
        assert insight.status_code == 200, insight.text
        assert insight.json()["result"]["metrics"]["total_leads"] >= 1
        assert insight.json()["result"]["recommendations"]

        failed = http.post(
            "/ai/tasks",
            params={"wait": "true"},
            json={"agent_type": "lead_analysis", "payload": {"lead_id": "not-a-uuid"}},
        )
        assert failed.json()["status"] == "failed"
        assert "payload.lead_id must be a uuid" in failed.json()["last_error"]
        requeued = http.post(f"/ai/tasks/{failed.json()['id']}/requeue")
        assert requeued.status_code == 200
        assert requeued.json()["status"] == "queued"
        assert http.post(f"/ai/tasks/{done['id']}/cancel").status_code == 409

        for bad in (
            {"agent_type": "nope"},
            {"agent_type": "echo", "priority": 12},
            {"agent_type": "Bad Type!"},
        ):
            response = http.post("/ai/tasks", json=bad)
            assert response.status_code in (400, 422), response.text
        assert http.get("/ai/tasks", params={"status": "weird"}).status_code in (400, 422)
        assert http.post("/ai/agents/echo/scale", json={"size": 3}).status_code == 403

        status = http.get("/ai/status").json()
        assert {p["agent_type"] for p in status["pools"]} >= {"lead_analysis", "follow_up", "echo", "embed"}
        echo_type = next(m for m in status["tasks_last_24h"] if m["agent_type"] == "echo")
        assert echo_type["done"] >= 1
        agent_id = done["agent_id"]
        metrics = http.get(f"/ai/agents/{agent_id}/metrics").json()
        assert metrics["agent"]["agent_type"] == "echo"
        queues = http.get("/ai/debug/queues").json()
        assert any(q["agent_type"] == "echo" for q in queues["queues"])
    with ai_api.http() as http:
        http.headers["apikey"] = ai_api.service_key
        scaled = http.post("/ai/agents/echo/scale", json={"size": 3})
        assert scaled.status_code == 200, scaled.text
        assert scaled.json()["local_size"] == 3
        assert http.post("/ai/agents/echo/scale", json={"size": 99}).status_code == 400


def test_search_finds_leads_by_words_and_by_vectors(ai_api: Api, member: Member, lead_id: str) -> None:
    import time

    with ai_api.http(member.access_token) as http:
        for name, company in (("Grace", "Hopper Hedges"), ("Alan", "Turing Turf")):
            http.post("/api/v1/leads", json={"first_name": name, "company": company}).raise_for_status()
        deadline = time.monotonic() + 60
        while True:  # the sweep embeds new leads in the background
            answer = http.get("/api/v1/search", params={"q": "Turing Turf", "types": "lead"})
            assert answer.status_code == 200, answer.text
            items = answer.json()["items"]
            if any(i["title"] == "Alan" and i["semantic_rank"] is not None for i in items):
                break
            assert time.monotonic() < deadline, items
            time.sleep(0.3)
        assert items[0]["title"] == "Alan"
        assert items[0]["text_rank"] == 1
        assert items[0]["semantic_rank"] == 1
        assert http.get("/api/v1/search", params={"q": ""}).status_code in (400, 422)
        assert http.get("/api/v1/search", params={"q": "x", "types": "planets"}).status_code in (400, 422)


def test_support_answers_from_memory_and_timeline_as_a_draft_sent_only_on_approval(
    ai_api: Api, member: Member, lead_id: str
) -> None:
    box = ai_api.mailbox
    mailed = box.count_to("ada@lovelace-gardens.example")
    with ai_api.http(member.access_token) as http:
        http.post(
            "/ai/memory",
            json={"subject_type": "agency", "content": "Opening hours: Monday to Friday, 8:00 to 17:00"},
        ).raise_for_status()
        answer = http.post(
            f"/ai/leads/{lead_id}/support",
            params={"wait": "true"},
            json={"question": "What are your opening hours on Fridays?"},
        )
        assert answer.status_code == 200, answer.text
        task = answer.json()
        result = task["result"]
        assert result["answered"] is True
        assert result["model"] == "gardenos-offline-1"
        assert "Monday to Friday, 8:00 to 17:00" in result["body"]
        assert [f["source"] for f in result["facts"]] == ["agency memory"]
        assert result["facts"][0]["text"] == "Opening hours: Monday to Friday, 8:00 to 17:00"
        assert result["facts_used"] == [f["id"] for f in result["facts"]]
        draft = http.get(f"/api/v1/activities/{result['activity_id']}").json()
        assert (draft["status"], draft["kind"], draft["subject"]) == ("draft", "email", result["subject"])
        assert draft["metadata"]["question"] == "What are your opening hours on Fridays?"
        assert box.count_to("ada@lovelace-gardens.example") == mailed  # a draft: nothing sent

        # From the timeline: the site visit logged on the lead.
        visit = http.post(
            f"/ai/leads/{lead_id}/support", params={"wait": "true"}, json={"question": "When was the visit?"}
        ).json()["result"]
        assert any(
            f["id"].startswith("activity:") and f["text"].startswith("Site visit") for f in visit["facts"]
        ), visit["facts"]
        # Nothing on file: a holding reply, still a draft for a person.
        unknown = http.post(
            f"/ai/leads/{lead_id}/support", params={"wait": "true"}, json={"question": "Do you take bitcoin?"}
        ).json()["result"]
        assert unknown["answered"] is False
        assert unknown["facts"] == []

        sent = http.post(f"/ai/follow-ups/{result['activity_id']}/approve")
        assert sent.status_code == 200, sent.text
        assert sent.json()["status"] == "done"

        for bad in ({}, {"question": ""}, {"question": "x" * 2001}, {"question": "ok", "extra": 1}):
            response = http.post(f"/ai/leads/{lead_id}/support", json=bad)
            assert response.status_code in (400, 422), response.text
        missing = http.post(f"/ai/clients/{uuid.uuid4()}/support", json={"question": "Hello?"})
        assert missing.status_code == 404
    assert box.count_to("ada@lovelace-gardens.example") == mailed + 1
    mail = box.last_to("ada@lovelace-gardens.example")
    assert mail["Subject"] == result["subject"]
    with psycopg.connect(ai_api.owner_url) as conn:
        row = conn.execute(
            "SELECT model, outcome FROM ai_interactions WHERE task_id = %s", (task["id"],)
        ).fetchone()
    assert row == ("gardenos-offline-1", "ok")
