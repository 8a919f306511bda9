"""Supabase Storage's API (`/storage/v1`): buckets and objects whose metadata lives in `storage.*` under
row-level security and whose bytes live in a backend (`backend.py`)."""
