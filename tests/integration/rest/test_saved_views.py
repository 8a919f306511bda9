"""The web app's saved views (`public.saved_views`, 0032) through /rest/v1, as the app reaches them: each
user's own, in the agency their token carries; a colleague in the same agency, another agency, and the same
user in another agency see none of them and change none of them."""

from __future__ import annotations

import psycopg
import pytest

from tests.live import Api, Member, agency_owner

VIEWS = "/rest/v1/saved_views"
RETURN = {"Prefer": "return=representation"}


@pytest.fixture(scope="module")
def owner(api: Api) -> Member:
    return agency_owner(api, "Views Alpha")


def _colleague_token(api: Api, owner: Member) -> str:
    """A second user made a member of `owner`'s agency, with a token that carries it."""
    other = agency_owner(api, "Views Colleague")
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO memberships (agency_id, user_id, role) VALUES (%s, %s, 'member')",
            (owner.agency_id, other.user_id),
        )
    with api.http(other.access_token) as http:
        switched = http.post(f"/api/v1/agencies/{owner.agency_id}/switch")
    assert switched.status_code == 200, switched.text
    return str(switched.json()["access_token"])


def test_a_view_is_its_owners_alone(api: Api, owner: Member) -> None:
    with api.http(owner.access_token) as http:
        made = http.post(
            VIEWS, json={"name": "Hot leads", "state": {"status": ["qualified"]}}, headers=RETURN
        )
        assert made.status_code == 201, made.text
        (view,) = made.json()
        # The keys come from the token, not from the body.
        assert (view["user_id"], view["agency_id"], view["screen"]) == (
            owner.user_id,
            owner.agency_id,
            "leads",
        )
        assert [v["name"] for v in http.get(VIEWS).json()] == ["Hot leads"]
        same_name = http.post(VIEWS, json={"name": "Hot leads"})
        assert same_name.status_code == 409, same_name.text

    colleague = _colleague_token(api, owner)
    stranger = agency_owner(api, "Views Beta")
    for token in (colleague, stranger.access_token):
        with api.http(token) as http:
            assert http.get(VIEWS).json() == []
            changed = http.patch(
                VIEWS, params={"id": f"eq.{view['id']}"}, json={"name": "Mine"}, headers=RETURN
            )
            assert changed.json() == []
            deleted = http.delete(VIEWS, params={"id": f"eq.{view['id']}"}, headers=RETURN)
            assert deleted.json() == []
            # Nor can one be made in the owner's name.
            forged = http.post(VIEWS, json={"name": "Forged", "user_id": owner.user_id})
            assert forged.status_code in (401, 403), forged.text

    # The same user with another agency active sees that agency's views only.
    with api.http(owner.access_token) as http:
        second = http.post("/api/v1/agencies", json={"name": "Views Gamma"}).json()
        token = http.post(f"/api/v1/agencies/{second['id']}/switch").json()["access_token"]
    with api.http(token) as http:
        assert http.get(VIEWS).json() == []
    with api.http(owner.access_token) as http:
        assert [v["name"] for v in http.get(VIEWS).json()] == ["Hot leads"]


@pytest.mark.parametrize(
    "body", [{"name": "  "}, {"name": "x", "state": []}, {"name": "x", "screen": "pipeline"}]
)
def test_a_bad_view_is_refused_with_a_4xx(api: Api, owner: Member, body: dict[str, object]) -> None:
    with api.http(owner.access_token) as http:
        refused = http.post(VIEWS, json=body)
    assert 400 <= refused.status_code < 500, refused.text
