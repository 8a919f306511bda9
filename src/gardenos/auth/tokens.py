"""JWTs: access tokens with Supabase's claim layout, the anon and service_role API keys, and JWKS.

HS256 with the project secret by default, as Supabase; ES256 or RS256 with a private key (generated
into `<data_dir>/jwt-signing-key.pem` on first use unless given in settings), whose public half is
served at `/auth/v1/.well-known/jwks.json`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from gardenos.errors import GardenError
from gardenos.settings import Settings

API_ROLES = frozenset({"anon", "authenticated", "service_role"})
USER_AUDIENCE = "authenticated"
# API keys are long-lived, as Supabase's: ten years.
API_KEY_LIFETIME_S = 10 * 365 * 86400
# Clock skew tolerated between GardenOS processes on different hosts.
LEEWAY_S = 5
VERIFIED_CACHE_SIZE = 10_000


class InvalidToken(GardenError):
    status_code = 401
    code = "PGRST301"
    error_code = "bad_jwt"


@dataclass(frozen=True)
class VerifiedClaims:
    """Claims of a token whose signature, expiry, not-before, audience and role were checked."""

    raw: dict[str, Any]

    @property
    def role(self) -> str:
        return str(self.raw["role"])

    @property
    def user_id(self) -> uuid.UUID | None:
        return _uuid_or_none(self.raw.get("sub"))

    @property
    def session_id(self) -> uuid.UUID | None:
        return _uuid_or_none(self.raw.get("session_id"))

    @property
    def agency_id(self) -> uuid.UUID | None:
        meta = self.raw.get("app_metadata")
        return _uuid_or_none(meta.get("agency_id")) if isinstance(meta, dict) else None


def with_agency(
    app_metadata: Mapping[str, Any], agency_id: uuid.UUID | str | None, agency_role: str | None
) -> dict[str, Any]:
    """`app_metadata` carrying this agency and role (none: no agency): where a token says which agency it
    acts in, read by `auth.agency_id()`, the revocation check and `Principal.agency_id`."""
    meta = {k: v for k, v in app_metadata.items() if k not in ("agency_id", "agency_role")}
    if agency_id is not None:
        meta["agency_id"], meta["agency_role"] = str(agency_id), agency_role
    return meta


def user_claims(
    user_id: uuid.UUID | str | None,
    app_metadata: Mapping[str, Any],
    *,
    role: str = "authenticated",
    **more: Any,
) -> dict[str, Any]:
    """The claims of a user's access token (`TokenService.access_token` adds iss, aud, iat, exp), and of
    work done for a user or an agency without a token (agents, the CLI importer), for
    `request.jwt.claims`: one shape, so the database reads them all alike."""
    claims: dict[str, Any] = {"role": role, "aud": USER_AUDIENCE, "app_metadata": dict(app_metadata), **more}
    if user_id is not None:
        claims["sub"] = str(user_id)
    return claims


def agency_claims(
    agency_id: uuid.UUID | str, agency_role: str, user_id: uuid.UUID | str | None = None
) -> dict[str, Any]:
    """Claims that act in `agency_id` as `agency_role` (as `user_id`, when there is one)."""
    return user_claims(user_id, with_agency({}, agency_id, agency_role))


class TokenService:
    def __init__(self, settings: Settings, secret: str) -> None:
        self.settings = settings
        self.algorithm = settings.jwt_algorithm
        self._secret = secret
        self._verified: dict[str, VerifiedClaims] = {}

    @cached_property
    def _private_key(self) -> Any:
        if self.algorithm == "HS256":
            return self._secret
        if self.settings.jwt_private_key is not None:
            pem = self.settings.jwt_private_key.get_secret_value().encode()
        else:
            pem = _load_or_generate_key(self.settings.data_path / "jwt-signing-key.pem", self.algorithm)
        return serialization.load_pem_private_key(pem, password=None)

    @cached_property
    def _verify_key(self) -> Any:
        if self.algorithm == "HS256":
            return self._secret
        return self._private_key.public_key()

    @cached_property
    def key_id(self) -> str | None:
        if self.algorithm == "HS256":
            return None
        return uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(self._public_jwk(), sort_keys=True)).hex[:16]

    def sign(self, claims: dict[str, Any]) -> str:
        headers = {"kid": self.key_id} if self.key_id else None
        return jwt.encode(claims, self._private_key, algorithm=self.algorithm, headers=headers)

    def access_token(self, claims: dict[str, Any]) -> tuple[str, int]:
        """Sign user claims as an access token; returns the token and its expiry (Unix time)."""
        now = int(time.time())
        expires_at = now + self.settings.jwt_expiry_s
        full = {
            "iss": self.settings.jwt_issuer,
            "aud": USER_AUDIENCE,
            "iat": now,
            "exp": expires_at,
            **claims,
        }
        return self.sign(full), expires_at

    def api_key(self, role: str) -> str:
        """The anon or service_role key: a long-lived JWT whose only grant is its role."""
        if role not in ("anon", "service_role"):
            raise ValueError(f"no API key for role {role!r}")
        now = int(time.time())
        return self.sign(
            {"iss": self.settings.jwt_issuer, "role": role, "iat": now, "exp": now + API_KEY_LIFETIME_S}
        )

    def verify(self, token: str) -> VerifiedClaims:
        """Check signature (our algorithm only: `alg: none` and algorithm swaps fail), exp, nbf, aud, role.

        A token that verified once is the same signed bytes next time: only its expiry can change the
        answer, so verified tokens are remembered (every request carries the same apikey, and a user's
        token for an hour) and re-checked for expiry alone."""
        cached = self._verified.get(token)
        if cached is not None:
            if cached.raw["exp"] + LEEWAY_S >= time.time():
                return cached
            del self._verified[token]
        claims = self._verify_uncached(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            # Dicts keep insertion order: drop the oldest entry.
            del self._verified[next(iter(self._verified))]
        self._verified[token] = claims
        return claims

    def _verify_uncached(self, token: str) -> VerifiedClaims:
        try:
            raw = jwt.decode(
                token,
                self._verify_key,
                algorithms=[self.algorithm],
                options={"require": ["exp", "role"], "verify_aud": False},
                leeway=LEEWAY_S,
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("JWT expired", hint="sign in again or refresh the session") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidToken("JWT is not valid yet (nbf or iat in the future)") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"JWT is missing the {exc.claim!r} claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("JWT signature does not match") from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"invalid JWT: {exc}") from exc
        audience = raw.get("aud")
        if audience is not None:
            audiences = audience if isinstance(audience, list) else [audience]
            if USER_AUDIENCE not in audiences:
                raise InvalidToken(f"JWT audience {audience!r} is not accepted here")
        if raw.get("role") not in API_ROLES:
            raise InvalidToken(f"JWT role {raw.get('role')!r} is not one of {sorted(API_ROLES)}")
        return VerifiedClaims(raw)

    def _public_jwk(self) -> dict[str, Any]:
        public = self._private_key.public_key()
        algorithm = ECAlgorithm if self.algorithm == "ES256" else RSAAlgorithm
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(public))
        return jwk

    def jwks(self) -> dict[str, Any]:
        if self.algorithm == "HS256":
            # A shared secret is never published.
            return {"keys": []}
        jwk = {
            **self._public_jwk(),
            "kid": self.key_id,
            "alg": self.algorithm,
            "use": "sig",
            "key_ops": ["verify"],
        }
        return {"keys": [jwk]}


def _load_or_generate_key(path: Path, algorithm: str) -> bytes:
    if path.exists():
        return path.read_bytes()
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if algorithm == "ES256"
        else rsa.generate_private_key(65537, 2048)
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return pem


def _uuid_or_none(value: object) -> uuid.UUID | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
