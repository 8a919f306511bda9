"""Clients: the agency's customers, most of them converted leads."""
