"""GardenOS: a self-hosted CRM platform over PostgreSQL with a Supabase-compatible API."""

__version__ = "0.1.0"
