"""Authentication: passwords, tokens, sessions (GoTrue-compatible)."""
