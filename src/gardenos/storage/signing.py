"""Signed URLs: an HMAC'd, expiring capability for one operation on one object of one agency.

The token is `<payload>.<mac>`, both base64url; the payload names the agency, bucket, key, operation
(`read`, `render` or `upload`), expiry, for uploads who signed (the object's owner) and whether it may
overwrite, and for `render` the transformation (its options' one spelling): a signed thumbnail is
neither the original nor another size. The key is derived from the project's JWT secret for this use
alone, so a signed URL's token is never a valid JWT and no JWT is a valid signed URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Literal

from gardenos.storage.errors import InvalidSignature

Operation = Literal["read", "render", "upload"]


@dataclass(frozen=True)
class Grant:
    agency_id: str
    bucket_id: str
    key: str
    operation: Operation
    expires_at: int
    owner: str | None = None
    upsert: bool = False
    transform: str | None = None


class Signer:
    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"gardenos storage signed url v1", hashlib.sha256).digest()

    def sign(self, grant: Grant) -> str:
        payload = json.dumps(
            [
                grant.agency_id,
                grant.bucket_id,
                grant.key,
                grant.operation,
                grant.expires_at,
                grant.owner,
                grant.upsert,
                grant.transform,
            ],
            separators=(",", ":"),
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, token: str, bucket_id: str, key: str, operation: Operation) -> Grant:
        """The grant `token` carries, if it is genuine, unexpired and for this object and operation."""
        encoded, _, mac = token.partition(".")
        try:
            payload = _unb64(encoded)
            genuine = hmac.compare_digest(_unb64(mac), self._mac(payload))
        except ValueError:
            genuine = False
        if not genuine:
            raise InvalidSignature("The signature is invalid: ask for a new signed URL")
        # Tokens signed before transformations existed have no eighth field: they carry none.
        agency_id, bucket, signed_key, signed_op, expires_at, owner, upsert, *rest = json.loads(payload)
        transform = rest[0] if rest else None
        grant = Grant(agency_id, bucket, signed_key, signed_op, expires_at, owner, upsert, transform)
        if (grant.bucket_id, grant.key, grant.operation) != (bucket_id, key, operation):
            raise InvalidSignature("The signature is for another object or operation")
        if grant.expires_at < time.time():
            raise InvalidSignature("The signed URL has expired: ask for a new one", status_code=400)
        return grant

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc
