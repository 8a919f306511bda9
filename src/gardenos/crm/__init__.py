"""The CRM domain at /api/v1: leads, clients, activities, custom fields and the audit trail.

One package per entity (routes, schemas, service, repository); `common` holds what they share: the
agency-scoped transaction, keyset pagination with opaque cursors, and the field types of their bodies.
"""
