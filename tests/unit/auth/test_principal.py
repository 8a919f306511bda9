"""The caller's principal: what a door asks of it, answered the same way at every door."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from gardenos.auth.principal import Principal
from gardenos.auth.tokens import VerifiedClaims
from gardenos.crm.common import require_agency
from gardenos.crm.conversion_and_merge.service import caller
from gardenos.errors import GardenError


def principal(**claims: Any) -> Principal:
    return Principal(VerifiedClaims({"role": "authenticated", "sub": str(uuid.uuid4()), **claims}), "token")


@pytest.mark.parametrize("check", [require_agency, caller], ids=["crm", "pipeline"])
def test_no_active_agency_is_one_error_with_one_code(check: Callable[[Principal], object]) -> None:
    with pytest.raises(GardenError) as caught:
        check(principal(app_metadata={"provider": "email"}))
    error = caught.value
    assert (error.status_code, error.code, error.error_code) == (403, "GARDEN403", "no_active_agency")
    assert error.message.startswith("no active agency: create one with POST /api/v1/agencies")


def test_an_active_agency_is_the_tokens() -> None:
    agency = uuid.uuid4()
    assert principal(app_metadata={"agency_id": str(agency)}).require_agency() == agency
