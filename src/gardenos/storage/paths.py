"""Bucket ids and object keys as the API accepts them: one spelling per object.

A key is refused (400) rather than normalised: `a/../b`, `a//b`, `/a`, `a/./b`, NUL and control
characters, backslashes, text that is not NFC, and characters that NFKC turns into dots or slashes
(fullwidth `．．`, `／`). Were any of them accepted and cleaned up, two spellings would name one object, and
a check made on one spelling could be passed by the other. The disk backend never builds a file name from
a key anyway (backend.py); these rules keep the metadata unambiguous.
"""

from __future__ import annotations

import re
import unicodedata

from gardenos.storage.errors import InvalidKey

MAX_KEY_CHARS = 1024
BUCKET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def bucket_id(value: str) -> str:
    if not BUCKET_ID.match(value) or ".." in value:
        raise InvalidKey(
            f"Bucket name invalid: {value!r}; use 1-63 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return value


def object_key(value: str) -> str:
    """The key itself, if it is one: else InvalidKey with what to change."""
    if not value:
        raise InvalidKey("Invalid key: the object path is empty")
    if len(value) > MAX_KEY_CHARS:
        raise InvalidKey(f"Invalid key: the object path is over {MAX_KEY_CHARS} characters")
    if _CONTROL.search(value):
        raise InvalidKey("Invalid key: the object path contains a control character (NUL, newline, …)")
    if "\\" in value:
        raise InvalidKey("Invalid key: use '/' between folders, not '\\'")
    if unicodedata.normalize("NFC", value) != value:
        raise InvalidKey("Invalid key: the object path is not in Unicode NFC form; normalise it to NFC first")
    _segments(value)
    compat = unicodedata.normalize("NFKC", value)
    if compat.count("/") != value.count("/") or compat.count(".") != value.count("."):
        raise InvalidKey(
            "Invalid key: the object path has characters that look like '/' or '.'; use plain ones"
        )
    return value


def prefix(value: str) -> str:
    """A folder to list: '' (the bucket's top) or a key of folders, returned ending with '/'."""
    if not value:
        return ""
    return object_key(value.removesuffix("/")) + "/"


def _segments(value: str) -> None:
    if value.startswith("/"):
        raise InvalidKey("Invalid key: the object path must be relative (no leading '/')")
    for segment in value.split("/"):
        if segment == "":
            raise InvalidKey("Invalid key: the object path has an empty folder ('//' or a trailing '/')")
        if segment in (".", ".."):
            raise InvalidKey("Invalid key: the object path has a '.' or '..' segment")


# The first segments after /storage/v1/object/ that are routes, not buckets (Supabase reserves them too).
ROUTE_WORDS = frozenset({"list", "move", "copy", "sign", "info", "public", "authenticated", "upload"})
OBJECT_ROUTES = "/storage/v1/object/"


# The CRM's uploads of attachments (crm/attachments), stored by this package as any other object.
ATTACHMENT_ROUTE = re.compile(r"^/api/v1/(leads|clients|activities)/[^/]+/attachments/?$")


def is_upload(method: str, path: str) -> bool:
    """Whether a request's body is an object's bytes (any type, any size up to the storage limit) rather
    than a JSON request: api/bounds.py neither reads nor decodes those, it only counts them."""
    if method == "POST" and ATTACHMENT_ROUTE.match(path):
        return True
    if method not in ("POST", "PUT") or not path.startswith(OBJECT_ROUTES):
        return False
    rest = path[len(OBJECT_ROUTES) :]
    first = rest.partition("/")[0]
    if first == "upload":
        return method == "PUT" and rest.startswith("upload/sign/")
    return first not in ROUTE_WORDS and "/" in rest


RESUMABLE_ROUTES = "/storage/v1/upload/resumable"


def is_resumable_chunk(method: str, path: str) -> bool:
    """Whether a request's body is a chunk of a resumable upload (TUS PATCH, or a creation POST that
    carries the first chunk): bounded by GARDENOS_STORAGE_RESUMABLE_MAX_CHUNK_BYTES, never decoded."""
    return method in ("POST", "PATCH") and path.startswith(RESUMABLE_ROUTES)
