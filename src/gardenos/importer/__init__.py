"""The CSV importer: spreadsheet exports in, validated, normalised, deduplicated leads out."""
