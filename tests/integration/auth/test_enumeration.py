"""Whether an address has an account is told to its mailbox only: sign-up and one-time codes answer the
same for an address with an account and one without (with the official client, as an app calls them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from supabase_auth.errors import AuthApiError

from tests.live import Api, Mailbox, serve, unique_email
from tests.support import SessionDatabase


def _shape(value: Any) -> Any:
    """The JSON's structure and which values are set, not the values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


def test_signing_up_an_address_with_an_account_answers_as_for_a_new_one(api: Api) -> None:
    taken, password = api.confirmed_user()
    fresh = unique_email("fresh")
    answers = {}
    with api.http() as http:
        for address in (taken, fresh):
            response = http.post("/auth/v1/signup", json={"email": address, "password": "guess-Passw0rd"})
            assert response.status_code == 200, response.text
            answers[address] = response.json()
    assert _shape(answers[taken]) == _shape(answers[fresh])
    assert answers[taken]["email"] == taken
    assert answers[taken]["identities"][0]["identity_data"]["email_verified"] is False
    users = api.admin().auth.admin.list_users(per_page=1000)
    assert answers[taken]["id"] not in {user.id for user in users}, "the real account's id is not told"

    # The owner is told, with a link to sign in; the new address gets its confirmation.
    assert api.mailbox.last_to(taken)["Subject"] == "Your Magic Link"
    assert api.mailbox.last_to(fresh)["Subject"] == "Confirm your signup"
    # Nothing of the account changed: its password is still the owner's.
    signed_in = api.client().auth.sign_in_with_password({"email": taken, "password": password})
    assert signed_in.session is not None

    # The official client reads both answers as "confirm your email".
    for address in (taken, unique_email("fresh")):
        result = api.client().auth.sign_up({"email": address, "password": "guess-Passw0rd"})
        assert result.user is not None
        assert result.session is None


def test_a_code_for_an_address_without_an_account_answers_the_same_and_sends_nothing(api: Api) -> None:
    taken, _ = api.confirmed_user()
    ghost = unique_email("ghost")
    with api.http() as http:
        answers = [
            http.post("/auth/v1/otp", json={"email": address, "create_user": False})
            for address in (ghost, taken)
        ]
    assert [(a.status_code, a.json()) for a in answers] == [(200, {}), (200, {})]
    # Through the official client too: no error either way.
    api.client().auth.sign_in_with_otp({"email": ghost, "options": {"should_create_user": False}})
    assert api.mailbox.last_to(taken)["Subject"] == "Your Magic Link"
    assert api.mailbox.count_to(ghost) == 0


@pytest.fixture
def autoconfirm_api(
    database: SessionDatabase, mailbox: tuple[Mailbox, int], clear_rate_limits: None
) -> Iterator[Api]:
    yield from serve(database, mailbox, mailer_autoconfirm=True)


def test_with_autoconfirm_an_address_with_an_account_is_refused(autoconfirm_api: Api) -> None:
    """Autoconfirm hands a new address a session at once, which an existing account's address cannot
    be given: no answer could hide the difference, so it is GoTrue's (and the README says so)."""
    taken, password = autoconfirm_api.confirmed_user()
    with pytest.raises(AuthApiError) as refused:
        autoconfirm_api.client().auth.sign_up({"email": taken, "password": password})
    assert refused.value.code == "user_already_exists"
    fresh = autoconfirm_api.client().auth.sign_up({"email": unique_email(), "password": password})
    assert fresh.session is not None
