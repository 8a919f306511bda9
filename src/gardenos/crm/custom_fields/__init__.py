"""Per-agency custom field definitions for leads and clients, and the validation of the values."""
