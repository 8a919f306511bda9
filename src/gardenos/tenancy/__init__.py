"""Agencies (the tenants) and their members."""
