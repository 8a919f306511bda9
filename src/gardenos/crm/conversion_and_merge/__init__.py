"""The lead pipeline: converting leads into clients, finding and merging duplicates."""
