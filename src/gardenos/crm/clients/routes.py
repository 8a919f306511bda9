"""`/api/v1/clients`: the agency's clients (the routes every person record has, crm/contacts/routes.py)."""

from __future__ import annotations

from fastapi import APIRouter

from gardenos.crm.clients import service
from gardenos.crm.clients.schemas import ClientFilters, ClientPatch, NewClient
from gardenos.crm.contacts.routes import add_routes

router = APIRouter(prefix="/api/v1/clients", tags=["clients"])
add_routes(router, service.CLIENTS, NewClient, ClientPatch, ClientFilters)
