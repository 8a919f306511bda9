"""`/api/v1/leads`: the agency's leads, with the routes every person record has (crm/contacts/routes.py)
and tags."""

from __future__ import annotations

from fastapi import APIRouter

from gardenos.crm.contacts.routes import add_routes
from gardenos.crm.leads import service
from gardenos.crm.leads.schemas import LeadFilters, LeadPatch, NewLead

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])
add_routes(router, service.LEADS, NewLead, LeadPatch, LeadFilters, tags=True)
