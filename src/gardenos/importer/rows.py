"""One CSV record in, one staged lead out (a line of COPY text), or the reason a person can act on why not.

This is the per-row hot path of an import: a million rows go through it, so it works on plain strings and
tuples, and builds the COPY text itself."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from gardenos.crm.common import MAX_TAGS
from gardenos.crm.contacts.fields import PERSON
from gardenos.crm.leads.schemas import LEAD_STATUSES as STATUSES
from gardenos.crm.normalize import (
    InvalidValue,
    normalize_email,
    normalize_phone,
    parse_datetime,
    phone_match_keys,
)
from gardenos.importer.mapping import CUSTOM_PREFIX, IGNORE, ColumnMap

# The lead columns an import sets (crm/contacts/fields.py's person, then what a file may add), and the stage
# table's columns in the order `_row` writes them: the line, those columns, the keys rows are matched by.
# sql.py creates the stage table and inserts the leads from the same lists.
IMPORTED = (*PERSON, "phone_raw", "source", "status", "notes", "tags", "custom_fields", "created_at")
STAGE = ("line", *IMPORTED, "email_key", "phone_keys")
STAGE_COLUMNS = ", ".join(STAGE)
# Any lead status but converted: a lead becomes a client through its conversion, not a file.
LEAD_STATUSES = frozenset(STATUSES) - {"converted"}
# The API's limits for the same fields (crm/common.py), so an imported lead could be saved there too.
LIMITS = {"website": 2048, "notes": 20000, "tags": 64}
SHORT = 200
NO_IDENTITY = "the row has no name, email, phone or company: nothing to identify the lead by"
# Empty values are never stored (blank cells become NULL), so COPY reads '' as NULL; a row is joined with
# NUL (refused in values) and escaped for COPY in one pass, then NUL becomes the tab COPY splits on.
NULL = ""
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")
# One encoder for every row: json.dumps with options builds a new one per call.
_JSON = json.JSONEncoder(ensure_ascii=False)
_TAG_SPLIT = re.compile(r"[,;|]")
_SURROGATES = re.compile("[\udc80-\udcff]")
_SURNAME_PARTICLES = frozenset(("van", "von", "de", "der", "den", "da", "di", "del", "la", "le"))


class RowError(Exception):
    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


@dataclass(frozen=True)
class RowWarning:
    """A row imported with something set aside: the report says what, and where."""

    line: int
    column: str | None
    reason: str
    value: str


@dataclass(frozen=True)
class Options:
    default_region: str
    day_first: bool
    encoding: str = "UTF-8"
    source: str = "import"


def _array(values: list[str]) -> str:
    """A text[] literal, quoted element by element."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


class RowBuilder:
    """Turns records into staged rows for one column map: `build` returns a COPY line or raises RowError."""

    def __init__(self, columns: ColumnMap, options: Options) -> None:
        self.columns = columns
        self.options = options
        self.width = len(columns.targets)
        # (column index, target, custom field name or None), for the mapped columns only.
        self.plan: list[tuple[int, str, str | None]] = [
            (i, t, t[len(CUSTOM_PREFIX) :] if t.startswith(CUSTOM_PREFIX) else None)
            for i, t in enumerate(columns.targets)
            if t != IGNORE
        ]
        self.names = columns.names
        # Filled by `build`, drained by the caller: rows that were imported with a value set aside.
        self.warnings: list[RowWarning] = []

    def build(self, line: int, cells: list[str]) -> str | None:
        """The stage line for this record; None for a blank record (skipped, not counted)."""
        if len(cells) > self.width and any(c.strip() for c in cells[self.width :]):
            raise RowError(
                None,
                f"the row has {len(cells)} fields but the header has {self.width}: "
                "a value with the delimiter in it that is not in quotes?",
            )
        whole = "".join(cells)
        if "\x00" in whole or _SURROGATES.search(whole):
            self._refuse_cell(cells)  # which cell, and why: raises
        values: dict[str, str] = {}
        custom: dict[str, str] = {}
        size = len(cells)
        for index, target, field in self.plan:
            if index >= size:
                continue
            raw = cells[index].strip()
            if not raw:
                continue
            if field is not None:
                custom[field] = raw
            elif target not in values:
                values[target] = raw
        if not values and not custom:
            return None
        return self._row(line, values, custom)

    def _refuse_cell(self, cells: list[str]) -> None:
        for index, _target, _field in self.plan:
            raw = cells[index] if index < len(cells) else ""
            if "\x00" in raw:
                raise RowError(self.names[index], "the value contains NUL characters")
            if _SURROGATES.search(raw):
                raise RowError(
                    self.names[index],
                    f"the value has bytes that are not valid {self.options.encoding}: "
                    "re-save the file as UTF-8 (or fix that character)",
                )

    def _column(self, target: str) -> str | None:
        targets = self.columns.targets
        for name in (target, "name"):
            if name in targets:
                return self.names[targets.index(name)]
        return None

    def _short(self, target: str, value: str, limit: int = SHORT) -> str:
        if len(value) > limit:
            raise RowError(self._column(target), f"longer than {limit} characters ({len(value)})")
        return value

    def _row(self, line: int, values: dict[str, str], custom: dict[str, str]) -> str:
        get = values.get
        first, last = get("first_name"), get("last_name")
        if (first is None and last is None) and (full := get("name")):
            first, last = _split_name(full)
        # Tidied here as the company is, for matching names inside the file; de-shouted by the database
        # (gardenos.person_name), as every door's names are.
        first = " ".join(self._short("first_name", first).split()) if first else None
        last = " ".join(self._short("last_name", last).split()) if last else None
        email = email_key = phone = phone_raw = None
        phone_keys = NULL
        if raw := get("email"):
            email = self._checked("email", normalize_email, raw)
            email_key = email.lower()
        if raw := get("phone"):
            try:
                phone = normalize_phone(raw, self.options.default_region)
                phone_keys = _array(list(phone_match_keys(phone)))
            except InvalidValue as exc:
                # With another way to reach the person, the record is worth more than the phone: kept
                # as written, for a person to read; without one, the row has nothing else to go by.
                if not (email or first or last):
                    raise RowError(self._column("phone"), str(exc)) from None
                phone_raw = self._short("phone", raw)
                self.warnings.append(
                    RowWarning(line, self._column("phone"), f"{exc}; kept as written in phone_raw", raw)
                )
        company = get("company")
        if company is not None:
            company = " ".join(self._short("company", company).split())
        if not (first or last or email or phone or phone_raw or company):
            raise RowError(None, NO_IDENTITY)
        status = get("status")
        if status is not None:
            status = status.lower()
            if status not in LEAD_STATUSES:
                raise RowError(
                    self._column("status"),
                    f"{status!r} is not a lead status: use one of {', '.join(sorted(LEAD_STATUSES))}",
                )
        created = NULL
        if raw := get("created_at"):
            moment = self._checked("created_at", self._moment, raw)
            created = moment
        tags = NULL
        if raw := get("tags"):
            tags = _array(self._tags(raw)) or NULL
        fields = NULL
        if custom:
            fields = _JSON.encode(custom)
        cells = (  # in STAGE's order
            str(line),
            first or NULL,
            last or NULL,
            email or NULL,
            phone or NULL,
            company or NULL,
            self._opt("job_title", values),
            self._opt("website", values, LIMITS["website"]),
            self._opt("city", values),
            self._opt("country", values),
            phone_raw or NULL,
            self._opt("source", values) if "source" in values else self.options.source,
            status or NULL,
            self._opt("notes", values, LIMITS["notes"], collapse=False),
            tags,
            fields,
            created,
            email_key or NULL,
            phone_keys,
        )
        text = "\x00".join(cells)
        if _NEEDS_ESCAPE.search(text):  # rare: a translate is ~10 µs on a row
            text = text.translate(_COPY_ESCAPES)
        return text.replace("\x00", "\t") + "\n"

    def _opt(self, target: str, values: dict[str, str], limit: int = SHORT, *, collapse: bool = True) -> str:
        value = values.get(target)
        if value is None:
            return NULL
        value = self._short(target, value, limit)
        return " ".join(value.split()) if collapse else value

    def _checked(self, target: str, normalize: Callable[[str], str], raw: str) -> str:
        try:
            return normalize(raw)
        except InvalidValue as exc:
            raise RowError(self._column(target), str(exc)) from None

    def _moment(self, raw: str) -> str:
        return parse_datetime(raw, day_first=self.options.day_first).isoformat()

    def _tags(self, raw: str) -> list[str]:
        tags = list(dict.fromkeys(t.strip() for t in _TAG_SPLIT.split(raw) if t.strip()))
        if len(tags) > MAX_TAGS:
            raise RowError(self._column("tags"), f"more than {MAX_TAGS} tags")
        for tag in tags:
            if len(tag) > LIMITS["tags"]:
                raise RowError(self._column("tags"), f"the tag {tag[:20]!r}… is longer than 64 characters")
        return tags


def _split_name(full: str) -> tuple[str | None, str | None]:
    """'Smith, John' -> (John, Smith); 'John van der Berg' -> (John, van der Berg); 'Cher' -> (Cher, None)."""
    if "," in full:
        last, _, first = full.partition(",")
        return first.strip() or None, last.strip() or None
    words = full.split()
    if len(words) == 1:
        return words[0], None
    cut = len(words) - 1
    while cut > 1 and words[cut - 1].lower() in _SURNAME_PARTICLES:
        cut -= 1
    return " ".join(words[:cut]), " ".join(words[cut:])
