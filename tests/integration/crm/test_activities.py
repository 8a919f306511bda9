"""Activities through /api/v1: logging calls and notes, planning and completing tasks, the task list, and a
lead's or client's timeline (its activities and its own changes, newest first)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.live import Api, Member, agency_owner


@pytest.fixture(scope="module")
def alpha(api: Api) -> Member:
    return agency_owner(api, "Activities Alpha")


@pytest.fixture
def http(api: Api, alpha: Member) -> Iterator[httpx.Client]:
    with api.http(alpha.access_token) as client:
        yield client


def post(http: httpx.Client, path: str, **body: Any) -> dict[str, Any]:
    response = http.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def at(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def test_logging_an_activity_moves_last_activity_at(http: httpx.Client, alpha: Member) -> None:
    lead = post(http, "/api/v1/leads", first_name="Called")
    assert lead["last_activity_at"] is None
    call = post(
        http, "/api/v1/activities", kind="call", lead_id=lead["id"], subject="Intro call", body="Nice"
    )
    assert (call["status"], call["created_by"], call["client_id"]) == ("done", alpha.user_id, None)
    assert call["completed_at"] is not None
    touched = http.get(f"/api/v1/leads/{lead['id']}").json()["last_activity_at"]
    assert touched == call["occurred_at"]
    # An older activity does not move it back; a future one does not move it past now.
    post(http, "/api/v1/activities", kind="note", lead_id=lead["id"], occurred_at=at(-30))
    assert http.get(f"/api/v1/leads/{lead['id']}").json()["last_activity_at"] == touched
    post(http, "/api/v1/activities", kind="meeting", lead_id=lead["id"], occurred_at=at(30))
    later = http.get(f"/api/v1/leads/{lead['id']}").json()["last_activity_at"]
    assert touched < later < at(1)

    client = post(http, "/api/v1/clients", first_name="Client")
    both = post(http, "/api/v1/activities", kind="email", lead_id=lead["id"], client_id=client["id"])
    assert (both["lead_id"], both["client_id"]) == (lead["id"], client["id"])
    assert http.get(f"/api/v1/clients/{client['id']}").json()["last_activity_at"] == both["occurred_at"]


def test_tasks_are_planned_completed_and_listed(http: httpx.Client) -> None:
    lead = post(http, "/api/v1/leads", first_name="Tasked")
    task = post(
        http, "/api/v1/activities", kind="task", lead_id=lead["id"], subject="Send offer", due_at=at(2)
    )
    assert (task["status"], task["completed_at"]) == ("planned", None)
    url = f"/api/v1/activities/{task['id']}"
    assert http.get(url).json() == task

    done = http.post(f"{url}/complete")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done"
    assert done.json()["completed_at"] is not None
    assert http.post(f"{url}/complete").json() == done.json()

    reopened = http.patch(url, json={"status": "planned", "subject": "Send the offer"}).json()
    assert (reopened["status"], reopened["completed_at"], reopened["subject"]) == (
        "planned",
        None,
        "Send the offer",
    )
    cancelled = http.patch(url, json={"status": "cancelled"}).json()
    assert cancelled["status"] == "cancelled"
    refused = http.post(f"{url}/complete")
    assert refused.status_code == 409
    assert "reopen it" in refused.json()["message"]
    assert http.patch(url, json={"status": "done"}).json()["completed_at"] is not None

    assert http.delete(url).status_code == 204
    assert http.get(url).status_code == 404
    assert http.patch(url, json={"subject": "x"}).status_code == 404
    assert http.post(f"{url}/complete").status_code == 404
    assert http.delete(url).status_code == 404


def test_invalid_activities_are_refused(api: Api, http: httpx.Client) -> None:
    lead = post(http, "/api/v1/leads", first_name="Valid")
    other = agency_owner(api, "Activities Other")
    with api.http(other.access_token) as them:
        foreign = post(them, "/api/v1/leads", first_name="Foreign")
        foreign_client = post(them, "/api/v1/clients", first_name="Foreign")
    for body, status, words in [
        ({"kind": "note"}, 422, "needs a lead_id or a client_id"),
        ({"kind": "fax", "lead_id": lead["id"]}, 422, "kind: Input should be"),
        ({"kind": "note", "lead_id": lead["id"], "due_at": at(1)}, 422, "due_at is for tasks"),
        ({"kind": "task", "lead_id": lead["id"], "due_at": "tomorrow"}, 422, "due_at"),
        ({"kind": "task", "lead_id": lead["id"], "due_at": "2030-01-01T10:00:00"}, 422, "timezone"),
        ({"kind": "task", "lead_id": lead["id"], "status": "open"}, 422, "status: Input should be"),
        ({"kind": "task", "lead_id": lead["id"], "due_at": "9999-12-31T23:59:59-14:00"}, 422, "years 1900"),
        ({"kind": "note", "lead_id": lead["id"], "occurred_at": "0001-01-01T00:00:00+01:00"}, 422, "1900"),
        ({"kind": "note", "lead_id": lead["id"], "metadata": "x"}, 422, "metadata"),
        ({"kind": "note", "lead_id": lead["id"], "created_by": str(uuid.uuid4())}, 422, "Extra inputs"),
        ({"kind": "note", "lead_id": str(uuid.uuid4())}, 422, "lead_id: no such lead in your agency"),
        ({"kind": "note", "lead_id": foreign["id"]}, 422, "lead_id: no such lead in your agency"),
        (
            {"kind": "note", "client_id": foreign_client["id"]},
            422,
            "client_id: no such client in your agency",
        ),
    ]:
        response = http.post("/api/v1/activities", json=body)
        assert response.status_code == status, f"{body}: {response.text}"
        assert words in response.json()["message"], response.text
    note = post(http, "/api/v1/activities", kind="note", lead_id=lead["id"])
    for patch, words in [
        ({"due_at": at(1)}, "due_at is for tasks"),
        ({"kind": None}, "kind cannot be null"),
        ({"lead_id": foreign["id"]}, "lead_id: Extra inputs are not permitted"),
    ]:
        response = http.patch(f"/api/v1/activities/{note['id']}", json=patch)
        assert response.status_code == 422, response.text
        assert words in response.json()["message"]
    became_task = http.patch(f"/api/v1/activities/{note['id']}", json={"kind": "task", "due_at": at(1)})
    assert became_task.status_code == 200
    assert became_task.json()["kind"] == "task"
    for params in [
        {"kind": "fax"},
        {"due_before": "soon"},
        {"sort": "-due_at"},
        {"limit": 1000},
        {"cursor": "?"},
    ]:
        response = http.get("/api/v1/activities", params=params)
        assert 400 <= response.status_code < 500, f"{params}: {response.text}"


def test_the_open_task_list(api: Api) -> None:
    owner = agency_owner(api, "Task List")
    with api.http(owner.access_token) as http:
        lead = post(http, "/api/v1/leads", first_name="Busy")
        client = post(http, "/api/v1/clients", first_name="Client")
        made = {}
        for name, kind, days, status in [
            ("soon", "task", 1, "planned"),
            ("later", "task", 10, "planned"),
            ("overdue", "task", -2, "planned"),
            ("done", "task", 1, "done"),
            ("undated", "task", None, "planned"),
            ("call", "call", None, None),
        ]:
            body: dict[str, Any] = {"kind": kind, "lead_id": lead["id"], "subject": name}
            if days is not None:
                body["due_at"] = at(days)
            if status is not None:
                body["status"] = status
            made[name] = post(http, "/api/v1/activities", **body)
        post(
            http,
            "/api/v1/activities",
            kind="task",
            client_id=client["id"],
            subject="client task",
            due_at=at(3),
        )

        def subjects(**params: Any) -> list[str]:
            response = http.get("/api/v1/activities", params=params)
            assert response.status_code == 200, response.text
            return [a["subject"] for a in response.json()["items"]]

        due = subjects(kind="task", status="planned", due_before=at(5), sort="due_at")
        assert due == ["overdue", "soon", "client task"]
        assert subjects(kind="task", status="planned", sort="due_at") == [
            "overdue",
            "soon",
            "client task",
            "later",
            "undated",
        ]
        assert subjects(kind="task", due_after=at(5)) == ["later"]
        assert subjects(status="done", kind=["task", "call"], sort="occurred_at") == ["done", "call"]
        assert subjects(client_id=client["id"]) == ["client task"]
        assert len(subjects(lead_id=lead["id"])) == 6
        assert subjects(created_by=owner.user_id, kind="call") == ["call"]

        # Every page, each activity once, in every order.
        for sort in ("-occurred_at", "occurred_at", "due_at", "-created_at"):
            seen, cursor = [], None
            while True:
                params: dict[str, Any] = {"sort": sort, "limit": 2}
                if cursor:
                    params["cursor"] = cursor
                page = http.get("/api/v1/activities", params=params).json()
                seen.extend(a["id"] for a in page["items"])
                if (cursor := page["next_cursor"]) is None:
                    break
            assert len(seen) == len(set(seen)) == 7, sort


def test_timeline_merges_activities_and_changes_newest_first(http: httpx.Client, alpha: Member) -> None:
    lead = post(http, "/api/v1/leads", first_name="Timeline", status="new")
    post(http, "/api/v1/activities", kind="call", lead_id=lead["id"], subject="first call")
    http.patch(f"/api/v1/leads/{lead['id']}", json={"status": "contacted"})
    post(http, "/api/v1/activities", kind="note", lead_id=lead["id"], subject="a note")
    http.patch(f"/api/v1/leads/{lead['id']}", json={"status": "qualified"})
    # An activity elsewhere does not show.
    post(http, "/api/v1/activities", kind="note", lead_id=post(http, "/api/v1/leads", first_name="X")["id"])

    response = http.get(f"/api/v1/leads/{lead['id']}/timeline")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    described = [
        item["activity"]["subject"] if item["type"] == "activity" else item["audit"]["action"]
        for item in items
    ]
    assert described == ["update", "a note", "update", "first call", "insert"]
    assert [item["at"] for item in items] == sorted((item["at"] for item in items), reverse=True)
    newest = items[0]["audit"]
    assert (newest["before"]["status"], newest["after"]["status"]) == ("contacted", "qualified")
    assert newest["actor_id"] == alpha.user_id
    assert newest["record_id"] == lead["id"]
    assert all((item["activity"] is None) != (item["audit"] is None) for item in items)

    paged, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = http.get(f"/api/v1/leads/{lead['id']}/timeline", params=params).json()
        paged.extend(page["items"])
        if (cursor := page["next_cursor"]) is None:
            break
    assert paged == items
    assert http.get(f"/api/v1/leads/{uuid.uuid4()}/timeline").status_code == 404
    bad = http.get(f"/api/v1/leads/{lead['id']}/timeline", params={"cursor": "bm9wZQ"})
    assert bad.status_code == 400

    client = post(http, "/api/v1/clients", first_name="Client Timeline")
    post(http, "/api/v1/activities", kind="meeting", client_id=client["id"], subject="kick-off")
    client_items = http.get(f"/api/v1/clients/{client['id']}/timeline").json()["items"]
    assert [(i["type"], (i["activity"] or i["audit"]).get("subject")) for i in client_items] == [
        ("activity", "kick-off"),
        ("audit", None),
    ]


def test_another_agency_never_sees_or_changes_them(api: Api, http: httpx.Client) -> None:
    lead = post(http, "/api/v1/leads", first_name="Private")
    task = post(http, "/api/v1/activities", kind="task", lead_id=lead["id"], subject="secret", due_at=at(1))
    bravo = agency_owner(api, "Activities Bravo")
    with api.http(bravo.access_token) as other:
        url = f"/api/v1/activities/{task['id']}"
        assert other.get(url).status_code == 404
        assert other.patch(url, json={"subject": "mine"}).status_code == 404
        assert other.post(f"{url}/complete").status_code == 404
        assert other.delete(url).status_code == 404
        assert other.get("/api/v1/activities", params={"lead_id": lead["id"]}).json()["items"] == []
        assert other.get("/api/v1/activities").json()["items"] == []
    assert http.get(f"/api/v1/activities/{task['id']}").json() == task
