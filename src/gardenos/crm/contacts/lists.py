"""The list queries of people records: search, the filters and the orders leads and clients share, one
keyset query per order. `crm/leads` and `crm/clients` add their own filters and orders (a lead's source
and score; a client's lifetime value). Run as the caller: row-level security confines them to the agency.

The SQL is built from the kind's table and alias (constants of crm/contacts/fields.py, never input)."""

from __future__ import annotations

from collections.abc import Mapping

from gardenos.crm.common import Sort, SortKey, keyset_query
from gardenos.crm.contacts.fields import Kind, text


def search(kind: Kind) -> str:
    """Words of the name, company or email; similar names and companies; the start of the email. The
    expressions are those of the trigram and full-text indexes (0003), so that the indexes serve them."""
    a = kind.alias
    return f"""
    {a}.search_vector @@ websearch_to_tsquery('simple', %(q)s::text)
    OR gardenos.name_key({a}.first_name, {a}.last_name) OPERATOR(extensions.%%>) lower(%(q)s::text)
    OR lower({a}.company) OPERATOR(extensions.%%>) lower(%(q)s::text)
    OR {a}.email_normalized ^@ lower(%(q)s::text)
"""


def _relevance(kind: Kind) -> str:
    a = kind.alias
    return f"""greatest(
    extensions.word_similarity(lower(%(q)s::text), gardenos.name_key({a}.first_name, {a}.last_name)),
    extensions.word_similarity(lower(%(q)s::text), lower(coalesce({a}.company, ''))),
    ts_rank({a}.search_vector, websearch_to_tsquery('simple', %(q)s::text)),
    CASE WHEN {a}.email_normalized ^@ lower(%(q)s::text) THEN 0.5 ELSE 0 END
)::float8"""


def _filters(kind: Kind, own: str) -> str:
    a = kind.alias
    return f"""
    (%(status)s::text[] IS NULL OR {a}.status = ANY (%(status)s::text[]))
    AND (%(owner_id)s::uuid IS NULL OR {a}.owner_id = %(owner_id)s::uuid)
    AND (%(tags)s::text[] IS NULL OR {a}.tags @> %(tags)s::text[]){own}
    AND (%(custom_field)s::text[] IS NULL OR NOT EXISTS (
        SELECT 1 FROM unnest(%(custom_field)s::text[]) AS f (pair)
        WHERE {a}.custom_fields ->> split_part(f.pair, ':', 1)
            IS DISTINCT FROM substr(f.pair, strpos(f.pair, ':') + 1)
    ))
    AND (%(created_after)s::timestamptz IS NULL OR {a}.created_at > %(created_after)s::timestamptz)
    AND (%(created_before)s::timestamptz IS NULL OR {a}.created_at < %(created_before)s::timestamptz)
    AND (%(q)s::text IS NULL OR {search(kind)})
"""


def by_id(kind: Kind) -> SortKey:
    """The last key of every order: unique, so the order is total."""
    return SortKey(f"{kind.alias}.id", "uuid")


def sorts(kind: Kind) -> dict[str, Sort]:
    """The orders every kind has."""
    a, last = kind.alias, by_id(kind)
    return {
        "-created_at": Sort("-created_at", (SortKey(f"{a}.created_at", "timestamptz"), last), True),
        "created_at": Sort("created_at", (SortKey(f"{a}.created_at", "timestamptz"), last), False),
        "-updated_at": Sort("-updated_at", (SortKey(f"{a}.updated_at", "timestamptz"), last), True),
        # Case-insensitive, records without a last name last.
        "last_name": Sort(
            "last_name",
            (
                SortKey(f"{a}.last_name IS NULL", "bool"),
                SortKey(f"lower(coalesce({a}.last_name, ''))", "text"),
                last,
            ),
            False,
        ),
        "relevance": Sort("relevance", (SortKey(_relevance(kind), "float8"), last), True),
    }


def queries(kind: Kind, own_filters: str, all_sorts: Mapping[str, Sort]) -> dict[str, str]:
    """One keyset query per order; `own_filters` are the kind's own conditions, each starting with AND."""
    source = f"public.{kind.table} {kind.alias} WHERE {_filters(kind, own_filters)}"
    columns = text(kind.select_list())
    return {name: keyset_query(columns, source, sort) for name, sort in all_sorts.items()}
