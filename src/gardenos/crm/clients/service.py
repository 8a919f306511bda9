"""Clients: what crm/contacts does for every person record, with the clients' own schemas and lists."""

from __future__ import annotations

from gardenos.crm.clients import repository as repo
from gardenos.crm.clients.schemas import Client, ClientPage
from gardenos.crm.contacts.fields import CLIENT
from gardenos.crm.contacts.service import Records

CLIENTS = Records(CLIENT, Client, ClientPage, repo.LIST, repo.SORTS)
