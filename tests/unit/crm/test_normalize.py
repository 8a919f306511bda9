"""Contact data normalisation: emails, phones (E.164, the fast path agreeing with libphonenumber), dates.
Names are the database's (tests/integration/contacts/test_text_rules.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gardenos.crm.normalize import (
    InvalidDate,
    InvalidEmail,
    InvalidPhone,
    InvalidValue,
    _fast_phone,
    normalize_email,
    normalize_phone,
    parse_date,
    parse_datetime,
    phone_match_keys,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("John.Doe@EXAMPLE.COM", "John.Doe@example.com"),
        ("  anna@example.de ", "anna@example.de"),
        ("<x@y.org>", "x@y.org"),
        ("mailto:x@Example.org", "x@example.org"),
        ("zoë@bücher.de", "zoë@bücher.de"),  # RFC 6531
        ("a<b@example.com", None),
        ("x@Bücher.DE", "x@bücher.de"),
    ],
)
def test_emails(raw: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InvalidEmail):
            normalize_email(raw)
    else:
        assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("plainaddress", "has no @"),
        ("a@@b.com", "more than one @"),
        ("@b.com", "nothing before the @"),
        ("a b@c.com", "contains spaces"),
        ("a@localhost", "has no dot"),
        ("a..b@c.com", "characters an address cannot have"),
        ("a@-b.com", "not a valid domain"),
    ],
)
def test_bad_emails_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidEmail, match=reason):
        normalize_email(raw)
    assert issubclass(InvalidEmail, ValueError)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(212) 555-0123", "US", "+12125550123"),
        ("+1 212 555 0123", "DE", "+12125550123"),
        ("030 1234567", "DE", "+49301234567"),
        ("+49 (0)30 1234567", "US", "+49301234567"),
        ("0049 30 1234567", "US", None),  # 0049 is not an international prefix in the US
        ("0049 30 1234567", "DE", "+49301234567"),
        ("06 1234 5678", "IT", "+390612345678"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+1 212 555 0123 ext. 12", "US", "+12125550123"),
    ],
)
def test_phones_to_e164(raw: str, region: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InvalidPhone):
            normalize_phone(raw, region)
    else:
        assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["12", "call me", "+1 555", "+999 123456", "1234567890123456789"])
def test_bad_phones_say_why(raw: str) -> None:
    with pytest.raises(InvalidPhone, match="phone number"):
        normalize_phone(raw, "US")


def _library(raw: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_the_fast_path_agrees_with_libphonenumber() -> None:
    rng = random.Random(7)
    checked = 0
    for region in ("US", "GB", "DE", "FR", "ES", "IT", "NL", "CH", "AU", "IN", "BR", "JP"):
        for _ in range(1500):
            digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 14)))
            for raw in (digits, "0" + digits, "+" + digits, "00" + digits, "+1" + digits, "+49" + digits):
                fast = _fast_phone(raw, region)
                if fast is not None:
                    checked += 1
                    assert fast == _library(raw, region), (raw, region)
    assert checked > 10_000


@given(st.text(max_size=30), st.sampled_from(["US", "DE", "GB", "IT"]))
def test_phones_raise_only_invalid_value(raw: str, region: str) -> None:
    try:
        result = normalize_phone(raw, region)
    except InvalidValue:
        return
    assert result.startswith("+")
    assert result[1:].isdigit()


def test_match_keys_cover_national_forms() -> None:
    assert phone_match_keys("+12125550123") == ("+12125550123", "2125550123", "12125550123")
    assert phone_match_keys("+493012345678") == ("+493012345678", "3012345678", "03012345678")


@pytest.mark.parametrize(
    ("raw", "day_first", "expected"),
    [
        ("2024-03-12", True, "2024-03-12"),
        ("12.03.2024", True, "2024-03-12"),
        ("12/03/2024", True, "2024-03-12"),
        ("03/12/2024", False, "2024-03-12"),
        ("13/03/2024", False, "2024-03-13"),
        ("12 Mar 2024", True, "2024-03-12"),
        ("March 12, 2024", True, "2024-03-12"),
        ("2024-03-12 10:30", True, "2024-03-12"),
    ],
)
def test_dates(raw: str, day_first: bool, expected: str) -> None:
    assert parse_date(raw, day_first=day_first).isoformat() == expected


def test_datetimes_are_aware() -> None:
    assert parse_datetime("2024-03-12T10:00:00") == datetime(2024, 3, 12, 10, tzinfo=UTC)
    assert parse_datetime("2024-03-12T10:00:00+02:00").utcoffset() is not None


@pytest.mark.parametrize("raw", ["", "yesterday", "31.02.2024", "1066-10-14"])
def test_bad_dates_say_why(raw: str) -> None:
    with pytest.raises(InvalidDate):
        parse_date(raw)
