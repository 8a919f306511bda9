"""The one place contact data is normalised: emails, phones (E.164) and dates (person names: the database).

Used by the CSV importer and by the leads and clients API, so that a person typed in by hand and the
same person imported from a spreadsheet end up with the same keys for duplicate detection.

Each function raises an `InvalidValue` (a ValueError) whose message a person can act on.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberFormat, ValidationResult


class InvalidValue(ValueError):
    """A value that cannot be normalised; the message says why, for a person to fix it."""


class InvalidEmail(InvalidValue):
    pass


class InvalidPhone(InvalidValue):
    pass


class InvalidDate(InvalidValue):
    pass


# --- emails -------------------------------------------------------------------------------------------

# The WHATWG HTML "valid e-mail address" grammar (what browsers accept in <input type=email>), with a dot
# required in the domain (an address without one cannot be mailed from a CRM) and, as RFC 6531 allows,
# non-ASCII letters in the local part ("zoë@…").
_LOCAL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_SPACE = re.compile(r"\s")
_TLD = re.compile(r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})")


def normalize_email(raw: str) -> str:
    """`raw` trimmed (also of `mailto:` and `<…>`), with its domain lower-cased; or InvalidEmail.

    The local part keeps its case (mail servers may distinguish it); duplicate detection compares the
    lower-cased address, as the tables' `email_normalized` columns do.
    """
    text = raw.strip()
    if text[:7].lower() == "mailto:":
        text = text[7:].strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if not text:
        raise InvalidEmail("the email address is empty")
    shown = text if len(text) <= 80 else text[:77] + "..."
    if _SPACE.search(text):
        raise InvalidEmail(f"{shown!r} contains spaces: an email address has none")
    local, at, domain = text.rpartition("@")
    if not at:
        raise InvalidEmail(f"{shown!r} has no @: expected name@example.com")
    if "@" in local:
        raise InvalidEmail(f"{shown!r} has more than one @")
    if not local:
        raise InvalidEmail(f"{shown!r} has nothing before the @")
    if len(local) > 64 or len(text) > 254:
        raise InvalidEmail(f"{shown!r} is too long for an email address")
    if not _LOCAL.fullmatch(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidEmail(f"{shown!r}: the part before the @ has characters an address cannot have")
    domain = domain.lower().rstrip(".")
    try:
        ascii_domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidEmail(f"{shown!r}: {domain!r} is not a valid domain name") from exc
    labels = ascii_domain.split(".")
    if len(labels) < 2:
        raise InvalidEmail(f"{shown!r}: the domain {domain!r} has no dot (expected name@example.com)")
    if not all(_LABEL.fullmatch(label) for label in labels) or not _TLD.fullmatch(labels[-1]):
        raise InvalidEmail(f"{shown!r}: {domain!r} is not a valid domain name")
    return f"{local}@{domain}"


# --- phones -------------------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s().\-/]+")
_ASCII_DIGITS = re.compile(r"\+?[0-9]+")


class _Region(NamedTuple):
    country_code: int
    prefix: re.Pattern[str] | None  # the national (trunk) prefix as the library parses it
    has_transform: bool
    general: re.Pattern[str]  # the region's whole national numbering plan
    international: re.Pattern[str] | None


@lru_cache(maxsize=512)
def _region(region: str) -> _Region | None:
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.country_code is None or meta.general_desc is None:
        return None
    if meta.general_desc.national_number_pattern is None:
        return None
    prefix = meta.national_prefix_for_parsing or meta.national_prefix
    return _Region(
        meta.country_code,
        re.compile(prefix) if prefix else None,
        bool(meta.national_prefix_transform_rule),
        re.compile(meta.general_desc.national_number_pattern),
        re.compile(meta.international_prefix) if meta.international_prefix else None,
    )


def _main_region(country_code: int) -> str | None:
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    return regions[0] if regions else None


def _fast_phone(compact: str, default_region: str) -> str | None:
    """E.164 for the plain shapes (`+<digits>`, national digits) without the library's full parse, which
    costs ~25 µs a number; None where the library must decide. Tests check it agrees with the library."""
    if compact.startswith("+"):
        if compact[1:2] == "0":
            return None
        for size in (1, 2, 3):
            code = int(compact[1 : 1 + size]) if len(compact) > size else 0
            if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                break
        else:
            return None
        national = compact[1 + size :]
        region_code = _main_region(code)
        info = _region(region_code) if region_code else None
        if info is None or not national or national[0] == "0":
            return None
        if info.prefix is not None and info.prefix.match(national):
            return None
    else:
        info = _region(default_region)
        if info is None or (compact[0] == "0" and info.prefix is None):
            return None  # a leading zero that is part of the number (Italy) or an international prefix
        if compact.startswith(str(info.country_code)):
            return None
        if info.international is not None and info.international.match(compact):
            return None
        code, national = info.country_code, compact
        match = info.prefix.match(compact) if info.prefix is not None else None
        if match:
            if info.has_transform:
                return None
            stripped = compact[match.end() :]
            if not (info.general.fullmatch(compact) and not info.general.fullmatch(stripped)):
                national = stripped
        if not national or national[0] == "0":
            return None
    if not _possible_length(code, len(national)):
        return None
    return f"+{code}{national}"


@lru_cache(maxsize=4096)
def _possible_length(country_code: int, length: int) -> bool:
    """libphonenumber's "possible" check, which looks at nothing but the country code and the national
    number's length: asked once per (code, length) instead of once per number (~6 µs)."""
    number = PhoneNumber(country_code=country_code, national_number=int("1" + "0" * (length - 1)))
    return phonenumbers.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE


_PHONE_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: "its country code is not one that exists",
    ValidationResult.TOO_SHORT: "it is too short for a phone number of its country",
    ValidationResult.TOO_LONG: "it is too long for a phone number of its country",
    ValidationResult.INVALID_LENGTH: "it has the wrong number of digits for its country",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "it is a local number: add the area code",
}


def normalize_phone(raw: str, default_region: str = "US") -> str:
    """`raw` in E.164 (`+4930123456`), reading numbers without a country code as `default_region`'s.

    A number passes when its length fits its country's numbering plan (libphonenumber's "possible"
    check): strict validity would refuse numbers in ranges opened after the metadata was published.
    """
    text = raw.strip()
    if not text:
        raise InvalidPhone("the phone number is empty")
    shown = text if len(text) <= 40 else text[:37] + "..."
    compact = _SEPARATORS.sub("", text)
    if _ASCII_DIGITS.fullmatch(compact) and len(compact) > 1:
        fast = _fast_phone(compact, default_region)
        if fast is not None:
            return fast
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"{shown!r} is not a phone number ({_parse_reason(exc)})") from exc
    result = phonenumbers.is_possible_number_with_reason(number)
    if result != ValidationResult.IS_POSSIBLE:
        reason = _PHONE_REASONS.get(result, "it is not a possible phone number")
        raise InvalidPhone(f"{shown!r} is not a phone number: {reason}")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _parse_reason(exc: phonenumbers.NumberParseException) -> str:
    kind = exc.error_type
    if kind == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
        return "no valid country code: write it as +<country code> <number>"
    if kind == phonenumbers.NumberParseException.NOT_A_NUMBER:
        return "it does not look like a phone number"
    if kind in (
        phonenumbers.NumberParseException.TOO_SHORT_NSN,
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD,
    ):
        return "too short"
    return "too long"


def phone_match_keys(e164: str) -> tuple[str, ...]:
    """The forms under which the same number may already be stored in digits-only columns: E.164, the
    national number, and the national number with its trunk prefix ("+493012345" -> "03012345")."""
    digits = e164[1:]
    for size in (1, 2, 3):
        code = int(digits[:size] or "0")
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return (e164,)
    national = digits[size:]
    keys = [e164, national]
    if prefix := _trunk_prefix(code):
        keys.append(prefix + national)
    return tuple(dict.fromkeys(keys))


@lru_cache(maxsize=512)
def _trunk_prefix(country_code: int) -> str | None:
    region = _main_region(country_code)
    meta = PhoneMetadata.metadata_for_region(region) if region else None
    return meta.national_prefix if meta is not None else None


def valid_region(region: str) -> bool:
    return region.upper() in phonenumbers.SUPPORTED_REGIONS


# --- names --------------------------------------------------------------------------------------------

# A person's name is tidied and de-shouted ("JOHN SMITH" -> "John Smith") by the database on every write
# (gardenos.person_name, migration 0024), so that /rest/v1, which writes the tables directly, stores the
# same name as every other door: one rule, where every door passes.


# --- dates --------------------------------------------------------------------------------------------

_DAY_FIRST = ("%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%y", "%d/%m/%y")
_MONTH_FIRST = ("%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y")
_NAMED = ("%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%d-%b-%Y", "%Y/%m/%d", "%Y.%m.%d")
_TIMES = ("", " %H:%M", " %H:%M:%S")


def parse_datetime(raw: str, *, day_first: bool = True) -> datetime:
    """A moment from the common spreadsheet forms: ISO 8601, 31.12.2024, 31/12/2024 (or 12/31/2024 when
    not `day_first`; a day above 12 decides on its own), 31 Dec 2024, December 31, 2024 — with an
    optional time. Without a time zone, UTC."""
    text = " ".join(raw.replace(",", " ").split())
    if not text:
        raise InvalidDate("the date is empty")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = _strptime(text, day_first)
    if not 1900 <= value.year <= 9000:
        raise InvalidDate(f"{raw.strip()!r} is not between the years 1900 and 9000")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_date(raw: str, *, day_first: bool = True) -> date:
    return parse_datetime(raw, day_first=day_first).date()


def _strptime(text: str, day_first: bool) -> datetime:
    orders = (_DAY_FIRST, _MONTH_FIRST) if day_first else (_MONTH_FIRST, _DAY_FIRST)
    for formats in (*orders, _NAMED):
        for form in formats:
            for time_part in _TIMES:
                try:
                    return datetime.strptime(text, form + time_part)  # a time zone, if any, is set after
                except ValueError:
                    continue
    raise InvalidDate(
        f"{text!r} is not a date in a form we read: use YYYY-MM-DD (2024-12-31), 31.12.2024 or 31 Dec 2024"
    )
