"""The audit trail of the agency's CRM records, as the database's triggers write it (0008)."""
