"""Signed URLs' tokens: genuine, unexpired, and for one object and one operation only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest

from gardenos.storage.errors import InvalidSignature
from gardenos.storage.signing import Grant, Signer

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def _grant(**changes: object) -> Grant:
    base = {
        "agency_id": "0193a1b2-0000-7000-8000-000000000001",
        "bucket_id": "docs",
        "key": "folder/a.txt",
        "operation": "read",
        "expires_at": int(time.time()) + 60,
    }
    return Grant(**{**base, **changes})  # type: ignore[arg-type]


def test_a_token_gives_back_its_grant() -> None:
    signer = Signer(SECRET)
    grant = _grant(operation="upload", owner="u", upsert=True)
    assert signer.verify(signer.sign(grant), "docs", "folder/a.txt", "upload") == grant


@pytest.mark.parametrize(
    ("bucket", "key", "operation"),
    [("docs", "folder/b.txt", "read"), ("other", "folder/a.txt", "read"), ("docs", "folder/a.txt", "upload")],
)
def test_a_token_serves_only_its_object_and_operation(bucket: str, key: str, operation: str) -> None:
    signer = Signer(SECRET)
    with pytest.raises(InvalidSignature, match="another object or operation"):
        signer.verify(signer.sign(_grant()), bucket, key, operation)  # type: ignore[arg-type]


def test_expired_tampered_foreign_and_garbage_tokens_are_refused() -> None:
    signer = Signer(SECRET)
    with pytest.raises(InvalidSignature, match="expired"):
        signer.verify(signer.sign(_grant(expires_at=int(time.time()) - 1)), "docs", "folder/a.txt", "read")
    token = signer.sign(_grant())
    payload, _, mac = token.partition(".")
    forged = Signer("another-secret-another-secret-another-secret").sign(_grant())
    for bad in (f"{payload}.{mac[::-1]}", forged, "garbage", "", f"{payload}.", "!!!.???"):
        with pytest.raises(InvalidSignature, match="invalid"):
            signer.verify(bad, "docs", "folder/a.txt", "read")


def test_a_token_is_not_a_jwt_of_the_same_secret() -> None:
    token = Signer(SECRET).sign(_grant())
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(token, SECRET, algorithms=["HS256"])


def test_a_render_token_carries_its_transformation_and_serves_nothing_else() -> None:
    signer = Signer(SECRET)
    grant = _grant(operation="render", transform="width:100,height:0,resize:cover,quality:80,format:")
    token = signer.sign(grant)
    assert signer.verify(token, "docs", "folder/a.txt", "render").transform == grant.transform
    with pytest.raises(InvalidSignature, match="another object or operation"):
        signer.verify(token, "docs", "folder/a.txt", "read")  # not the original, full size
    with pytest.raises(InvalidSignature, match="another object or operation"):
        signer.verify(signer.sign(_grant()), "docs", "folder/a.txt", "render")


def test_a_token_signed_before_transformations_still_verifies() -> None:
    """Tokens live up to a week: those made before the payload had its eighth field carry no transform."""
    signer = Signer(SECRET)
    grant = _grant()
    payload = json.dumps(
        [grant.agency_id, grant.bucket_id, grant.key, grant.operation, grant.expires_at, None, False],
        separators=(",", ":"),
    ).encode()
    # The token format written out here, as a client holding an old URL has it.
    key = hmac.new(SECRET.encode(), b"gardenos storage signed url v1", hashlib.sha256).digest()
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    token = ".".join(base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in (payload, mac))
    assert signer.verify(token, "docs", "folder/a.txt", "read") == grant
