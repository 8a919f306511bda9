"""Realtime (`/realtime/v1`): Supabase's websocket protocol for database changes, broadcast and presence.

The websocket side (channels, broadcast, presence) and the database-change side (`realtime/changes/`) meet
only through `contracts.py`.
"""
