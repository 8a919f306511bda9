"""Database access. Only this package acquires connections; everything else receives one."""
