"""Which fields make two people records the same person: the agency's rule (`settings.duplicate_rule`),
or the one an import or a request names.

The default identity is the normalised email: HubSpot deduplicates imported contacts the same way. A
shared phone alone is a switchboard as often as it is the same person, so it only makes a *possible*
duplicate, listed for review, unless the rule includes `phone`; and two different valid emails are two
people whatever the rule says (the database's `valid_duplicate_rule` accepts the same names).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gardenos.errors import BadRequest

# A rule's name → the comparisons it makes (any one matching makes the same person).
RULES: dict[str, frozenset[str]] = {
    "email": frozenset({"email"}),
    "email_or_phone": frozenset({"email", "phone"}),
    "phone": frozenset({"phone"}),
    "name_and_company": frozenset({"name_and_company"}),
}
DEFAULT_RULE = "email"


class InvalidRule(BadRequest):
    status_code = 422
    code = "GARDEN422"


@dataclass(frozen=True)
class DuplicateRule:
    """The names as given (stored with an import, shown back) and what they compare."""

    names: tuple[str, ...]

    @property
    def by_email(self) -> bool:
        return any("email" in RULES[n] for n in self.names)

    @property
    def by_phone(self) -> bool:
        return any("phone" in RULES[n] for n in self.names)

    @property
    def by_name_and_company(self) -> bool:
        return any("name_and_company" in RULES[n] for n in self.names)

    def same_person(
        self, *, emails: tuple[str | None, str | None], same_phone: bool, same_name_and_company: bool
    ) -> bool:
        """Whether two records are one person by this rule (the importer's SQL applies the same rule)."""
        first, second = emails
        if first and second and first != second:
            return False  # two different emails: two people, whatever the rule
        return bool(
            (self.by_email and first and first == second)
            or (self.by_phone and same_phone)
            or (self.by_name_and_company and same_name_and_company)
        )

    def params(self) -> dict[str, bool]:
        """The rule as bind parameters of the SQL that applies it."""
        return {
            "by_email": self.by_email,
            "by_phone": self.by_phone,
            "by_name": self.by_name_and_company,
        }


DEFAULT = DuplicateRule((DEFAULT_RULE,))


def parse_rule(value: str | Iterable[str] | None) -> DuplicateRule | None:
    """A rule from a CLI flag or a query parameter ("email", "email,name_and_company") or a JSON list;
    None when none is given. An unknown name is a 422 listing the ones there are."""
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(dict.fromkeys(str(p).strip() for p in parts if str(p).strip()))
    unknown = [n for n in names if n not in RULES]
    if unknown or not names:
        raise InvalidRule(
            f"{(unknown or [''])[0]!r} is not a duplicate rule: use one of {', '.join(RULES)}, "
            "or several separated by commas"
        )
    return DuplicateRule(names)


def stored_rule(setting: Any) -> DuplicateRule:
    """The agency's `settings.duplicate_rule` (a name or a list, checked by the database), or the default."""
    if isinstance(setting, str | list) and setting:
        try:
            return parse_rule(setting) or DEFAULT
        except InvalidRule:
            return DEFAULT
    return DEFAULT
