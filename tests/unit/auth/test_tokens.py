"""Token signing and verification, HS256 and asymmetric, including algorithm-confusion attempts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.algorithms import ECAlgorithm

from gardenos.auth.tokens import InvalidToken, TokenService
from gardenos.settings import Settings

SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


def service(tmp_path: Path, **values: object) -> TokenService:
    settings = Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg, arg-type]
    return TokenService(settings, SECRET)


def test_api_keys_carry_only_their_role(tmp_path: Path) -> None:
    tokens = service(tmp_path)
    anon = tokens.verify(tokens.api_key("anon"))
    assert anon.role == "anon"
    assert anon.user_id is None
    assert tokens.verify(tokens.api_key("service_role")).role == "service_role"
    with pytest.raises(ValueError, match="no API key"):
        tokens.api_key("authenticated")


def test_access_token_round_trip(tmp_path: Path) -> None:
    tokens = service(tmp_path)
    token, expires_at = tokens.access_token(
        {"sub": "0190c6b0-0000-7000-8000-000000000001", "role": "authenticated"}
    )
    claims = tokens.verify(token)
    assert claims.raw["aud"] == "authenticated"
    assert claims.raw["exp"] == expires_at
    assert str(claims.user_id) == "0190c6b0-0000-7000-8000-000000000001"
    assert tokens.jwks() == {"keys": []}


def test_es256_publishes_its_public_key_and_refuses_hs256_confusion(tmp_path: Path) -> None:
    tokens = service(tmp_path, jwt_algorithm="ES256")
    token, _ = tokens.access_token({"sub": "0190c6b0-0000-7000-8000-000000000001", "role": "authenticated"})
    jwks = tokens.jwks()
    [key] = jwks["keys"]
    assert key["alg"] == "ES256"
    assert "d" not in key, "the private part must never be published"
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]
    public = ECAlgorithm.from_jwk(json.dumps(key))
    decoded = jwt.decode(token, public, algorithms=["ES256"], audience="authenticated")  # type: ignore[arg-type]
    assert decoded["role"] == "authenticated"
    # The key persists: a second service (a restart) verifies the first one's tokens.
    assert (tmp_path / "jwt-signing-key.pem").stat().st_mode & 0o777 == 0o600
    assert service(tmp_path, jwt_algorithm="ES256").verify(token).role == "authenticated"
    # Algorithm confusion: an HS256 token "signed" with the public key is refused.
    pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[union-attr]
    with pytest.raises(InvalidToken):
        tokens.verify(_hs256_with_key(pem))


def _hs256_with_key(key: bytes) -> str:
    """PyJWT refuses to HMAC-sign with a PEM key, so build the forgery by hand, as an attacker would."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps({"role": "service_role", "exp": int(time.time()) + 60}).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def test_a_remembered_token_is_checked_again_once_expired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = service(tmp_path, jwt_expiry_s=60)
    token, expires_at = tokens.access_token(
        {"sub": "0190c6b0-0000-7000-8000-000000000001", "role": "authenticated"}
    )
    full_checks = []
    real = tokens._verify_uncached

    def counting(value: str) -> Any:
        full_checks.append(value)
        return real(value)

    monkeypatch.setattr(tokens, "_verify_uncached", counting)
    tokens.verify(token)
    tokens.verify(token)
    assert len(full_checks) == 1, "the second use comes from memory"
    later = expires_at + 60
    monkeypatch.setattr("gardenos.auth.tokens.time.time", lambda: later)
    tokens.verify(token)  # PyJWT's own clock is not moved: the full check passes, but it did run
    assert len(full_checks) == 2, "past its expiry a remembered token is verified in full again"
