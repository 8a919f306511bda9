"""Which column holds what: recognised from header names in the spellings and languages exports use,
overridden by a mapping file, guessed from the values when the file has no header. Columns that match no
field are kept in `custom_fields` under a tidy name, never dropped."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from gardenos.crm.normalize import InvalidValue, normalize_email
from gardenos.errors import BadRequest

# Field -> header names, compared lower-cased without accents, spaces or punctuation.
ALIASES: dict[str, tuple[str, ...]] = {
    "first_name": (
        "first name", "firstname", "first", "given name", "forename", "fname", "vorname", "prénom", "prenom",
        "nombre", "nome", "voornaam", "contact first name",
    ),
    "last_name": (
        "last name", "lastname", "last", "surname", "family name", "lname", "nachname", "familienname",
        "nom de famille", "apellido", "apellidos", "cognome", "achternaam", "contact last name",
    ),
    "name": ("name", "full name", "fullname", "contact", "contact name", "kontakt", "nom", "nom complet",
             "nombre completo", "naam", "person"),
    "email": (
        "email", "e-mail", "email address", "e-mail address", "mail", "emailaddress", "email 1", "work email",
        "e-mail-adresse", "emailadresse", "courriel", "adresse e-mail", "correo", "correo electrónico",
        "posta elettronica", "e-mailadres",
    ),
    "phone": (
        "phone", "phone number", "telephone", "tel", "tel.", "mobile", "mobile phone", "mobile number",
        "cell", "cell phone", "cellphone", "work phone", "telefon", "telefonnummer", "handy", "mobil",
        "mobilnummer",
        "téléphone", "telephone portable", "portable", "teléfono", "móvil", "telefono", "cellulare",
        "telefoonnummer", "phone 1",
    ),
    "company": (
        "company", "company name", "organisation", "organization", "org", "account", "account name",
        "business", "employer", "firma", "unternehmen", "société", "entreprise", "empresa", "azienda",
        "bedrijf", "organisatie",
    ),
    "job_title": ("title", "job title", "jobtitle", "position", "role", "job", "berufsbezeichnung",
                  "funktion", "poste", "fonction", "cargo", "puesto", "ruolo", "functie"),
    "website": ("website", "web", "url", "homepage", "site", "web site", "webseite", "site web", "sitio web"),
    "city": ("city", "town", "stadt", "ort", "ville", "ciudad", "città", "plaats", "woonplaats"),
    "country": ("country", "land", "pays", "país", "paese"),
    "source": ("source", "lead source", "leadsource", "origin", "channel", "utm source", "quelle",
               "herkunft", "origine", "fuente", "bron"),
    "notes": ("notes", "note", "comments", "comment", "description", "remarks", "notizen", "bemerkung",
              "bemerkungen", "notiz", "remarques", "commentaire", "notas", "nota", "opmerkingen"),
    "tags": ("tags", "tag", "labels", "label", "schlagworte"),
    "status": ("status", "lead status", "stage", "lead stage"),
    "created_at": ("created", "created at", "created date", "date created", "date added", "added",
                   "creation date", "erstellt", "erstellt am", "date de création", "fecha de creación"),
}  # fmt: skip
FIELDS = frozenset(ALIASES)
CUSTOM_PREFIX = "custom_fields."
IGNORE = "ignore"


def _fold(text: str) -> str:
    """Lower case, accents removed: 'Prénom' -> 'prenom'."""
    return unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", _fold(text))


_BY_KEY = {_key(alias): name for name, aliases in ALIASES.items() for alias in aliases}


def custom_name(header: str, index: int) -> str:
    """A custom field's name from a header: 'Kunden-Nr.' -> 'kunden_nr'; '2nd Line' -> 'field_2nd_line' (a
    name the agency's definitions allow: a letter first, 63 characters at most); 'column_3' if nothing is
    left."""
    name = re.sub(r"[^a-z0-9]+", "_", _fold(header)).strip("_")
    if name[:1].isdigit():
        name = "field_" + name
    return name[:63].rstrip("_") or f"column_{index + 1}"


class MappingError(BadRequest):
    status_code = 422
    code = "GARDEN422"


@dataclass(frozen=True)
class MappingFile:
    """A mapping file's content: column -> field (or `custom_fields.<name>`, or `ignore`), and options."""

    columns: dict[str, str] | list[str] = field(default_factory=dict)
    header: bool | None = None
    default_region: str | None = None
    day_first: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "header": self.header,
            "default_region": self.default_region,
            "day_first": self.day_first,
        }


def parse_mapping(text: str) -> MappingFile:
    """A YAML (or JSON) mapping file, for example:

    ```yaml
    columns:
      "Tel. privat": phone
      "Kunden-Nr": custom_fields.customer_number
      "Interne ID": ignore
    default_region: DE
    ```
    """
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise MappingError(f"the mapping file is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise MappingError("the mapping file must be a YAML mapping with a `columns:` section")
    unknown = set(data) - {"columns", "header", "default_region", "day_first"}
    if unknown:
        raise MappingError(
            f"unknown keys in the mapping file: {', '.join(sorted(map(str, unknown)))} "
            "(known: columns, header, default_region, day_first)"
        )
    columns = data.get("columns") or {}
    if isinstance(columns, dict):
        columns = {str(k): _target(v) for k, v in columns.items()}
    elif isinstance(columns, list):
        columns = [_target(v) for v in columns]
    else:
        raise MappingError("`columns:` must map column names to fields, or list the fields in column order")
    header = data.get("header")
    region = data.get("default_region")
    day_first = data.get("day_first")
    if header is not None and not isinstance(header, bool):
        raise MappingError("`header:` must be true or false")
    if day_first is not None and not isinstance(day_first, bool):
        raise MappingError("`day_first:` must be true or false")
    if region is not None and not (isinstance(region, str) and re.fullmatch(r"[A-Za-z]{2}", region)):
        raise MappingError("`default_region:` must be a two-letter country code such as DE or US")
    return MappingFile(columns, header, region.upper() if region else None, day_first)


def _target(value: Any) -> str:
    if value is None or value is False:
        return IGNORE
    if not isinstance(value, str):
        raise MappingError(f"a column must map to a field name, not {value!r}")
    name = str(value).strip()
    if name in FIELDS or name == IGNORE:
        return name
    if name.startswith(CUSTOM_PREFIX) and re.fullmatch(r"[A-Za-z0-9_]{1,64}", name[len(CUSTOM_PREFIX) :]):
        return name
    raise MappingError(
        f"unknown field {value!r} in the mapping file: use one of {', '.join(sorted(FIELDS))}, "
        f"`{CUSTOM_PREFIX}<name>` or `{IGNORE}`"
    )


@dataclass(frozen=True)
class ColumnMap:
    """Per column: its name (for error reports) and what it fills."""

    has_header: bool
    names: list[str]
    targets: list[str]  # a field, `custom_fields.<name>`, or `ignore`

    def describe(self) -> dict[str, str]:
        return dict(zip(self.names, self.targets, strict=True))


def resolve(sample: list[list[str]], override: MappingFile | None = None) -> ColumnMap:
    """The column map for a file whose first records are `sample` (the header, if any, first)."""
    override = override or MappingFile()
    first = sample[0] if sample else []
    width = max((len(r) for r in sample[:50]), default=0)
    has_header = override.header if override.header is not None else _looks_like_header(first, sample)
    if has_header:
        names = [cell.strip() or f"column_{i + 1}" for i, cell in enumerate(first)]
        targets = _by_header(names)
    else:
        names = [f"column_{i + 1}" for i in range(width)]
        targets = _by_values(sample, width)
    if isinstance(override.columns, list):
        if len(override.columns) > len(names):
            raise MappingError(
                f"the mapping file lists {len(override.columns)} columns, the file has {len(names)}"
            )
        targets[: len(override.columns)] = override.columns
    else:
        by_name = {_key(n): i for i, n in enumerate(names)}
        for column, target in override.columns.items():
            index = by_name.get(_key(column))
            if index is None:
                raise MappingError(
                    f"the mapping file names a column {column!r} the file does not have; "
                    f"its columns: {', '.join(names[:30])}"
                )
            if target in FIELDS:  # a field mapped explicitly takes it from an automatic guess
                targets = [_demoted(t, target, i, index, names) for i, t in enumerate(targets)]
            targets[index] = target
    if not any(t in ("first_name", "last_name", "name", "email", "phone", "company") for t in targets):
        raise MappingError(
            "no column holds a name, email, phone or company, so no row could become a lead; "
            f"columns found: {', '.join(names[:30])}",
            hint="give a mapping file (--mapping) that says which column is which",
        )
    return ColumnMap(has_header, names, targets)


def _demoted(current: str, taken: str, i: int, index: int, names: list[str]) -> str:
    """A column that had `taken` automatically keeps its value as a custom field instead."""
    return CUSTOM_PREFIX + custom_name(names[i], i) if current == taken and i != index else current


def _by_header(names: list[str]) -> list[str]:
    targets: list[str] = []
    used: set[str] = set()
    for i, name in enumerate(names):
        target = _BY_KEY.get(_key(name))
        # The first column of a kind fills the field; a second one ("Mobile" after "Phone") is kept.
        if target is None or target in used:
            targets.append(CUSTOM_PREFIX + custom_name(name, i))
        else:
            used.add(target)
            targets.append(target)
    taken = set(targets)
    if "name" in taken and {"first_name", "last_name"} & taken:
        targets = [CUSTOM_PREFIX + "name" if t == "name" else t for t in targets]
    return _unique_custom(targets)


def _unique_custom(targets: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for target in targets:
        if target.startswith(CUSTOM_PREFIX):
            n = seen.get(target, 0)
            seen[target] = n + 1
            if n:
                target = f"{target}_{n + 1}"
        out.append(target)
    return out


def _looks_like_header(first: list[str], sample: list[list[str]]) -> bool:
    cells = [c.strip() for c in first]
    if not any(cells):
        return False
    if any(_is_email(c) or _is_phone(c) for c in cells):
        return False
    if any(_key(c) in _BY_KEY for c in cells):
        return True
    # No known name: a header still has no empty cells and nothing numeric, unlike the rows under it.
    return all(cells) and not any(any(ch.isdigit() for ch in c) for c in cells) and len(sample) > 1


def _is_email(value: str) -> bool:
    if "@" not in value:
        return False
    try:
        normalize_email(value)
    except InvalidValue:
        return False
    return True


_PHONE = re.compile(r"\+?[\d\s().\-/]{6,20}")


def _is_phone(value: str) -> bool:
    return bool(_PHONE.fullmatch(value.strip())) and sum(c.isdigit() for c in value) >= 6


def _share(values: list[str], test: Callable[[str], bool]) -> float:
    return sum(map(test, values)) / len(values) if values else 0.0


def _by_values(sample: list[list[str]], width: int) -> list[str]:
    """Header-less: the email and phone columns from their values; the first two other text columns are
    first and last name; the rest are kept as custom fields column_N."""
    targets = []
    names_left = ["first_name", "last_name"]
    for i in range(width):
        values = [r[i].strip() for r in sample if i < len(r) and r[i].strip()]
        if "email" not in targets and _share(values, _is_email) >= 0.5:
            targets.append("email")
        elif "phone" not in targets and _share(values, _is_phone) >= 0.5:
            targets.append("phone")
        elif names_left and values and _share(values, lambda v: not any(c.isdigit() for c in v)) >= 0.8:
            targets.append(names_left.pop(0))
        else:
            targets.append(f"{CUSTOM_PREFIX}column_{i + 1}")
    return targets
