"""The request checks' edges: JSON depth with brackets inside strings, escaped backslashes before
`u0000`, surrogate pairs against lone surrogates."""

from __future__ import annotations

import pytest

from gardenos.api.bounds import MAX_JSON_DEPTH, _check_body, _depth_exceeds
from gardenos.errors import BadRequest


@pytest.mark.parametrize(
    ("body", "too_deep"),
    [
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, False),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), True),
        (b'["' + b"[" * 500 + b'"]', False),  # brackets in a string are text
        (b'["\\"' + b"[" * 500 + b'"]', False),  # past an escaped quote, still inside the string
        (b'{"a": "\\\\"}' + b"[" * 100, True),  # an escaped backslash ends the string before the brackets
        (b"[]" * 10_000, False),  # wide is fine
    ],
)
def test_depth(body: bytes, too_deep: bool) -> None:
    assert _depth_exceeds(body, MAX_JSON_DEPTH) is too_deep


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "x\\u0000"}',
        b'{"a": "\\\\\\u0000"}',  # an escaped backslash, then a NUL escape
        b'{"a\\u0000": 1}',
        b'{"a": "\\ud800"}',  # a lone high surrogate
        b'{"a": "\\udc00\\ud800"}',  # a pair in the wrong order
        b'{"a": "\xc3"}',  # a truncated UTF-8 sequence
        b'{"a": "\x00"}',
    ],
)
def test_text_postgresql_cannot_hold_is_refused(body: bytes) -> None:
    with pytest.raises(BadRequest):
        _check_body("json", body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "\\\\u0000"}',  # the text \u0000, not a NUL
        b'{"a": "\\ud83c\\udf3b"}',  # a surrogate pair: one character
        '{"a": "caf\u00e9 \U0001f33b"}'.encode(),
        b"not json at all [",  # the route says what is wrong with it
    ],
)
def test_text_it_can_hold_passes(body: bytes) -> None:
    _check_body("json", body)
