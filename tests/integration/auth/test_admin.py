"""GoTrue's admin API through the official client, with the service_role key, and refused without it."""

from __future__ import annotations

import uuid

import pytest
from supabase_auth.errors import AuthApiError

from tests.live import Api, unique_email


def test_create_get_update_list_delete(api: Api) -> None:
    admin = api.admin().auth.admin
    address = unique_email("admin")
    created = admin.create_user(
        {
            "email": address,
            "password": "initial-password",
            "email_confirm": True,
            "user_metadata": {"plan": "pro"},
        }
    ).user
    assert created.email == address
    assert created.email_confirmed_at is not None

    fetched = admin.get_user_by_id(created.id).user
    assert fetched.user_metadata == {"plan": "pro"}

    updated = admin.update_user_by_id(
        created.id, {"app_metadata": {"tier": "gold"}, "user_metadata": {"x": 1}}
    ).user
    assert updated.app_metadata["tier"] == "gold"
    assert updated.user_metadata == {"plan": "pro", "x": 1}

    listed = admin.list_users(page=1, per_page=1000)
    assert created.id in {u.id for u in listed}

    session = (
        api.client().auth.sign_in_with_password({"email": address, "password": "initial-password"}).session
    )
    assert session is not None

    admin.delete_user(created.id)
    with pytest.raises(AuthApiError) as gone:
        admin.get_user_by_id(created.id)
    assert gone.value.status == 404


def test_ban_blocks_sign_in(api: Api) -> None:
    admin = api.admin().auth.admin
    address, password = api.confirmed_user()
    user = next(u for u in admin.list_users(per_page=1000) if u.email == address)
    admin.update_user_by_id(user.id, {"ban_duration": "24h"})
    with pytest.raises(AuthApiError) as banned:
        api.client().auth.sign_in_with_password({"email": address, "password": password})
    assert banned.value.code == "user_banned"


def test_generate_link_then_verify(api: Api) -> None:
    address = unique_email("invited")
    link = api.admin().auth.admin.generate_link({"type": "invite", "email": address})
    assert link.properties.verification_type == "invite"
    assert link.properties.action_link.startswith(f"{api.url}/auth/v1/verify?")
    assert len(link.properties.email_otp) == 6
    verified = api.client().auth.verify_otp({"token_hash": link.properties.hashed_token, "type": "invite"})
    assert verified.session is not None
    assert verified.session.user.email == address


def test_invite_mails_a_link(api: Api) -> None:
    address = unique_email("invitee")
    api.admin().auth.admin.invite_user_by_email(address)
    assert api.mailbox.last_to(address)["Subject"].startswith("You have been invited")


def test_admin_needs_the_service_role_key(api: Api) -> None:
    address, password = api.confirmed_user()
    session = api.client().auth.sign_in_with_password({"email": address, "password": password}).session
    assert session is not None
    for token in (None, session.access_token):
        with api.http(token) as http:
            assert http.get("/auth/v1/admin/users").status_code == 403
            assert http.post("/auth/v1/admin/users", json={"email": unique_email()}).status_code == 403
            assert http.delete(f"/auth/v1/admin/users/{uuid.uuid4()}").status_code == 403
            assert (
                http.post(
                    "/auth/v1/admin/generate_link", json={"type": "magiclink", "email": address}
                ).status_code
                == 403
            )


def test_bad_input_gets_clear_errors(api: Api) -> None:
    with api.http() as http:
        assert (
            http.post("/auth/v1/token", params={"grant_type": "password"}, content=b"{not json").status_code
            == 400
        )
        response = http.post("/auth/v1/token", params={"grant_type": "magic"}, json={})
        assert response.status_code == 400
        assert "unsupported grant_type" in response.json()["msg"]
        response = http.post("/auth/v1/signup", json={"email": "not-an-email", "password": "long-enough-pw"})
        assert response.status_code == 400
        assert response.json()["error_code"] == "email_address_invalid"
        response = http.post("/auth/v1/verify", json={"type": "nonsense", "token": "1"})
        assert response.status_code == 400
    with api.http(api.service_key) as http:
        assert http.get("/auth/v1/admin/users/not-a-uuid").status_code == 400
        response = http.put(f"/auth/v1/admin/users/{uuid.uuid4()}", json={"ban_duration": "forever"})
        assert response.status_code in (400, 404)
