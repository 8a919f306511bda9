"""SQL for custom field definitions: a key of the agency's settings. Run as the caller, under RLS."""

from __future__ import annotations

# The policy `agencies_admin_update` lets only owners and admins of the agency do this.
SET_DEFINITIONS = """
UPDATE public.agencies a SET settings = a.settings || jsonb_build_object('custom_fields', %s::jsonb)
WHERE a.id = (SELECT auth.agency_id())
RETURNING a.settings -> 'custom_fields' AS definitions
"""
