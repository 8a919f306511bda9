"""People records (leads and clients): their fields, normalisation and duplicate rules, in one place."""
