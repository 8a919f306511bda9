"""Leads: what crm/contacts does for every person record, with the leads' own schemas and lists."""

from __future__ import annotations

from gardenos.crm.contacts.fields import LEAD
from gardenos.crm.contacts.service import Records
from gardenos.crm.leads import repository as repo
from gardenos.crm.leads.schemas import Lead, LeadPage

LEADS = Records(LEAD, Lead, LeadPage, repo.LIST, repo.SORTS)
