"""One shape of claims for every door: a user's token, an agent's task, the CLI importer."""

from __future__ import annotations

import uuid

from gardenos.agents.base import tenant_claims
from gardenos.auth.tokens import VerifiedClaims, agency_claims, user_claims, with_agency


def test_agency_claims_are_read_as_a_users_token_is() -> None:
    agency, user = uuid.uuid4(), uuid.uuid4()
    claims = VerifiedClaims(agency_claims(agency, "admin", user))
    assert (claims.role, claims.user_id, claims.agency_id) == ("authenticated", user, agency)
    assert claims.raw["aud"] == "authenticated"
    assert claims.raw["app_metadata"] == {"agency_id": str(agency), "agency_role": "admin"}


def test_an_agent_acts_in_its_tasks_agency_as_the_agent_role() -> None:
    agency = uuid.uuid4()
    assert tenant_claims(agency) == agency_claims(agency, "agent")
    assert "sub" not in tenant_claims(agency)


def test_with_agency_replaces_or_drops_the_agency_and_keeps_the_rest() -> None:
    stale = {"provider": "email", "agency_id": str(uuid.uuid4()), "agency_role": "owner"}
    assert with_agency(stale, None, None) == {"provider": "email"}
    agency = uuid.uuid4()
    assert with_agency(stale, agency, "member") == {
        "provider": "email",
        "agency_id": str(agency),
        "agency_role": "member",
    }
    claims = user_claims("u-1", {"provider": "email"}, email="ann@example.com")
    assert claims == {
        "role": "authenticated",
        "aud": "authenticated",
        "app_metadata": {"provider": "email"},
        "email": "ann@example.com",
        "sub": "u-1",
    }
