"""The official `supabase` client, unchanged, against GardenOS's /auth/v1, reading mail from a real SMTP
server as a user would."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from tests.live import SITE_URL, Api, unique_email


def follow(link: str) -> dict[str, str]:
    """Open an emailed link as a browser would; returns the session in the redirect's fragment."""
    response = httpx.get(link, follow_redirects=False)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(SITE_URL), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).fragment).items()}


def test_sign_up_confirm_sign_in_update_refresh_sign_out(api: Api) -> None:
    client = api.client()
    address = unique_email("signup")
    signed_up = client.auth.sign_up(
        {"email": address, "password": "s3cret-passw0rd", "options": {"data": {"full_name": "Zoë Müller"}}}
    )
    assert signed_up.user is not None
    assert signed_up.session is None, "confirmation is required before a session"
    assert signed_up.user.user_metadata["full_name"] == "Zoë Müller"

    # Not confirmed yet: signing in is refused with GoTrue's error code.
    with pytest.raises(AuthApiError) as refused:
        client.auth.sign_in_with_password({"email": address, "password": "s3cret-passw0rd"})
    assert refused.value.code == "email_not_confirmed"

    mail = api.mailbox.last_to(address)
    assert mail["Subject"] == "Confirm your signup"
    fragment = follow(api.mailbox.link_to(address))
    assert fragment["type"] == "signup"
    assert fragment["access_token"]
    assert fragment["refresh_token"]

    session = client.auth.sign_in_with_password({"email": address, "password": "s3cret-passw0rd"}).session
    assert session is not None
    assert session.user.email == address
    assert session.user.email_confirmed_at is not None

    user = client.auth.get_user(session.access_token)
    assert user is not None
    assert user.user.id == session.user.id

    updated = client.auth.update_user({"data": {"team": "sales"}})
    assert updated.user.user_metadata == {"full_name": "Zoë Müller", "team": "sales"}

    refreshed = client.auth.refresh_session(session.refresh_token)
    assert refreshed.session is not None
    assert refreshed.session.refresh_token != session.refresh_token
    assert refreshed.session.user.user_metadata["team"] == "sales"

    client.auth.sign_out()
    with pytest.raises(AuthApiError):
        client.auth.refresh_session(refreshed.session.refresh_token)


def test_wrong_password_and_unknown_email_look_the_same(api: Api) -> None:
    address, _ = api.confirmed_user()
    client = api.client()
    errors = []
    for email in (address, unique_email("nobody")):
        with pytest.raises(AuthApiError) as failed:
            client.auth.sign_in_with_password({"email": email, "password": "not-the-password"})
        errors.append((failed.value.status, failed.value.code, failed.value.message))
    assert errors[0] == errors[1] == (400, "invalid_credentials", "Invalid login credentials")


def test_short_password_is_refused_with_a_reason(api: Api) -> None:
    with pytest.raises(AuthWeakPasswordError) as refused:
        api.client().auth.sign_up({"email": unique_email(), "password": "short"})
    assert refused.value.status == 422
    assert refused.value.reasons == ["length"]
    assert "at least 8 characters" in refused.value.message


def test_reset_password_with_the_emailed_code(api: Api) -> None:
    address, old_password = api.confirmed_user()
    client = api.client()
    client.auth.reset_password_for_email(address, {"redirect_to": f"{SITE_URL}/reset"})
    mail = api.mailbox.last_to(address)
    assert mail["Subject"] == "Reset Password"
    assert "redirect_to=http%3A%2F%2Fapp.gardenos.test%2Freset" in api.mailbox.link_to(address)

    verified = client.auth.verify_otp(
        {"email": address, "token": api.mailbox.code_to(address), "type": "recovery"}
    )
    assert verified.session is not None
    client.auth.update_user({"password": "a-brand-new-password"})

    with pytest.raises(AuthApiError):
        client.auth.sign_in_with_password({"email": address, "password": old_password})
    assert client.auth.sign_in_with_password({"email": address, "password": "a-brand-new-password"}).session


def test_recovery_for_an_unknown_address_answers_the_same_and_sends_nothing(api: Api) -> None:
    address = unique_email("ghost")
    api.client().auth.reset_password_for_email(address)
    assert api.mailbox.count_to(address) == 0


def test_sign_in_with_otp_code(api: Api) -> None:
    address, _ = api.confirmed_user()
    client = api.client()
    client.auth.sign_in_with_otp({"email": address, "options": {"should_create_user": False}})
    verified = client.auth.verify_otp(
        {"email": address, "token": api.mailbox.code_to(address), "type": "email"}
    )
    assert verified.session is not None
    assert verified.session.user.email == address
    # A code works once.
    with pytest.raises(AuthApiError) as reused:
        client.auth.verify_otp({"email": address, "token": api.mailbox.code_to(address), "type": "email"})
    assert reused.value.code == "otp_expired"


def test_magic_link_signs_up_a_new_address(api: Api) -> None:
    address = unique_email("magic")
    api.client().auth.sign_in_with_otp({"email": address})
    assert api.mailbox.last_to(address)["Subject"] == "Confirm your signup"
    fragment = follow(api.mailbox.link_to(address))
    user = api.client().auth.get_user(fragment["access_token"])
    assert user is not None
    assert user.user.email == address
    assert user.user.email_confirmed_at is not None


def test_a_used_or_wrong_link_redirects_with_an_error(api: Api) -> None:
    address = unique_email("once")
    api.client().auth.sign_in_with_otp({"email": address})
    link = api.mailbox.link_to(address)
    follow(link)
    again = httpx.get(link, follow_redirects=False)
    assert again.status_code == 303
    assert "error=access_denied" in again.headers["location"]
    assert "otp_expired" in again.headers["location"]


def test_open_redirects_are_refused(api: Api) -> None:
    address = unique_email("redirect")
    api.client().auth.sign_in_with_otp(
        {"email": address, "options": {"email_redirect_to": "https://evil.example/x"}}
    )
    fragment_target = httpx.get(api.mailbox.link_to(address), follow_redirects=False).headers["location"]
    assert fragment_target.startswith(SITE_URL)
    assert "evil.example" not in fragment_target


def test_users_cannot_change_their_own_app_metadata(api: Api) -> None:
    address, password = api.confirmed_user()
    client = api.client()
    session = client.auth.sign_in_with_password({"email": address, "password": password}).session
    assert session is not None
    with api.http(session.access_token) as http:
        response = http.put(
            "/auth/v1/user",
            json={
                "data": {"nick": "z"},
                "app_metadata": {"agency_id": "0190c6b0-0000-7000-8000-000000000000"},
            },
        )
    assert response.status_code == 200
    assert "agency_id" not in response.json()["app_metadata"]
    assert response.json()["user_metadata"]["nick"] == "z"


def test_settings_health_and_jwks(api: Api) -> None:
    with api.http() as http:
        assert http.get("/auth/v1/health").json()["name"] == "GoTrue"
        settings = http.get("/auth/v1/settings").json()
        assert settings["external"]["email"] is True
        assert settings["mailer_autoconfirm"] is False
        assert http.get("/auth/v1/.well-known/jwks.json").json() == {"keys": []}
