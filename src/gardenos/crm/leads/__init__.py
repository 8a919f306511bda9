"""Leads: people and companies in the pipeline, not yet clients."""
