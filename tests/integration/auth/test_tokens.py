"""Forged and misused tokens are refused with 401; refresh tokens rotate, and reuse revokes the family."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from supabase_auth.errors import AuthApiError

from gardenos.secrets import load_or_create
from tests.live import Api
from tests.support import SessionDatabase


@pytest.fixture
def secret(database: SessionDatabase) -> str:
    return load_or_create(database.settings).jwt_secret


@pytest.fixture
def signed_in(api: Api) -> dict[str, Any]:
    address, password = api.confirmed_user()
    with api.http() as http:
        response = http.post(
            "/auth/v1/token", params={"grant_type": "password"}, json={"email": address, "password": password}
        )
    assert response.status_code == 200, response.text
    session: dict[str, Any] = response.json()
    return session


def _claims(session: dict[str, Any]) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(session["access_token"], options={"verify_signature": False})
    return claims


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


FORGERIES: dict[str, Callable[[dict[str, Any], str], str]] = {
    "alg none": lambda c, s: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(c)}.",
    "wrong secret": lambda c, s: jwt.encode(
        c, "not-the-project-secret-but-long-enough-1234", algorithm="HS256"
    ),
    "expired": lambda c, s: jwt.encode({**c, "exp": int(time.time()) - 3600}, s, algorithm="HS256"),
    "not yet valid": lambda c, s: jwt.encode({**c, "nbf": int(time.time()) + 3600}, s, algorithm="HS256"),
    "wrong audience": lambda c, s: jwt.encode({**c, "aud": "someone-else"}, s, algorithm="HS256"),
    "unknown role": lambda c, s: jwt.encode({**c, "role": "postgres"}, s, algorithm="HS256"),
    "no expiry": lambda c, s: jwt.encode({k: v for k, v in c.items() if k != "exp"}, s, algorithm="HS256"),
    "HS512 with the secret": lambda c, s: jwt.encode(c, s, algorithm="HS512"),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_tokens_are_refused(api: Api, signed_in: dict[str, Any], secret: str, forgery: str) -> None:
    token = FORGERIES[forgery](_claims(signed_in), secret)
    with api.http(token) as http:
        response = http.get("/auth/v1/user")
    assert response.status_code == 401, (forgery, response.text)
    assert response.json()["error_code"] == "bad_jwt"


def test_a_tampered_payload_is_refused(api: Api, signed_in: dict[str, Any]) -> None:
    header, _payload, signature = signed_in["access_token"].split(".")
    claims = _claims(signed_in)
    claims["app_metadata"] = {"agency_id": "0190c6b0-0000-7000-8000-000000000000", "agency_role": "owner"}
    with api.http(f"{header}.{_b64(claims)}.{signature}") as http:
        assert http.get("/auth/v1/user").status_code == 401


def test_a_refresh_token_is_not_an_access_token(api: Api, signed_in: dict[str, Any]) -> None:
    with api.http(signed_in["refresh_token"]) as http:
        response = http.get("/auth/v1/user")
    assert response.status_code == 401


def test_a_missing_api_key_and_a_user_token_as_api_key_are_refused(
    api: Api, signed_in: dict[str, Any]
) -> None:
    response = httpx.get(f"{api.url}/auth/v1/user")
    assert response.status_code == 401
    assert "No API key" in response.json()["msg"]
    response = httpx.get(f"{api.url}/auth/v1/user", headers={"apikey": signed_in["access_token"]})
    assert response.status_code == 401


def test_the_genuine_token_works(api: Api, signed_in: dict[str, Any]) -> None:
    with api.http(signed_in["access_token"]) as http:
        response = http.get("/auth/v1/user")
    assert response.status_code == 200
    claims = _claims(signed_in)
    assert claims["aud"] == "authenticated"
    assert claims["role"] == "authenticated"
    assert set(claims) >= {
        "sub",
        "aud",
        "exp",
        "iat",
        "iss",
        "email",
        "phone",
        "role",
        "aal",
        "amr",
        "session_id",
        "is_anonymous",
        "app_metadata",
        "user_metadata",
    }


def _refresh(api: Api, token: str) -> httpx.Response:
    with api.http() as http:
        return http.post(
            "/auth/v1/token", params={"grant_type": "refresh_token"}, json={"refresh_token": token}
        )


def test_refresh_rotates_and_tolerates_a_retry_of_the_parent(api: Api, signed_in: dict[str, Any]) -> None:
    first = signed_in["refresh_token"]
    second = _refresh(api, first).json()["refresh_token"]
    assert second != first
    # A client that lost the answer retries with the same token: it gets the same child back.
    assert _refresh(api, first).json()["refresh_token"] == second
    third = _refresh(api, second).json()["refresh_token"]
    assert third not in (first, second)


def test_reuse_of_a_rotated_token_revokes_the_whole_family(api: Api, signed_in: dict[str, Any]) -> None:
    first = signed_in["refresh_token"]
    second = _refresh(api, first).json()["refresh_token"]
    third = _refresh(api, second).json()["refresh_token"]
    reused = _refresh(api, first)
    assert reused.status_code == 400
    assert reused.json()["error_code"] == "refresh_token_already_used"
    # The legitimate holder's newest token is dead too: the session is gone.
    assert _refresh(api, third).status_code == 400
    with api.http(signed_in["access_token"]) as http:
        assert http.get("/auth/v1/user").json()["error_code"] == "session_not_found"


def test_sign_out_scopes(api: Api) -> None:
    address, password = api.confirmed_user()
    sessions = []
    with api.http() as http:
        for _ in range(3):
            response = http.post(
                "/auth/v1/token",
                params={"grant_type": "password"},
                json={"email": address, "password": password},
            )
            sessions.append(response.json())
    with api.http(sessions[0]["access_token"]) as http:
        assert http.post("/auth/v1/logout", params={"scope": "local"}).status_code == 204
    assert _refresh(api, sessions[0]["refresh_token"]).status_code == 400
    assert _refresh(api, sessions[1]["refresh_token"]).status_code == 200
    with api.http(sessions[2]["access_token"]) as http:
        assert http.post("/auth/v1/logout", params={"scope": "others"}).status_code == 204
    assert _refresh(api, sessions[2]["refresh_token"]).status_code == 200
    with api.http(sessions[2]["access_token"]) as http:
        assert http.post("/auth/v1/logout").status_code == 204
    assert _refresh(api, sessions[2]["refresh_token"]).json()["error_code"] == "refresh_token_not_found"


def test_supabase_client_sign_out_invalidates_refresh(api: Api) -> None:
    address, password = api.confirmed_user()
    client = api.client()
    session = client.auth.sign_in_with_password({"email": address, "password": password}).session
    assert session is not None
    client.auth.sign_out()
    with pytest.raises(AuthApiError):
        api.client().auth.refresh_session(session.refresh_token)


@pytest.mark.parametrize(
    ("grant", "body", "field"),
    [
        ("password", {"email": "someone@example.com"}, "password"),
        ("password", {"email": "someone@example.com", "password": ["not", "text"]}, "password"),
        ("refresh_token", {}, "refresh_token"),
        ("refresh_token", {"refresh_token": 12}, "refresh_token"),
    ],
)
def test_a_grant_missing_or_mistyping_a_field_is_a_400_naming_it(
    api: Api, grant: str, body: dict[str, Any], field: str
) -> None:
    with api.http() as http:
        response = http.post("/auth/v1/token", params={"grant_type": grant}, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "validation_failed"
    assert field in response.json()["msg"]
