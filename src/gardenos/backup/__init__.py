"""Base backups (pg_basebackup from a replica), the continuous WAL archive, and point-in-time restore."""
