"""SQL for what only clients have: their own filters and orders. Run as the caller: row-level security
confines every statement to the agency."""

from __future__ import annotations

from gardenos.crm.common import Sort, SortKey
from gardenos.crm.contacts import lists
from gardenos.crm.contacts.fields import CLIENT

FILTERS = """
    AND (%(lifetime_value_min)s::numeric IS NULL OR c.lifetime_value >= %(lifetime_value_min)s::numeric)
    AND (%(lifetime_value_max)s::numeric IS NULL OR c.lifetime_value <= %(lifetime_value_max)s::numeric)"""
_VALUE = SortKey("c.lifetime_value", "numeric")
SORTS = lists.sorts(CLIENT) | {
    "-lifetime_value": Sort("-lifetime_value", (_VALUE, lists.by_id(CLIENT)), True),
    "lifetime_value": Sort("lifetime_value", (_VALUE, lists.by_id(CLIENT)), False),
}
LIST = lists.queries(CLIENT, FILTERS, SORTS)
